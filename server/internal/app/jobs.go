package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gatehouse/server/internal/events"
	"gatehouse/server/internal/leader"
	"gatehouse/server/internal/rewrap"
	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/schedule"
	"gatehouse/shared/api"
)

// Jobs are the leader-only background jobs: each runs on one replica at a time (a PostgreSQL
// advisory lock per job; on SQLite the one process), once per interval slot (internal/leader).
// Capabilities register theirs with Add while the app is wired; Serve starts them all.
type Jobs struct {
	locker  leader.Locker
	metrics *leader.Metrics
	check   time.Duration
	log     *slog.Logger

	// Rewrap re-wraps keyring-protected values after a master key rotation and reports its
	// progress (GET /api/v1/admin/keys).
	Rewrap *rewrap.Job
	// Rotation rotates the secrets whose rotation policy says they are due.
	Rotation *schedule.Scheduler
	// RotationWarnings records secret.rotation_due events ahead of due rotations; nil when
	// jobs.rotation_warning is 0.
	RotationWarnings *schedule.Warner

	mu      sync.Mutex
	list    []leaderJob
	started bool
}

type leaderJob struct {
	name  string
	every time.Duration
	run   func(context.Context) error
}

// Add registers a leader-only job running every interval. Names must be unique: they name
// the lock. Call it before Serve; a job added later is refused.
func (j *Jobs) Add(name string, every time.Duration, run func(context.Context) error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.started {
		return fmt.Errorf("jobs: %q added after the jobs started", name)
	}
	if name == "" || every <= 0 || run == nil {
		return fmt.Errorf("jobs: %q needs a name, a positive interval and a function", name)
	}
	for _, e := range j.list {
		if e.name == name {
			return fmt.Errorf("jobs: %q is registered twice", name)
		}
	}
	j.list = append(j.list, leaderJob{name: name, every: every, run: run})
	return nil
}

// Names lists the registered jobs.
func (j *Jobs) Names() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]string, len(j.list))
	for i, e := range j.list {
		out[i] = e.name
	}
	return out
}

// Run runs every registered job under its lock until ctx ends, then waits for them to stop
// (each releases its lock).
func (j *Jobs) Run(ctx context.Context) {
	j.mu.Lock()
	j.started = true
	list := append([]leaderJob(nil), j.list...)
	j.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range list {
		wg.Go(func() {
			// A run may outlast its interval (runs never overlap; missed slots are skipped),
			// so a busy machine slows a job down instead of cutting it off mid-rotation.
			err := leader.Run(ctx, j.locker, e.name, e.every, e.run, leader.WithTimeout(max(e.every, time.Minute)),
				leader.WithCheckEvery(min(j.check, e.every)), leader.WithLogger(j.log), leader.WithMetrics(j.metrics))
			if err != nil && !errors.Is(err, context.Canceled) {
				j.log.Error("leader job stopped", "job", e.name, "error", err.Error())
			}
		})
	}
	wg.Wait()
}

// startJobs runs the jobs in the background and returns a function that stops them and waits.
func (a *App) startJobs(ctx context.Context) (stop func()) {
	if a.Jobs == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Jobs.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// wireJobs builds the job runner and the jobs of this file: the master key re-wrap and
// scheduled secret rotation.
func (a *App) wireJobs() error {
	cfg := a.Config.Jobs
	m, err := leader.NewMetrics(a.Registry)
	if err != nil {
		return err
	}
	a.Jobs = &Jobs{locker: a.DB.Locker(), metrics: m, check: cfg.LockCheck, log: a.Logger}

	var rws []rewrap.Rewrapper
	for _, c := range a.DB.SealedColumns() {
		rws = append(rws, rewrap.Column(c, a.Keyring))
	}
	rws = append(rws, rewrap.SecretDataKeys(a.DB.SecretValues(), a.DB.CountSecretDataKeys, a.Keyring))
	a.Jobs.Rewrap = rewrap.New(a.Keyring, a.DB.Keyring(), rws, rewrap.Options{
		BatchSize: cfg.RewrapBatch, Grace: cfg.RewrapGrace, Logger: a.Logger,
	})
	if err := a.Jobs.Add("rewrap", cfg.RewrapInterval, func(ctx context.Context) error {
		if err := a.Jobs.Rewrap.Run(ctx); !errors.Is(err, rewrap.ErrTooEarly) {
			return err
		}
		return nil // it logged when it starts
	}); err != nil {
		return err
	}

	// Scheduled rotation. The secrets service is wired after the jobs (it registers its own),
	// so the scheduler reaches it through the App when it runs.
	a.Jobs.Rotation, err = schedule.New(a.DB, appRotator{a}, schedule.Options{
		RetryAfter: cfg.RotationRetry, Registerer: a.Registry, Logger: a.Logger,
	})
	if err != nil {
		return err
	}
	if err := a.Jobs.Add("secrets-rotation", cfg.RotationInterval, func(ctx context.Context) error {
		_, err := a.Jobs.Rotation.Run(ctx)
		return err
	}); err != nil {
		return err
	}

	if cfg.RotationWarning <= 0 {
		return nil
	}
	a.Jobs.RotationWarnings, err = schedule.NewWarner(a.DB, eventWarningLog{a}, schedule.WarnOptions{
		Ahead: cfg.RotationWarning, Logger: a.Logger,
	})
	if err != nil {
		return err
	}
	return a.Jobs.Add("secrets-rotation-warnings", cfg.RotationInterval, func(ctx context.Context) error {
		_, err := a.Jobs.RotationWarnings.Run(ctx)
		return err
	})
}

// eventWarningLog keeps rotation warnings in the security event log (secret.rotation_due),
// which is also where the warner learns which it gave already. The recorder is wired after
// the jobs, so it is reached through the App when the job runs.
type eventWarningLog struct{ a *App }

func (l eventWarningLog) Warned(ctx context.Context, since time.Time) (map[string]bool, error) {
	if l.a.Events == nil {
		return nil, errors.New("rotation warnings: the security event log is not wired")
	}
	out := map[string]bool{}
	for page := 1; ; page++ {
		list, _, err := l.a.Events.List(ctx, events.Filter{Type: api.EventSecretRotationDue, Since: since, Page: page, PerPage: events.MaxPerPage})
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			name, _ := e.Details["name"].(string)
			text, _ := e.Details["due_at"].(string)
			if due, err := time.Parse(time.RFC3339, text); err == nil {
				out[schedule.WarningKey(name, due)] = true
			}
		}
		if len(list) < events.MaxPerPage {
			return out, nil
		}
	}
}

func (l eventWarningLog) Warn(ctx context.Context, d secrets.Due) error {
	if l.a.Events == nil {
		return errors.New("rotation warnings: the security event log is not wired")
	}
	// The system acts: no actor, no subject user. "name" and "due_at" are what Warned reads back.
	return l.a.Events.Record(ctx, events.Event{Type: api.EventSecretRotationDue, Outcome: api.OutcomeSuccess,
		Details: map[string]any{"name": d.Name, "due_at": schedule.DueText(d.At)}})
}

// appRotator rotates through the App's secrets service once it is wired.
type appRotator struct{ a *App }

func (r appRotator) Rotate(ctx context.Context, actor secrets.Actor, name string) (secrets.Version, error) {
	if r.a.Secrets == nil {
		return secrets.Version{}, secrets.ErrRotationOff
	}
	return r.a.Secrets.Rotate(ctx, actor, name)
}
