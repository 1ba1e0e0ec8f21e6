package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gatehouse/shared/api"
)

// Errors a KeyStore reports. Implementations return (or wrap) exactly these so the Manager can
// tell a lost race from a real failure.
var (
	// ErrKeyExists is returned by KeyStore.Add when a key with the same kid is stored already.
	ErrKeyExists = errors.New("token: signing key already exists")
	// ErrKeyNotFound is returned by KeyStore.Retire when no key has the kid.
	ErrKeyNotFound = errors.New("token: signing key not found")
)

// StoredKey is one signing key as the KeyStore keeps it. Only the private key is secret, and it
// is stored encrypted by the keyring.
type StoredKey struct {
	// KID is the key's random identifier, named in every token's "kid" header.
	KID string
	// PrivateKeyEnc is the private key encrypted with the Encrypter. The plaintext is
	// "ed25519:" followed by the 32-byte RFC 8032 seed in unpadded standard base64.
	PrivateKeyEnc string
	// PublicKey is the raw 32-byte Ed25519 public key.
	PublicKey []byte
	// CreatedAt orders keys: the newest key that is not retired signs.
	CreatedAt time.Time
	// RetiredAt is when the key stopped signing; nil while it may sign. A retired key still
	// verifies until RetiredAt + AccessTTL + Leeway, when the last token it signed has expired.
	RetiredAt *time.Time
}

// KeyStore persists signing keys. The token package owns this interface; the database
// implementation lives in the store layer (table signing_keys). tokentest.ExerciseKeyStore checks
// an implementation against the contract below.
type KeyStore interface {
	// Keys returns every stored key, retired or not, in any order.
	Keys(ctx context.Context) ([]StoredKey, error)
	// Add stores a new key; ErrKeyExists when the kid is taken (and then nothing is written).
	Add(ctx context.Context, k StoredKey) error
	// Retire sets the key's RetiredAt to at if it is not retired yet; a key already retired
	// keeps its first retirement time, so a retry or a concurrent rotation never moves it.
	// ErrKeyNotFound when no key has the kid.
	Retire(ctx context.Context, kid string, at time.Time) error
}

// Encrypter protects private keys at rest. *keyring.Keyring satisfies it.
type Encrypter interface {
	EncryptString(plaintext string) (string, error)
	DecryptString(ciphertext string) (string, error)
}

// Key material sizes.
const (
	kidBytes = 16 // 128 random bits: kids never collide by chance
	jtiBytes = 16
)

// privateKeyPrefix marks the plaintext format of a stored private key: the algorithm, then the
// 32-byte RFC 8032 seed in unpadded standard base64. Naming the algorithm leaves room for other
// key types without guessing at what a stored plaintext is.
const privateKeyPrefix = "ed25519:"

func encodePrivateKey(seed []byte) string {
	return privateKeyPrefix + base64.RawStdEncoding.EncodeToString(seed)
}

func decodePrivateKey(plaintext string) (ed25519.PrivateKey, error) {
	b64, ok := strings.CutPrefix(plaintext, privateKeyPrefix)
	if !ok {
		return nil, errors.New("unknown private key format")
	}
	seed, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("private key is not a base64 Ed25519 seed")
	}
	defer clear(seed)
	return ed25519.NewKeyFromSeed(seed), nil
}

// newStoredKey generates a key pair and a kid from random and encrypts the private key.
func newStoredKey(random io.Reader, enc Encrypter, createdAt time.Time) (StoredKey, error) {
	// Seed, then kid, in one read of Options.Rand: a test that supplies those 48 bytes knows the
	// key it will get and can forge tokens that differ from genuine ones in one respect only.
	buf := make([]byte, ed25519.SeedSize+kidBytes)
	if _, err := io.ReadFull(random, buf); err != nil {
		return StoredKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	defer clear(buf)
	seed, kidRaw := buf[:ed25519.SeedSize], buf[ed25519.SeedSize:]
	priv := ed25519.NewKeyFromSeed(seed)
	ct, err := enc.EncryptString(encodePrivateKey(seed))
	if err != nil {
		return StoredKey{}, fmt.Errorf("encrypt signing key: %w", err)
	}
	pub, _ := priv.Public().(ed25519.PublicKey)
	return StoredKey{
		KID:           base64.RawURLEncoding.EncodeToString(kidRaw),
		PrivateKeyEnc: ct,
		PublicKey:     slices.Clone(pub),
		CreatedAt:     createdAt,
	}, nil
}

// newer orders keys: later CreatedAt first, kid breaking ties so every replica agrees.
func newer(aCreated time.Time, aKID string, bCreated time.Time, bKID string) bool {
	if !aCreated.Equal(bCreated) {
		return aCreated.After(bCreated)
	}
	return aKID > bKID
}

// verifyKey is one key usable for verification.
type verifyKey struct {
	kid       string
	pub       ed25519.PublicKey
	createdAt time.Time
	// until is the last instant the key verifies; zero while the key is not retired.
	until time.Time
	jwk   api.JWK
}

// usable reports whether tokens signed by the key may still be accepted at now.
func (k *verifyKey) usable(now time.Time) bool {
	return k.until.IsZero() || !now.After(k.until)
}

// keySet is an immutable view of the keys, swapped atomically on Reload and Rotate so that Issue
// and Verify never take a lock.
type keySet struct {
	signerKID string
	signer    ed25519.PrivateKey
	byKID     map[string]*verifyKey
	newest    []*verifyKey // newest first, for JWKS
	// private holds the decrypted keys that may sign (not retired), so that the next reload
	// does not decrypt them again.
	private map[string]ed25519.PrivateKey
}

// errNoSigningKey means the store holds no key that may sign: it is empty, or every key is
// retired. Open answers it by creating one.
var errNoSigningKey = errors.New("no signing key that is not retired")

// buildKeySet turns stored keys into a keySet: keys whose verification window has passed are
// dropped, keys that may sign are decrypted (reusing prev's), and the newest of them signs.
// Retired keys are never decrypted: verifying needs only their public key, and a private key
// that is not in memory cannot leak from it.
func buildKeySet(stored []StoredKey, enc Encrypter, prev *keySet, now time.Time, window time.Duration) (*keySet, error) {
	ks := &keySet{
		byKID:   make(map[string]*verifyKey, len(stored)),
		private: make(map[string]ed25519.PrivateKey),
	}
	var signerCreated time.Time
	for _, s := range stored {
		if s.KID == "" {
			return nil, errors.New("a stored signing key has an empty kid")
		}
		if _, dup := ks.byKID[s.KID]; dup {
			return nil, fmt.Errorf("signing key %s is stored twice", s.KID)
		}
		if len(s.PublicKey) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("signing key %s: public key is %d bytes, want %d", s.KID, len(s.PublicKey), ed25519.PublicKeySize)
		}
		k := &verifyKey{kid: s.KID, pub: ed25519.PublicKey(slices.Clone(s.PublicKey)), createdAt: s.CreatedAt}
		if s.RetiredAt != nil {
			k.until = s.RetiredAt.Add(window)
			if !k.usable(now) {
				continue // every token it signed has expired
			}
		} else {
			priv, err := privateKeyFor(s, enc, prev)
			if err != nil {
				return nil, err
			}
			ks.private[s.KID] = priv
			if ks.signer == nil || newer(s.CreatedAt, s.KID, signerCreated, ks.signerKID) {
				ks.signer, ks.signerKID, signerCreated = priv, s.KID, s.CreatedAt
			}
		}
		k.jwk = api.JWK{
			Kty: "OKP",
			Crv: "Ed25519",
			X:   base64.RawURLEncoding.EncodeToString(k.pub),
			Kid: k.kid,
			Alg: algorithm,
			Use: "sig",
		}
		ks.byKID[s.KID] = k
		ks.newest = append(ks.newest, k)
	}
	if ks.signer == nil {
		return nil, errNoSigningKey
	}
	slices.SortFunc(ks.newest, func(a, b *verifyKey) int {
		switch {
		case newer(a.createdAt, a.kid, b.createdAt, b.kid):
			return -1
		case newer(b.createdAt, b.kid, a.createdAt, a.kid):
			return 1
		}
		return 0
	})
	return ks, nil
}

// privateKeyFor decrypts a stored private key (or takes it from prev) and checks that it belongs
// to the stored public key, so a damaged or swapped row is refused rather than signing tokens
// nobody can verify.
func privateKeyFor(s StoredKey, enc Encrypter, prev *keySet) (ed25519.PrivateKey, error) {
	if prev != nil {
		if priv, ok := prev.private[s.KID]; ok {
			if pub, _ := priv.Public().(ed25519.PublicKey); bytes.Equal(pub, s.PublicKey) {
				return priv, nil
			}
		}
	}
	plaintext, err := enc.DecryptString(s.PrivateKeyEnc)
	if err != nil {
		return nil, fmt.Errorf("decrypt private key of signing key %s (is this the keyring the keys were stored with?): %w", s.KID, err)
	}
	priv, err := decodePrivateKey(plaintext)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", s.KID, err)
	}
	if pub, _ := priv.Public().(ed25519.PublicKey); !bytes.Equal(pub, s.PublicKey) {
		return nil, fmt.Errorf("signing key %s: private key does not match the stored public key", s.KID)
	}
	return priv, nil
}

// jwks lists the keys usable at now, newest first.
func (ks *keySet) jwks(now time.Time) api.JWKS {
	out := api.JWKS{Keys: make([]api.JWK, 0, len(ks.newest))}
	for _, k := range ks.newest {
		if k.usable(now) {
			out.Keys = append(out.Keys, k.jwk)
		}
	}
	return out
}
