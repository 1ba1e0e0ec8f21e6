package config

import (
	"strings"
	"testing"
	"time"
)

func TestVaultSecretsSettings(t *testing.T) {
	cfg, err := load(t, `
secrets:
  vault:
    address: https://vault.example.com:8200
    approle:
      role_id: 6d2d1c2e-role
    namespace: team-a/
    max_versions: 25
`, "GATEHOUSE_SECRETS_VAULT_APPROLE_SECRET_ID=approle-secret-id-from-env", "GATEHOUSE_SECRETS_VAULT_TIMEOUT=3s")
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Secrets.Vault
	if v.Address != "https://vault.example.com:8200" || v.AppRole.RoleID != "6d2d1c2e-role" || v.AppRole.SecretID != "approle-secret-id-from-env" ||
		v.AppRole.Mount != "approle" || v.Mount != "secret" || v.Namespace != "team-a/" || v.Timeout != 3*time.Second || v.MaxVersions != 25 {
		t.Fatalf("secrets.vault = %+v", v)
	}
	// SEC-18: the secret_id and the token are masked by config print.
	cfg.Secrets.Vault.Token = "hvs.token-in-config"
	if out := cfg.Print(); strings.Contains(out, "approle-secret-id-from-env") || strings.Contains(out, "hvs.token-in-config") ||
		!strings.Contains(out, "GATEHOUSE_SECRETS_VAULT_APPROLE_ROLE_ID") {
		t.Fatalf("config print:\n%s", out)
	}
}

func TestVaultSecretsProblems(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"GATEHOUSE_SECRETS_VAULT_TOKEN=hvs.x"}, "secrets.vault.address: required when other secrets.vault settings are set"},
		{[]string{"GATEHOUSE_SECRETS_VAULT_ADDRESS=vault:8200", "GATEHOUSE_SECRETS_VAULT_TOKEN=hvs.x"}, "secrets.vault.address: must be an absolute http(s) URL"},
		{[]string{"GATEHOUSE_SECRETS_VAULT_ADDRESS=http://v:8200"}, "secrets.vault: set token, or approle.role_id and approle.secret_id"},
		{[]string{"GATEHOUSE_SECRETS_VAULT_ADDRESS=http://v:8200", "GATEHOUSE_SECRETS_VAULT_TOKEN=hvs.x", "GATEHOUSE_SECRETS_VAULT_APPROLE_ROLE_ID=r"}, "not both"},
		{[]string{"GATEHOUSE_SECRETS_VAULT_ADDRESS=http://v:8200", "GATEHOUSE_SECRETS_VAULT_APPROLE_SECRET_ID=s"}, "secrets.vault.approle: role_id and secret_id must be set together"},
		{[]string{"GATEHOUSE_SECRETS_VAULT_TIMEOUT=0s"}, "secrets.vault.timeout: must be positive"},
		{[]string{"GATEHOUSE_SECRETS_VAULT_MAX_VERSIONS=-1"}, "secrets.vault.max_versions: must not be negative"},
		{[]string{"GATEHOUSE_ENV=production", "GATEHOUSE_SECRETS_VAULT_ADDRESS=http://vault:8200", "GATEHOUSE_SECRETS_VAULT_TOKEN=hvs.x"}, "production: secrets.vault.address must use https"},
	}
	for _, c := range cases {
		_, err := load(t, "", c.env...)
		if err == nil {
			t.Errorf("%v: accepted, want %q", c.env, c.want)
			continue
		}
		if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, c.want) {
			t.Errorf("%v: missing problem %q in:\n%s", c.env, c.want, got)
		}
	}
	_, err := load(t, "secrets:\n  vault:\n    mount: \"\"\n")
	if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, "secrets.vault: mount and approle.mount must not be empty") {
		t.Errorf("an empty mount is accepted:\n%s", got)
	}
	if _, err := load(t, "", "GATEHOUSE_SECRETS_VAULT_ADDRESS=http://127.0.0.1:8200", "GATEHOUSE_SECRETS_VAULT_TOKEN=hvs.x"); err != nil {
		t.Fatalf("a token configuration is refused: %v", err)
	}
}
