// Package keyring protects everything Gatehouse stores at rest (TOTP seeds,
// OAuth client secrets, JWT signing keys, secret data keys).
//
// The operator's master passphrase is stretched once, when the keyring is
// opened, with PBKDF2-HMAC-SHA256 into a key-encryption key (KEK). The KEK
// wraps versioned data-encryption keys (DEKs), each a random Fernet key stored
// as a Fernet token under the KEK. Encrypt always uses the newest version;
// Decrypt accepts any version the keyring knows.
//
// # Ciphertext format
//
//	v<version>:<fernet token>
//
// <version> is the decimal DEK version (1, 2, ...; no sign, no leading zeros)
// and <fernet token> is a standard URL-safe base64 Fernet token
// (https://github.com/fernet/spec) made with that version's key, for example
// "v3:gAAAAABm...". The version prefix makes decryption a map lookup instead
// of trying every key. Tokens never expire: the Fernet timestamp is ignored.
package keyring

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fernet/fernet-go"
)

// MinIterations is the least PBKDF2-HMAC-SHA256 work accepted for a new
// keyring (OWASP 2023 recommendation). It is also the default.
const MinIterations = 600_000

// saltLen is the length of the random KDF salt; keyLen that of every Fernet key.
const (
	saltLen = 32
	keyLen  = 32
)

// Errors returned by Open, Encrypt and Decrypt; test with errors.Is.
var (
	// ErrWrongMasterKey means the passphrase does not unwrap the stored keys.
	ErrWrongMasterKey = errors.New("keyring: wrong master key")
	// ErrUnknownKeyVersion means a ciphertext names a key version this keyring does not hold.
	ErrUnknownKeyVersion = errors.New("keyring: unknown key version")
	// ErrDecrypt means a ciphertext failed authentication: tampered, truncated
	// or made with a different key.
	ErrDecrypt = errors.New("keyring: ciphertext authentication failed")
	// ErrMalformedCiphertext means a ciphertext is not of the form v<version>:<token>.
	ErrMalformedCiphertext = errors.New("keyring: malformed ciphertext")
)

// Options configures Open. The zero value is usable.
type Options struct {
	// Iterations is the PBKDF2 iteration count for a new keyring. 0 means
	// MinIterations; anything else below MinIterations is rejected. An existing
	// keyring always keeps the count stored with it.
	Iterations int
	// Rand supplies salts and new data keys; nil means crypto/rand. It is only
	// used by Open and Rotate, never concurrently. (Fernet draws its IVs from
	// crypto/rand itself.)
	Rand io.Reader
	// Now timestamps stored rows and tokens; nil means time.Now. Must be safe
	// for concurrent use.
	Now func() time.Time

	// kdf replaces PBKDF2 in tests (to count calls and keep -race runs fast);
	// nil means deriveKEK.
	kdf func(passphrase string, salt []byte, iterations int) ([]byte, error)
}

// Keyring encrypts and decrypts with versioned data keys. It is safe for
// concurrent use.
type Keyring struct {
	store Store
	rand  io.Reader
	now   func() time.Time
	kek   *fernet.Key // kept for Rotate and Reload, which wrap/unwrap data keys

	// rotateMu serialises Rotate and Reload, so a new version number is chosen
	// against a view of the store that no other local call is changing.
	rotateMu sync.Mutex

	mu      sync.RWMutex
	keys    map[int]*fernet.Key // installed keys are never mutated
	current int                 // newest version; Encrypt uses it
}

// Open derives the key-encryption key from passphrase and loads the keyring
// from store, creating it (salt, iteration count and key version 1) when the
// store is empty. It runs PBKDF2 once (twice if it loses a creation race with
// another replica); nothing afterwards does.
//
// A passphrase that does not unwrap the stored keys yields an error wrapping
// ErrWrongMasterKey and leaves the store untouched.
func Open(ctx context.Context, store Store, passphrase string, opts Options) (*Keyring, error) {
	if store == nil {
		return nil, errors.New("open keyring: nil store")
	}
	if passphrase == "" {
		return nil, errors.New("open keyring: empty master passphrase")
	}
	switch {
	case opts.Iterations == 0:
		opts.Iterations = MinIterations
	case opts.Iterations < MinIterations:
		return nil, fmt.Errorf("open keyring: %d PBKDF2 iterations is below the minimum %d", opts.Iterations, MinIterations)
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.kdf == nil {
		opts.kdf = deriveKEK
	}

	p, err := store.LoadKDF(ctx)
	if errors.Is(err, ErrNotInitialised) {
		kr, cerr := create(ctx, store, passphrase, opts)
		if !errors.Is(cerr, ErrAlreadyInitialised) {
			return kr, cerr
		}
		// Another replica created the keyring between our LoadKDF and
		// Initialise: use theirs (our salt and key were never stored).
		p, err = store.LoadKDF(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("open keyring: load KDF parameters: %w", err)
	}
	return load(ctx, store, passphrase, p, opts)
}

// create initialises an empty store with a fresh salt and key version 1.
func create(ctx context.Context, store Store, passphrase string, opts Options) (*Keyring, error) {
	salt := make([]byte, saltLen)
	if _, err := io.ReadFull(opts.Rand, salt); err != nil {
		return nil, fmt.Errorf("create keyring: generate salt: %w", err)
	}
	kr, err := newKeyring(store, passphrase, salt, opts.Iterations, opts)
	if err != nil {
		return nil, fmt.Errorf("create keyring: %w", err)
	}
	first, dek, err := kr.newVersion(1)
	if err != nil {
		return nil, fmt.Errorf("create keyring: %w", err)
	}
	params := KDFParams{Salt: salt, Iterations: opts.Iterations, CreatedAt: first.CreatedAt}
	if err := store.Initialise(ctx, params, first); err != nil {
		return nil, fmt.Errorf("create keyring: %w", err)
	}
	kr.install(1, dek)
	return kr, nil
}

// load opens an existing keyring: derive the KEK with the stored parameters
// and unwrap every key version.
func load(ctx context.Context, store Store, passphrase string, p KDFParams, opts Options) (*Keyring, error) {
	if len(p.Salt) == 0 || p.Iterations < 1 {
		return nil, fmt.Errorf("open keyring: stored KDF parameters are invalid (salt %d bytes, %d iterations)", len(p.Salt), p.Iterations)
	}
	// The stored count wins over opts.Iterations: the KEK must be derived
	// exactly as it was when the keyring was created.
	kr, err := newKeyring(store, passphrase, p.Salt, p.Iterations, opts)
	if err != nil {
		return nil, fmt.Errorf("open keyring: %w", err)
	}
	wrapped, err := store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("open keyring: load keys: %w", err)
	}
	if len(wrapped) == 0 {
		return nil, errors.New("open keyring: KDF parameters exist but no key versions do; the keyring tables are inconsistent")
	}
	keys := make(map[int]*fernet.Key, len(wrapped))
	var failed []int
	for _, w := range wrapped {
		if w.Version < 1 {
			return nil, fmt.Errorf("open keyring: stored key version %d is invalid", w.Version)
		}
		if _, dup := keys[w.Version]; dup {
			return nil, fmt.Errorf("open keyring: key version %d is stored twice", w.Version)
		}
		dek, err := kr.unwrap(w.Wrapped)
		if err != nil {
			failed = append(failed, w.Version)
			continue
		}
		keys[w.Version] = dek
	}
	switch {
	case len(keys) == 0:
		// Nothing unwraps: the passphrase is not the one that created the keyring.
		return nil, fmt.Errorf("open keyring: %w: the master key does not match the one this database was initialised with; refusing to start (SEC-43)", ErrWrongMasterKey)
	case len(failed) > 0:
		// Some versions unwrap and others do not: the passphrase is right, so
		// the rows themselves are damaged. Refuse rather than lose data quietly.
		slices.Sort(failed)
		return nil, fmt.Errorf("open keyring: key versions %v do not unwrap with the master key that unwraps the others; the keyring tables are corrupt; refusing to start", failed)
	}
	for v, dek := range keys {
		kr.install(v, dek)
	}
	return kr, nil
}

// newKeyring derives the KEK and returns a keyring with no data keys yet.
func newKeyring(store Store, passphrase string, salt []byte, iterations int, opts Options) (*Keyring, error) {
	raw, err := opts.kdf(passphrase, salt, iterations)
	if err != nil {
		return nil, fmt.Errorf("derive key-encryption key: %w", err)
	}
	if len(raw) != keyLen {
		return nil, fmt.Errorf("derive key-encryption key: got %d bytes, want %d", len(raw), keyLen)
	}
	kek := new(fernet.Key)
	copy(kek[:], raw)
	clear(raw)
	return &Keyring{
		store: store,
		rand:  opts.Rand,
		now:   opts.Now,
		kek:   kek,
		keys:  make(map[int]*fernet.Key),
	}, nil
}

// deriveKEK is the production KDF: PBKDF2-HMAC-SHA256 with a 32-byte output.
func deriveKEK(passphrase string, salt []byte, iterations int) ([]byte, error) {
	return pbkdf2.Key(sha256.New, passphrase, salt, iterations, keyLen)
}

// newVersion generates a random data key and wraps it under the KEK.
func (k *Keyring) newVersion(version int) (WrappedKey, *fernet.Key, error) {
	dek := new(fernet.Key)
	if _, err := io.ReadFull(k.rand, dek[:]); err != nil {
		return WrappedKey{}, nil, fmt.Errorf("generate key version %d: %w", version, err)
	}
	now := k.now()
	tok, err := fernet.EncryptAndSignAtTime(dek[:], k.kek, now)
	if err != nil {
		return WrappedKey{}, nil, fmt.Errorf("wrap key version %d: %w", version, err)
	}
	return WrappedKey{Version: version, Wrapped: string(tok), CreatedAt: now}, dek, nil
}

// unwrap decrypts a stored data key with the KEK.
func (k *Keyring) unwrap(wrapped string) (*fernet.Key, error) {
	raw := fernet.VerifyAndDecrypt([]byte(wrapped), 0, []*fernet.Key{k.kek})
	if raw == nil {
		return nil, ErrDecrypt
	}
	defer clear(raw)
	if len(raw) != keyLen {
		return nil, fmt.Errorf("unwrapped key is %d bytes, want %d", len(raw), keyLen)
	}
	dek := new(fernet.Key)
	copy(dek[:], raw)
	return dek, nil
}

// install makes a data key available and, if it is the newest, current.
func (k *Keyring) install(version int, dek *fernet.Key) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[version] = dek
	if version > k.current {
		k.current = version
	}
}

// Encrypt seals plaintext with the current key version and returns
// "v<version>:<fernet token>". Each call uses a fresh random IV, so equal
// plaintexts give different ciphertexts.
func (k *Keyring) Encrypt(plaintext []byte) (string, error) {
	k.mu.RLock()
	v, key := k.current, k.keys[k.current]
	k.mu.RUnlock()
	if key == nil {
		return "", errors.New("encrypt: keyring has no keys (create it with Open)")
	}

	tok, err := fernet.EncryptAndSignAtTime(plaintext, key, k.now())
	if err != nil {
		return "", fmt.Errorf("encrypt with key version %d: %w", v, err)
	}
	var b strings.Builder
	b.Grow(len(tok) + 12)
	b.WriteByte('v')
	b.WriteString(strconv.Itoa(v))
	b.WriteByte(':')
	b.Write(tok)
	return b.String(), nil
}

// Decrypt opens a ciphertext made by Encrypt with any key version this
// keyring holds. Errors wrap ErrMalformedCiphertext, ErrUnknownKeyVersion or
// ErrDecrypt and never contain the ciphertext or plaintext.
func (k *Keyring) Decrypt(ciphertext string) ([]byte, error) {
	v, tok, err := parseCiphertext(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	k.mu.RLock()
	key := k.keys[v]
	k.mu.RUnlock()
	if key == nil {
		return nil, fmt.Errorf("decrypt: key version %d: %w", v, ErrUnknownKeyVersion)
	}
	// ttl 0: stored values must stay readable forever.
	msg := fernet.VerifyAndDecrypt([]byte(tok), 0, []*fernet.Key{key})
	if msg == nil {
		return nil, fmt.Errorf("decrypt with key version %d: %w", v, ErrDecrypt)
	}
	return msg, nil
}

// EncryptString is Encrypt for text.
func (k *Keyring) EncryptString(plaintext string) (string, error) {
	return k.Encrypt([]byte(plaintext))
}

// DecryptString is Decrypt for text.
func (k *Keyring) DecryptString(ciphertext string) (string, error) {
	b, err := k.Decrypt(ciphertext)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// maxVersionDigits bounds the version field so parsing cannot overflow.
const maxVersionDigits = 9

// parseCiphertext splits "v<version>:<token>".
func parseCiphertext(s string) (version int, token string, err error) {
	rest, ok := strings.CutPrefix(s, "v")
	if !ok {
		return 0, "", fmt.Errorf("%w: missing version prefix", ErrMalformedCiphertext)
	}
	num, token, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, "", fmt.Errorf("%w: missing ':' after version", ErrMalformedCiphertext)
	}
	if num == "" || len(num) > maxVersionDigits || num[0] == '0' {
		return 0, "", fmt.Errorf("%w: bad version", ErrMalformedCiphertext)
	}
	for i := range len(num) {
		if num[i] < '0' || num[i] > '9' {
			return 0, "", fmt.Errorf("%w: bad version", ErrMalformedCiphertext)
		}
	}
	if token == "" {
		return 0, "", fmt.Errorf("%w: empty token", ErrMalformedCiphertext)
	}
	version, err = strconv.Atoi(num)
	if err != nil { // unreachable after the checks above; kept so a change there cannot go unnoticed
		return 0, "", fmt.Errorf("%w: bad version", ErrMalformedCiphertext)
	}
	return version, token, nil
}

// Rotate generates a new key version, stores it and makes it current: new
// ciphertexts use it, older ones keep decrypting. If another replica took the
// next version number first, Rotate loads the store's keys and retries once
// with the number after them. Existing ciphertexts are not re-encrypted.
func (k *Keyring) Rotate(ctx context.Context) (int, error) {
	k.rotateMu.Lock()
	defer k.rotateMu.Unlock()

	for attempt := 1; ; attempt++ {
		v := k.CurrentVersion() + 1
		w, dek, err := k.newVersion(v)
		if err != nil {
			return 0, fmt.Errorf("rotate: %w", err)
		}
		err = k.store.AddKey(ctx, w)
		if err == nil {
			k.install(v, dek)
			return v, nil
		}
		if !errors.Is(err, ErrKeyVersionExists) || attempt == 2 {
			return 0, fmt.Errorf("rotate to key version %d: %w", v, err)
		}
		if err := k.reload(ctx); err != nil {
			return 0, fmt.Errorf("rotate to key version %d: %w", v, err)
		}
	}
}

// Reload picks up key versions that other replicas added (by Rotate) since
// this keyring was opened, so their ciphertexts decrypt here and Encrypt
// moves on to the newest version. Call it when Decrypt reports
// ErrUnknownKeyVersion or when told another replica rotated. It does not
// re-run the KDF.
func (k *Keyring) Reload(ctx context.Context) error {
	k.rotateMu.Lock()
	defer k.rotateMu.Unlock()
	return k.reload(ctx)
}

// reload is Reload for callers already holding rotateMu.
func (k *Keyring) reload(ctx context.Context) error {
	wrapped, err := k.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("reload keys: %w", err)
	}
	k.mu.RLock()
	var missing []WrappedKey
	for _, w := range wrapped {
		if _, ok := k.keys[w.Version]; !ok && w.Version >= 1 {
			missing = append(missing, w)
		}
	}
	k.mu.RUnlock()

	// Unwrap all first so a bad row installs nothing.
	deks := make([]*fernet.Key, len(missing))
	for i, w := range missing {
		if deks[i], err = k.unwrap(w.Wrapped); err != nil {
			return fmt.Errorf("reload keys: unwrap key version %d: %w", w.Version, err)
		}
	}
	for i, w := range missing {
		k.install(w.Version, deks[i])
	}
	return nil
}

// CurrentVersion returns the key version Encrypt uses.
func (k *Keyring) CurrentVersion() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// Versions returns every key version this keyring can decrypt, ascending.
func (k *Keyring) Versions() []int {
	k.mu.RLock()
	vs := make([]int, 0, len(k.keys))
	for v := range k.keys {
		vs = append(vs, v)
	}
	k.mu.RUnlock()
	slices.Sort(vs)
	return vs
}

// String describes the keyring without key material, so that printing one
// (%v, %+v, %s) cannot leak keys into logs.
func (k *Keyring) String() string {
	if k == nil {
		return "keyring(nil)"
	}
	return fmt.Sprintf("keyring(current=v%d, versions=%v)", k.CurrentVersion(), k.Versions())
}

// GoString is String for %#v.
func (k *Keyring) GoString() string { return k.String() }
