// Package pool reports the database connection pool: live database/sql statistics beside the
// configured limits, for admins (the API and the console's live chart) and for Prometheus.
package pool

import (
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"gatehouse/shared/api"
)

// Limits are the configured pool settings.
type Limits struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

// Monitor samples one pool.
type Monitor struct {
	db      *sql.DB
	dialect string
	limits  Limits
	now     func() time.Time
}

// New returns a monitor for db.
func New(db *sql.DB, dialect string, limits Limits) *Monitor {
	return &Monitor{db: db, dialect: dialect, limits: limits, now: time.Now}
}

// Sample reads the pool's current statistics.
func (m *Monitor) Sample() api.PoolStats {
	s := m.db.Stats()
	return api.PoolStats{
		Dialect:            m.dialect,
		MaxOpenConnections: m.limits.MaxOpenConns,
		MaxIdleConnections: m.limits.MaxIdleConns,
		ConnMaxLifetimeSec: m.limits.ConnMaxLifetime.Seconds(),
		ConnMaxIdleTimeSec: m.limits.ConnMaxIdleTime.Seconds(),
		OpenConnections:    s.OpenConnections,
		InUse:              s.InUse,
		Idle:               s.Idle,
		WaitCount:          s.WaitCount,
		WaitDurationSec:    s.WaitDuration.Seconds(),
		MaxIdleClosed:      s.MaxIdleClosed,
		MaxIdleTimeClosed:  s.MaxIdleTimeClosed,
		MaxLifetimeClosed:  s.MaxLifetimeClosed,
		SampledAt:          m.now().UTC(),
	}
}

// Register exports the pool on reg: database/sql's statistics through client_golang's standard
// collector (go_sql_* with db_name="gatehouse") plus the limits database/sql does not report.
func (m *Monitor) Register(reg prometheus.Registerer) error {
	limits := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "gatehouse_db_pool_limit",
		Help: "Configured database pool limits (durations in seconds).",
	}, []string{"dialect", "limit"})
	limits.WithLabelValues(m.dialect, "max_idle_connections").Set(float64(m.limits.MaxIdleConns))
	limits.WithLabelValues(m.dialect, "conn_max_lifetime_seconds").Set(m.limits.ConnMaxLifetime.Seconds())
	limits.WithLabelValues(m.dialect, "conn_max_idle_time_seconds").Set(m.limits.ConnMaxIdleTime.Seconds())
	for _, c := range []prometheus.Collector{collectors.NewDBStatsCollector(m.db, "gatehouse"), limits} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
