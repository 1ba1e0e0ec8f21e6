package schedule_test

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/schedule"
)

// upcoming is a fake secrets table: name → next rotation time.
type upcoming struct {
	mu   sync.Mutex
	next map[string]time.Time
	err  error
}

func (u *upcoming) UpcomingRotations(_ context.Context, from, until time.Time, after string, limit int) ([]secrets.Due, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return nil, u.err
	}
	var out []secrets.Due
	for name, at := range u.next {
		if name > after && at.After(from) && !at.After(until) {
			out = append(out, secrets.Due{Name: name, At: at})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// eventLog is a fake security event log of warnings.
type eventLog struct {
	mu     sync.Mutex
	events []warnEvent
	since  []time.Time
	now    func() time.Time
	fail   error
}

type warnEvent struct {
	at  time.Time
	due secrets.Due
}

func (l *eventLog) Warned(_ context.Context, since time.Time) (map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.since = append(l.since, since)
	out := map[string]bool{}
	for _, e := range l.events {
		if !e.at.Before(since) {
			out[schedule.WarningKey(e.due.Name, e.due.At)] = true
		}
	}
	return out, nil
}

func (l *eventLog) Warn(_ context.Context, d secrets.Due) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.events = append(l.events, warnEvent{at: l.now(), due: d})
	return nil
}

func (l *eventLog) names() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, e.due.Name+"@"+schedule.DueText(e.due.At))
	}
	return out
}

func TestWarnerWarnsOncePerSecretAndDueTime(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	day := 24 * time.Hour
	up := &upcoming{next: map[string]time.Time{
		"a/soon":    now.Add(2 * day),
		"b/edge":    now.Add(7 * day),                // exactly at the end of the window: warned
		"c/later":   now.Add(7*day + 90*time.Minute), // outside, enters the window in 90 minutes
		"d/overdue": now.Add(-time.Hour),             // the rotation job's business
		"e/soon":    now.Add(3 * day),
	}}
	log := &eventLog{now: clock}
	// Batch 1 makes every secret its own page.
	w, err := schedule.NewWarner(up, log, schedule.WarnOptions{Ahead: 7 * day, Batch: 1, Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.Run(ctx)
	want := []string{"a/soon@2026-03-03T12:00:00Z", "b/edge@2026-03-08T12:00:00Z", "e/soon@2026-03-04T12:00:00Z"}
	if err != nil || n != 3 || !equal(log.names(), want) {
		t.Fatalf("first run: %d %v, warnings %v", n, err, log.names())
	}
	if got := log.since[0]; !got.Equal(now.Add(-7 * day)) {
		t.Fatalf("looked back to %v, want the warning period", got)
	}

	// Later runs, and a new warner (a restart, another leader), repeat nothing.
	now = now.Add(time.Hour)
	w2, err := schedule.NewWarner(up, log, schedule.WarnOptions{Ahead: 7 * day, Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, ww := range []*schedule.Warner{w, w2} {
		if n, err := ww.Run(ctx); err != nil || n != 0 {
			t.Fatalf("repeat run warned %d times (%v): %v", n, err, log.names())
		}
	}

	// a/soon rotated: its next due time is a new due period, warned once when it comes near;
	// c/later enters the window as time passes.
	up.mu.Lock()
	up.next["a/soon"] = now.Add(5 * day)
	up.mu.Unlock()
	now = now.Add(time.Hour)
	if n, err := w.Run(ctx); err != nil || n != 2 {
		t.Fatalf("after a rotation: %d %v, warnings %v", n, err, log.names())
	}
	got := log.names()[3:]
	if !equal(got, []string{"a/soon@2026-03-06T13:00:00Z", "c/later@2026-03-08T13:30:00Z"}) {
		t.Fatalf("new warnings: %v", got)
	}
	if n, err := w.Run(ctx); err != nil || n != 0 {
		t.Fatalf("repeat after a rotation: %d %v", n, err)
	}
}

func TestWarnerErrors(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	if _, err := schedule.NewWarner(nil, &eventLog{}, schedule.WarnOptions{}); err == nil {
		t.Fatal("nil lister accepted")
	}
	boom := errors.New("database down")
	up := &upcoming{next: map[string]time.Time{"a": now.Add(time.Hour)}, err: boom}
	log := &eventLog{now: clock}
	w, err := schedule.NewWarner(up, log, schedule.WarnOptions{Now: clock, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Run(ctx); !errors.Is(err, boom) {
		t.Fatalf("list failure: %v", err)
	}
	// A warning that cannot be recorded is an error (the job logs it and tries again next slot),
	// and is not remembered as given.
	up.err = nil
	log.fail = boom
	if n, err := w.Run(ctx); !errors.Is(err, boom) || n != 0 {
		t.Fatalf("record failure: %d %v", n, err)
	}
	log.fail = nil
	if n, err := w.Run(ctx); err != nil || n != 1 {
		t.Fatalf("after the log recovered: %d %v", n, err)
	}
	// The default period is seven days.
	up.next["b"] = now.Add(7*24*time.Hour - time.Minute)
	up.next["c"] = now.Add(7*24*time.Hour + time.Minute)
	if n, err := w.Run(ctx); err != nil || n != 1 || log.names()[1] != "b@"+schedule.DueText(up.next["b"]) {
		t.Fatalf("default period: %d %v %v", n, err, log.names())
	}
}

var quiet = slog.New(slog.DiscardHandler)

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
