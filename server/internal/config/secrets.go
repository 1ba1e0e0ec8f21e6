package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// secretBackendKinds are the secrets backends a server can offer.
var secretBackendKinds = []string{"db", "env", "vault", "aws", "azure", "gcp"}

// SecretBackends lists the backends this configuration enables: db always, env when
// env_enabled, and each external one when its required setting is set.
func (c *Config) SecretBackends() []string {
	out := []string{"db"}
	s := c.Secrets
	if s.EnvEnabled {
		out = append(out, "env")
	}
	if s.Vault.Address != "" {
		out = append(out, "vault")
	}
	if s.AWS.Region != "" {
		out = append(out, "aws")
	}
	if s.Azure.VaultURL != "" {
		out = append(out, "azure")
	}
	if s.GCP.Project != "" {
		out = append(out, "gcp")
	}
	return out
}

// secretsProblems checks the secrets manager's own settings (the external backends check
// theirs in cloudSecretsProblems and vaultSecretsProblems).
func (c *Config) secretsProblems() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	s := c.Secrets
	switch {
	case !slices.Contains(secretBackendKinds, s.DefaultBackend):
		add("secrets.default_backend: %q is not one of %s", s.DefaultBackend, strings.Join(secretBackendKinds, ", "))
	case !slices.Contains(c.SecretBackends(), s.DefaultBackend):
		add("secrets.default_backend: the %s backend is not configured", s.DefaultBackend)
	}
	// A value travels base64-encoded in JSON: 4/3 of its size plus the envelope.
	if s.MaxValueBytes < 1 || int64(s.MaxValueBytes)/3*4+4096 > c.HTTP.MaxBodyBytes {
		add("secrets.max_value_bytes: must be positive and fit http.max_body_bytes (%d) once base64-encoded", c.HTTP.MaxBodyBytes)
	}
	if s.CacheTTL < 0 || s.RecoveryWindow < 0 || s.AccessCacheAge < 0 {
		add("secrets: cache_ttl, access_cache_max_age and recovery_window must not be negative")
	}
	if s.PurgeInterval <= 0 || s.AuditBatch < 1 || s.AuditBatch > 10_000 {
		add("secrets: purge_interval must be positive and audit_batch between 1 and 10000")
	}
	if s.RotationHookKey != "" && len(s.RotationHookKey) < 32 {
		add("secrets.rotation_hook_key: at least 32 bytes")
	}
	if s.EnvEnabled {
		p = append(p, envPrefixProblems(s.EnvPrefix)...)
	}
	return p
}

// envPrefixProblems keeps the env backend away from the server's own settings: with a prefix
// such as GATEHOUSE_, a secret named master-key would read GATEHOUSE_MASTER_KEY.
func envPrefixProblems(prefix string) []string {
	valid := len(prefix) >= 4 && strings.HasSuffix(prefix, "_")
	for i := range len(prefix) {
		ch := prefix[i]
		ok := ch >= 'A' && ch <= 'Z' || ch == '_' || i > 0 && ch >= '0' && ch <= '9'
		valid = valid && ok
	}
	if !valid {
		return []string{fmt.Sprintf("secrets.env_prefix: %q must be at least 4 characters of [A-Z0-9_], start with a letter or '_' and end with '_'", prefix)}
	}
	for _, name := range envVariables(reflect.TypeOf(Config{})) {
		if strings.HasPrefix(name, prefix) {
			return []string{fmt.Sprintf("secrets.env_prefix: %q would let secrets read the server's own setting %s", prefix, name)}
		}
	}
	return nil
}

// envVariables lists every GATEHOUSE_* variable the configuration reads.
func envVariables(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Tag.Get("env") == "" {
			out = append(out, envVariables(f.Type)...)
			continue
		}
		if name := f.Tag.Get("env"); name != "" {
			out = append(out, name)
		}
	}
	return out
}
