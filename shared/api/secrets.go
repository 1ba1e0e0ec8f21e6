package api

import "time"

// ServiceAccountTokenPrefix starts every service account token ("gsa_" + 256 random bits in
// unpadded base64url), sent as "Authorization: Bearer gsa_...".
const ServiceAccountTokenPrefix = "gsa_" //nolint:gosec // a prefix, not a credential

// Value encodings on the wire. Values are bytes: text travels as it is, anything else (or
// anything the client chooses to) as standard base64.
const (
	EncodingUTF8   = "utf-8"
	EncodingBase64 = "base64"
)

// Secret stages.
const (
	StageCurrent  = "current"
	StagePrevious = "previous"
	StagePending  = "pending"
)

// Secret is a secret's metadata. Lists and metadata never carry values (SEC-40).
type Secret struct {
	Name           string            `json:"name"`
	Backend        string            `json:"backend"`
	Description    string            `json:"description"`
	Owner          string            `json:"owner"`
	Labels         map[string]string `json:"labels"`
	CurrentVersion int               `json:"current_version"`
	Rotation       *RotationPolicy   `json:"rotation,omitempty"`
	NextRotationAt *time.Time        `json:"next_rotation_at,omitempty"`
	LastRotatedAt  *time.Time        `json:"last_rotated_at,omitempty"`
	// RotationDue is the expiry warning: a scheduled rotation is due within the policy's window.
	RotationDue bool       `json:"rotation_due"`
	CreatedBy   string     `json:"created_by"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
	PurgeAfter  *time.Time `json:"purge_after,omitempty"`
}

// SecretList is one page of GET /api/v1/secrets.
type SecretList struct {
	Secrets []Secret `json:"secrets"`
	Page    int      `json:"page"`
	PerPage int      `json:"per_page"`
	Total   int      `json:"total"`
}

// SecretQuery filters GET /api/v1/secrets.
type SecretQuery struct {
	Prefix  string
	Label   string // key=value
	Deleted bool   // soft-deleted secrets (restorable) instead of live ones
	Page    int
	PerPage int
}

// GeneratorSpec describes a generated value (server internal/secrets/generate):
// {"type":"password","length":32}, {"type":"hex","bytes":32}, {"type":"base64","bytes":32},
// {"type":"base64url","bytes":32}, {"type":"apikey","prefix":"app_","length":40}.
type GeneratorSpec struct {
	Type             string `json:"type"`
	Length           int    `json:"length,omitempty"`
	Bytes            int    `json:"bytes,omitempty"`
	ExcludeLowercase bool   `json:"exclude_lowercase,omitempty"`
	ExcludeUppercase bool   `json:"exclude_uppercase,omitempty"`
	ExcludeDigits    bool   `json:"exclude_digits,omitempty"`
	ExcludeSymbols   bool   `json:"exclude_symbols,omitempty"`
	ExcludeChars     string `json:"exclude_chars,omitempty"`
	RequireEach      bool   `json:"require_each,omitempty"`
	Prefix           string `json:"prefix,omitempty"`
}

// RotationPolicy is how and when a secret rotates (SEC-44). IntervalSeconds 0 means on demand
// only (POST .../rotate).
type RotationPolicy struct {
	IntervalSeconds int64         `json:"interval_seconds"`
	WindowSeconds   int64         `json:"window_seconds"`
	Generator       GeneratorSpec `json:"generator"`
	// HookURL receives the pending value, HMAC-signed, and must answer 2xx before it becomes current.
	HookURL string `json:"hook_url,omitempty"`
}

// CreateSecretRequest is the body of POST /api/v1/secrets: a value, or a generator, or (for a
// read-only backend such as env) neither.
type CreateSecretRequest struct {
	Name        string            `json:"name"`
	Backend     string            `json:"backend,omitempty"`
	Value       *string           `json:"value,omitempty"`
	Encoding    string            `json:"encoding,omitempty"` // utf-8 (default) or base64
	Generate    *GeneratorSpec    `json:"generate,omitempty"`
	Description string            `json:"description,omitempty"`
	Owner       string            `json:"owner,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Rotation    *RotationPolicy   `json:"rotation,omitempty"`
}

// UpdateSecretRequest is the body of PUT /api/v1/secrets/{name}: a new value makes a new
// current version; metadata fields given replace the old ones.
type UpdateSecretRequest struct {
	Value       *string            `json:"value,omitempty"`
	Encoding    string             `json:"encoding,omitempty"`
	Description *string            `json:"description,omitempty"`
	Owner       *string            `json:"owner,omitempty"`
	Labels      *map[string]string `json:"labels,omitempty"`
}

// SecretValue is GET /api/v1/secrets/{name}/value.
type SecretValue struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	Stage     string    `json:"stage,omitempty"`
	Encoding  string    `json:"encoding"`
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"created_at"`
}

// SecretVersion is one version, without its value.
type SecretVersion struct {
	Version   int       `json:"version"`
	Stage     string    `json:"stage,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// SecretVersionList is GET /api/v1/secrets/{name}/versions, oldest first.
type SecretVersionList struct {
	Versions []SecretVersion `json:"versions"`
}

// RollbackRequest is the body of POST /api/v1/secrets/{name}/rollback.
type RollbackRequest struct {
	Version int `json:"version"`
}

// SetRotationRequest is the body of PUT /api/v1/secrets/{name}/rotation; a null rotation
// removes the policy.
type SetRotationRequest struct {
	Rotation *RotationPolicy `json:"rotation"`
}

// SecretAuditRecord is one line of the secret audit trail (SEC-41); it never holds a value.
type SecretAuditRecord struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	ActorType string    `json:"actor_type"`
	ActorID   string    `json:"actor_id"`
	Action    string    `json:"action"`
	Secret    string    `json:"secret"`
	Version   int       `json:"version,omitempty"`
	Backend   string    `json:"backend"`
	Outcome   string    `json:"outcome"`
	Reason    string    `json:"reason,omitempty"`
	RequestID string    `json:"request_id"`
	IP        string    `json:"ip"`
}

// SecretAuditList is one page of an audit trail, newest first.
type SecretAuditList struct {
	Records []SecretAuditRecord `json:"records"`
	Page    int                 `json:"page"`
	PerPage int                 `json:"per_page"`
	Total   int                 `json:"total"`
}

// SecretAuditQuery filters GET /api/v1/admin/secrets/audit.
type SecretAuditQuery struct {
	Since   time.Time
	Actor   string
	Secret  string
	Page    int
	PerPage int
}

// SecretBackend is one configured backend in GET /api/v1/admin/secret-backends.
type SecretBackend struct {
	Kind     string `json:"kind"`
	Default  bool   `json:"default"`
	Writable bool   `json:"writable"`
	Healthy  bool   `json:"healthy"`
	Error    string `json:"error,omitempty"`
}

// SecretBackendList is GET /api/v1/admin/secret-backends.
type SecretBackendList struct {
	Backends []SecretBackend `json:"backends"`
}

// Secret policy subjects and actions (SEC-42).
const (
	PolicySubjectRole           = "role"
	PolicySubjectServiceAccount = "service_account"
	SecretActionRead            = "read"
	SecretActionWrite           = "write"
	SecretActionRotate          = "rotate"
	SecretActionDelete          = "delete"
)

// SecretPolicy grants a role or a service account actions on names matching a pattern
// ("billing/*": one segment; "billing/**": any depth).
type SecretPolicy struct {
	ID          string    `json:"id"`
	SubjectType string    `json:"subject_type"`
	Subject     string    `json:"subject"`
	Pattern     string    `json:"pattern"`
	Actions     []string  `json:"actions"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateSecretPolicyRequest is the body of POST /api/v1/admin/secret-policies.
type CreateSecretPolicyRequest struct {
	SubjectType string   `json:"subject_type"`
	Subject     string   `json:"subject"`
	Pattern     string   `json:"pattern"`
	Actions     []string `json:"actions"`
}

// SecretPolicyList is GET /api/v1/admin/secret-policies.
type SecretPolicyList struct {
	Policies []SecretPolicy `json:"policies"`
}

// ServiceAccount is a non-human caller of the secrets API.
type ServiceAccount struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateServiceAccountRequest is the body of POST /api/v1/admin/service-accounts.
type CreateServiceAccountRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ServiceAccountList is GET /api/v1/admin/service-accounts.
type ServiceAccountList struct {
	ServiceAccounts []ServiceAccount `json:"service_accounts"`
}

// ServiceAccountToken is a token's record; the token itself is shown only once, at creation.
type ServiceAccountToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// CreateServiceAccountTokenRequest is the body of POST .../service-accounts/{id}/tokens;
// ExpiresInSeconds 0 means the token does not expire.
type CreateServiceAccountTokenRequest struct {
	Name             string `json:"name,omitempty"`
	ExpiresInSeconds int64  `json:"expires_in_seconds,omitempty"`
}

// CreatedServiceAccountToken is the answer to a token creation: the only time Token is shown.
type CreatedServiceAccountToken struct {
	ServiceAccountToken
	Token string `json:"token"`
}

// ServiceAccountTokenList is GET .../service-accounts/{id}/tokens.
type ServiceAccountTokenList struct {
	Tokens []ServiceAccountToken `json:"tokens"`
}
