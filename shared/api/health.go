package api

import "time"

// Version is the body of GET /api/v1/version.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
}

// Health statuses.
const (
	StatusOK   = "ok"
	StatusFail = "fail"
)

// Health is the body of GET /livez and GET /readyz. A failing /readyz answers 503 with the same
// body, naming the failing component in Checks.
type Health struct {
	Status string                 `json:"status"`
	Checks map[string]HealthCheck `json:"checks,omitempty"`
}

// HealthCheck is the result of checking one component (database, redis, ...).
type HealthCheck struct {
	Status     string  `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	// Error is a short, non-sensitive description; connection strings never appear here.
	Error string `json:"error,omitempty"`
}

// PoolStats is a sample of the database connection pool with its configured limits, served to
// admins (GET /api/v1/admin/pool) and exported as Prometheus gauges.
type PoolStats struct {
	Dialect string `json:"dialect"`
	// Configured limits.
	MaxOpenConnections int     `json:"max_open_connections"`
	MaxIdleConnections int     `json:"max_idle_connections"`
	ConnMaxLifetimeSec float64 `json:"conn_max_lifetime_seconds"`
	ConnMaxIdleTimeSec float64 `json:"conn_max_idle_time_seconds"`
	// Live figures from database/sql.
	OpenConnections   int       `json:"open_connections"`
	InUse             int       `json:"in_use"`
	Idle              int       `json:"idle"`
	WaitCount         int64     `json:"wait_count"`
	WaitDurationSec   float64   `json:"wait_duration_seconds"`
	MaxIdleClosed     int64     `json:"max_idle_closed"`
	MaxIdleTimeClosed int64     `json:"max_idle_time_closed"`
	MaxLifetimeClosed int64     `json:"max_lifetime_closed"`
	SampledAt         time.Time `json:"sampled_at"`
}
