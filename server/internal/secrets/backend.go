// Package secrets is Gatehouse's secrets manager: the backend contract every store of secret
// values implements, and (in the service files) metadata, versions, stages, rotation, cache and
// audit on top of it.
//
// Metadata, stages and the audit trail live in Gatehouse's own database for every backend;
// values live in the backend. A backend therefore only stores and returns opaque bytes under a
// name, addressed by the backend's own version identifier.
package secrets

import (
	"context"
	"errors"
	"time"
)

// Backend kinds, as configured and as stored with each secret.
const (
	KindDB    = "db"
	KindEnv   = "env"
	KindVault = "vault"
	KindAWS   = "aws"
	KindAzure = "azure"
	KindGCP   = "gcp"
)

// Errors every backend maps its own failures onto, so the service and the HTTP layer decide
// by kind (errors.Is), never by message.
var (
	// ErrNotFound: no secret of that name in the backend.
	ErrNotFound = errors.New("secrets: secret not found")
	// ErrVersionNotFound: the secret exists but not that version.
	ErrVersionNotFound = errors.New("secrets: version not found")
	// ErrReadOnly: the backend cannot store values (see Writer).
	ErrReadOnly = errors.New("secrets: backend is read-only")
	// ErrUnavailable: the backend did not answer or answered with a server error; the caller
	// may retry later. Wrap the cause.
	ErrUnavailable = errors.New("secrets: backend unavailable")
	// ErrDenied: the backend refused Gatehouse's credentials.
	ErrDenied = errors.New("secrets: backend denied access")
)

// Value is one version of a secret as the backend holds it.
type Value struct {
	Data []byte
	// Version is the backend's own identifier of this version (Vault's integer, AWS's
	// VersionId, Azure's version, GCP's version number, the db backend's row id).
	Version   string
	CreatedAt time.Time
}

// Backend is the minimum every store of secret values offers.
//
// Names are path-like (`billing/prod/db-password`): segments of [A-Za-z0-9._-] separated by
// single slashes, at most 512 bytes, validated by the service before they reach a backend. A
// backend whose service cannot hold such a name (Azure, GCP) encodes it reversibly and
// collision-free.
type Backend interface {
	// Kind is one of the Kind constants.
	Kind() string
	// Get returns the newest version when version is "", else that version.
	Get(ctx context.Context, name, version string) (Value, error)
	// Health reports whether the backend answers with the configured credentials.
	Health(ctx context.Context) error
}

// Writer is a backend that stores values. Put adds a new version (creating the secret on
// first use) and returns its version identifier; concurrent Puts never lose a version.
type Writer interface {
	Put(ctx context.Context, name string, data []byte) (version string, err error)
}

// Deleter is a backend that can remove a secret with all its versions.
type Deleter interface {
	Delete(ctx context.Context, name string) error
}

// Versioner is a backend that lists the versions it keeps, oldest first.
type Versioner interface {
	Versions(ctx context.Context, name string) ([]VersionInfo, error)
}

// Stager is a backend with its own notion of the current version (AWS staging labels):
// Promote makes version the one its own clients see as current. Backends without such a
// notion do not implement it; Gatehouse's stages live in its database either way.
type Stager interface {
	Promote(ctx context.Context, name, version string) error
}

// VersionInfo describes a stored version without its value.
type VersionInfo struct {
	Version   string
	CreatedAt time.Time
}

// NameLimiter is a backend that cannot hold names up to the service's 512-byte limit (after
// its own encoding): the service refuses longer names for it up front, with a clear 400,
// instead of failing in the backend. secretstest.Options.MaxNameBytes must match.
type NameLimiter interface {
	MaxNameBytes() int
}

// ValueLimiter is a backend that holds smaller values than the service's limit (Azure Key
// Vault: 25 KiB): the service refuses larger values for it up front with 413
// secret_too_large. secretstest.Options.MaxValueBytes must match.
type ValueLimiter interface {
	MaxValueBytes() int
}
