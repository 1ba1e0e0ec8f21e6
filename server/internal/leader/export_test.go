package leader

import "github.com/prometheus/client_golang/prometheus"

// LeaderGauge exposes the job's leadership gauge to the external tests.
func (m *Metrics) LeaderGauge(job string) prometheus.Gauge { return m.leader.WithLabelValues(job) }

// Runs exposes the job's run counter for one outcome to the external tests.
func (m *Metrics) Runs(job, outcome string) prometheus.Counter {
	return m.runs.WithLabelValues(job, outcome)
}
