package db_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/secrets"
	secretsdb "gatehouse/server/internal/secrets/db"
	"gatehouse/server/internal/secrets/secretstest"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

const passphrase = "db-backend-test-master-passphrase"

// migrated opens a fresh, migrated database of the dialect.
func migrated(t *testing.T, dialect string) *store.DB {
	t.Helper()
	o := store.Options{SQLitePath: filepath.Join(t.TempDir(), "gatehouse.db")}
	if dialect == testenv.Postgres {
		o = store.Options{URL: testenv.FreshPostgres(t)}
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m, err := db.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func openKeyring(t *testing.T, db *store.DB, pass string) (*keyring.Keyring, error) {
	t.Helper()
	return keyring.Open(context.Background(), db.Keyring(), pass, keyring.Options{})
}

// newBackend returns a backend on a fresh database whose keyring lives in that database, as
// in production (one PBKDF2 run each: use it where the keyring itself matters).
func newBackend(t *testing.T, dialect string) (*secretsdb.Backend, *keyring.Keyring, *store.DB) {
	t.Helper()
	db := migrated(t, dialect)
	kr, err := openKeyring(t, db, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	return secretsdb.New(db.SecretValues(), kr, nil), kr, db
}

// quickBackend shares one keyring (kept in memory) between tests that never rotate it, so the
// suite pays the production KDF once.
func quickBackend(t *testing.T, dialect string) (*secretsdb.Backend, *keyring.Keyring, *store.DB) {
	t.Helper()
	sharedOnce.Do(func() {
		sharedKR, sharedErr = keyring.Open(context.Background(), &memKeyringStore{keys: map[int]keyring.WrappedKey{}}, passphrase, keyring.Options{})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	db := migrated(t, dialect)
	return secretsdb.New(db.SecretValues(), sharedKR, nil), sharedKR, db
}

var (
	sharedOnce sync.Once
	sharedKR   *keyring.Keyring
	sharedErr  error
)

// memKeyringStore is a minimal in-memory keyring.Store.
type memKeyringStore struct {
	mu   sync.Mutex
	kdf  *keyring.KDFParams
	keys map[int]keyring.WrappedKey
}

func (m *memKeyringStore) LoadKDF(context.Context) (keyring.KDFParams, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kdf == nil {
		return keyring.KDFParams{}, keyring.ErrNotInitialised
	}
	return *m.kdf, nil
}

func (m *memKeyringStore) Initialise(_ context.Context, p keyring.KDFParams, first keyring.WrappedKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kdf != nil {
		return keyring.ErrAlreadyInitialised
	}
	m.kdf, m.keys[first.Version] = &p, first
	return nil
}

func (m *memKeyringStore) Keys(context.Context) ([]keyring.WrappedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]keyring.WrappedKey, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, k)
	}
	return out, nil
}

func (m *memKeyringStore) AddKey(_ context.Context, k keyring.WrappedKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.keys[k.Version]; ok {
		return keyring.ErrKeyVersionExists
	}
	m.keys[k.Version] = k
	return nil
}

func TestConformance(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		b, _, _ := quickBackend(t, dialect)
		secretstest.Exercise(t, b, secretstest.Options{})
	})
}

// SEC-40: what the database holds is neither the value nor anything that opens without the
// master key: the value is a Fernet token under a data key, and the data key is wrapped by
// the keyring ("v<n>:").
func TestSEC40ValuesEncryptedAtRest(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		b, kr, db := quickBackend(t, dialect)
		ctx := context.Background()
		value := []byte("plaintext-marker-9f8e7d6c5b4a")
		v1, err := b.Put(ctx, "billing/prod/db-password", value)
		if err != nil {
			t.Fatal(err)
		}
		v2, err := b.Put(ctx, "billing/prod/db-password", value)
		if err != nil {
			t.Fatal(err)
		}
		st := db.SecretValues()
		r1, err := st.Get(ctx, "billing/prod/db-password", mustID(t, v1))
		if err != nil {
			t.Fatal(err)
		}
		r2, err := st.Get(ctx, "billing/prod/db-password", mustID(t, v2))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []secretsdb.Row{r1, r2} {
			if strings.Contains(r.Ciphertext, string(value)) || strings.Contains(r.WrappedKey, string(value)) {
				t.Fatal("the value is stored in clear")
			}
			if !strings.HasPrefix(r.WrappedKey, "v1:") || r.KeyVersion != kr.CurrentVersion() {
				t.Fatalf("data key not wrapped by the keyring's current version: key_version %d", r.KeyVersion)
			}
		}
		// A fresh data key per version: equal values give unrelated rows.
		if r1.WrappedKey == r2.WrappedKey || r1.Ciphertext == r2.Ciphertext {
			t.Fatal("two versions share a data key or ciphertext")
		}
		// The wrapped data key is not the data key: the token does not open with its own bytes.
		dk, err := kr.Decrypt(r1.WrappedKey)
		if err != nil || len(dk) != 32 {
			t.Fatalf("data key: %d bytes, %v", len(dk), err)
		}
	})
}

func mustID(t *testing.T, v string) int64 {
	t.Helper()
	var id int64
	for _, c := range v {
		if c < '0' || c > '9' {
			t.Fatalf("version %q is not a row id", v)
		}
		id = id*10 + int64(c-'0')
	}
	return id
}

// A row whose ciphertext or wrapped key was tampered with fails loudly with ErrCorrupt,
// never returns other bytes.
func TestTamperedRowFails(t *testing.T) {
	b, _, db := quickBackend(t, testenv.SQLite)
	ctx := context.Background()
	v, err := b.Put(ctx, "app/key", []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Put(ctx, "app/other", []byte("other"))
	if err != nil {
		t.Fatal(err)
	}
	st := db.SecretValues()
	r, _ := st.Get(ctx, "app/key", mustID(t, v))
	ro, _ := st.Get(ctx, "app/other", mustID(t, other))
	// Swap in the other row's ciphertext: its own data key must refuse it.
	if _, err := st.Rewrap(ctx, []secretsdb.Rewrapped{{ID: r.ID, Old: r.WrappedKey, New: ro.WrappedKey, KeyVersion: ro.KeyVersion}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "app/key", v); !errors.Is(err, secretsdb.ErrCorrupt) {
		t.Fatalf("tampered row: err = %v, want ErrCorrupt", err)
	}
}

// SEC-43: after a master key rotation and a re-wrap, every value is still readable, every
// data key is wrapped by the new master key version, and the values were not re-encrypted.
func TestSEC43RotateAndRewrap(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		b, kr, db := newBackend(t, dialect)
		ctx := context.Background()
		want := map[string][]byte{}
		versions := map[string]string{}
		for i := range 25 {
			name := "app/secret-" + string(rune('a'+i%26))
			val := bytes.Repeat([]byte{byte(i)}, 10+i)
			v, err := b.Put(ctx, name, val)
			if err != nil {
				t.Fatal(err)
			}
			want[v], versions[v] = val, name
		}
		before := snapshotCiphertexts(t, db, versions)

		nv, err := kr.Rotate(ctx)
		if err != nil || nv != 2 {
			t.Fatalf("rotate: %d %v", nv, err)
		}
		// Written after the rotation: already on the new key, not counted as stale.
		fresh, err := b.Put(ctx, "app/fresh", []byte("fresh"))
		if err != nil {
			t.Fatal(err)
		}
		want[fresh], versions[fresh] = []byte("fresh"), "app/fresh"

		var reports []secretsdb.RewrapProgress
		p, err := b.Rewrap(ctx, secretsdb.RewrapOptions{BatchSize: 7, Progress: func(p secretsdb.RewrapProgress) { reports = append(reports, p) }})
		if err != nil {
			t.Fatalf("rewrap: %v", err)
		}
		if p.Total != 25 || p.Done != 25 || p.KeyVersion != 2 {
			t.Fatalf("progress = %+v, want 25 of 25 to v2", p)
		}
		// 1 start report + ceil(25/7) = 4 batches.
		if len(reports) != 5 || reports[0].Done != 0 || reports[2].Done != 14 {
			t.Fatalf("progress reports = %+v", reports)
		}
		if n, err := db.SecretValues().CountStale(ctx, 2); err != nil || n != 0 {
			t.Fatalf("stale rows after rewrap: %d %v", n, err)
		}
		after := snapshotCiphertexts(t, db, versions)
		for v, name := range versions {
			got, err := b.Get(ctx, name, v)
			if err != nil || !bytes.Equal(got.Data, want[v]) {
				t.Fatalf("version %s of %s after rewrap: %v", v, name, err)
			}
			r, err := db.SecretValues().Get(ctx, name, mustID(t, v))
			if err != nil {
				t.Fatal(err)
			}
			if r.KeyVersion != 2 || !strings.HasPrefix(r.WrappedKey, "v2:") {
				t.Fatalf("version %s still wrapped by key version %d", v, r.KeyVersion)
			}
			if b, ok := before[v]; ok && b != after[v] {
				t.Fatalf("version %s: the value was re-encrypted; only the data key should move", v)
			}
		}
		// A second run finds nothing to do.
		p, err = b.Rewrap(ctx, secretsdb.RewrapOptions{})
		if err != nil || p.Total != 0 || p.Done != 0 {
			t.Fatalf("second rewrap: %+v %v", p, err)
		}
		// A replica that opened the keyring before the rotation reloads and still reads.
		kr2, err := openKeyring(t, db, passphrase)
		if err != nil {
			t.Fatal(err)
		}
		b2 := secretsdb.New(db.SecretValues(), kr2, nil)
		for v, name := range versions {
			if _, err := b2.Get(ctx, name, v); err != nil {
				t.Fatalf("second replica: %v", err)
			}
		}
	})
}

func snapshotCiphertexts(t *testing.T, db *store.DB, versions map[string]string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for v, name := range versions {
		r, err := db.SecretValues().Get(context.Background(), name, mustID(t, v))
		if err != nil {
			t.Fatal(err)
		}
		out[v] = r.Ciphertext
	}
	return out
}

// SEC-43: a wrong master key never opens the keyring, so the backend can never be built with
// it and nothing is silently decrypted to garbage or re-encrypted under the wrong key.
func TestSEC43WrongMasterKeyFailsLoudly(t *testing.T) {
	b, _, db := newBackend(t, testenv.SQLite)
	if _, err := b.Put(context.Background(), "app/key", []byte("value")); err != nil {
		t.Fatal(err)
	}
	_, err := openKeyring(t, db, "not-the-master-passphrase")
	if !errors.Is(err, keyring.ErrWrongMasterKey) {
		t.Fatalf("wrong master key: err = %v, want ErrWrongMasterKey", err)
	}
	// The data is untouched: the right key still reads it.
	kr, err := openKeyring(t, db, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	got, err := secretsdb.New(db.SecretValues(), kr, nil).Get(context.Background(), "app/key", "")
	if err != nil || string(got.Data) != "value" {
		t.Fatalf("after a refused wrong key: %q %v", got.Data, err)
	}
}

func TestHealthReportsDatabaseDown(t *testing.T) {
	b, _, db := quickBackend(t, testenv.SQLite)
	if err := b.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := b.Health(context.Background()); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("health with the database closed: %v", err)
	}
}
