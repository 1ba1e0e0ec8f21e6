package api

import "time"

// KeyStatus is the body of GET /api/v1/admin/keys: the master key versions and how far the
// background re-wrap has moved every keyring-protected value onto the current one (SEC-43).
type KeyStatus struct {
	CurrentVersion int          `json:"current_version"`
	Versions       []KeyVersion `json:"versions"`
	Rewrap         RewrapStatus `json:"rewrap"`
}

// KeyVersion is one master key version (never key material).
type KeyVersion struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
}

// Re-wrap states.
const (
	// RewrapDone: every value is sealed with the current key version.
	RewrapDone = "done"
	// RewrapRunning: the replica that answered is re-wrapping now.
	RewrapRunning = "running"
	// RewrapWaiting: the current version is younger than the grace period that lets every
	// replica load it; the re-wrap starts after StartsAfter.
	RewrapWaiting = "waiting"
	// RewrapPending: values remain on older versions; the leader replica re-wraps them at its
	// next run (it may be running on another replica now).
	RewrapPending = "pending"
	// RewrapFailed: the last run on the replica that answered stopped with an error (see
	// LastRun.Error); the next run retries.
	RewrapFailed = "failed"
)

// RewrapStatus is the re-wrap progress. Total, Done and Remaining are counted from the
// database when asked, so every replica reports the same figures; LastRun is the answering
// replica's own latest run, if it ran one.
type RewrapStatus struct {
	State       string        `json:"state"`
	StartsAfter *time.Time    `json:"starts_after,omitempty"`
	Total       int           `json:"total"`
	Done        int           `json:"done"`
	Remaining   int           `json:"remaining"`
	Tables      []RewrapTable `json:"tables"`
	LastRun     *RewrapRun    `json:"last_run,omitempty"`
}

// RewrapTable is the progress of one kind of protected value (mfa_totp, signing_keys,
// secret_values, ...).
type RewrapTable struct {
	Name      string `json:"name"`
	Total     int    `json:"total"`
	Done      int    `json:"done"`
	Remaining int    `json:"remaining"`
}

// RewrapRun is one run of the re-wrap job.
type RewrapRun struct {
	TargetVersion int        `json:"target_version"`
	StartedAt     time.Time  `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
	Rewrapped     int        `json:"rewrapped"`
	Skipped       int        `json:"skipped"`
	Failed        int        `json:"failed"`
	Error         string     `json:"error,omitempty"`
}
