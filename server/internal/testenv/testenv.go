// Package testenv starts the real Gatehouse server, with the production wiring, on a fresh
// database for one test, and hands back a shared/client pointed at it. API tests run once per
// dialect: SQLite always, PostgreSQL when GATEHOUSE_TEST_POSTGRES_URL is set. Under CI (CI=true)
// or GATEHOUSE_TEST_REQUIRE_SERVICES=1 a missing PostgreSQL or Redis fails the run instead of
// narrowing it.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for creating test schemas

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/config"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// Environment variables read by the harness.
const (
	EnvPostgresURL     = "GATEHOUSE_TEST_POSTGRES_URL"
	EnvRedisURL        = "GATEHOUSE_TEST_REDIS_URL"
	EnvRequireServices = "GATEHOUSE_TEST_REQUIRE_SERVICES"
)

// TestMasterKey is the passphrase every test server uses.
const TestMasterKey = "testenv-master-key-not-for-production"

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Required reports whether missing services must fail the run (CI).
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv(EnvRequireServices) == "1"
}

// Dialects returns the dialects to run API tests on.
func Dialects(t testing.TB) []string {
	t.Helper()
	if os.Getenv(EnvPostgresURL) != "" {
		return []string{SQLite, Postgres}
	}
	if Required() {
		t.Fatalf("%s is not set, but PostgreSQL tests are required here (CI)", EnvPostgresURL)
	}
	logOnce.Do(func() { t.Logf("PostgreSQL variants not run: set %s to include them", EnvPostgresURL) })
	return []string{SQLite}
}

var logOnce sync.Once

// Each runs fn as a subtest on every dialect.
func Each(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, d := range Dialects(t) {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Env is one running server.
type Env struct {
	Dialect string
	URL     string
	Config  config.Config
	App     *app.App
	Client  *client.Client
	Logs    *Buffer
}

// Option adjusts the configuration before the server starts.
type Option func(*config.Config)

// WithConfig lets a test change any setting.
func WithConfig(f func(*config.Config)) Option { return Option(f) }

// WithRedis points the server at Redis: GATEHOUSE_TEST_REDIS_URL when set (required in CI),
// otherwise an in-process Redis protocol server.
func WithRedis(t testing.TB) Option {
	t.Helper()
	u := RedisURL(t)
	return func(c *config.Config) { c.Redis.URL = u }
}

// RedisURL returns the Redis to test against.
func RedisURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvRedisURL); u != "" {
		return u
	}
	if Required() {
		t.Fatalf("%s is not set, but Redis tests are required here (CI)", EnvRedisURL)
	}
	mr := miniredis.RunT(t)
	return "redis://" + mr.Addr()
}

// Config returns a test configuration on a fresh database of the given dialect.
func Config(t testing.TB, dialect string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Env = config.EnvTest
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Database.DataDir = t.TempDir()
	cfg.Keyring.MasterKey = TestMasterKey
	cfg.Log.Level = "debug"
	if dialect == Postgres {
		cfg.Database.URL = FreshPostgres(t)
	}
	return cfg
}

// New starts a server on a fresh database and returns it with a client in cookie mode.
// Everything is torn down when the test ends.
func New(t testing.TB, dialect string, opts ...Option) *Env {
	t.Helper()
	cfg := Config(t, dialect)
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test configuration: %v", err)
	}
	logs := &Buffer{}
	logger := app.NewLogger(logs, cfg.Log.Level, "json")

	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		cancel()
		t.Fatalf("start server: %v\nlogs:\n%s", err, logs.String())
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTP.Addr)
	if err != nil {
		cancel()
		_ = a.Close()
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server stopped with error: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	base := "http://" + ln.Addr().String()
	c, err := client.New(base, client.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Env{Dialect: dialect, URL: base, Config: cfg, App: a, Client: c, Logs: logs}
}

// FreshPostgres creates an empty schema in the test database, returns a URL whose search_path
// points at it, and drops it when the test ends, so tests never see each other's rows.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresURL)
	if base == "" {
		t.Fatalf("%s is not set", EnvPostgresURL)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	schema := "t_" + randomHex(t, 8)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		t.Fatalf("postgres at %s is not usable: %v", EnvPostgresURL, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop test schema: %v", err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgresURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Buffer is a goroutine-safe log sink.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Lines returns the log lines written so far.
func (b *Buffer) Lines() []string {
	s := strings.TrimSpace(b.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// NewClient returns a fresh client for the server (its own cookie jar, no credentials).
func (e *Env) NewClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(e.URL, client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// CreateUser makes an account through the same service the admin API uses.
func (e *Env) CreateUser(t testing.TB, email, password string, roles ...string) api.User {
	t.Helper()
	u, err := e.App.Auth.CreateUserLocal(context.Background(), email, password, roles)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u.API()
}

// LoginCookie returns a client signed in with a cookie session.
func (e *Env) LoginCookie(t testing.TB, email, password string) *client.Client {
	t.Helper()
	c := e.NewClient(t)
	if _, err := c.Login(context.Background(), email, password); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	return c
}

// LoginBearer returns a client holding an access token, and the token response.
func (e *Env) LoginBearer(t testing.TB, email, password string) (*client.Client, *api.TokenResponse) {
	t.Helper()
	c := e.NewClient(t)
	tok, err := c.TokenWithPassword(context.Background(), email, password)
	if err != nil {
		t.Fatalf("token %s: %v", email, err)
	}
	return c, tok
}
