// Package app is Gatehouse's composition root: it turns a validated configuration into a
// running set of parts (database, keyring, Redis, metrics, HTTP handler). The CLI in
// cmd/gatehouse and the test harness both build the server through it, so tests run the very
// wiring that production runs.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authcache"
	"gatehouse/server/internal/buildinfo"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/oauth"
	"gatehouse/server/internal/pool"
	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/serviceaccount"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/users"
)

// App is a wired Gatehouse server.
type App struct {
	Config   config.Config
	Logger   *slog.Logger
	DB       *store.DB
	Keyring  *keyring.Keyring
	Redis    *redis.Client // nil when not configured
	Pool     *pool.Monitor
	Registry *prometheus.Registry
	Handler  http.Handler
	HTTP     *httpapi.Server
	Tokens   *token.Manager
	Sessions *session.Manager
	Events   *events.Recorder
	Auth     *auth.Service
	MFA      *auth.MFA // nil when no factor is offered
	Jobs     *Jobs     // leader-only background jobs (jobs.go)
	// AuthCache caches sessions and users for the per-request check (accounts.go); nil when off.
	AuthCache *authcache.Cache
	// Secrets is the secrets manager, SecretsAudit its audit writer, ServiceAccounts the
	// callers of its API (secrets.go).
	Secrets         *secrets.Service
	SecretsAudit    *secrets.AuditWriter
	ServiceAccounts *serviceaccount.Service
	// OAuth is social login (oauth.go); UserStore the account store every capability shares
	// (cached with exact invalidation when the session cache is on).
	OAuth     *oauth.Service
	UserStore users.Store
	// Console receives what is shown to the operator once and never logged (the generated
	// bootstrap admin password). Nil discards it.
	Console io.Writer

	closers []func() error
}

// ErrSchemaBehind means migrations are pending and auto-migration is off.
var ErrSchemaBehind = errors.New("the database schema is behind this version: run `gatehouse migrate up`")

// OpenDB opens the configured database (no migrations).
func OpenDB(ctx context.Context, cfg config.Config) (*store.DB, error) {
	return store.Open(ctx, store.Options{
		URL:               cfg.Database.URL,
		SQLitePath:        SQLitePath(cfg),
		SQLiteBusyTimeout: cfg.Database.SQLiteBusyTimeout,
		MaxOpenConns:      cfg.Database.MaxOpenConns,
		MaxIdleConns:      cfg.Database.MaxIdleConns,
		ConnMaxLifetime:   cfg.Database.ConnMaxLifetime,
		ConnMaxIdleTime:   cfg.Database.ConnMaxIdleTime,
	})
}

// SQLitePath is where the embedded database lives.
func SQLitePath(cfg config.Config) string {
	return filepath.Join(cfg.Database.DataDir, "gatehouse.db")
}

// New wires every part. On error, whatever was opened is closed again.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger) (*App, error) {
	return NewWithConsole(ctx, cfg, logger, io.Discard)
}

// NewWithConsole is New with a terminal for one-time messages (see App.Console).
func NewWithConsole(ctx context.Context, cfg config.Config, logger *slog.Logger, console io.Writer) (*App, error) {
	a := &App{Config: cfg, Logger: logger, Console: console}
	if err := a.wire(ctx); err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

func (a *App) wire(ctx context.Context) error {
	cfg, logger := a.Config, a.Logger

	passphrase, err := masterKey(cfg, logger)
	if err != nil {
		return err
	}

	if a.DB, err = OpenDB(ctx, cfg); err != nil {
		return err
	}
	a.closers = append(a.closers, a.DB.Close)
	logger.Info("database open", "dialect", a.DB.Dialect(), "max_open_conns", a.DB.Limits().MaxOpenConns)

	if err := migrate(ctx, a.DB, cfg.AutoMigrate(), logger); err != nil {
		return err
	}

	// The KDF runs here, once per process, never per request.
	if a.Keyring, err = keyring.Open(ctx, a.DB.Keyring(), passphrase, keyring.Options{Iterations: cfg.Keyring.KDFIterations}); err != nil {
		return fmt.Errorf("keyring: %w", err)
	}

	checks := []httpapi.HealthCheck{{Name: "database", Check: a.DB.Ping}}
	if cfg.Redis.URL != "" {
		opts, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			// The URL may carry a password: name the setting, not the value.
			return errors.New("redis: GATEHOUSE_REDIS_URL is not a valid redis URL")
		}
		redisLogOnce.Do(func() { redis.SetLogger(redisLogger{}) })
		a.Redis = redis.NewClient(opts)
		a.closers = append(a.closers, a.Redis.Close)
		checks = append(checks, httpapi.HealthCheck{Name: "redis", Check: func(ctx context.Context) error {
			return a.Redis.Ping(ctx).Err()
		}})
		if err := a.Redis.Ping(ctx).Err(); err != nil {
			// Nothing needs Redis yet: start, and let /readyz say it is down.
			logger.Warn("redis is not answering; /readyz reports it", "error", err.Error())
		}
	}

	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	lim := a.DB.Limits()
	a.Pool = pool.New(a.DB.SQL(), a.DB.Dialect(), pool.Limits{
		MaxOpenConns: lim.MaxOpenConns, MaxIdleConns: lim.MaxIdleConns,
		ConnMaxLifetime: lim.ConnMaxLifetime, ConnMaxIdleTime: lim.ConnMaxIdleTime,
	})
	if err := a.Pool.Register(a.Registry); err != nil {
		return fmt.Errorf("register pool metrics: %w", err)
	}

	if err := a.wireJobs(); err != nil {
		return err
	}
	if err := a.wireCleanup(); err != nil {
		return err
	}
	if err := a.wireAccounts(ctx); err != nil {
		return err
	}
	if err := a.wireSecrets(ctx); err != nil {
		return err
	}
	if err := a.wireOAuth(ctx); err != nil {
		return err
	}

	var reg *prometheus.Registry
	if cfg.Metrics.Enabled {
		reg = a.Registry
	}
	var benchJWT httpapi.JWTVerifier // nil: GET /api/v1/bench/jwt is not served
	if cfg.HTTP.BenchEndpoints {
		logger.Warn("benchmark endpoints are on (GATEHOUSE_BENCH_ENDPOINTS): GET /api/v1/bench/jwt skips the session check")
		benchJWT = a.Tokens.Verify
	}
	srv, err := httpapi.New(httpapi.Options{
		Logger:          logger,
		MaxBodyBytes:    cfg.HTTP.MaxBodyBytes,
		TrustedProxies:  cfg.HTTP.TrustedProxies,
		TLS:             cfg.TLS(),
		Registry:        reg,
		ReadinessChecks: checks,
		Version:         buildinfo.Get(),
		ErrorKinds:      slices.Concat(errorKinds, mfaErrorKinds, secretsErrorKinds, oauthErrorKinds),
		Accounts:        a.Auth,
		CookieSecure:    cfg.CookieSecure(),
		JWKS:            a.Tokens.JWKS,
		Pool:            a.Pool,
		BenchJWT:        benchJWT,
		MFA:             a.mfaRoutes(),
		CodeTTL:         cfg.MFA.CodeTTL,
		DeviceTTL:       cfg.MFA.DeviceTTL,
		Keys:            a.Jobs.Rewrap,
		Secrets:         a.Secrets,
		ServiceAccounts: a.ServiceAccounts,
		SecretEvents:    a.Events,
		OAuth:           a.OAuth,
		PublicURL:       cfg.OAuth.PublicURL,
		StepUp:          a.Auth.StepUpGate,
	})
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	a.HTTP = srv
	a.Handler = srv.Handler()
	return nil
}

// masterKey returns the configured passphrase or, outside production, the one kept in
// <data_dir>/master.key (generated on first start).
func masterKey(cfg config.Config, logger *slog.Logger) (string, error) {
	if cfg.Keyring.MasterKey != "" {
		return cfg.Keyring.MasterKey, nil
	}
	if cfg.Env == config.EnvProduction {
		return "", errors.New("no master key: set GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_KEY_FILE")
	}
	path := filepath.Join(cfg.Database.DataDir, "master.key")
	key, created, err := keyring.LoadOrCreateKeyFile(path)
	if err != nil {
		return "", fmt.Errorf("development master key: %w", err)
	}
	if created {
		logger.Warn("generated a development master key; back it up, and never use this in production", "path", path)
	}
	return key, nil
}

func migrate(ctx context.Context, db *store.DB, auto bool, logger *slog.Logger) error {
	m, err := db.Migrator()
	if err != nil {
		return err
	}
	if !auto {
		pending, err := m.Pending(ctx)
		if err != nil {
			return err
		}
		if pending {
			return ErrSchemaBehind
		}
		return nil
	}
	steps, err := m.Up(ctx)
	for _, s := range steps {
		logger.Info("migration applied", "version", s.Version, "name", s.Name, "duration_ms", s.Duration.Milliseconds())
	}
	return err
}

// Close releases everything New opened, in reverse order.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}

// go-redis logs dial failures through a package-level logger, set once per process; it writes
// to slog's default logger (which `serve` sets). Its messages name addresses, never credentials.
var redisLogOnce sync.Once

type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	slog.Default().WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
