package secrets_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/secrets"
	secretsdb "gatehouse/server/internal/secrets/db"
	"gatehouse/server/internal/secrets/env"
	"gatehouse/server/internal/secrets/generate"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// The service is tested against the real store on a real database (both dialects where it
// matters), the real db and env backends, and the real audit writer.

var (
	krOnce sync.Once
	kr     *keyring.Keyring
	krErr  error
)

// sharedKeyring pays the production KDF once per test binary.
func sharedKeyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	krOnce.Do(func() {
		kr, krErr = keyring.Open(context.Background(), &memKeyringStore{keys: map[int]keyring.WrappedKey{}}, "service-test-master-key", keyring.Options{})
	})
	if krErr != nil {
		t.Fatal(krErr)
	}
	return kr
}

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
	m.keys[k.Version] = k
	return nil
}

func migrated(t *testing.T, dialect string) *store.DB {
	t.Helper()
	o := store.Options{SQLitePath: filepath.Join(t.TempDir(), "gatehouse.db")}
	if dialect == testenv.Postgres {
		o = store.Options{URL: testenv.FreshPostgres(t)}
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
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

// fixture is a wired service.
type fixture struct {
	svc   *secrets.Service
	db    *store.DB
	clock *clocktest.Clock
	env   *fakeEnv
	audit *secrets.AuditWriter
	flaky *flakyBackend
	hook  *fakeHook
}

type fakeEnv struct {
	mu   sync.Mutex
	vars map[string]string
}

func (f *fakeEnv) lookup(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vars[k]
	return v, ok
}

func (f *fakeEnv) set(k, v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.vars[k] = v
}

// flakyBackend is a db backend registered as "vault" that can be switched off, to play a
// backend that is down.
type flakyBackend struct {
	*secretsdb.Backend
	down atomic.Bool
}

func (f *flakyBackend) Kind() string { return secrets.KindVault }

func (f *flakyBackend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	if f.down.Load() {
		return secrets.Value{}, errors.Join(secrets.ErrUnavailable, errors.New("connection refused"))
	}
	return f.Backend.Get(ctx, name, version)
}

func (f *flakyBackend) Put(ctx context.Context, name string, data []byte) (string, error) {
	if f.down.Load() {
		return "", errors.Join(secrets.ErrUnavailable, errors.New("connection refused"))
	}
	return f.Backend.Put(ctx, name, data)
}

func (f *flakyBackend) Health(ctx context.Context) error {
	if f.down.Load() {
		return errors.Join(secrets.ErrUnavailable, errors.New("connection refused"))
	}
	return nil
}

// generator is the real one (internal/secrets/generate) behind the service's seam.
type generator struct{}

func (generator) Normalize(g secrets.Generator) (secrets.Generator, error) { return g.Normalize() }
func (generator) Generate(g secrets.Generator) ([]byte, error)             { return generate.Generate(g) }

// fakeHook accepts or refuses pending versions.
type fakeHook struct {
	mu     sync.Mutex
	refuse error
	seen   []int
}

func (h *fakeHook) Test(_ context.Context, _, _ string, version int, _ []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, version)
	return h.refuse
}

func newFixture(t *testing.T, dialect string, mutate ...func(*secrets.Options)) *fixture {
	t.Helper()
	return newFixtureDeps(t, dialect, nil, mutate...)
}

// newFixtureDeps is newFixture with a last say on the service's collaborators.
func newFixtureDeps(t *testing.T, dialect string, deps func(*secrets.Deps), mutate ...func(*secrets.Options)) *fixture {
	t.Helper()
	db := migrated(t, dialect)
	k := sharedKeyring(t)
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	fe := &fakeEnv{vars: map[string]string{}}
	eb, err := env.New("", fe.lookup)
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyBackend{Backend: secretsdb.New(db.SecretValues(), k, nil)}
	aw := secrets.NewAuditWriter(db.Secrets(), 0)
	t.Cleanup(func() { _ = aw.Close() })
	hook := &fakeHook{}
	opts := secrets.Options{DefaultBackend: secrets.KindDB, Now: clock.Now, NewID: uuid.NewString}
	for _, m := range mutate {
		m(&opts)
	}
	d := secrets.Deps{
		Store: db.Secrets(),
		Backends: map[string]secrets.Backend{
			secrets.KindDB:    secretsdb.New(db.SecretValues(), k, nil),
			secrets.KindEnv:   eb,
			secrets.KindVault: flaky,
		},
		Audit:                aw,
		Generator:            generator{},
		Hook:                 hook,
		ServiceAccountExists: func(context.Context, string) error { return nil },
	}
	if deps != nil {
		deps(&d)
	}
	svc, err := secrets.New(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, clock: clock, env: fe, audit: aw, flaky: flaky, hook: hook}
}

var (
	admin   = secrets.Actor{Type: secrets.ActorUser, ID: "00000000-0000-4000-8000-00000000000a", Roles: []string{"admin"}, RequestID: "req-admin"}
	user    = secrets.Actor{Type: secrets.ActorUser, ID: "00000000-0000-4000-8000-00000000000b", Roles: []string{"user"}}
	support = secrets.Actor{Type: secrets.ActorUser, ID: "00000000-0000-4000-8000-00000000000c", Roles: []string{"support"}}
)

func sa(id string) secrets.Actor { return secrets.Actor{Type: secrets.ActorServiceAccount, ID: id} }

func (f *fixture) create(t *testing.T, name, value string) secrets.Secret {
	t.Helper()
	s, err := f.svc.Create(context.Background(), admin, secrets.CreateRequest{Name: name, Value: []byte(value)})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return s
}

func (f *fixture) read(t *testing.T, a secrets.Actor, name string, version int) (string, int) {
	t.Helper()
	r, err := f.svc.Value(context.Background(), a, name, version)
	if err != nil {
		t.Fatalf("read %s v%d: %v", name, version, err)
	}
	return string(r.Value), r.Version.Version
}

func (f *fixture) auditOf(t *testing.T, name string) []secrets.AuditRecord {
	t.Helper()
	recs, _, err := f.db.Secrets().ListAudit(context.Background(), secrets.AuditFilter{SecretName: name, Page: 1, PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func itoa(i int) string { return strconv.Itoa(i) }
