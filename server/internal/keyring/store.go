package keyring

import (
	"context"
	"errors"
	"time"
)

// Errors a Store reports. Implementations must return (or wrap) exactly these
// so the keyring can tell "never created" and "another replica got there
// first" apart from real failures.
var (
	// ErrNotInitialised is returned by Store.LoadKDF when no keyring exists yet.
	ErrNotInitialised = errors.New("keyring: not initialised")
	// ErrAlreadyInitialised is returned by Store.Initialise when a KDF row already exists.
	ErrAlreadyInitialised = errors.New("keyring: already initialised")
	// ErrKeyVersionExists is returned by Store.AddKey when the version number is taken.
	ErrKeyVersionExists = errors.New("keyring: key version already exists")
)

// KDFParams are the stored inputs that turn the master passphrase into the
// key-encryption key. They are not secret; the passphrase is.
type KDFParams struct {
	Salt       []byte
	Iterations int
	CreatedAt  time.Time
}

// WrappedKey is one data-encryption key version as stored: the raw 32-byte
// Fernet key, itself encrypted as a Fernet token under the key-encryption key.
type WrappedKey struct {
	Version   int
	Wrapped   string
	CreatedAt time.Time
}

// Store persists the keyring. The keyring owns this interface; the database
// implementation lives in the store layer (tables keyring_kdf and
// keyring_keys). keyringtest.ExerciseStore checks an implementation against
// the contract below.
type Store interface {
	// LoadKDF returns ErrNotInitialised when the keyring has never been created.
	LoadKDF(ctx context.Context) (KDFParams, error)
	// Initialise stores the KDF params and the first key in one transaction;
	// ErrAlreadyInitialised if a KDF row exists (and then nothing is written).
	Initialise(ctx context.Context, p KDFParams, first WrappedKey) error
	// Keys returns every stored key version, in any order.
	Keys(ctx context.Context) ([]WrappedKey, error)
	// AddKey returns ErrKeyVersionExists when the version is taken (another
	// replica rotated first).
	AddKey(ctx context.Context, k WrappedKey) error
}
