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
	MFA      MFA      `yaml:"mfa"`
	SMTP     SMTP     `yaml:"smtp"`
	Twilio   Twilio   `yaml:"twilio"`
	Secrets  Secrets  `yaml:"secrets"`
	Jobs     Jobs     `yaml:"jobs"`
	OAuth    OAuth    `yaml:"oauth"`
	Runtime  Runtime  `yaml:"runtime"`

	DemoDelivery bool `env:"GATEHOUSE_DEMO_DELIVERY" yaml:"demo_delivery" doc:"Development only: when smtp.* or twilio.* is unset, deliver mail to an in-process SMTP sink and SMS to an in-process loopback Twilio (the real clients, speaking SMTP and Twilio's REST API) and print each message on the terminal. make run turns it on; production refuses it."`
}

// MFA configures second factors (SEC-2x).
type MFA struct {
	Factors         []string      `env:"GATEHOUSE_MFA_FACTORS" yaml:"factors" doc:"Second factors offered: totp, sms, email, recovery_code. sms needs twilio.*, email needs smtp.*; an unconfigured transport leaves its factor off."`
	Issuer          string        `env:"GATEHOUSE_MFA_ISSUER" yaml:"issuer" doc:"Issuer shown by authenticator apps for TOTP."`
	RequiredRoles   []string      `env:"GATEHOUSE_MFA_REQUIRED_ROLES" yaml:"required_roles" doc:"Roles that must use a second factor: their admin routes need aal2 once the grace period is over."`
	Grace           time.Duration `env:"GATEHOUSE_MFA_GRACE" yaml:"grace" doc:"After an account is created, how long a required role may work without a factor."`
	PendingTTL      time.Duration `env:"GATEHOUSE_MFA_PENDING_TTL" yaml:"pending_ttl" doc:"How long a password-verified login waits for its second factor."`
	CodeTTL         time.Duration `env:"GATEHOUSE_MFA_CODE_TTL" yaml:"code_ttl" doc:"Lifetime of an SMS or email code (at most 10m, SEC-21)."`
	CodeCooldown    time.Duration `env:"GATEHOUSE_MFA_CODE_COOLDOWN" yaml:"code_cooldown" doc:"Wait before another SMS or email code may be sent for the same login."`
	CodeMaxAttempts int           `env:"GATEHOUSE_MFA_CODE_MAX_ATTEMPTS" yaml:"code_max_attempts" doc:"Wrong entries a code or pending login survives (at most 5, SEC-21)."`
	DeviceTTL       time.Duration `env:"GATEHOUSE_MFA_DEVICE_TTL" yaml:"device_ttl" doc:"How long a remembered (trusted) device skips the second factor."`
	RatePerIP       int           `env:"GATEHOUSE_MFA_RATE_PER_IP" yaml:"rate_per_ip" doc:"Second-factor attempts and code sends per minute admitted from one client IP (and sends per user), in bursts of up to 10 (SEC-21, SEC-27). Raise it when many users share one address (NAT)."`
}

// SMTP configures outgoing mail: email codes, security notifications, email verification.
type SMTP struct {
	Host     string        `env:"GATEHOUSE_SMTP_HOST" yaml:"host" doc:"SMTP server. Empty: no mail (the email factor and notifications are off)."`
	Port     int           `env:"GATEHOUSE_SMTP_PORT" yaml:"port" doc:"SMTP port (587 for STARTTLS, 465 for implicit TLS, 1025 for a local sink such as Mailpit)."`
	TLS      string        `env:"GATEHOUSE_SMTP_TLS" yaml:"tls" doc:"none, starttls or tls. Production refuses none except to a loopback server."`
	Username string        `env:"GATEHOUSE_SMTP_USERNAME" yaml:"username" doc:"SMTP AUTH user; empty for none."`
	Password string        `env:"GATEHOUSE_SMTP_PASSWORD" yaml:"password" secret:"true" doc:"SMTP AUTH password."`
	From     string        `env:"GATEHOUSE_SMTP_FROM" yaml:"from" doc:"Sender address, e.g. Gatehouse <no-reply@example.com>."`
	Timeout  time.Duration `env:"GATEHOUSE_SMTP_TIMEOUT" yaml:"timeout" doc:"Bound on one delivery."`
}

// Secrets configures the secrets manager. Each cloud backend is in its own nested struct and
// is configured when its required setting is set (aws.region, azure.vault_url, gcp.project).
type Secrets struct {
	DefaultBackend  string        `env:"GATEHOUSE_SECRETS_DEFAULT_BACKEND" yaml:"default_backend" doc:"Backend of new secrets that name none: db, env, vault, aws, azure or gcp (it must be configured)."`
	MaxValueBytes   int           `env:"GATEHOUSE_SECRETS_MAX_VALUE_BYTES" yaml:"max_value_bytes" doc:"Largest secret value accepted; larger ones get 413 secret_too_large. Must fit http.max_body_bytes once base64-encoded."`
	CacheTTL        time.Duration `env:"GATEHOUSE_SECRETS_CACHE_TTL" yaml:"cache_ttl" doc:"How long a replica serves a secret value from memory; invalidated on write, rotate, rollback and delete. 0 disables the cache."`
	AccessCacheAge  time.Duration `env:"GATEHOUSE_SECRETS_ACCESS_CACHE_MAX_AGE" yaml:"access_cache_max_age" doc:"Longest a replica answers from memory which service account a token belongs to and which secret policies apply, before reading them again. Revocations, account deletions and policy changes apply on the next request on the replica that made them and, with redis.url set, on every replica (a generation per service account or role in Redis, one GET per lookup); without Redis, other replicas on the same PostgreSQL database see them within this age. 0 disables the cache."`
	EnvPrefix       string        `env:"GATEHOUSE_SECRETS_ENV_PREFIX" yaml:"env_prefix" doc:"Variable prefix of the read-only env backend: billing/prod/db-password is read from <prefix>BILLING__PROD__DB_PASSWORD (docs/secrets.md)."`
	EnvEnabled      bool          `env:"GATEHOUSE_SECRETS_ENV_ENABLED" yaml:"env_enabled" doc:"Offer the env backend (secrets whose values come from the server's environment)."`
	RecoveryWindow  time.Duration `env:"GATEHOUSE_SECRETS_RECOVERY_WINDOW" yaml:"recovery_window" doc:"How long a deleted secret can be restored before it is purged with its values."`
	PurgeInterval   time.Duration `env:"GATEHOUSE_SECRETS_PURGE_INTERVAL" yaml:"purge_interval" doc:"How often deleted secrets past their recovery window are purged."`
	AuditBatch      int           `env:"GATEHOUSE_SECRETS_AUDIT_BATCH" yaml:"audit_batch" doc:"Most audit records committed in one transaction (group commit: a read is answered only once its record is durable)."`
	RotationHookKey string        `env:"GATEHOUSE_SECRETS_ROTATION_HOOK_KEY" yaml:"rotation_hook_key" secret:"true" doc:"HMAC key (at least 32 bytes) signing rotation test-hook calls. Empty: rotation policies cannot name a hook_url."`

	AWS   SecretsAWS   `yaml:"aws"`
	Azure SecretsAzure `yaml:"azure"`
	GCP   SecretsGCP   `yaml:"gcp"`
	Vault SecretsVault `yaml:"vault"`
}

// SecretsAWS configures the aws backend (AWS Secrets Manager).
type SecretsAWS struct {
	Region          string        `env:"GATEHOUSE_SECRETS_AWS_REGION" yaml:"region" doc:"AWS region of Secrets Manager, e.g. eu-west-1. Set to enable the aws secrets backend."`
	Endpoint        string        `env:"GATEHOUSE_SECRETS_AWS_ENDPOINT" yaml:"endpoint" doc:"Replace the regional Secrets Manager endpoint (LocalStack, a VPC endpoint). Production requires https."`
	AccessKeyID     string        `env:"GATEHOUSE_SECRETS_AWS_ACCESS_KEY_ID" yaml:"access_key_id" doc:"Static access key id. Empty: the AWS default credential chain (AWS_* variables, shared files, web identity, ECS/EC2 roles)."`
	SecretAccessKey string        `env:"GATEHOUSE_SECRETS_AWS_SECRET_ACCESS_KEY" yaml:"secret_access_key" secret:"true" doc:"Secret access key of access_key_id."`
	Timeout         time.Duration `env:"GATEHOUSE_SECRETS_AWS_TIMEOUT" yaml:"timeout" doc:"Bound on one call to Secrets Manager, retries included."`
}

// SecretsAzure configures the azure backend (Azure Key Vault).
type SecretsAzure struct {
	VaultURL    string        `env:"GATEHOUSE_SECRETS_AZURE_VAULT_URL" yaml:"vault_url" doc:"Key Vault URL, https://<vault-name>.vault.azure.net/. Set to enable the azure secrets backend."`
	TenantID    string        `env:"GATEHOUSE_SECRETS_AZURE_TENANT_ID" yaml:"tenant_id" doc:"Microsoft Entra tenant for the credential. Empty: the credential chain's own (AZURE_TENANT_ID)."`
	ClientID    string        `env:"GATEHOUSE_SECRETS_AZURE_CLIENT_ID" yaml:"client_id" doc:"Client id of a user-assigned managed identity or workload identity. Empty: DefaultAzureCredential (AZURE_* variables, workload identity, managed identity, Azure CLI)."`
	KeepDeleted bool          `env:"GATEHOUSE_SECRETS_AZURE_KEEP_DELETED" yaml:"keep_deleted" doc:"Leave deleted secrets soft-deleted instead of purging them (vaults with purge protection); their names cannot be reused until Key Vault's retention ends."`
	Timeout     time.Duration `env:"GATEHOUSE_SECRETS_AZURE_TIMEOUT" yaml:"timeout" doc:"Bound on one call to Key Vault, retries included."`
}

// SecretsGCP configures the gcp backend (Google Secret Manager).
type SecretsGCP struct {
	Project  string        `env:"GATEHOUSE_SECRETS_GCP_PROJECT" yaml:"project" doc:"Google Cloud project id holding the secrets. Set to enable the gcp secrets backend (Application Default Credentials)."`
	Endpoint string        `env:"GATEHOUSE_SECRETS_GCP_ENDPOINT" yaml:"endpoint" doc:"host:port replacing secretmanager.googleapis.com:443 (e.g. a Private Service Connect endpoint)."`
	Timeout  time.Duration `env:"GATEHOUSE_SECRETS_GCP_TIMEOUT" yaml:"timeout" doc:"Bound on one call to Secret Manager, retries included."`
}

// SecretsVault configures the vault backend (HashiCorp Vault, KV version 2).
type SecretsVault struct {
	Address     string              `env:"GATEHOUSE_SECRETS_VAULT_ADDRESS" yaml:"address" doc:"Vault URL, e.g. https://vault.example.com:8200. Set to enable the vault secrets backend. Production requires https."`
	Token       string              `env:"GATEHOUSE_SECRETS_VAULT_TOKEN" yaml:"token" secret:"true" doc:"Vault token. Set this or approle.role_id and approle.secret_id."`
	AppRole     SecretsVaultAppRole `yaml:"approle"`
	Mount       string              `env:"GATEHOUSE_SECRETS_VAULT_MOUNT" yaml:"mount" doc:"Path of the KV version 2 secrets engine."`
	Namespace   string              `env:"GATEHOUSE_SECRETS_VAULT_NAMESPACE" yaml:"namespace" doc:"Vault Enterprise or HCP namespace, sent as X-Vault-Namespace. Empty: none."`
	TLSCAFile   string              `env:"GATEHOUSE_SECRETS_VAULT_TLS_CA_FILE" yaml:"tls_ca_file" doc:"PEM file of CA certificates to trust for address. Empty: the system's. VAULT_* variables are ignored."`
	Timeout     time.Duration       `env:"GATEHOUSE_SECRETS_VAULT_TIMEOUT" yaml:"timeout" doc:"Bound on one call to Vault (with the AppRole login it may need)."`
	MaxVersions int                 `env:"GATEHOUSE_SECRETS_VAULT_MAX_VERSIONS" yaml:"max_versions" doc:"Versions Vault keeps per secret, written to each secret's metadata on write; older ones are pruned and can no longer be read or rolled back to. 0 leaves the mount's setting (Vault's default keeps 10)."`
}

// SecretsVaultAppRole is the vault backend's AppRole login.
type SecretsVaultAppRole struct {
	RoleID   string `env:"GATEHOUSE_SECRETS_VAULT_APPROLE_ROLE_ID" yaml:"role_id" doc:"AppRole role_id. With secret_id, Gatehouse logs in, renews its token and logs in again when it expires."`
	SecretID string `env:"GATEHOUSE_SECRETS_VAULT_APPROLE_SECRET_ID" yaml:"secret_id" secret:"true" doc:"AppRole secret_id."`
	Mount    string `env:"GATEHOUSE_SECRETS_VAULT_APPROLE_MOUNT" yaml:"mount" doc:"Path of the AppRole auth method."`
}

// Jobs configures the leader-only background jobs: with several replicas on PostgreSQL one
// replica at a time runs each (an advisory lock, internal/leader); on SQLite the one process does.
type Jobs struct {
	LockCheck      time.Duration `env:"GATEHOUSE_JOBS_LOCK_CHECK" yaml:"lock_check" doc:"How often a replica tries to take a leader-only job's lock and the leader checks it still holds it. Bounds the take-over after the leader dies."`
	RewrapInterval time.Duration `env:"GATEHOUSE_JOBS_REWRAP_INTERVAL" yaml:"rewrap_interval" doc:"How often the leader looks for values sealed with an older master key version (after gatehouse keys rotate) and re-wraps them (SEC-43)."`
	RewrapBatch    int           `env:"GATEHOUSE_JOBS_REWRAP_BATCH" yaml:"rewrap_batch" doc:"Values re-wrapped per batch; each batch is one short write."`
	RewrapGrace    time.Duration `env:"GATEHOUSE_JOBS_REWRAP_GRACE" yaml:"rewrap_grace" doc:"How old a new master key version must be before values move to it, so every replica has loaded it first (replicas reload the keyring every minute; at least 1m)."`

	RotationInterval time.Duration `env:"GATEHOUSE_JOBS_ROTATION_INTERVAL" yaml:"rotation_interval" doc:"How often the leader rotates the secrets whose rotation policy says they are due (SEC-44)."`
	RotationRetry    time.Duration `env:"GATEHOUSE_JOBS_ROTATION_RETRY" yaml:"rotation_retry" doc:"After a scheduled rotation fails (its test hook refused, its backend failed), how long before it is tried again. The current version stays in use meanwhile."`
	RotationWarning  time.Duration `env:"GATEHOUSE_JOBS_ROTATION_WARNING" yaml:"rotation_warning" doc:"How far ahead of a secret's scheduled rotation the leader records a secret.rotation_due security event (once per secret and due time, checked every rotation_interval). 0 records none."`

	CleanupInterval  time.Duration `env:"GATEHOUSE_JOBS_CLEANUP_INTERVAL" yaml:"cleanup_interval" doc:"How often the leader deletes dead rows: expired or revoked sessions, refresh tokens and trusted devices, expired pending second-factor logins and codes (past cleanup_retention), and TOTP enrollments left unconfirmed for a day."`
	CleanupRetention time.Duration `env:"GATEHOUSE_JOBS_CLEANUP_RETENTION" yaml:"cleanup_retention" doc:"How long an expired or revoked row is kept before the clean-up deletes it (support can still see a user's recent sessions meanwhile). 0 deletes at the first run after expiry. The security event log is never cleaned."`
}

// OAuth configures social login. Providers are managed at runtime (admin API, console); those
// with a client id here are created at start, and their credentials kept in step with it.
type OAuth struct {
	PublicURL             string        `env:"GATEHOUSE_PUBLIC_URL" yaml:"public_url" doc:"The server's external base URL (https://id.example.com): OAuth callbacks are <public_url>/api/v1/auth/oauth/<provider>/callback, the redirect URI to register with each provider. Empty: each request's own scheme and host (development only; set it behind a proxy)."`
	AllowedRedirects      []string      `env:"GATEHOUSE_OAUTH_ALLOWED_REDIRECTS" yaml:"allowed_redirects" doc:"Absolute URL prefixes redirect_to may point at after a social login (SEC-35), e.g. https://app.example.com/. Same-site paths and native apps' loopback addresses (http://127.0.0.1:PORT/) are always allowed."`
	FlowTTL               time.Duration `env:"GATEHOUSE_OAUTH_FLOW_TTL" yaml:"flow_ttl" doc:"How long a social login may take between start and callback (state lifetime, SEC-30)."`
	Timeout               time.Duration `env:"GATEHOUSE_OAUTH_TIMEOUT" yaml:"timeout" doc:"Bound on each request to a provider (discovery, keys, token, profile)."`
	RatePerIP             int           `env:"GATEHOUSE_OAUTH_RATE_PER_IP" yaml:"rate_per_ip" doc:"Social-login requests (start, callback, exchange) per minute admitted from one client IP, in bursts of up to 20; 429 beyond."`
	GoogleClientID        string        `env:"GATEHOUSE_OAUTH_GOOGLE_CLIENT_ID" yaml:"google_client_id" doc:"Google OAuth client id: seeds the google provider."`
	GoogleClientSecret    string        `env:"GATEHOUSE_OAUTH_GOOGLE_CLIENT_SECRET" yaml:"google_client_secret" secret:"true" doc:"Google OAuth client secret."`
	MicrosoftClientID     string        `env:"GATEHOUSE_OAUTH_MICROSOFT_CLIENT_ID" yaml:"microsoft_client_id" doc:"Microsoft Entra ID application (client) id: seeds the microsoft provider."`
	MicrosoftClientSecret string        `env:"GATEHOUSE_OAUTH_MICROSOFT_CLIENT_SECRET" yaml:"microsoft_client_secret" secret:"true" doc:"Microsoft client secret."`
	MicrosoftTenant       string        `env:"GATEHOUSE_OAUTH_MICROSOFT_TENANT" yaml:"microsoft_tenant" doc:"Microsoft tenant: common (any account), organizations (work and school), consumers (personal) or a tenant id."`
	LinkedInClientID      string        `env:"GATEHOUSE_OAUTH_LINKEDIN_CLIENT_ID" yaml:"linkedin_client_id" doc:"LinkedIn client id (Sign In with LinkedIn using OpenID Connect): seeds the linkedin provider."`
	LinkedInClientSecret  string        `env:"GATEHOUSE_OAUTH_LINKEDIN_CLIENT_SECRET" yaml:"linkedin_client_secret" secret:"true" doc:"LinkedIn client secret."`
	GitHubClientID        string        `env:"GATEHOUSE_OAUTH_GITHUB_CLIENT_ID" yaml:"github_client_id" doc:"GitHub OAuth app client id: seeds the github provider."`
	GitHubClientSecret    string        `env:"GATEHOUSE_OAUTH_GITHUB_CLIENT_SECRET" yaml:"github_client_secret" secret:"true" doc:"GitHub OAuth app client secret."`
	OIDCIssuer            string        `env:"GATEHOUSE_OAUTH_OIDC_ISSUER" yaml:"oidc_issuer" doc:"Issuer URL of a generic OpenID Connect provider (found by discovery): seeds the oidc provider with oidc_client_id."`
	OIDCClientID          string        `env:"GATEHOUSE_OAUTH_OIDC_CLIENT_ID" yaml:"oidc_client_id" doc:"Client id at the generic OpenID Connect provider."`
	OIDCClientSecret      string        `env:"GATEHOUSE_OAUTH_OIDC_CLIENT_SECRET" yaml:"oidc_client_secret" secret:"true" doc:"Client secret at the generic OpenID Connect provider."`
	OIDCName              string        `env:"GATEHOUSE_OAUTH_OIDC_NAME" yaml:"oidc_name" doc:"Name shown on login screens for the generic OpenID Connect provider."`
}

// Twilio configures SMS codes through Twilio's Messages API.
type Twilio struct {
	AccountSID string `env:"GATEHOUSE_TWILIO_ACCOUNT_SID" yaml:"account_sid" doc:"Twilio account SID (AC...). Empty: the sms factor is off."`
	AuthToken  string `env:"GATEHOUSE_TWILIO_AUTH_TOKEN" yaml:"auth_token" secret:"true" doc:"Twilio auth token."`
	From       string `env:"GATEHOUSE_TWILIO_FROM" yaml:"from" doc:"Sender: an E.164 number or a Messaging Service SID (MG...)."`
	BaseURL    string `env:"GATEHOUSE_TWILIO_BASE_URL" yaml:"base_url" doc:"Replace https://api.twilio.com (a loopback Twilio for demos and tests). Production refuses anything else."`
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
	SessionCache       string        `env:"GATEHOUSE_SESSION_CACHE" yaml:"session_cache" doc:"auto or off. auto caches sessions and users in memory with exact invalidation (SEC-12): on SQLite, and on PostgreSQL only with redis.url set (a per-user generation in Redis, one GET per request); off on PostgreSQL without Redis, where other replicas' writes would go unseen."`
	SessionCacheSize   int           `env:"GATEHOUSE_SESSION_CACHE_SIZE" yaml:"session_cache_size" doc:"Most cached entries (sessions by ID, sessions by cookie, users); beyond it arbitrary entries are evicted."`
	SessionCacheMaxAge time.Duration `env:"GATEHOUSE_SESSION_CACHE_MAX_AGE" yaml:"session_cache_max_age" doc:"Longest a cached entry is used before the database is read again. Bounds only writes the server cannot see: those of another process (the admin CLI) without Redis."`
}

// Password configures argon2id (SEC-01) and how many hashes may run at once (SEC-06).
type Password struct {
	MemoryKiB   uint32 `env:"GATEHOUSE_ARGON2_MEMORY_KIB" yaml:"argon2_memory_kib" doc:"argon2id memory per hash in KiB (at least 19456, OWASP). Existing hashes are upgraded at the next login."`
	Iterations  uint32 `env:"GATEHOUSE_ARGON2_ITERATIONS" yaml:"argon2_iterations" doc:"argon2id passes (at least 2)."`
	Parallelism uint8  `env:"GATEHOUSE_ARGON2_PARALLELISM" yaml:"argon2_parallelism" doc:"argon2id lanes (at least 1)."`
	Concurrency int    `env:"GATEHOUSE_HASH_CONCURRENCY" yaml:"hash_concurrency" doc:"Most password hashes computed at once; more wait. 0: one per CPU."`
}

// Runtime tunes the Go runtime the server runs on.
type Runtime struct {
	GCPercent int `env:"GATEHOUSE_GC_PERCENT" yaml:"gc_percent" doc:"Go garbage collector target (GOGC): how far the heap may grow over live memory before a collection. Every argon2id hash allocates its whole memory cost (19 MiB) and drops it, so at the Go default of 100 a login-heavy server collects every two or three logins; 200 halves that for about 40 MiB more peak memory (docs/benchmarks.md). Between 50 and 1000. A GOGC variable in the environment takes precedence."`
}

// HTTP configures the listener and request handling.
type HTTP struct {
	Addr              string        `env:"GATEHOUSE_ADDR" yaml:"addr" doc:"Listen address (host:port)."`
	ReadHeaderTimeout time.Duration `env:"GATEHOUSE_HTTP_READ_HEADER_TIMEOUT" yaml:"read_header_timeout" doc:"Time allowed to read request headers."`
	ReadTimeout       time.Duration `env:"GATEHOUSE_HTTP_READ_TIMEOUT" yaml:"read_timeout" doc:"Time allowed to read a whole request, body included."`
	WriteTimeout      time.Duration `env:"GATEHOUSE_HTTP_WRITE_TIMEOUT" yaml:"write_timeout" doc:"Time allowed to write a response (streaming routes extend their own deadline)."`
	IdleTimeout       time.Duration `env:"GATEHOUSE_HTTP_IDLE_TIMEOUT" yaml:"idle_timeout" doc:"How long an idle keep-alive connection is kept."`
	ShutdownDelay     time.Duration `env:"GATEHOUSE_HTTP_SHUTDOWN_DELAY" yaml:"shutdown_delay" doc:"On SIGINT/SIGTERM, how long to go on serving before the listener closes, with /readyz answering 503 and keep-alives off, so a load balancer stops sending first (0 to 5m). 0: close at once, for when the platform waits instead (a Kubernetes preStop sleep). A second signal ends the process at once."`
	ShutdownTimeout   time.Duration `env:"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT" yaml:"shutdown_timeout" doc:"On SIGINT/SIGTERM, how long in-flight requests may take to finish (after shutdown_delay)."`
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
			SessionCache: "auto", SessionCacheSize: 10000, SessionCacheMaxAge: 10 * time.Second,
		},
		Password: Password{MemoryKiB: 19456, Iterations: 2, Parallelism: 1},
		Runtime:  Runtime{GCPercent: 200},
		MFA: MFA{
			Factors: []string{"totp", "sms", "email", "recovery_code"}, Issuer: "Gatehouse",
			RequiredRoles: []string{"admin", "support"}, Grace: 7 * 24 * time.Hour, PendingTTL: 5 * time.Minute,
			CodeTTL: 10 * time.Minute, CodeCooldown: 30 * time.Second, CodeMaxAttempts: 5, DeviceTTL: 30 * 24 * time.Hour, RatePerIP: 30,
		},
		SMTP:  SMTP{Port: 587, TLS: "starttls", Timeout: 10 * time.Second},
		OAuth: OAuth{FlowTTL: 10 * time.Minute, Timeout: 10 * time.Second, RatePerIP: 60},
		Jobs: Jobs{LockCheck: 5 * time.Second, RewrapInterval: time.Minute, RewrapBatch: 200, RewrapGrace: 2 * time.Minute,
			RotationInterval: time.Minute, RotationRetry: time.Hour, RotationWarning: 7 * 24 * time.Hour,
			CleanupInterval: time.Hour, CleanupRetention: 24 * time.Hour},
		Secrets: Secrets{
			DefaultBackend: "db", MaxValueBytes: 64 << 10, CacheTTL: 5 * time.Minute, AccessCacheAge: 2 * time.Second, EnvPrefix: "GATEHOUSE_SECRET_",
			EnvEnabled: true, RecoveryWindow: 7 * 24 * time.Hour, PurgeInterval: time.Hour, AuditBatch: 256,
			AWS:   SecretsAWS{Timeout: 10 * time.Second},
			Azure: SecretsAzure{Timeout: 10 * time.Second},
			GCP:   SecretsGCP{Timeout: 10 * time.Second},
			Vault: SecretsVault{
				Mount: "secret", AppRole: SecretsVaultAppRole{Mount: "approle"}, Timeout: 10 * time.Second, MaxVersions: 100,
			},
		},
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
