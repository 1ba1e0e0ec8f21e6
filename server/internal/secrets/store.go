package secrets

import (
	"context"
	"time"
)

// Store keeps metadata, versions, policies and the audit trail (internal/store). Errors:
// ErrSecretNotFound, ErrSecretExists, ErrVersionNotFound and ErrPolicyNotFound as documented
// per method; anything else is a database failure.
type Store interface {
	// CreateSecret inserts s (its ID set by the caller) with labels and, when first is not
	// nil, its version 1 as current, in one transaction. ErrSecretExists when the name is taken
	// (soft-deleted secrets keep their name until purged).
	CreateSecret(ctx context.Context, s Secret, first *Version) error
	// GetSecret returns the secret by name, deleted or not, with labels and CurrentVersion.
	GetSecret(ctx context.Context, name string) (Secret, error)
	// ListSecrets returns every secret matching f, by name, with labels and CurrentVersion.
	ListSecrets(ctx context.Context, f ListFilter) ([]Secret, error)
	// UpdateSecret writes s's mutable fields (description, owner, labels, rotation fields,
	// deletion fields, updated_at). ErrSecretNotFound when the row is gone.
	UpdateSecret(ctx context.Context, s Secret) error
	// DeleteSecret removes the secret with its versions and labels (the purge).
	DeleteSecret(ctx context.Context, id string) error
	// DuePurges returns soft-deleted secrets whose purge_after is not after now.
	DuePurges(ctx context.Context, now time.Time, limit int) ([]Secret, error)

	// AddVersion gives v the next version number of the secret and inserts it. With stage
	// current, the old current becomes previous and the old previous loses its stage; with
	// stage pending, an older pending version loses its stage. Writers of one secret are
	// serialised by a lock on its row, so concurrent writers never lose a version.
	// ErrSecretNotFound when the secret is gone.
	AddVersion(ctx context.Context, v Version) (Version, error)
	// Promote makes an existing version current (the old current becomes previous).
	// ErrVersionNotFound when it does not exist.
	Promote(ctx context.Context, secretID string, version int) error
	// ClearStage removes stage from whichever version holds it (a failed rotation's pending).
	ClearStage(ctx context.Context, secretID, stage string) error
	// GetVersion returns one version; version 0 means the current one. ErrVersionNotFound.
	GetVersion(ctx context.Context, secretID string, version int) (Version, error)
	// ListVersions returns every version, oldest first.
	ListVersions(ctx context.Context, secretID string) ([]Version, error)

	// AppendAudit inserts the records in one transaction: all or none.
	AppendAudit(ctx context.Context, recs []AuditRecord) error
	// ListAudit returns one page of matching records, newest first, and the number of matches.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditRecord, int, error)

	// Policies returns the policies of the subjects (all when subjects is empty).
	Policies(ctx context.Context, subjectType string, subjects []string) ([]Policy, error)
	// CreatePolicy inserts p (ID set by the caller).
	CreatePolicy(ctx context.Context, p Policy) error
	// DeletePolicy removes one and returns it (also with an error, once it was found, so the
	// caller can invalidate its subject's cached policies); ErrPolicyNotFound.
	DeletePolicy(ctx context.Context, id string) (Policy, error)
}

// ListFilter narrows ListSecrets.
type ListFilter struct {
	Prefix         string // names starting with it
	LabelKey       string // with this label ...
	LabelValue     string // ... set to this value
	IncludeDeleted bool
}

// AuditFilter narrows ListAudit.
type AuditFilter struct {
	SecretName string
	ActorID    string
	Since      time.Time
	Page       int
	PerPage    int
}
