package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/server/internal/store"
)

// CleanupJob is the leader-only job's name (its lock, its gatehouse_leader_job_runs_total label).
const CleanupJob = "cleanup"

// expiredDeleter is the store side of the clean-up.
type expiredDeleter interface {
	DeleteExpired(ctx context.Context, now time.Time, retention time.Duration) ([]store.CleanupCount, error)
}

// cleanup deletes dead rows (internal/store DeleteExpired) and reports each run: one log line
// with the count per table, and gatehouse_cleanup_deleted_rows_total{table}.
type cleanup struct {
	store     expiredDeleter
	retention time.Duration
	now       func() time.Time
	deleted   *prometheus.CounterVec
	log       *slog.Logger
}

func newCleanup(s expiredDeleter, retention time.Duration, reg prometheus.Registerer, log *slog.Logger) (*cleanup, error) {
	c := &cleanup{store: s, retention: retention, now: time.Now, log: log,
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_cleanup_deleted_rows_total",
			Help: "Rows the leader-only clean-up job deleted (expired or revoked sessions, refresh tokens, pending logins, codes, devices, stale enrollments), by table.",
		}, []string{"table"}),
	}
	if err := reg.Register(c.deleted); err != nil {
		return nil, fmt.Errorf("register clean-up metrics: %w", err)
	}
	return c, nil
}

// Run is one clean-up pass. What was deleted before a failure is still reported.
func (c *cleanup) Run(ctx context.Context) error {
	start := c.now()
	counts, err := c.store.DeleteExpired(ctx, start, c.retention)
	attrs := make([]any, 0, 2*len(counts)+4)
	var total int64
	for _, n := range counts {
		c.deleted.WithLabelValues(n.Table).Add(float64(n.Deleted))
		attrs = append(attrs, n.Table, n.Deleted)
		total += n.Deleted
	}
	attrs = append(attrs, "total", total, "duration_ms", time.Since(start).Milliseconds())
	if err != nil {
		c.log.Error("cleanup: stopped part way", append(attrs, "error", err.Error())...)
		return err
	}
	c.log.Info("cleanup: deleted expired rows", attrs...)
	return nil
}

// wireCleanup registers the clean-up as a leader-only job.
func (a *App) wireCleanup() error {
	c, err := newCleanup(a.DB, a.Config.Jobs.CleanupRetention, a.Registry, a.Logger)
	if err != nil {
		return err
	}
	return a.Jobs.Add(CleanupJob, a.Config.Jobs.CleanupInterval, c.Run)
}
