// Package schedule is scheduled secret rotation: the leader-only job that rotates every
// secret whose rotation policy's interval has run out (internal/leader runs it on one replica).
//
// Each rotation goes through the secrets service as the system actor, so it follows the same
// create → set → test → finish steps as a manual one, is audited the same way, and a failure
// leaves the current version in place (SEC-44). A secret whose rotation failed stays due; the
// job backs off from it (RetryAfter) instead of minting a pending version at every run, and
// tries again after that. Secrets are rotated when their due time has come; a policy's window
// is how far ahead the API warns (secrets.RotationDue).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/server/internal/secrets"
)

// Defaults for zero Options fields.
const (
	DefaultBatch      = 100
	DefaultRetryAfter = time.Hour
)

// Rotator rotates one secret (*secrets.Service).
type Rotator interface {
	Rotate(ctx context.Context, a secrets.Actor, name string) (secrets.Version, error)
}

// DueLister lists due secrets by name, after the name after (internal/store.DB.DueRotations).
type DueLister interface {
	DueRotations(ctx context.Context, now time.Time, after string, limit int) ([]string, error)
}

// Options tunes the scheduler.
type Options struct {
	// Batch is how many due secrets one query returns; 0 means DefaultBatch.
	Batch int
	// RetryAfter is how long a secret whose scheduled rotation failed is left alone; 0 means
	// DefaultRetryAfter.
	RetryAfter time.Duration
	// Registerer receives the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// Actor is who scheduled rotations are recorded as in the audit trail.
var Actor = secrets.Actor{Type: secrets.ActorSystem, ID: "scheduler"}

// Scheduler rotates due secrets. Run is safe to call from one goroutine at a time (the
// leader loop); the back-off memory is this replica's, so a new leader starts afresh.
type Scheduler struct {
	due  DueLister
	rot  Rotator
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	backoff map[string]time.Time // name → not before

	rotations *prometheus.CounterVec
	waiting   prometheus.Gauge
}

// New builds a scheduler.
func New(due DueLister, rot Rotator, opts Options) (*Scheduler, error) {
	if due == nil || rot == nil {
		return nil, errors.New("schedule: nil due lister or rotator")
	}
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Scheduler{due: due, rot: rot, opts: opts, log: opts.Logger, backoff: map[string]time.Time{},
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_secrets_scheduled_rotations_total",
			Help: "Scheduled secret rotations on this replica, by outcome: ok, failed (current version kept; retried after the back-off).",
		}, []string{"outcome"}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_secrets_rotations_backing_off",
			Help: "Due secrets whose last scheduled rotation failed and that wait for their retry (on the leader).",
		}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.rotations, s.waiting} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("schedule: register metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Result is what one Run did.
type Result struct {
	Rotated, Failed, Skipped int
}

// Run rotates every secret due now, except those backing off after a failure. It returns an
// error only when the work list cannot be read (or ctx ends); individual failures are logged,
// audited by the service and counted.
func (s *Scheduler) Run(ctx context.Context) (Result, error) {
	var res Result
	now := s.opts.Now()
	s.forgetExpired(now)
	after := ""
	for {
		names, err := s.due.DueRotations(ctx, now, after, s.opts.Batch)
		if err != nil {
			return res, err
		}
		for _, name := range names {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			after = name
			if s.backingOff(name, now) {
				res.Skipped++
				continue
			}
			v, err := s.rot.Rotate(ctx, Actor, name)
			switch {
			case err == nil:
				res.Rotated++
				s.rotations.WithLabelValues("ok").Inc()
				s.log.Info("scheduled rotation", "secret", name, "version", v.Version)
			case errors.Is(err, secrets.ErrNoRotation), errors.Is(err, secrets.ErrSecretNotFound):
				// The policy was removed or the secret deleted since the query.
			case errors.Is(err, secrets.ErrRotationOff):
				return res, err
			default:
				// A failure backs off even when the run's time ran out meanwhile: the attempt
				// (and perhaps the hook's refusal) happened, and the next slot must not repeat it.
				res.Failed++
				s.rotations.WithLabelValues("failed").Inc()
				s.setBackoff(name, now.Add(s.opts.RetryAfter))
				// The service's errors name the step and the cause, never the value.
				s.log.Warn("scheduled rotation failed; the current version is unchanged", "secret", name,
					"error", err.Error(), "retry_after", s.opts.RetryAfter.String())
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
			}
		}
		if len(names) < s.opts.Batch {
			return res, nil
		}
	}
}

func (s *Scheduler) backingOff(name string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	until, ok := s.backoff[name]
	return ok && now.Before(until)
}

func (s *Scheduler) setBackoff(name string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backoff[name] = until
	s.waiting.Set(float64(len(s.backoff)))
}

func (s *Scheduler) forgetExpired(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, until := range s.backoff {
		if !now.Before(until) {
			delete(s.backoff, name)
		}
	}
	s.waiting.Set(float64(len(s.backoff)))
}
