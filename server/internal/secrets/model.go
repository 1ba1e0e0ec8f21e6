package secrets

import (
	"errors"
	"time"

	"gatehouse/server/internal/secrets/generate"
)

// Stages of a version. At most one version of a secret holds each stage.
const (
	StageCurrent  = "current"
	StagePrevious = "previous"
	StagePending  = "pending"
)

// Actions a policy grants (SEC-42).
type Action string

// Actions.
const (
	ActionRead   Action = "read"   // metadata, versions, values, the secret's audit trail
	ActionWrite  Action = "write"  // create, new versions, rollback, metadata changes
	ActionRotate Action = "rotate" // rotate now, set the rotation policy
	ActionDelete Action = "delete" // soft delete, restore
)

// Actions lists every action, for validation.
func Actions() []Action { return []Action{ActionRead, ActionWrite, ActionRotate, ActionDelete} }

// Actor types, as recorded in the audit trail.
const (
	ActorUser           = "user"
	ActorServiceAccount = "service_account"
	ActorSystem         = "system"
)

// Actor is who asks. Roles apply to users; service accounts have their own policies.
type Actor struct {
	Type  string // ActorUser, ActorServiceAccount or ActorSystem
	ID    string
	Roles []string
	// RequestID and IP go into the audit trail.
	RequestID string
	IP        string
}

// Ref is how the actor is written in created_by columns: "user:<id>", "service_account:<id>".
func (a Actor) Ref() string {
	if a.Type == ActorSystem {
		return ActorSystem
	}
	return a.Type + ":" + a.ID
}

// Secret is a secret's metadata. Values live in the backend.
type Secret struct {
	ID          string
	Name        string
	Backend     string
	Description string
	Owner       string
	Labels      map[string]string
	Rotation    *RotationPolicy
	// NextRotationAt is when the scheduler rotates next (from the policy's interval).
	NextRotationAt *time.Time
	LastRotatedAt  *time.Time
	CreatedBy      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// DeletedAt is set while the secret is soft-deleted; PurgeAfter is when it goes for good.
	DeletedAt  *time.Time
	PurgeAfter *time.Time
	// CurrentVersion is the number of the version with stage current (0 if none).
	CurrentVersion int
}

// Deleted reports whether the secret is soft-deleted.
func (s Secret) Deleted() bool { return s.DeletedAt != nil }

// RotationPolicy says how and when a secret rotates (SEC-44). Interval 0 means "only on
// demand".
type RotationPolicy struct {
	Interval  time.Duration `json:"interval"`
	Generator Generator     `json:"generator"`
	// Window is how long before the due time a scheduled rotation may start, and how far
	// ahead expiry warnings look.
	Window time.Duration `json:"window"`
	// HookURL, when set, is called with the pending value and must accept it before it
	// becomes current.
	HookURL string `json:"hook_url,omitempty"`
}

// Generator describes how a new value is made: internal/secrets/generate's Spec, stored in the
// policy as it is ({"type":"password","length":32}, {"type":"hex","bytes":32}, ...).
type Generator = generate.Spec

// Version is one of Gatehouse's versions of a secret.
type Version struct {
	SecretID   string
	Version    int
	BackendRef string
	Stage      string // "" or a Stage constant
	CreatedBy  string
	CreatedAt  time.Time
}

// Policy grants a subject actions on names matching Pattern (SEC-42).
type Policy struct {
	ID          string
	SubjectType string // PolicyRole or PolicyServiceAccount
	Subject     string // a role name or a service account id
	Pattern     string
	Actions     []Action
	CreatedBy   string
	CreatedAt   time.Time
}

// Policy subject types.
const (
	PolicyRole           = "role"
	PolicyServiceAccount = "service_account"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Audit actions, beyond the policy actions read/write/rotate/delete.
const (
	AuditCreate   = "create"
	AuditRead     = "read"     // a value
	AuditMetadata = "metadata" // metadata, versions or the secret's audit trail
	AuditWrite    = "write"    // a new version
	AuditUpdate   = "update"   // metadata change
	AuditRollback = "rollback"
	AuditRotate   = "rotate"
	AuditPolicy   = "rotation_policy"
	AuditDelete   = "delete"
	AuditRestore  = "restore"
	AuditPurge    = "purge"
	AuditList     = "list"
)

// AuditRecord is one line of the secret audit trail (SEC-41). It never holds a value.
type AuditRecord struct {
	ID         int64
	CreatedAt  time.Time
	ActorType  string
	ActorID    string
	Action     string
	SecretName string
	Version    int // 0: none
	Backend    string
	Outcome    string
	Reason     string // an error code for failures and denials
	RequestID  string
	IP         string
}

// Errors of the service, mapped to API codes in internal/app.
var (
	ErrInvalidName     = errors.New("invalid secret name")
	ErrInvalidPattern  = errors.New("invalid policy pattern")
	ErrSecretNotFound  = errors.New("secret not found")
	ErrSecretExists    = errors.New("a secret with this name already exists")
	ErrValueTooLarge   = errors.New("secret value too large")
	ErrForbidden       = errors.New("not allowed to do this with this secret")
	ErrUnknownBackend  = errors.New("no such secret backend is configured")
	ErrNotDeleted      = errors.New("the secret is not deleted")
	ErrRotationOff     = errors.New("rotation is not available in this server")
	ErrNoRotation      = errors.New("the secret has no rotation policy")
	ErrRotationFailed  = errors.New("rotation failed; the current version is unchanged")
	ErrPolicyNotFound  = errors.New("policy not found")
	ErrAuditUnwritable = errors.New("the audit trail could not be written")
)
