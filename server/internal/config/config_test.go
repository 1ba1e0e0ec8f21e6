package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, yaml string, env ...string) (Config, error) {
	t.Helper()
	path := ""
	if yaml != "" {
		path = filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if env == nil {
		env = []string{}
	}
	return Load(path, env)
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want *ValidationError, got %v", err)
	}
	return verr.Problems
}

func TestDefaultsAreValidForDevelopment(t *testing.T) {
	cfg, err := load(t, "")
	if err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if cfg.Env != EnvDevelopment || cfg.HTTP.Addr != "127.0.0.1:8080" || cfg.HTTP.MaxBodyBytes != 1<<20 {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if !cfg.AutoMigrate() || cfg.CookieSecure() {
		t.Fatal("development should auto-migrate and use plain-HTTP cookies")
	}
}

func TestEnvironmentOverridesFileOverridesDefaults(t *testing.T) {
	cfg, err := load(t, `
http:
  addr: 127.0.0.1:9000
  read_timeout: 42s
log:
  level: warn
features: [sms, email]
`, "GATEHOUSE_LOG_LEVEL=error", "GATEHOUSE_DB_MAX_OPEN_CONNS=7", "GATEHOUSE_AUTO_MIGRATE=false", "UNRELATED=1")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:9000" || cfg.HTTP.ReadTimeout != 42*time.Second {
		t.Errorf("file not applied: %+v", cfg.HTTP)
	}
	if cfg.Log.Level != "error" {
		t.Errorf("environment should win over file, got %q", cfg.Log.Level)
	}
	if cfg.Database.MaxOpenConns != 7 || cfg.AutoMigrate() {
		t.Errorf("environment not applied: %+v", cfg.Database)
	}
	if !cfg.Enabled("sms") || !cfg.Enabled("email") || cfg.Enabled("oauth") {
		t.Errorf("features: %v", cfg.Features)
	}
	if cfg.HTTP.WriteTimeout != Default().HTTP.WriteTimeout {
		t.Errorf("unset values keep their defaults")
	}
}

func TestFeaturesFromEnvironment(t *testing.T) {
	cfg, err := load(t, "", "GATEHOUSE_FEATURES=oauth,totp")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Enabled("oauth") || !cfg.Enabled("totp") || cfg.Enabled("sms") {
		t.Fatalf("features: %v", cfg.Features)
	}
}

func TestUnknownYAMLKeyIsAnError(t *testing.T) {
	_, err := load(t, "http:\n  listen_adr: 127.0.0.1:1\n")
	if err == nil || !strings.Contains(err.Error(), "listen_adr") {
		t.Fatalf("want an error naming the misspelt key, got %v", err)
	}
}

func TestBadValueTypeIsAnError(t *testing.T) {
	if _, err := load(t, "", "GATEHOUSE_DB_MAX_OPEN_CONNS=many"); err == nil {
		t.Fatal("want an error for a non-numeric pool size")
	}
	if _, err := load(t, "", "GATEHOUSE_HTTP_READ_TIMEOUT=soon"); err == nil {
		t.Fatal("want an error for a bad duration")
	}
}

func TestValidationReportsEveryProblemAtOnce(t *testing.T) {
	_, err := load(t, "", "GATEHOUSE_ENV=staging", "GATEHOUSE_ADDR=nowhere", "GATEHOUSE_LOG_LEVEL=loud",
		"GATEHOUSE_FEATURES=sms,teleport", "GATEHOUSE_DATABASE_URL=mysql://x", "GATEHOUSE_KDF_ITERATIONS=1000",
		"GATEHOUSE_REDIS_URL=http://x", "GATEHOUSE_HTTP_MAX_BODY_BYTES=0", "GATEHOUSE_HTTP_TRUSTED_PROXIES=10.0.0.0/8,nonsense")
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{"env:", "http.addr", "log.level", `"teleport"`, "database.url", "kdf_iterations", "redis.url", "max_body_bytes", "nonsense"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems do not mention %q:\n%s", want, got)
		}
	}
}

// SEC-53: production refuses to start on insecure settings, and says which.
func TestSEC53ProductionRefusesInsecureSettings(t *testing.T) {
	secure := []string{"GATEHOUSE_ENV=production", "GATEHOUSE_MASTER_KEY=a-long-enough-master-passphrase"}
	if _, err := load(t, "", secure...); err != nil {
		t.Fatalf("secure production config refused: %v", err)
	}
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"no master key", []string{"GATEHOUSE_ENV=production"}, "master key is required"},
		{"short master key", []string{"GATEHOUSE_ENV=production", "GATEHOUSE_MASTER_KEY=short"}, "at least 16"},
		{"cookies without Secure", append(secure, "GATEHOUSE_COOKIE_SECURE=false"), "cookies must be Secure"},
		{"debug logging", append(secure, "GATEHOUSE_LOG_LEVEL=debug"), "debug logging"},
		{"benchmark endpoints", append(secure, "GATEHOUSE_BENCH_ENDPOINTS=true"), "benchmark endpoints"},
		{"default admin password", append(secure, "GATEHOUSE_ADMIN_EMAIL=a@example.com", "GATEHOUSE_ADMIN_PASSWORD=changeme"), "admin password"},
		{"bootstrap admin without a password", append(secure, "GATEHOUSE_ADMIN_EMAIL=a@example.com"), "needs GATEHOUSE_ADMIN_PASSWORD"},
		{"default admin password, any case", append(secure, "GATEHOUSE_ADMIN_EMAIL=a@example.com", "GATEHOUSE_ADMIN_PASSWORD=Password123"), "admin password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, "", tc.env...)
			if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, tc.want) {
				t.Fatalf("want a problem mentioning %q, got:\n%s", tc.want, got)
			}
		})
	}
	// All of them together are all reported.
	_, err := load(t, "", "GATEHOUSE_ENV=production", "GATEHOUSE_COOKIE_SECURE=false", "GATEHOUSE_LOG_LEVEL=debug")
	if n := len(problems(t, err)); n != 3 {
		t.Fatalf("want 3 problems at once, got %d: %v", n, err)
	}
}

func TestProductionDefaultsAreSecure(t *testing.T) {
	cfg, err := load(t, "", "GATEHOUSE_ENV=production", "GATEHOUSE_MASTER_KEY=a-long-enough-master-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.CookieSecure() || cfg.AutoMigrate() {
		t.Fatal("production defaults: Secure cookies on, auto-migrate off")
	}
}

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("  from-a-mounted-secret-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, "", "GATEHOUSE_MASTER_KEY_FILE="+path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Keyring.MasterKey != "from-a-mounted-secret-file" {
		t.Fatalf("got %q", cfg.Keyring.MasterKey)
	}
	if _, err := load(t, "", "GATEHOUSE_MASTER_KEY_FILE="+path, "GATEHOUSE_MASTER_KEY=x"); err == nil {
		t.Fatal("both master key settings at once must be refused")
	}
	if _, err := load(t, "", "GATEHOUSE_MASTER_KEY_FILE="+path+".missing"); err == nil {
		t.Fatal("a missing key file must be an error")
	}
}

// SEC-18: config print never shows a secret.
func TestPrintMasksSecrets(t *testing.T) {
	cfg, err := load(t, "", "GATEHOUSE_MASTER_KEY=super-secret-passphrase", "GATEHOUSE_DATABASE_URL=postgres://u:dbpass@h/db",
		"GATEHOUSE_REDIS_URL=redis://:redispass@h:6379", "GATEHOUSE_ADMIN_EMAIL=a@example.com", "GATEHOUSE_ADMIN_PASSWORD=adminpass-long-enough")
	if err != nil {
		t.Fatal(err)
	}
	out := cfg.Print()
	for _, secret := range []string{"super-secret-passphrase", "dbpass", "redispass", "adminpass"} {
		if strings.Contains(out, secret) {
			t.Errorf("config print shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "GATEHOUSE_MASTER_KEY") || !strings.Contains(out, Mask) || !strings.Contains(out, "a@example.com") {
		t.Errorf("print should list every setting, masking only secrets:\n%s", out)
	}
}

func TestEveryFieldIsDocumentedAndNamedOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Fields() {
		if f.Env == "" || !strings.HasPrefix(f.Env, "GATEHOUSE_") || f.YAML == "" || f.Doc == "" {
			t.Errorf("field %+v lacks env, yaml or doc", f)
		}
		if seen[f.Env] {
			t.Errorf("%s used twice", f.Env)
		}
		seen[f.Env] = true
	}
}

// docs/configuration.md is generated; regenerate with `go run ./server/cmd/gatehouse config docs > docs/configuration.md`.
func TestConfigurationDocIsCurrent(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != Markdown() {
		t.Fatal("docs/configuration.md is out of date: run `go run ./server/cmd/gatehouse config docs > docs/configuration.md`")
	}
}

func TestShutdownDelayBounds(t *testing.T) {
	cfg, err := load(t, "")
	if err != nil || cfg.HTTP.ShutdownDelay != 0 {
		t.Fatalf("default shutdown delay %s (%v), want 0: the listener closes at once unless asked", cfg.HTTP.ShutdownDelay, err)
	}
	if cfg, err := load(t, "", "GATEHOUSE_HTTP_SHUTDOWN_DELAY=5s"); err != nil || cfg.HTTP.ShutdownDelay != 5*time.Second {
		t.Fatalf("5s: %s, %v", cfg.HTTP.ShutdownDelay, err)
	}
	for _, v := range []string{"-1s", "5m1s"} {
		_, err := load(t, "", "GATEHOUSE_HTTP_SHUTDOWN_DELAY="+v)
		if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, "http.shutdown_delay") {
			t.Errorf("%s: problems do not name http.shutdown_delay:\n%s", v, got)
		}
	}
}
