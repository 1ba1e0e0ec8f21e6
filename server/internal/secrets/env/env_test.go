package env_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/env"
	"gatehouse/server/internal/secrets/secretstest"
)

// fakeEnv is an injected environment.
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

func TestConformance(t *testing.T) {
	fe := &fakeEnv{vars: map[string]string{}}
	b, err := env.New("", fe.lookup)
	if err != nil {
		t.Fatal(err)
	}
	secretstest.Exercise(t, b, secretstest.Options{Seed: func(t *testing.T, name string, value []byte) {
		fe.set(b.Variable(name), string(value))
	}})
}

func TestVariableNames(t *testing.T) {
	b, err := env.New("", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"billing/prod/db-password": "GATEHOUSE_SECRET_BILLING__PROD__DB_PASSWORD",
		"app/api.key":              "GATEHOUSE_SECRET_APP__API_046KEY",
		"app/db_user":              "GATEHOUSE_SECRET_APP__DB_095USER",
		"App/x-1":                  "GATEHOUSE_SECRET__065PP__X_0451",
		"a/-b":                     "GATEHOUSE_SECRET_A___B",
		"a-/b":                     "GATEHOUSE_SECRET_A_045__B",
	} {
		if got := b.Variable(name); got != want {
			t.Errorf("Variable(%q) = %s, want %s", name, got, want)
		}
	}
}

// Encode is reversible, hence collision-free, over every name shape.
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range []string{"a/b", "a-b", "a_b", "a.b", "A/b", "a/-b", "a-/b", "x--y", "-", "9-a", "Z.z_9/-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		for i := range len(name) {
			c := name[i]
			if ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'; !ok {
				return
			}
		}
		enc := env.Encode(name)
		for i := range len(enc) {
			c := enc[i]
			if ok := c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'; !ok {
				t.Fatalf("Encode(%q) = %q: not a variable name", name, enc)
			}
		}
		dec, err := env.Decode(enc)
		if err != nil || dec != name {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", name, dec, err)
		}
	})
}

func TestDecodeRejectsForeignNames(t *testing.T) {
	for _, s := range []string{"_", "A_", "A_9", "_999"} {
		if _, err := env.Decode(s); err == nil {
			t.Errorf("Decode(%q) accepted", s)
		}
	}
}

func TestBadPrefix(t *testing.T) {
	for _, p := range []string{"lower_", "1ABC", "A-B"} {
		if _, err := env.New(p, nil); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

func TestReadOnly(t *testing.T) {
	b, _ := env.New("", func(string) (string, bool) { return "", false })
	var be secrets.Backend = b
	if _, ok := be.(secrets.Writer); ok {
		t.Fatal("the env backend must not be a Writer")
	}
	if _, err := b.Get(context.Background(), "missing", ""); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
}
