package config

import (
	"strings"
	"testing"
	"time"
)

func TestCloudSecretsSettings(t *testing.T) {
	cfg, err := load(t, `
secrets:
  aws:
    region: eu-west-1
  azure:
    vault_url: https://gh.vault.azure.net/
    keep_deleted: true
  gcp:
    project: gatehouse-prod
    timeout: 3s
`, "GATEHOUSE_SECRETS_AWS_ACCESS_KEY_ID=AKIAEXAMPLE000000001", "GATEHOUSE_SECRETS_AWS_SECRET_ACCESS_KEY=aws-secret-key-from-env",
		"GATEHOUSE_SECRETS_AZURE_CLIENT_ID=00000000-0000-4000-8000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Secrets
	if s.AWS.Region != "eu-west-1" || s.AWS.AccessKeyID != "AKIAEXAMPLE000000001" || s.AWS.SecretAccessKey != "aws-secret-key-from-env" ||
		s.AWS.Timeout != 10*time.Second || s.Azure.VaultURL != "https://gh.vault.azure.net/" || !s.Azure.KeepDeleted ||
		s.Azure.ClientID == "" || s.GCP.Project != "gatehouse-prod" || s.GCP.Timeout != 3*time.Second {
		t.Fatalf("secrets = %+v", s)
	}
	// SEC-18: the AWS secret key is masked by config print.
	if out := cfg.Print(); strings.Contains(out, "aws-secret-key-from-env") || !strings.Contains(out, "GATEHOUSE_SECRETS_AWS_ACCESS_KEY_ID") {
		t.Fatalf("config print:\n%s", out)
	}
}

func TestCloudSecretsProblems(t *testing.T) {
	_, err := load(t, "", "GATEHOUSE_SECRETS_AWS_ACCESS_KEY_ID=AKIAEXAMPLE000000001", "GATEHOUSE_SECRETS_AWS_ENDPOINT=ftp://x",
		"GATEHOUSE_SECRETS_AZURE_VAULT_URL=http://gh.vault.azure.net/", "GATEHOUSE_SECRETS_GCP_ENDPOINT=no-port",
		"GATEHOUSE_SECRETS_GCP_TIMEOUT=0s")
	got := strings.Join(problems(t, err), "\n")
	for _, want := range []string{
		"secrets.aws: access_key_id and secret_access_key must be set together",
		"secrets.aws.region: required",
		"secrets.aws.endpoint: must be an absolute http(s) URL",
		"secrets.azure.vault_url: must be https://",
		"secrets.gcp.project: required when secrets.gcp.endpoint is set",
		"secrets.gcp.endpoint: \"no-port\" is not host:port",
		"secrets: aws.timeout, azure.timeout and gcp.timeout must be positive",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
	_, err = load(t, "", "GATEHOUSE_ENV=production", "GATEHOUSE_SECRETS_AWS_REGION=eu-west-1", "GATEHOUSE_SECRETS_AWS_ENDPOINT=http://localstack:4566")
	if got := strings.Join(problems(t, err), "\n"); !strings.Contains(got, "production: secrets.aws.endpoint must use https") {
		t.Errorf("production accepted a plain-HTTP AWS endpoint:\n%s", got)
	}
}
