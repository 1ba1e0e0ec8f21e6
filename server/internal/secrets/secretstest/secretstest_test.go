package secretstest_test

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/secretstest"
)

// memory is the smallest backend with every capability: it proves the suite passes a correct
// implementation (the backends' own tests prove it catches theirs).
type memory struct {
	mu       sync.Mutex
	next     int
	versions map[string][]secrets.Value
	current  map[string]string
}

func newMemory() *memory {
	return &memory{versions: map[string][]secrets.Value{}, current: map[string]string{}}
}

func (m *memory) Kind() string                 { return secrets.KindDB }
func (m *memory) Health(context.Context) error { return nil }

func (m *memory) Get(_ context.Context, name, version string) (secrets.Value, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs, ok := m.versions[name]
	if !ok {
		return secrets.Value{}, secrets.ErrNotFound
	}
	if version == "" {
		return vs[len(vs)-1], nil
	}
	for _, v := range vs {
		if v.Version == version {
			return v, nil
		}
	}
	return secrets.Value{}, secrets.ErrVersionNotFound
}

func (m *memory) Put(_ context.Context, name string, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	v := secrets.Value{Data: slices.Clone(data), Version: strconv.Itoa(m.next), CreatedAt: time.Now()}
	m.versions[name] = append(m.versions[name], v)
	return v.Version, nil
}

func (m *memory) Delete(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.versions[name]; !ok {
		return secrets.ErrNotFound
	}
	delete(m.versions, name)
	delete(m.current, name)
	return nil
}

func (m *memory) Versions(_ context.Context, name string) ([]secrets.VersionInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs, ok := m.versions[name]
	if !ok {
		return nil, secrets.ErrNotFound
	}
	out := make([]secrets.VersionInfo, len(vs))
	for i, v := range vs {
		out[i] = secrets.VersionInfo{Version: v.Version, CreatedAt: v.CreatedAt}
	}
	return out, nil
}

func (m *memory) Promote(ctx context.Context, name, version string) error {
	if _, err := m.Get(ctx, name, version); err != nil {
		return err
	}
	m.mu.Lock()
	m.current[name] = version
	m.mu.Unlock()
	return nil
}

var (
	_ secrets.Writer    = (*memory)(nil)
	_ secrets.Deleter   = (*memory)(nil)
	_ secrets.Versioner = (*memory)(nil)
	_ secrets.Stager    = (*memory)(nil)
)

func TestExerciseWritable(t *testing.T) {
	secretstest.Exercise(t, newMemory(), secretstest.Options{})
}

// readOnly hides the memory backend's Writer, so the suite has to seed.
type readOnly struct{ m *memory }

func (r readOnly) Kind() string                     { return secrets.KindEnv }
func (r readOnly) Health(ctx context.Context) error { return r.m.Health(ctx) }
func (r readOnly) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	return r.m.Get(ctx, name, version)
}

func TestExerciseReadOnlyWithSeed(t *testing.T) {
	m := newMemory()
	seeded := 0
	secretstest.Exercise(t, readOnly{m}, secretstest.Options{Seed: func(t *testing.T, name string, value []byte) {
		seeded++
		if _, err := m.Put(context.Background(), name, value); err != nil {
			t.Fatal(err)
		}
	}})
	if seeded == 0 {
		t.Fatal("the suite never seeded a read-only backend")
	}
}
