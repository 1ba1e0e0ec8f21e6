// Package config loads Gatehouse's configuration from built-in defaults, an optional YAML file
// and GATEHOUSE_* environment variables (in that order, later wins), and validates it, reporting
// every problem at once. The struct tags are the single source of truth: docs/configuration.md
// is generated from them (see Fields and Markdown).
package config

import (
	"time"
)

// Environments.
const (
	EnvDevelopment = "development"
	EnvTest        = "test"
	EnvProduction  = "production"
)

// Known feature flags for GATEHOUSE_FEATURES. Capabilities check Enabled before registering.
var knownFeatures = []string{"totp", "sms", "email", "recovery_codes", "oauth", "secrets"}

// Config is the whole effective configuration. Tags: env (variable name), yaml (key in the
// file), doc (one line for docs/configuration.md), secret (masked by `config print`).
type Config struct {
	Env      string   `env:"GATEHOUSE_ENV" yaml:"env" doc:"Environment: development, test or production. Production refuses insecure settings."`
	Features []string `env:"GATEHOUSE_FEATURES" yaml:"features" doc:"Comma-separated optional capabilities to enable: totp, sms, email, recovery_codes, oauth, secrets."`

	HTTP     HTTP     `yaml:"http"`
	Cookie   Cookie   `yaml:"cookie"`
	Database Database `yaml:"database"`
	Keyring  Keyring  `yaml:"keyring"`
	Redis    Redis    `yaml:"redis"`
	Log      Log      `yaml:"log"`
	Metrics  Metrics  `yaml:"metrics"`
	Admin    Admin    `yaml:"admin"`
	Auth     Auth     `yaml:"auth"`
	Password Password `yaml:"password"`
}

// Auth configures sessions, tokens and sign-up.
type Auth struct {
	Issuer             string        `env:"GATEHOUSE_TOKEN_ISSUER" yaml:"token_issuer" doc:"The iss claim of access tokens (usually the server's public URL)."`
	Audience           string        `env:"GATEHOUSE_TOKEN_AUDIENCE" yaml:"token_audience" doc:"The aud claim of access tokens."`
	AccessTTL          time.Duration `env:"GATEHOUSE_ACCESS_TOKEN_TTL" yaml:"access_token_ttl" doc:"Lifetime of a JWT access token."`
	SessionIdleTTL     time.Duration `env:"GATEHOUSE_SESSION_IDLE_TTL" yaml:"session_idle_ttl" doc:"A session unused this long expires (SEC-13)."`
	SessionAbsoluteTTL time.Duration `env:"GATEHOUSE_SESSION_ABSOLUTE_TTL" yaml:"session_absolute_ttl" doc:"A session expires this long after sign-in, however busy (SEC-13)."`
	Registration       *bool         `env:"GATEHOUSE_REGISTRATION" yaml:"registration" doc:"Allow self-registration (POST /api/v1/auth/register). Default: on in development and test, off in production."`
	LoginPerIPPerMin   int           `env:"GATEHOUSE_LOGIN_RATE_PER_IP" yaml:"login_rate_per_ip" doc:"Password attempts per minute admitted from one client IP (SEC-05)."`
}

// Password configures argon2id (SEC-01) and how many hashes may run at once (SEC-06).
type Password struct {
	MemoryKiB   uint32 `env:"GATEHOUSE_ARGON2_MEMORY_KIB" yaml:"argon2_memory_kib" doc:"argon2id memory per hash in KiB (at least 19456, OWASP). Existing hashes are upgraded at the next login."`
	Iterations  uint32 `env:"GATEHOUSE_ARGON2_ITERATIONS" yaml:"argon2_iterations" doc:"argon2id passes (at least 2)."`
	Parallelism uint8  `env:"GATEHOUSE_ARGON2_PARALLELISM" yaml:"argon2_parallelism" doc:"argon2id lanes (at least 1)."`
	Concurrency int    `env:"GATEHOUSE_HASH_CONCURRENCY" yaml:"hash_concurrency" doc:"Most password hashes computed at once; more wait. 0: one per CPU."`
}

// HTTP configures the listener and request handling.
type HTTP struct {
	Addr              string        `env:"GATEHOUSE_ADDR" yaml:"addr" doc:"Listen address (host:port)."`
	ReadHeaderTimeout time.Duration `env:"GATEHOUSE_HTTP_READ_HEADER_TIMEOUT" yaml:"read_header_timeout" doc:"Time allowed to read request headers."`
	ReadTimeout       time.Duration `env:"GATEHOUSE_HTTP_READ_TIMEOUT" yaml:"read_timeout" doc:"Time allowed to read a whole request, body included."`
	WriteTimeout      time.Duration `env:"GATEHOUSE_HTTP_WRITE_TIMEOUT" yaml:"write_timeout" doc:"Time allowed to write a response (streaming routes extend their own deadline)."`
	IdleTimeout       time.Duration `env:"GATEHOUSE_HTTP_IDLE_TIMEOUT" yaml:"idle_timeout" doc:"How long an idle keep-alive connection is kept."`
	ShutdownTimeout   time.Duration `env:"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT" yaml:"shutdown_timeout" doc:"On SIGINT/SIGTERM, how long in-flight requests may take to finish."`
	MaxBodyBytes      int64         `env:"GATEHOUSE_HTTP_MAX_BODY_BYTES" yaml:"max_body_bytes" doc:"Largest request body accepted; larger bodies get 413 payload_too_large."`
	TrustedProxies    []string      `env:"GATEHOUSE_HTTP_TRUSTED_PROXIES" yaml:"trusted_proxies" doc:"Comma-separated CIDRs or IPs of reverse proxies whose X-Forwarded-For is believed. Empty: the peer address is the client IP."`
	TLSCertFile       string        `env:"GATEHOUSE_TLS_CERT_FILE" yaml:"tls_cert_file" doc:"PEM certificate; with tls_key_file the server speaks HTTPS and sends HSTS."`
	TLSKeyFile        string        `env:"GATEHOUSE_TLS_KEY_FILE" yaml:"tls_key_file" doc:"PEM private key for tls_cert_file."`
	BenchEndpoints    bool          `env:"GATEHOUSE_BENCH_ENDPOINTS" yaml:"bench_endpoints" doc:"Serve GET /api/v1/bench/jwt, the JWT-only baseline of make bench (docs/benchmarks.md). It skips the session check; production refuses it."`
}

// Cookie configures the session cookies.
type Cookie struct {
	Secure *bool `env:"GATEHOUSE_COOKIE_SECURE" yaml:"secure" doc:"Mark cookies Secure (and use the __Host- prefix). Default: true in production, false in development and test (plain HTTP on localhost)."`
}

// Database configures storage and the connection pool.
type Database struct {
	URL               string        `env:"GATEHOUSE_DATABASE_URL" yaml:"url" secret:"true" doc:"postgres://... for PostgreSQL. Empty: embedded SQLite at <data_dir>/gatehouse.db."`
	DataDir           string        `env:"GATEHOUSE_DATA_DIR" yaml:"data_dir" doc:"Directory for the SQLite file and, in development, the generated master key."`
	AutoMigrate       *bool         `env:"GATEHOUSE_AUTO_MIGRATE" yaml:"auto_migrate" doc:"Apply pending migrations when serve starts. Default: true in development and test, false in production."`
	MaxOpenConns      int           `env:"GATEHOUSE_DB_MAX_OPEN_CONNS" yaml:"max_open_conns" doc:"Pool size. 0: 25 on PostgreSQL, 1 on SQLite (one writer)."`
	MaxIdleConns      int           `env:"GATEHOUSE_DB_MAX_IDLE_CONNS" yaml:"max_idle_conns" doc:"Idle connections kept. 0: equal to max_open_conns."`
	ConnMaxLifetime   time.Duration `env:"GATEHOUSE_DB_CONN_MAX_LIFETIME" yaml:"conn_max_lifetime" doc:"Recycle connections after this long. 0: 30m on PostgreSQL, unlimited on SQLite."`
	ConnMaxIdleTime   time.Duration `env:"GATEHOUSE_DB_CONN_MAX_IDLE_TIME" yaml:"conn_max_idle_time" doc:"Close connections idle this long. 0: 5m on PostgreSQL, unlimited on SQLite."`
	SQLiteBusyTimeout time.Duration `env:"GATEHOUSE_SQLITE_BUSY_TIMEOUT" yaml:"sqlite_busy_timeout" doc:"How long SQLite waits for a lock before failing."`
}

// Keyring configures the master key that protects every secret at rest.
type Keyring struct {
	MasterKey     string `env:"GATEHOUSE_MASTER_KEY" yaml:"master_key" secret:"true" doc:"Master passphrase. Required in production. In development a missing key is generated into <data_dir>/master.key."`
	MasterKeyFile string `env:"GATEHOUSE_MASTER_KEY_FILE" yaml:"master_key_file" doc:"Read the master passphrase from this file instead (e.g. a mounted Kubernetes secret)."`
	KDFIterations int    `env:"GATEHOUSE_KDF_ITERATIONS" yaml:"kdf_iterations" doc:"PBKDF2-HMAC-SHA256 iterations when a new keyring is created (at least 600000). An existing keyring keeps its own."`
}

// Redis configures the optional shared state between replicas.
type Redis struct {
	URL string `env:"GATEHOUSE_REDIS_URL" yaml:"url" secret:"true" doc:"redis://... Optional: shared rate limits and cache invalidation between replicas. Empty: in-process equivalents."`
}

// Log configures structured logging.
type Log struct {
	Level  string `env:"GATEHOUSE_LOG_LEVEL" yaml:"level" doc:"debug, info, warn or error. Production refuses debug."`
	Format string `env:"GATEHOUSE_LOG_FORMAT" yaml:"format" doc:"json (default) or text."`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool `env:"GATEHOUSE_METRICS_ENABLED" yaml:"enabled" doc:"Serve Prometheus metrics at /metrics."`
}

// Admin configures the bootstrap administrator.
type Admin struct {
	Email    string `env:"GATEHOUSE_ADMIN_EMAIL" yaml:"email" doc:"Bootstrap administrator created on first start when no admin exists."`
	Password string `env:"GATEHOUSE_ADMIN_PASSWORD" yaml:"password" secret:"true" doc:"Bootstrap administrator's password. Empty: a random one is printed once on the terminal (not in production, which requires it and refuses well-known defaults)."`
}

// Default returns the built-in defaults (development).
func Default() Config {
	return Config{
		Env: EnvDevelopment,
		HTTP: HTTP{
			Addr:              "127.0.0.1:8080",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   20 * time.Second,
			MaxBodyBytes:      1 << 20,
		},
		Database: Database{
			DataDir:           "./data",
			SQLiteBusyTimeout: 5 * time.Second,
		},
		Keyring: Keyring{KDFIterations: MinKDFIterations},
		Log:     Log{Level: "info", Format: "json"},
		Metrics: Metrics{Enabled: true},
		Auth: Auth{
			Issuer: "gatehouse", Audience: "gatehouse", AccessTTL: 15 * time.Minute,
			SessionIdleTTL: 30 * time.Minute, SessionAbsoluteTTL: 12 * time.Hour, LoginPerIPPerMin: 30,
		},
		Password: Password{MemoryKiB: 19456, Iterations: 2, Parallelism: 1},
	}
}

// MinKDFIterations is the least PBKDF2 work accepted (OWASP 2023 for PBKDF2-HMAC-SHA256).
const MinKDFIterations = 600_000

// Enabled reports whether a feature flag is on.
func (c *Config) Enabled(feature string) bool {
	for _, f := range c.Features {
		if f == feature {
			return true
		}
	}
	return false
}

// CookieSecure is the effective Secure setting for cookies.
func (c *Config) CookieSecure() bool {
	if c.Cookie.Secure != nil {
		return *c.Cookie.Secure
	}
	return c.Env == EnvProduction
}

// AutoMigrate is the effective auto-migrate setting.
func (c *Config) AutoMigrate() bool {
	if c.Database.AutoMigrate != nil {
		return *c.Database.AutoMigrate
	}
	return c.Env != EnvProduction
}

// Registration is the effective self-registration setting.
func (c *Config) Registration() bool {
	if c.Auth.Registration != nil {
		return *c.Auth.Registration
	}
	return c.Env != EnvProduction
}

// TLS reports whether the server terminates TLS itself.
func (c *Config) TLS() bool { return c.HTTP.TLSCertFile != "" }
