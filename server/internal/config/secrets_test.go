package config

import (
	"strings"
	"testing"
	"time"
)

func TestSecretsSettings(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if got := c.SecretBackends(); strings.Join(got, ",") != "db,env" {
		t.Fatalf("default backends = %v", got)
	}
	for name, mutate := range map[string]func(*Config){
		"default backend unknown":        func(c *Config) { c.Secrets.DefaultBackend = "s3" },
		"default backend not configured": func(c *Config) { c.Secrets.DefaultBackend = "vault" },
		"value limit over body limit":    func(c *Config) { c.Secrets.MaxValueBytes = 1 << 20 },
		"value limit zero":               func(c *Config) { c.Secrets.MaxValueBytes = 0 },
		"negative cache ttl":             func(c *Config) { c.Secrets.CacheTTL = -1 },
		"short hook key":                 func(c *Config) { c.Secrets.RotationHookKey = "short" },
		"env prefix reaches settings":    func(c *Config) { c.Secrets.EnvPrefix = "GATEHOUSE_" },
		"env prefix reaches master key":  func(c *Config) { c.Secrets.EnvPrefix = "GATEHOUSE_MASTER_" },
		"env prefix lower case":          func(c *Config) { c.Secrets.EnvPrefix = "app_secret_" },
		"env prefix without underscore":  func(c *Config) { c.Secrets.EnvPrefix = "APPSECRET" },
		"audit batch zero":               func(c *Config) { c.Secrets.AuditBatch = 0 },
	} {
		c := Default()
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "secrets") {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	c = Default()
	c.Secrets.EnvEnabled = false
	c.Secrets.EnvPrefix = "GATEHOUSE_" // unused, so not refused
	if err := c.Validate(); err != nil {
		t.Fatalf("env off: %v", err)
	}
}

func TestRotationWarningSetting(t *testing.T) {
	c := Default()
	if c.Jobs.RotationWarning != 7*24*time.Hour {
		t.Fatalf("default rotation warning = %v, want 7 days", c.Jobs.RotationWarning)
	}
	c.Jobs.RotationWarning = 0 // off
	if err := c.Validate(); err != nil {
		t.Fatalf("rotation warnings off: %v", err)
	}
	c.Jobs.RotationWarning = -time.Hour
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "jobs.rotation_warning") {
		t.Fatalf("negative rotation warning: %v", err)
	}
}
