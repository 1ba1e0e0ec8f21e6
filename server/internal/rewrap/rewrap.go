// Package rewrap moves every keyring-protected value onto the current master key version
// after `gatehouse keys rotate`, in the background, in batches, with progress (SEC-43).
//
// Re-wrapping is decrypt-with-the-old-version, encrypt-with-the-current, and a conditional
// write (only if the row still holds what was read). Nothing is ever unreadable along the way:
// the keyring keeps every version, so a row not yet done decrypts as before, a row done
// decrypts with the new version, and a run stopped half-way (crash, shutdown, lost
// leadership) leaves a mix of both that the next run finishes.
//
// The job waits until the current key version has existed for a grace period (longer than
// the replicas' keyring reload period, see app.KeyReloadInterval) before moving anything to it,
// so no replica is asked to decrypt a value sealed with a version it has not loaded yet.
//
// Progress is counted from the database on every request (how many values are still on an
// older version), so any replica can report it, not only the one running the job.
package rewrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"gatehouse/server/internal/keyring"
	"gatehouse/shared/api"
)

// Defaults for zero Options fields.
const (
	DefaultBatchSize = 200
	DefaultGrace     = 2 * time.Minute
)

// Keyring is the part of *keyring.Keyring the job uses.
type Keyring interface {
	CurrentVersion() int
	Reload(ctx context.Context) error
	Encrypt(plaintext []byte) (string, error)
	Decrypt(ciphertext string) ([]byte, error)
}

// KeyLister lists the stored key versions with their creation times (keyring.Store).
type KeyLister interface {
	Keys(ctx context.Context) ([]keyring.WrappedKey, error)
}

// Rewrapper re-seals one kind of keyring-protected value (one table).
type Rewrapper interface {
	// Name identifies the data in progress reports, e.g. "mfa_totp".
	Name() string
	// Count returns how many values there are and how many are sealed with a key version
	// below current.
	Count(ctx context.Context, current int) (Count, error)
	// RewrapBatch re-seals, with the keyring's current version, up to n values sealed below
	// current whose cursor is after `after` ("" for the start). Batch.Next is the cursor to
	// continue from; Batch.Done says nothing is left after it.
	RewrapBatch(ctx context.Context, current int, after string, n int) (Batch, error)
}

// Count is a Rewrapper's figures.
type Count struct {
	Total int // values
	Stale int // of which sealed with an older key version
}

// Batch is the outcome of one RewrapBatch.
type Batch struct {
	Next      string
	Done      bool
	Rewrapped int // re-sealed and written
	Skipped   int // changed or removed by someone else meanwhile: nothing to do
	// Failed are values that could not be decrypted (damaged rows). They stay as they are and
	// keep counting as stale; the run goes on with the others.
	Failed int
}

// Options tunes the job.
type Options struct {
	// BatchSize is how many values one batch re-seals; 0 means DefaultBatchSize.
	BatchSize int
	// Grace is how old the current key version must be before values move to it; 0 means
	// DefaultGrace. It must exceed the period at which replicas reload the keyring.
	Grace time.Duration
	// Pause is slept between batches, to leave the database to requests; 0 means none.
	Pause  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Job re-wraps every Rewrapper's values. Run is meant for a leader-only schedule
// (internal/leader); Status serves GET /api/v1/admin/keys on any replica.
type Job struct {
	kr    Keyring
	keys  KeyLister
	rws   []Rewrapper
	opts  Options
	log   *slog.Logger
	runMu sync.Mutex // one Run at a time in this process

	mu      sync.Mutex
	running bool
	last    *api.RewrapRun
}

// New builds the job.
func New(kr Keyring, keys KeyLister, rws []Rewrapper, opts Options) *Job {
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Job{kr: kr, keys: keys, rws: slices.Clone(rws), opts: opts, log: opts.Logger}
}

// ErrTooEarly means the current key version is younger than the grace period: Run did nothing
// and the next run will.
var ErrTooEarly = errors.New("rewrap: the current master key version is younger than the grace period")

// Run re-wraps everything sealed with an older key version than the current one, table after
// table, batch after batch, until nothing is left or ctx ends. It returns nil when there was
// nothing to do, and ErrTooEarly (which a scheduler may treat as success) while the newest
// version is within its grace period.
func (j *Job) Run(ctx context.Context) error {
	j.runMu.Lock()
	defer j.runMu.Unlock()
	if err := j.kr.Reload(ctx); err != nil {
		return fmt.Errorf("rewrap: reload keyring: %w", err)
	}
	target := j.kr.CurrentVersion()
	if target <= 1 {
		return nil // nothing can be older than version 1
	}
	pending := 0
	for _, rw := range j.rws {
		c, err := rw.Count(ctx, target)
		if err != nil {
			return fmt.Errorf("rewrap: count %s: %w", rw.Name(), err)
		}
		pending += c.Stale
	}
	if pending == 0 {
		return nil
	}
	created, err := j.createdAt(ctx, target)
	if err != nil {
		return err
	}
	if age := j.opts.Now().Sub(created); age < j.opts.Grace {
		j.log.Info("rewrap: waiting for every replica to load the new master key version",
			"key_version", target, "remaining", pending, "starts_in", (j.opts.Grace - age).Round(time.Second).String())
		return ErrTooEarly
	}

	run := &api.RewrapRun{TargetVersion: target, StartedAt: j.opts.Now().UTC()}
	j.mu.Lock()
	j.running, j.last = true, run
	j.mu.Unlock()
	j.log.Info("rewrap: started", "key_version", target, "remaining", pending)

	err = j.rewrapAll(ctx, target, run)

	j.mu.Lock()
	defer j.mu.Unlock()
	j.running = false
	finished := j.opts.Now().UTC()
	run.FinishedAt = &finished
	attrs := []any{"key_version", target, "rewrapped", run.Rewrapped, "skipped", run.Skipped, "failed", run.Failed,
		"duration_ms", finished.Sub(run.StartedAt).Milliseconds()}
	if err != nil {
		run.Error = err.Error()
		j.log.Warn("rewrap: stopped; the next run resumes", append(attrs, "error", err.Error())...)
		return err
	}
	if run.Failed > 0 {
		run.Error = fmt.Sprintf("%d values could not be decrypted and stay on their old key version", run.Failed)
		j.log.Error("rewrap: finished with values that do not decrypt", attrs...)
		return errors.New("rewrap: " + run.Error)
	}
	j.log.Info("rewrap: finished", attrs...)
	return nil
}

func (j *Job) rewrapAll(ctx context.Context, target int, run *api.RewrapRun) error {
	for _, rw := range j.rws {
		after := ""
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			b, err := rw.RewrapBatch(ctx, target, after, j.opts.BatchSize)
			if err != nil {
				return fmt.Errorf("%s: %w", rw.Name(), err)
			}
			j.mu.Lock()
			run.Rewrapped += b.Rewrapped
			run.Skipped += b.Skipped
			run.Failed += b.Failed
			j.mu.Unlock()
			if b.Done {
				break
			}
			after = b.Next
			if j.opts.Pause > 0 {
				t := time.NewTimer(j.opts.Pause)
				select {
				case <-ctx.Done():
					t.Stop()
					return ctx.Err()
				case <-t.C:
				}
			}
		}
	}
	return nil
}

func (j *Job) createdAt(ctx context.Context, version int) (time.Time, error) {
	keys, err := j.keys.Keys(ctx)
	if err != nil {
		return time.Time{}, fmt.Errorf("rewrap: list key versions: %w", err)
	}
	for _, k := range keys {
		if k.Version == version {
			return k.CreatedAt, nil
		}
	}
	return time.Time{}, fmt.Errorf("rewrap: key version %d is not stored", version)
}

// Status reports the key versions and the re-wrap progress, counted live from the database.
func (j *Job) Status(ctx context.Context) (api.KeyStatus, error) {
	// Another replica (or the CLI) may have rotated since this one last reloaded.
	if err := j.kr.Reload(ctx); err != nil {
		return api.KeyStatus{}, fmt.Errorf("key status: reload keyring: %w", err)
	}
	current := j.kr.CurrentVersion()
	stored, err := j.keys.Keys(ctx)
	if err != nil {
		return api.KeyStatus{}, fmt.Errorf("key status: list key versions: %w", err)
	}
	st := api.KeyStatus{CurrentVersion: current, Versions: make([]api.KeyVersion, 0, len(stored))}
	var currentCreated time.Time
	for _, k := range stored {
		st.Versions = append(st.Versions, api.KeyVersion{Version: k.Version, CreatedAt: k.CreatedAt.UTC()})
		if k.Version == current {
			currentCreated = k.CreatedAt
		}
	}
	slices.SortFunc(st.Versions, func(a, b api.KeyVersion) int { return a.Version - b.Version })

	rs := api.RewrapStatus{Tables: make([]api.RewrapTable, 0, len(j.rws))}
	for _, rw := range j.rws {
		c, err := rw.Count(ctx, current)
		if err != nil {
			return api.KeyStatus{}, fmt.Errorf("key status: count %s: %w", rw.Name(), err)
		}
		rs.Tables = append(rs.Tables, api.RewrapTable{Name: rw.Name(), Total: c.Total, Remaining: c.Stale, Done: c.Total - c.Stale})
		rs.Total += c.Total
		rs.Remaining += c.Stale
	}
	rs.Done = rs.Total - rs.Remaining

	j.mu.Lock()
	running := j.running
	if j.last != nil {
		last := *j.last
		rs.LastRun = &last
	}
	j.mu.Unlock()
	switch {
	case rs.Remaining == 0:
		rs.State = api.RewrapDone
	case running:
		rs.State = api.RewrapRunning
	case j.opts.Now().Sub(currentCreated) < j.opts.Grace:
		rs.State = api.RewrapWaiting
		at := currentCreated.Add(j.opts.Grace).UTC()
		rs.StartsAfter = &at
	case rs.LastRun != nil && rs.LastRun.Error != "":
		rs.State = api.RewrapFailed
	default:
		rs.State = api.RewrapPending
	}
	st.Rewrap = rs
	return st, nil
}

// ColumnStore is a column of keyring ciphertexts (internal/store.SealedColumn).
type ColumnStore interface {
	Name() string
	Count(ctx context.Context, current int) (total, stale int, err error)
	Stale(ctx context.Context, current int, after string, limit int) ([]Sealed, error)
	Replace(ctx context.Context, id, old, sealed string) (bool, error)
}

// Sealed is one stored ciphertext and its row key.
type Sealed struct {
	ID         string
	Ciphertext string
}

// Column makes a Rewrapper of a column of keyring ciphertexts.
func Column(col ColumnStore, kr Keyring) Rewrapper { return &column{col: col, kr: kr} }

type column struct {
	col ColumnStore
	kr  Keyring
}

func (c *column) Name() string { return c.col.Name() }

func (c *column) Count(ctx context.Context, current int) (Count, error) {
	total, stale, err := c.col.Count(ctx, current)
	return Count{Total: total, Stale: stale}, err
}

func (c *column) RewrapBatch(ctx context.Context, current int, after string, n int) (Batch, error) {
	rows, err := c.col.Stale(ctx, current, after, n)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Done: len(rows) < n}
	for _, r := range rows {
		b.Next = r.ID
		plain, err := c.kr.Decrypt(r.Ciphertext)
		if err != nil {
			// A damaged row stays damaged; moving on keeps one bad row from blocking the rest.
			b.Failed++
			continue
		}
		sealed, err := c.kr.Encrypt(plain)
		clear(plain)
		if err != nil {
			return b, fmt.Errorf("re-seal: %w", err)
		}
		ok, err := c.col.Replace(ctx, r.ID, r.Ciphertext, sealed)
		if err != nil {
			return b, err
		}
		if ok {
			b.Rewrapped++
		} else {
			b.Skipped++
		}
	}
	return b, nil
}
