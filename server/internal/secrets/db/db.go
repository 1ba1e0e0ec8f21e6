// Package db is the default secrets backend: values kept in Gatehouse's own database with
// envelope encryption (SEC-40).
//
// Every version gets its own random 32-byte data key. The value is stored as a Fernet token
// under that data key, and the data key itself is stored wrapped by the keyring, which seals it
// with the current master key version ("v<n>:<token>"). Reading unwraps the data key (a map
// lookup and one AES/HMAC in the keyring: the PBKDF2 stretch of the master passphrase ran once,
// when the keyring was opened) and opens the token.
//
// Master key rotation does not touch the values: Rewrap re-seals each data key with the new
// master key version, in batches, with progress (SEC-43).
//
// Version identifiers are the decimal row ids of the version rows: unique across all secrets,
// increasing, so concurrent Puts cannot collide.
package db

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fernet/fernet-go"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/secrets"
)

// Keyring seals data keys (internal/keyring).
type Keyring interface {
	Encrypt(plaintext []byte) (string, error)
	Decrypt(ciphertext string) ([]byte, error)
	CurrentVersion() int
	// Reload picks up master key versions another replica added.
	Reload(ctx context.Context) error
}

// Row is one stored version.
type Row struct {
	ID         int64
	Name       string
	KeyVersion int    // master key version in WrappedKey's prefix
	WrappedKey string // the data key, sealed by the keyring
	Ciphertext string // the value, a Fernet token under the data key
	CreatedAt  time.Time
}

// Store persists rows (internal/store, table secret_values). Errors: Get and List return
// secrets.ErrNotFound when no row has the name, Get returns secrets.ErrVersionNotFound when
// the name exists but not with that id; Delete returns secrets.ErrNotFound when it removed
// nothing.
type Store interface {
	Insert(ctx context.Context, r Row) (int64, error)
	// Get returns the row with id for name, or the newest when id is 0.
	Get(ctx context.Context, name string, id int64) (Row, error)
	List(ctx context.Context, name string) ([]Row, error) // oldest first, Ciphertext left empty
	Delete(ctx context.Context, name string) error
	Ping(ctx context.Context) error

	// StaleKeys returns up to limit rows (ID, KeyVersion, WrappedKey only) whose KeyVersion is
	// below version and whose ID is above afterID, by ID.
	StaleKeys(ctx context.Context, below int, afterID int64, limit int) ([]Row, error)
	// CountStale counts rows whose KeyVersion is below version.
	CountStale(ctx context.Context, below int) (int, error)
	// Rewrap replaces the wrapped key of the rows in one transaction, each only if it still
	// holds the old wrapped key (compare-and-swap); it returns how many it changed.
	Rewrap(ctx context.Context, batch []Rewrapped) (int, error)
}

// Rewrapped is one row's new wrapped key.
type Rewrapped struct {
	ID         int64
	Old        string
	New        string
	KeyVersion int
}

// Backend is the db secrets backend.
type Backend struct {
	store Store
	kr    Keyring
	now   func() time.Time
}

var (
	_ secrets.Backend   = (*Backend)(nil)
	_ secrets.Writer    = (*Backend)(nil)
	_ secrets.Deleter   = (*Backend)(nil)
	_ secrets.Versioner = (*Backend)(nil)
)

// New returns the backend. now may be nil (time.Now).
func New(store Store, kr Keyring, now func() time.Time) *Backend {
	if now == nil {
		now = time.Now
	}
	return &Backend{store: store, kr: kr, now: now}
}

// Kind is secrets.KindDB.
func (b *Backend) Kind() string { return secrets.KindDB }

// Health pings the database.
func (b *Backend) Health(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: database: %w", secrets.ErrUnavailable, err)
	}
	return nil
}

// Put seals data under a fresh data key and stores it as a new version.
func (b *Backend) Put(ctx context.Context, name string, data []byte) (string, error) {
	var dk fernet.Key
	if _, err := rand.Read(dk[:]); err != nil {
		return "", fmt.Errorf("db backend: generate data key: %w", err)
	}
	defer clear(dk[:])
	tok, err := fernet.EncryptAndSign(data, &dk)
	if err != nil {
		return "", fmt.Errorf("db backend: seal value: %w", err)
	}
	wrapped, err := b.kr.Encrypt(dk[:])
	if err != nil {
		return "", fmt.Errorf("db backend: wrap data key: %w", err)
	}
	kv, err := keyVersion(wrapped)
	if err != nil {
		return "", err
	}
	id, err := b.store.Insert(ctx, Row{Name: name, KeyVersion: kv, WrappedKey: wrapped, Ciphertext: string(tok), CreatedAt: b.now().UTC()})
	if err != nil {
		return "", fmt.Errorf("db backend: store version of %q: %w", name, err)
	}
	return strconv.FormatInt(id, 10), nil
}

// Get opens the newest version (version "") or the one named.
func (b *Backend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	var id int64
	if version != "" {
		n, err := strconv.ParseInt(version, 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != version {
			// Not an id this backend ever hands out: unknown, whatever the name.
			if _, gerr := b.store.Get(ctx, name, 0); gerr != nil {
				return secrets.Value{}, gerr
			}
			return secrets.Value{}, fmt.Errorf("%q version %q: %w", name, version, secrets.ErrVersionNotFound)
		}
		id = n
	}
	r, err := b.store.Get(ctx, name, id)
	if err != nil {
		return secrets.Value{}, err
	}
	data, err := b.open(ctx, r)
	if err != nil {
		return secrets.Value{}, err
	}
	return secrets.Value{Data: data, Version: strconv.FormatInt(r.ID, 10), CreatedAt: r.CreatedAt}, nil
}

// ErrCorrupt means a stored version does not open: its data key or value fails
// authentication. It is never a wrong-passphrase symptom (the keyring refuses to open with a
// wrong master key), so it means damaged or tampered rows.
var ErrCorrupt = errors.New("db backend: stored value fails authentication")

func (b *Backend) open(ctx context.Context, r Row) ([]byte, error) {
	raw, err := b.kr.Decrypt(r.WrappedKey)
	if errors.Is(err, keyring.ErrUnknownKeyVersion) {
		// Another replica rotated the master key and wrote or re-wrapped with the new version.
		if rerr := b.kr.Reload(ctx); rerr == nil {
			raw, err = b.kr.Decrypt(r.WrappedKey)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: unwrap data key of version %d: %w", ErrCorrupt, r.ID, err)
	}
	defer clear(raw)
	if len(raw) != len(fernet.Key{}) {
		return nil, fmt.Errorf("%w: data key of version %d is %d bytes", ErrCorrupt, r.ID, len(raw))
	}
	var dk fernet.Key
	copy(dk[:], raw)
	defer clear(dk[:])
	data := fernet.VerifyAndDecrypt([]byte(r.Ciphertext), 0, []*fernet.Key{&dk})
	if data == nil {
		return nil, fmt.Errorf("%w: value of version %d", ErrCorrupt, r.ID)
	}
	return data, nil
}

// Versions lists the stored versions, oldest first.
func (b *Backend) Versions(ctx context.Context, name string) ([]secrets.VersionInfo, error) {
	rows, err := b.store.List(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]secrets.VersionInfo, len(rows))
	for i, r := range rows {
		out[i] = secrets.VersionInfo{Version: strconv.FormatInt(r.ID, 10), CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// Delete removes every version of name.
func (b *Backend) Delete(ctx context.Context, name string) error {
	return b.store.Delete(ctx, name)
}

// keyVersion reads n from a keyring ciphertext "v<n>:...".
func keyVersion(wrapped string) (int, error) {
	num, _, ok := strings.Cut(strings.TrimPrefix(wrapped, "v"), ":")
	n, err := strconv.Atoi(num)
	if !ok || !strings.HasPrefix(wrapped, "v") || err != nil || n < 1 {
		return 0, errors.New("db backend: keyring returned a ciphertext without a key version")
	}
	return n, nil
}
