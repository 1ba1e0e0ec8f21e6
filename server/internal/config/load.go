package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"gopkg.in/yaml.v3"
)

// Load builds the effective configuration: defaults, then the YAML file at path (if path is not
// empty), then the environment (environ as from os.Environ; nil means the process environment).
// It returns every validation problem at once as a *ValidationError.
func Load(path string, environ []string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path) //nolint:gosec // the operator names this file
		if err != nil {
			return cfg, fmt.Errorf("read config file: %w", err)
		}
		if err := decodeYAML(raw, &cfg); err != nil {
			return cfg, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	if environ == nil {
		environ = os.Environ()
	}
	opts := env.Options{Environment: envMap(environ)}
	if err := env.ParseWithOptions(&cfg, opts); err != nil {
		return cfg, fmt.Errorf("environment: %w", err)
	}
	if err := cfg.resolveMasterKeyFile(); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

func decodeYAML(raw []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored setting
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("decode YAML: %w", err)
	}
	return nil
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "GATEHOUSE_") {
			m[k] = v
		}
	}
	return m
}

// resolveMasterKeyFile reads GATEHOUSE_MASTER_KEY_FILE into MasterKey.
func (c *Config) resolveMasterKeyFile() error {
	if c.Keyring.MasterKeyFile == "" {
		return nil
	}
	if c.Keyring.MasterKey != "" {
		return &ValidationError{Problems: []string{"keyring: set master_key or master_key_file, not both"}}
	}
	raw, err := os.ReadFile(c.Keyring.MasterKeyFile)
	if err != nil {
		return fmt.Errorf("read master key file: %w", err)
	}
	c.Keyring.MasterKey = strings.TrimSpace(string(raw))
	return nil
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// wellKnownPasswords are refused for the bootstrap admin in production (SEC-53).
var wellKnownPasswords = []string{"admin", "administrator", "password", "changeme", "change-me", "gatehouse", "secret", "letmein", "123456", "12345678", "password123", "admin123"}

// MinMasterKeyLength is the shortest master passphrase accepted in production.
const MinMasterKeyLength = 16

// maxShutdownDelay bounds http.shutdown_delay: a load balancer notices a stopping replica in
// seconds, and a platform's grace period (Kubernetes: 30 s by default) must cover the delay
// and the drain after it.
const maxShutdownDelay = 5 * time.Minute

// Validate checks the configuration and returns every problem at once.
func (c *Config) Validate() error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	switch c.Env {
	case EnvDevelopment, EnvTest, EnvProduction:
	default:
		add("env: %q is not one of development, test, production", c.Env)
	}
	for _, f := range c.Features {
		if !slices.Contains(knownFeatures, f) {
			add("features: unknown feature %q (known: %s)", f, strings.Join(knownFeatures, ", "))
		}
	}

	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		add("http.addr: %q is not host:port", c.HTTP.Addr)
	}
	for name, d := range map[string]int64{
		"http.read_header_timeout": int64(c.HTTP.ReadHeaderTimeout), "http.read_timeout": int64(c.HTTP.ReadTimeout),
		"http.write_timeout": int64(c.HTTP.WriteTimeout), "http.idle_timeout": int64(c.HTTP.IdleTimeout),
		"http.shutdown_timeout": int64(c.HTTP.ShutdownTimeout), "http.max_body_bytes": c.HTTP.MaxBodyBytes,
	} {
		if d <= 0 {
			add("%s: must be positive", name)
		}
	}
	if c.HTTP.ShutdownDelay < 0 || c.HTTP.ShutdownDelay > maxShutdownDelay {
		add("http.shutdown_delay: %s is not between 0 and %s", c.HTTP.ShutdownDelay, maxShutdownDelay)
	}
	if c.OAuth.PublicURL != "" {
		if u, err := url.Parse(c.OAuth.PublicURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.User != nil {
			add("oauth.public_url: %q is not an absolute http(s) URL without query", c.OAuth.PublicURL)
		}
	}
	for _, r := range c.OAuth.AllowedRedirects {
		u, err := url.Parse(r)
		secure := err == nil && (u.Scheme == "https" || u.Scheme == "http" && loopbackHost(u.Hostname()))
		if !secure || u.Host == "" || u.User != nil {
			add("oauth.allowed_redirects: %q must be an absolute https URL (http only for loopback)", r)
		}
	}
	if c.OAuth.FlowTTL < time.Minute || c.OAuth.FlowTTL > time.Hour {
		add("oauth.flow_ttl: must be between 1m and 1h")
	}
	if c.OAuth.Timeout <= 0 {
		add("oauth.timeout: must be positive")
	}
	if c.OAuth.RatePerIP < 1 {
		add("oauth.rate_per_ip: must be at least 1")
	}
	if (c.OAuth.OIDCClientID == "") != (c.OAuth.OIDCIssuer == "") {
		add("oauth.oidc_issuer and oauth.oidc_client_id: set both or neither")
	}
	for _, tp := range c.HTTP.TrustedProxies {
		if net.ParseIP(tp) == nil {
			if _, _, err := net.ParseCIDR(tp); err != nil {
				add("http.trusted_proxies: %q is neither an IP nor a CIDR", tp)
			}
		}
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		add("http: tls_cert_file and tls_key_file must be set together")
	}

	if c.Database.URL != "" {
		u, err := url.Parse(c.Database.URL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			add("database.url: must be a postgres:// URL (or empty for embedded SQLite)")
		}
	} else if c.Database.DataDir == "" {
		add("database.data_dir: required when database.url is empty (SQLite)")
	}
	if c.Database.MaxOpenConns < 0 || c.Database.MaxIdleConns < 0 {
		add("database: pool sizes must not be negative")
	}
	if c.Database.MaxOpenConns > 0 && c.Database.MaxIdleConns > c.Database.MaxOpenConns {
		add("database.max_idle_conns: %d exceeds max_open_conns %d", c.Database.MaxIdleConns, c.Database.MaxOpenConns)
	}
	if c.Database.ConnMaxLifetime < 0 || c.Database.ConnMaxIdleTime < 0 || c.Database.SQLiteBusyTimeout < 0 {
		add("database: durations must not be negative")
	}

	if c.Keyring.KDFIterations < MinKDFIterations {
		add("keyring.kdf_iterations: %d is below the minimum %d", c.Keyring.KDFIterations, MinKDFIterations)
	}

	if c.Redis.URL != "" {
		if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			add("redis.url: must be a redis:// or rediss:// URL")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		add("log.format: %q is not json or text", c.Log.Format)
	}
	if c.Auth.Issuer == "" || c.Auth.Audience == "" {
		add("auth: token_issuer and token_audience must not be empty")
	}
	if c.Auth.AccessTTL < time.Minute || c.Auth.AccessTTL > time.Hour {
		add("auth.access_token_ttl: %s must be between 1m and 1h", c.Auth.AccessTTL)
	}
	if c.Auth.SessionIdleTTL <= 0 || c.Auth.SessionAbsoluteTTL < c.Auth.SessionIdleTTL {
		add("auth: session_idle_ttl must be positive and at most session_absolute_ttl")
	}
	if c.Auth.SessionCache != "auto" && c.Auth.SessionCache != "off" {
		add("auth.session_cache: %q must be auto or off", c.Auth.SessionCache)
	}
	if c.Auth.SessionCacheSize < 1 || c.Auth.SessionCacheSize > 10_000_000 {
		add("auth.session_cache_size: %d must be between 1 and 10000000", c.Auth.SessionCacheSize)
	}
	if c.Auth.SessionCacheMaxAge < time.Second || c.Auth.SessionCacheMaxAge > 10*time.Minute {
		add("auth.session_cache_max_age: %s must be between 1s and 10m", c.Auth.SessionCacheMaxAge)
	}
	if c.Auth.LoginPerIPPerMin < 1 || c.Auth.LoginPerIPPerMin > 60_000 {
		add("auth.login_rate_per_ip: must be between 1 and 60000")
	}
	if c.Password.MemoryKiB < 19456 || c.Password.Iterations < 2 || c.Password.Parallelism < 1 {
		add("password: argon2id parameters below OWASP's minimum (m=19456 KiB, t=2, p=1)")
	}
	if c.Password.Concurrency < 0 {
		add("password.hash_concurrency: must not be negative")
	}
	if c.Runtime.GCPercent < 50 || c.Runtime.GCPercent > 1000 {
		add("runtime.gc_percent: %d must be between 50 and 1000", c.Runtime.GCPercent)
	}
	if c.Admin.Password != "" && c.Admin.Email == "" {
		add("admin.password: set admin.email too")
	}
	p = append(p, c.mfaProblems()...)
	p = append(p, c.cloudSecretsProblems()...)
	p = append(p, c.jobsProblems()...)
	p = append(p, c.vaultSecretsProblems()...)
	p = append(p, c.secretsProblems()...)

	if c.Env == EnvProduction {
		p = append(p, c.productionProblems()...)
	}
	if len(p) > 0 {
		slices.Sort(p)
		return &ValidationError{Problems: p}
	}
	return nil
}

// productionProblems are the insecure settings production refuses to start with (SEC-53).
func (c *Config) productionProblems() []string {
	var p []string
	if c.Keyring.MasterKey == "" {
		p = append(p, "production: a master key is required (GATEHOUSE_MASTER_KEY or GATEHOUSE_MASTER_KEY_FILE)")
	} else if len(c.Keyring.MasterKey) < MinMasterKeyLength {
		p = append(p, fmt.Sprintf("production: the master key must be at least %d characters", MinMasterKeyLength))
	}
	if !c.CookieSecure() {
		p = append(p, "production: cookies must be Secure (GATEHOUSE_COOKIE_SECURE=true)")
	}
	if c.Log.Level == "debug" {
		p = append(p, "production: debug logging is not allowed (GATEHOUSE_LOG_LEVEL)")
	}
	if c.HTTP.BenchEndpoints {
		p = append(p, "production: benchmark endpoints are not allowed (GATEHOUSE_BENCH_ENDPOINTS)")
	}
	if c.Admin.Email != "" && c.Admin.Password == "" {
		// A generated password would be printed to standard output, i.e. into container logs.
		p = append(p, "production: GATEHOUSE_ADMIN_EMAIL needs GATEHOUSE_ADMIN_PASSWORD (or create the admin with `gatehouse admin create`)")
	}
	if c.Twilio.BaseURL != "" {
		p = append(p, "production: twilio.base_url must be empty (Twilio's real API)")
	}
	if strings.HasPrefix(c.OAuth.PublicURL, "http:") {
		p = append(p, "production: oauth.public_url must use https")
	}
	if c.DemoDelivery {
		p = append(p, "production: demo delivery is not allowed (GATEHOUSE_DEMO_DELIVERY)")
	}
	if c.SMTP.Host != "" && c.SMTP.TLS == "none" && !loopbackHost(c.SMTP.Host) {
		p = append(p, "production: smtp.tls none is allowed only to a loopback server")
	}
	if c.Admin.Password != "" && (len(c.Admin.Password) < 12 || slices.Contains(wellKnownPasswords, strings.ToLower(c.Admin.Password))) {
		p = append(p, "production: the bootstrap admin password is a well-known default or too short")
	}
	return p
}

// mfaProblems checks the second-factor, SMTP and Twilio settings.
func (c *Config) mfaProblems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	known := []string{"totp", "sms", "email", "recovery_code"}
	for _, f := range c.MFA.Factors {
		if !slices.Contains(known, f) {
			add("mfa.factors: unknown factor %q (known: %s)", f, strings.Join(known, ", "))
		}
	}
	for _, r := range c.MFA.RequiredRoles {
		if !slices.Contains([]string{"admin", "support", "user"}, r) {
			add("mfa.required_roles: unknown role %q", r)
		}
	}
	if c.MFA.Grace < 0 {
		add("mfa.grace: must not be negative")
	}
	if c.MFA.PendingTTL < time.Minute || c.MFA.PendingTTL > 15*time.Minute {
		add("mfa.pending_ttl: %s must be between 1m and 15m", c.MFA.PendingTTL)
	}
	if c.MFA.CodeTTL < time.Minute || c.MFA.CodeTTL > 10*time.Minute {
		add("mfa.code_ttl: %s must be between 1m and 10m (SEC-21)", c.MFA.CodeTTL)
	}
	if c.MFA.CodeCooldown < 0 || c.MFA.CodeCooldown > 10*time.Minute {
		add("mfa.code_cooldown: %s must be between 0 and 10m", c.MFA.CodeCooldown)
	}
	if c.MFA.CodeMaxAttempts < 1 || c.MFA.CodeMaxAttempts > 5 {
		add("mfa.code_max_attempts: %d must be between 1 and 5 (SEC-21)", c.MFA.CodeMaxAttempts)
	}
	if c.MFA.DeviceTTL < time.Hour || c.MFA.DeviceTTL > 365*24*time.Hour {
		add("mfa.device_ttl: %s must be between 1h and 8760h", c.MFA.DeviceTTL)
	}
	if c.MFA.Issuer == "" {
		add("mfa.issuer: must not be empty")
	}
	if c.MFA.RatePerIP < 1 || c.MFA.RatePerIP > 60_000 {
		add("mfa.rate_per_ip: must be between 1 and 60000")
	}
	if c.SMTP.Host != "" {
		if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
			add("smtp.port: %d is not a port", c.SMTP.Port)
		}
		if !slices.Contains([]string{"none", "starttls", "tls"}, c.SMTP.TLS) {
			add("smtp.tls: %q is not none, starttls or tls", c.SMTP.TLS)
		}
		if c.SMTP.From == "" {
			add("smtp.from: required with smtp.host")
		}
	}
	if c.Twilio.AccountSID != "" && (c.Twilio.AuthToken == "" || c.Twilio.From == "") {
		add("twilio: account_sid needs auth_token and from")
	}
	return p
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// cloudSecretsProblems checks secrets.aws, secrets.azure and secrets.gcp.
func (c *Config) cloudSecretsProblems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	aws, az, gcp := c.Secrets.AWS, c.Secrets.Azure, c.Secrets.GCP
	if (aws.AccessKeyID == "") != (aws.SecretAccessKey == "") {
		add("secrets.aws: access_key_id and secret_access_key must be set together")
	}
	if aws.Region == "" && (aws.Endpoint != "" || aws.AccessKeyID != "") {
		add("secrets.aws.region: required when other secrets.aws settings are set")
	}
	if aws.Endpoint != "" {
		u, err := url.Parse(aws.Endpoint)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			add("secrets.aws.endpoint: must be an absolute http(s) URL")
		case c.Env == EnvProduction && u.Scheme != "https":
			add("production: secrets.aws.endpoint must use https")
		}
	}
	if az.VaultURL != "" {
		if u, err := url.Parse(az.VaultURL); err != nil || u.Scheme != "https" || u.Host == "" {
			add("secrets.azure.vault_url: must be https://<vault-name>.vault.azure.net/")
		}
	} else if az.TenantID != "" || az.ClientID != "" {
		add("secrets.azure.vault_url: required when other secrets.azure settings are set")
	}
	if gcp.Project != "" && strings.ContainsAny(gcp.Project, " /") {
		add("secrets.gcp.project: %q is not a project id", gcp.Project)
	}
	if gcp.Project == "" && gcp.Endpoint != "" {
		add("secrets.gcp.project: required when secrets.gcp.endpoint is set")
	}
	if gcp.Endpoint != "" {
		if _, _, err := net.SplitHostPort(gcp.Endpoint); err != nil {
			add("secrets.gcp.endpoint: %q is not host:port", gcp.Endpoint)
		}
	}
	if aws.Timeout <= 0 || az.Timeout <= 0 || gcp.Timeout <= 0 {
		add("secrets: aws.timeout, azure.timeout and gcp.timeout must be positive")
	}
	return p
}

// vaultSecretsProblems checks secrets.vault.
func (c *Config) vaultSecretsProblems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	v := c.Secrets.Vault
	token, approle := v.Token != "", v.AppRole.RoleID != "" || v.AppRole.SecretID != ""
	if v.Address == "" {
		if token || approle || v.Namespace != "" || v.TLSCAFile != "" {
			add("secrets.vault.address: required when other secrets.vault settings are set")
		}
	} else {
		u, err := url.Parse(v.Address)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			add("secrets.vault.address: must be an absolute http(s) URL")
		case c.Env == EnvProduction && u.Scheme != "https":
			add("production: secrets.vault.address must use https")
		}
		switch {
		case token && approle:
			add("secrets.vault: set token or approle.role_id and approle.secret_id, not both")
		case !token && !approle:
			add("secrets.vault: set token, or approle.role_id and approle.secret_id")
		case approle && (v.AppRole.RoleID == "" || v.AppRole.SecretID == ""):
			add("secrets.vault.approle: role_id and secret_id must be set together")
		}
	}
	if v.Mount == "" || v.AppRole.Mount == "" {
		add("secrets.vault: mount and approle.mount must not be empty")
	}
	if v.Timeout <= 0 {
		add("secrets.vault.timeout: must be positive")
	}
	if v.MaxVersions < 0 {
		add("secrets.vault.max_versions: must not be negative")
	}
	return p
}

// jobsProblems checks jobs.*.
func (c *Config) jobsProblems() []string {
	var p []string
	j := c.Jobs
	if j.LockCheck <= 0 || j.RewrapInterval <= 0 || j.RewrapBatch <= 0 || j.RotationInterval <= 0 || j.RotationRetry <= 0 {
		p = append(p, "jobs: lock_check, rewrap_interval, rewrap_batch, rotation_interval and rotation_retry must be positive")
	}
	if j.RotationWarning < 0 {
		p = append(p, "jobs.rotation_warning: must not be negative (0 turns the warnings off)")
	}
	if j.CleanupInterval <= 0 || j.CleanupRetention < 0 {
		p = append(p, "jobs: cleanup_interval must be positive and cleanup_retention not negative")
	}
	// Replicas reload the keyring every minute (app.KeyReloadInterval); moving values to a
	// version sooner could hand a replica a ciphertext it cannot open yet.
	if j.RewrapGrace < time.Minute {
		p = append(p, "jobs.rewrap_grace: must be at least 1m (the keyring reload period)")
	}
	return p
}
