package app_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/secrets/aws/awstest"
	"gatehouse/server/internal/secrets/vault/vaulttest"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

// The secrets API over the external backends, wired from configuration exactly as in
// production: Vault is a real Vault core (scripts/vaultdev), AWS a loopback server speaking
// Secrets Manager's JSON protocol with SigV4 checked. Only the addresses differ.
func TestSecretsAPIOverVaultAndAWS(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		v := vaulttest.Shared(t)
		fake := awstest.Start(t)
		se := newSecretsEnv(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Secrets.Vault.Address, c.Secrets.Vault.Token = v.Addr, v.RootToken
			c.Secrets.AWS = config.SecretsAWS{Region: awstest.Region, Endpoint: fake.URL, AccessKeyID: awstest.AccessKeyID,
				SecretAccessKey: awstest.SecretAccessKey, Timeout: c.Secrets.AWS.Timeout}
		}))
		ctx, admin := se.ctx, se.admin

		backends, err := admin.SecretBackends(ctx)
		if err != nil {
			t.Fatal(err)
		}
		healthy := map[string]bool{}
		for _, b := range backends {
			healthy[b.Kind] = b.Healthy
		}
		if !healthy["db"] || !healthy["vault"] || !healthy["aws"] {
			t.Fatalf("backends %+v", backends)
		}

		suffix := make([]byte, 6)
		_, _ = rand.Read(suffix)
		for _, kind := range []string{"vault", "aws"} {
			name := "e2e/" + kind + "/" + hex.EncodeToString(suffix) + "/api-key"
			sec, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Backend: kind, Value: text("v1-" + kind)})
			if err != nil || sec.Backend != kind {
				t.Fatalf("%s: create %+v %v", kind, sec, err)
			}
			if _, err := admin.PutSecretValue(ctx, name, "v2-"+kind); err != nil {
				t.Fatalf("%s: put: %v", kind, err)
			}
			if got, err := admin.SecretValue(ctx, name, 0); err != nil || got.Value != "v2-"+kind || got.Version != 2 {
				t.Fatalf("%s: current %+v %v", kind, got, err)
			}
			if got, err := admin.SecretValue(ctx, name, 1); err != nil || got.Value != "v1-"+kind {
				t.Fatalf("%s: version 1 %+v %v", kind, got, err)
			}
			if _, err := admin.RollbackSecret(ctx, name, 1); err != nil {
				t.Fatalf("%s: rollback: %v", kind, err)
			}
			if got, err := admin.SecretValue(ctx, name, 0); err != nil || got.Value != "v1-"+kind || got.Version != 3 {
				t.Fatalf("%s: after rollback %+v %v", kind, got, err)
			}
			if _, err := admin.DeleteSecret(ctx, name); err != nil {
				t.Fatalf("%s: delete: %v", kind, err)
			}
		}
	})
}
