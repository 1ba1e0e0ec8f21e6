package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gatehouse/server/internal/secrets"
)

// DefaultWarnAhead is how far ahead of a due rotation the warning goes when WarnOptions.Ahead
// is zero.
const DefaultWarnAhead = 7 * 24 * time.Hour

// UpcomingLister lists, by name after the name after, the secrets whose next rotation is in
// (from, until] (internal/store.DB.UpcomingRotations).
type UpcomingLister interface {
	UpcomingRotations(ctx context.Context, from, until time.Time, after string, limit int) ([]secrets.Due, error)
}

// WarningLog is where warnings go (the security event log, secret.rotation_due). It is also
// the memory of which were given, so the warnings survive restarts and leader changes
// without being repeated.
type WarningLog interface {
	// Warned returns the warnings recorded at or after since, by WarningKey.
	Warned(ctx context.Context, since time.Time) (map[string]bool, error)
	// Warn records one warning.
	Warn(ctx context.Context, d secrets.Due) error
}

// WarningKey identifies one warning: a secret and one due time (to the second, which is what
// the warning records), so each due period of a secret is warned about once.
func WarningKey(name string, due time.Time) string {
	return name + "\x00" + DueText(due)
}

// DueText is how a warning records the due time: RFC 3339 in UTC, to the second.
func DueText(due time.Time) string {
	return due.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// WarnOptions tunes the warner.
type WarnOptions struct {
	// Ahead is how long before the due time the warning goes; 0 means DefaultWarnAhead.
	Ahead time.Duration
	// Batch is how many secrets one query returns; 0 means DefaultBatch.
	Batch  int
	Logger *slog.Logger
	Now    func() time.Time
}

// Warner records a warning for every secret whose scheduled rotation falls due within Ahead,
// once per secret and due time. Rotating (by hand or on schedule) or changing the policy
// moves the due time, which starts a new due period and so a new warning when it comes near.
type Warner struct {
	list UpcomingLister
	log  WarningLog
	opts WarnOptions
}

// NewWarner builds a warner.
func NewWarner(list UpcomingLister, log WarningLog, opts WarnOptions) (*Warner, error) {
	if list == nil || log == nil {
		return nil, errors.New("schedule: nil upcoming lister or warning log")
	}
	if opts.Ahead <= 0 {
		opts.Ahead = DefaultWarnAhead
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Warner{list: list, log: log, opts: opts}, nil
}

// Run warns about every secret due in (now, now+Ahead] not warned about yet, and returns how
// many warnings it recorded. Secrets already due are the rotation job's; a warning for a due
// time D was recorded no earlier than D-Ahead, which is after now-Ahead, so looking back that
// far finds every earlier warning for the due times in the window.
func (w *Warner) Run(ctx context.Context) (int, error) {
	now := w.opts.Now().UTC()
	warned, err := w.log.Warned(ctx, now.Add(-w.opts.Ahead))
	if err != nil {
		return 0, fmt.Errorf("rotation warnings: read the earlier ones: %w", err)
	}
	if warned == nil {
		warned = map[string]bool{}
	}
	n := 0
	after := ""
	for {
		due, err := w.list.UpcomingRotations(ctx, now, now.Add(w.opts.Ahead), after, w.opts.Batch)
		if err != nil {
			return n, err
		}
		for _, d := range due {
			after = d.Name
			key := WarningKey(d.Name, d.At)
			if warned[key] {
				continue
			}
			if err := w.log.Warn(ctx, d); err != nil {
				return n, fmt.Errorf("rotation warning for %q: %w", d.Name, err)
			}
			warned[key] = true
			n++
			w.opts.Logger.Info("secret rotation due soon", "secret", d.Name, "due_at", DueText(d.At))
		}
		if len(due) < w.opts.Batch {
			return n, nil
		}
	}
}
