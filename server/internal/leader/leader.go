// Package leader runs jobs that must run on one replica at a time (scheduled rotation, master
// key re-wrap, clean-up) however many replicas there are.
//
// A replica runs a job only while it holds the job's lock: on PostgreSQL a session-level
// advisory lock on a connection of its own (internal/store), which the database releases the
// moment that connection ends, so a replica that crashes or is cut off loses the lock and
// another takes it over at its next attempt; on SQLite (one process) the lock is always held.
//
// # Schedule
//
// Time is cut into slots of one interval, aligned to the Unix epoch (an hourly job's slots
// start on the hour). The leader runs the job at the start of each slot. A replica that
// becomes leader in the middle of a slot waits for the next one, because the previous leader
// may already have run this one. So across replicas a job runs at most once per slot, and in
// every slot whose start finds a leader. A slot is missed only if no replica held the lock at
// its start (the leader died just before, and the take-over came after); jobs therefore work
// on "everything due", never on "what was due in the last interval", and catch up at the next
// slot. Replicas' clocks must agree to well within the check period (NTP does).
//
// A running job's context is cancelled as soon as the lease is found lost; a job must still be
// safe if it overlaps briefly with a new leader's first run (a lock is only as good as the
// last check), which "everything due" jobs with conditional updates are.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Locker takes named leadership locks. internal/store implements it.
type Locker interface {
	// TryAcquire takes the lock called name without waiting. ok is false (with a nil error)
	// when another replica holds it.
	TryAcquire(ctx context.Context, name string) (lease Lease, ok bool, err error)
}

// Lease is a held lock.
type Lease interface {
	// Check returns nil while the lock is still held, and an error once it is lost (its
	// connection died, or the database no longer lists it).
	Check(ctx context.Context) error
	// Release gives the lock up. The lease is unusable afterwards.
	Release(ctx context.Context) error
}

// Local returns a Locker for a single process: every lock is granted at once and never lost.
// Two Runs with the same name in one process both run (there is nothing to exclude).
func Local() Locker { return localLocker{} }

type localLocker struct{}

func (localLocker) TryAcquire(context.Context, string) (Lease, bool, error) {
	return localLease{}, true, nil
}

type localLease struct{}

func (localLease) Check(context.Context) error   { return nil }
func (localLease) Release(context.Context) error { return nil }

// DefaultCheckEvery is how often a follower tries to take the lock and a leader checks it
// still holds it, when no option says otherwise. It bounds the take-over time.
const DefaultCheckEvery = 5 * time.Second

// Option adjusts Run.
type Option func(*runner)

// WithCheckEvery sets the lock attempt / lease check period (see DefaultCheckEvery).
func WithCheckEvery(d time.Duration) Option { return func(r *runner) { r.check = d } }

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(r *runner) { r.log = l } }

// WithClock sets the clock that places slots; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(r *runner) { r.now = now } }

// WithMetrics reports leadership and runs to m.
func WithMetrics(m *Metrics) Option { return func(r *runner) { r.metrics = m } }

// WithTimeout bounds one run of the job; the default is the interval.
func WithTimeout(d time.Duration) Option { return func(r *runner) { r.timeout = d } }

type runner struct {
	lock     Locker
	name     string
	interval time.Duration
	job      func(context.Context) error
	check    time.Duration
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time
	metrics  *Metrics
}

// Run runs job once per interval slot while this replica holds the lock called name, until
// ctx ends (then it releases the lock and returns ctx's error). Job errors are logged and
// counted; the next slot runs regardless. It returns early only for invalid arguments.
func Run(ctx context.Context, lock Locker, name string, interval time.Duration, job func(context.Context) error, opts ...Option) error {
	r := &runner{lock: lock, name: name, interval: interval, job: job, check: DefaultCheckEvery, log: slog.Default(), now: time.Now}
	for _, o := range opts {
		o(r)
	}
	switch {
	case lock == nil || job == nil:
		return errors.New("leader: nil lock or job")
	case name == "":
		return errors.New("leader: empty job name")
	case interval <= 0 || r.check <= 0 || r.timeout < 0:
		return errors.New("leader: interval and check period must be positive")
	}
	if r.timeout == 0 {
		r.timeout = interval
	}
	r.log = r.log.With("job", name)
	return r.loop(ctx)
}

func (r *runner) slot(t time.Time) int64 { return t.UnixNano() / int64(r.interval) }

func (r *runner) loop(ctx context.Context) error {
	var (
		lease    Lease
		lastSlot int64
		lastErr  string
	)
	defer func() {
		if lease != nil {
			r.release(lease)
		}
	}()
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		now := r.now()
		if lease == nil {
			l, ok, err := r.lock.TryAcquire(ctx, r.name)
			switch {
			case err != nil && ctx.Err() == nil:
				// Logged once per distinct error, so a database outage does not flood the log.
				if msg := err.Error(); msg != lastErr {
					r.log.Warn("leader: could not try the lock", "error", msg)
					lastErr = msg
				}
			case ok:
				lease, lastErr = l, ""
				lastSlot = r.slot(now) // the previous leader may have run this slot already
				r.log.Info("leader: became leader; first run at the next slot", "interval", r.interval.String())
				r.metrics.setLeader(r.name, true)
			}
		} else if err := lease.Check(ctx); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.Warn("leader: lost the lock", "error", err.Error())
			r.release(lease)
			lease = nil
			r.metrics.setLeader(r.name, false)
			continue // try to take it back at once: the loss may have been our connection only
		}
		if lease != nil && r.slot(now) > lastSlot {
			lastSlot = r.slot(now)
			if err := r.runOnce(ctx, lease); err != nil {
				r.release(lease)
				lease = nil
				r.metrics.setLeader(r.name, false)
			}
		}
		if !sleep(ctx, r.untilNext(r.now())) {
			return ctx.Err()
		}
	}
}

// untilNext is the wait until the next check or the next slot start, whichever is first.
func (r *runner) untilNext(now time.Time) time.Duration {
	next := time.Unix(0, (r.slot(now)+1)*int64(r.interval))
	return max(min(r.check, next.Sub(now)), time.Millisecond)
}

// runOnce runs the job with a context that ends when the lease is lost. It returns an error
// only when the lease was lost during the run.
func (r *runner) runOnce(ctx context.Context, lease Lease) (lost error) {
	jctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var (
		wg      sync.WaitGroup
		lostErr error
		mu      sync.Mutex
	)
	stop := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(r.check)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-jctx.Done():
				return
			case <-t.C:
				if err := lease.Check(jctx); err != nil && jctx.Err() == nil {
					mu.Lock()
					lostErr = err
					mu.Unlock()
					cancel()
					return
				}
			}
		}
	})
	start := time.Now()
	err := r.call(jctx)
	close(stop)
	wg.Wait()
	mu.Lock()
	lost = lostErr
	mu.Unlock()
	elapsed := time.Since(start)
	switch {
	case lost != nil:
		r.log.Warn("leader: lost the lock during a run; the run was cancelled", "error", lost.Error(), "duration_ms", elapsed.Milliseconds())
		r.metrics.observe(r.name, "lost", elapsed)
	case err != nil && ctx.Err() != nil:
		// Shutting down: not the job's fault.
	case err != nil:
		r.log.Error("leader: job failed", "error", err.Error(), "duration_ms", elapsed.Milliseconds())
		r.metrics.observe(r.name, "error", elapsed)
	default:
		r.log.Debug("leader: job ran", "duration_ms", elapsed.Milliseconds())
		r.metrics.observe(r.name, "ok", elapsed)
	}
	return lost
}

// call runs the job, turning a panic into an error: a background job must not take the
// server down.
func (r *runner) call(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job panicked: %v", p)
		}
	}()
	return r.job(ctx)
}

func (r *runner) release(l Lease) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Release(ctx); err != nil {
		r.log.Warn("leader: release the lock", "error", err.Error())
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Metrics are leadership and job-run series, shared by every Run of a process.
type Metrics struct {
	leader   *prometheus.GaugeVec
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the series on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "gatehouse_leader", Help: "1 while this replica holds the job's leadership lock.",
		}, []string{"job"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_leader_job_runs_total", Help: "Leader-only job runs on this replica, by outcome: ok, error, lost (lock lost mid-run).",
		}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gatehouse_leader_job_duration_seconds", Help: "Time a leader-only job run took.",
			Buckets: []float64{.01, .05, .1, .5, 1, 5, 15, 60, 300},
		}, []string{"job"}),
	}
	for _, c := range []prometheus.Collector{m.leader, m.runs, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("leader: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *Metrics) setLeader(job string, on bool) {
	if m == nil {
		return
	}
	v := 0.0
	if on {
		v = 1
	}
	m.leader.WithLabelValues(job).Set(v)
}

func (m *Metrics) observe(job, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(job, outcome).Inc()
	m.duration.WithLabelValues(job).Observe(d.Seconds())
}
