// Package tokentest helps test code that uses package token: an in-memory KeyStore, a small
// Encrypter, and ExerciseKeyStore, the KeyStore contract that every implementation (the in-memory
// one, the GORM store on SQLite and PostgreSQL) must pass.
package tokentest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"gatehouse/server/internal/token"
)

// MemoryKeyStore is a token.KeyStore in memory. It copies keys in and out, as a database would.
type MemoryKeyStore struct {
	mu   sync.Mutex
	keys map[string]token.StoredKey
}

var _ token.KeyStore = (*MemoryKeyStore)(nil)

// NewMemoryKeyStore returns an empty store.
func NewMemoryKeyStore() *MemoryKeyStore {
	return &MemoryKeyStore{keys: map[string]token.StoredKey{}}
}

// Keys returns every key, oldest first.
func (s *MemoryKeyStore) Keys(context.Context) ([]token.StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]token.StoredKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, clone(k))
	}
	slices.SortFunc(out, func(a, b token.StoredKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// Add stores k; token.ErrKeyExists when the kid is taken.
func (s *MemoryKeyStore) Add(_ context.Context, k token.StoredKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[k.KID]; ok {
		return token.ErrKeyExists
	}
	s.keys[k.KID] = clone(k)
	return nil
}

// Retire sets RetiredAt unless already set; token.ErrKeyNotFound for an unknown kid.
func (s *MemoryKeyStore) Retire(_ context.Context, kid string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[kid]
	if !ok {
		return token.ErrKeyNotFound
	}
	if k.RetiredAt == nil {
		at = at.UTC()
		k.RetiredAt = &at
		s.keys[kid] = k
	}
	return nil
}

// Set replaces or inserts a key as is, to simulate damaged or hand-edited rows.
func (s *MemoryKeyStore) Set(k token.StoredKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[k.KID] = clone(k)
}

// Len is the number of stored keys.
func (s *MemoryKeyStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

func clone(k token.StoredKey) token.StoredKey {
	k.PublicKey = slices.Clone(k.PublicKey)
	if k.RetiredAt != nil {
		at := *k.RetiredAt
		k.RetiredAt = &at
	}
	return k
}

// ErrDecrypt is what Encrypter.DecryptString returns for a ciphertext it did not make.
var ErrDecrypt = errors.New("tokentest: ciphertext does not decrypt with this encrypter")

// Encrypter is a token.Encrypter with one random Fernet key: the same construction as the
// keyring, without its key-derivation cost. Two Encrypters cannot read each other's ciphertexts.
type Encrypter struct{ key *fernet.Key }

var _ token.Encrypter = (*Encrypter)(nil)

// NewEncrypter returns an Encrypter with a fresh key.
func NewEncrypter(t testing.TB) *Encrypter {
	t.Helper()
	k := new(fernet.Key)
	if err := k.Generate(); err != nil {
		t.Fatal(err)
	}
	return &Encrypter{key: k}
}

// EncryptString seals plaintext.
func (e *Encrypter) EncryptString(plaintext string) (string, error) {
	tok, err := fernet.EncryptAndSign([]byte(plaintext), e.key)
	if err != nil {
		return "", err
	}
	return string(tok), nil
}

// DecryptString opens a ciphertext made by this Encrypter; ErrDecrypt otherwise.
func (e *Encrypter) DecryptString(ciphertext string) (string, error) {
	msg := fernet.VerifyAndDecrypt([]byte(ciphertext), 0, []*fernet.Key{e.key})
	if msg == nil {
		return "", ErrDecrypt
	}
	return string(msg), nil
}

// ExerciseKeyStore runs the token.KeyStore contract against stores made by newStore, which must
// return an empty store on every call.
func ExerciseKeyStore(t *testing.T, newStore func(t *testing.T) token.KeyStore) {
	t.Helper()
	ctx := context.Background()
	// Whole seconds in a non-UTC zone: every backend keeps at least that precision, and the
	// instant must survive whatever zone the backend stores in.
	zone := time.FixedZone("UTC+2", 2*60*60)
	created := time.Date(2024, 5, 1, 14, 0, 0, 0, zone)
	key := func(kid string, fill byte, created time.Time) token.StoredKey {
		return token.StoredKey{
			KID:           kid,
			PrivateKeyEnc: "ciphertext-of-" + kid,
			PublicKey:     bytes.Repeat([]byte{fill}, 32),
			CreatedAt:     created,
		}
	}
	k1 := key("kid-one", 0x01, created)
	k2 := key("kid-two", 0x02, created.Add(time.Hour))

	t.Run("empty", func(t *testing.T) {
		wantKeys(t, newStore(t))
	})

	t.Run("add and read back", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []token.StoredKey{k1, k2} {
			if err := s.Add(ctx, k); err != nil {
				t.Fatalf("Add %s: %v", k.KID, err)
			}
		}
		wantKeys(t, s, k1, k2)
	})

	t.Run("add duplicate kid", func(t *testing.T) {
		s := newStore(t)
		if err := s.Add(ctx, k1); err != nil {
			t.Fatalf("Add: %v", err)
		}
		impostor := k1
		impostor.PrivateKeyEnc = "impostor"
		impostor.PublicKey = bytes.Repeat([]byte{0xEE}, 32)
		if err := s.Add(ctx, impostor); !errors.Is(err, token.ErrKeyExists) {
			t.Fatalf("Add with a taken kid: err = %v, want ErrKeyExists", err)
		}
		wantKeys(t, s, k1)
	})

	t.Run("retire", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []token.StoredKey{k1, k2} {
			if err := s.Add(ctx, k); err != nil {
				t.Fatalf("Add %s: %v", k.KID, err)
			}
		}
		at := created.Add(2 * time.Hour)
		if err := s.Retire(ctx, k1.KID, at); err != nil {
			t.Fatalf("Retire: %v", err)
		}
		// A second retirement (a retry, a concurrent rotation) keeps the first time.
		if err := s.Retire(ctx, k1.KID, at.Add(time.Hour)); err != nil {
			t.Fatalf("Retire again: %v", err)
		}
		retired := k1
		retired.RetiredAt = &at
		wantKeys(t, s, retired, k2)
	})

	t.Run("retire unknown kid", func(t *testing.T) {
		s := newStore(t)
		if err := s.Add(ctx, k1); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if err := s.Retire(ctx, "no-such-kid", created); !errors.Is(err, token.ErrKeyNotFound) {
			t.Fatalf("Retire unknown kid: err = %v, want ErrKeyNotFound", err)
		}
		wantKeys(t, s, k1)
	})

	t.Run("returned keys are copies", func(t *testing.T) {
		s := newStore(t)
		if err := s.Add(ctx, k1); err != nil {
			t.Fatalf("Add: %v", err)
		}
		got, err := s.Keys(ctx)
		if err != nil || len(got) != 1 {
			t.Fatalf("Keys = %v, %v", got, err)
		}
		got[0].PublicKey[0] ^= 0xFF
		wantKeys(t, s, k1)
	})

	t.Run("concurrent add of one kid", func(t *testing.T) {
		s := newStore(t)
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				k := k1
				k.PrivateKeyEnc = "replica-" + strconv.Itoa(i)
				errs[i] = s.Add(ctx, k)
			})
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, token.ErrKeyExists):
				t.Errorf("Add %d: err = %v, want nil or ErrKeyExists", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d concurrent Adds of one kid succeeded, want exactly 1", wins)
		}
	})
}

// wantKeys checks that s holds exactly want, in any order, field for field (times as instants).
func wantKeys(t *testing.T, s token.KeyStore, want ...token.StoredKey) {
	t.Helper()
	got, err := s.Keys(context.Background())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Keys returned %d keys, want %d", len(got), len(want))
	}
	byKID := make(map[string]token.StoredKey, len(got))
	for _, k := range got {
		byKID[k.KID] = k
	}
	for _, w := range want {
		g, ok := byKID[w.KID]
		switch {
		case !ok:
			t.Fatalf("Keys: %s missing", w.KID)
		case g.PrivateKeyEnc != w.PrivateKeyEnc:
			t.Errorf("Keys: %s PrivateKeyEnc = %q, want %q", w.KID, g.PrivateKeyEnc, w.PrivateKeyEnc)
		case !bytes.Equal(g.PublicKey, w.PublicKey):
			t.Errorf("Keys: %s PublicKey = %x, want %x", w.KID, g.PublicKey, w.PublicKey)
		case !g.CreatedAt.Equal(w.CreatedAt):
			t.Errorf("Keys: %s CreatedAt = %v, want %v", w.KID, g.CreatedAt, w.CreatedAt)
		case (g.RetiredAt == nil) != (w.RetiredAt == nil):
			t.Errorf("Keys: %s RetiredAt = %v, want %v", w.KID, g.RetiredAt, w.RetiredAt)
		case g.RetiredAt != nil && !g.RetiredAt.Equal(*w.RetiredAt):
			t.Errorf("Keys: %s RetiredAt = %v, want %v", w.KID, *g.RetiredAt, *w.RetiredAt)
		}
	}
}
