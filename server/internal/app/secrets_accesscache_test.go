package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// The access cache (internal/accesscache) answers service-account token and policy lookups of
// GET /api/v1/secrets/{name}/value from memory. These tests prove it changes no answer: a
// revoked token, a deleted service account and a created or deleted policy take effect at the
// very next request, on the replica that made the change and, through Redis, on the others.

const acSecret = "apps/cache/token"

// acServer is a server (replica) with its admin client.
type acServer struct {
	env   *testenv.Env
	admin *client.Client
}

func newACServer(t *testing.T, env *testenv.Env, createAdmin bool) *acServer {
	t.Helper()
	if createAdmin {
		env.CreateUser(t, secAdminEmail, secAdminPass, api.RoleAdmin)
	}
	admin, _ := env.LoginBearer(t, secAdminEmail, secAdminPass)
	return &acServer{env: env, admin: admin}
}

// read sends the value read with a service-account token and returns the status and body.
func (s *acServer) read(t *testing.T, token string) (int, string) {
	t.Helper()
	resp := rawGetH(t, s.env.URL+"/api/v1/secrets/"+acSecret+"/value", http.Header{"Authorization": {"Bearer " + token}})
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func (s *acServer) want(t *testing.T, token string, status int, what string) {
	t.Helper()
	if got, body := s.read(t, token); got != status {
		t.Fatalf("%s: status %d (%s), want %d", what, got, body, status)
	}
}

// accessHits is the access cache's hit count on the server.
func accessHits(t *testing.T, env *testenv.Env) float64 {
	t.Helper()
	mfs, err := env.App.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_accesscache_lookups_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "hit" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// acFixture makes the secret, a service account with a read policy and a token.
func acFixture(t *testing.T, s *acServer) (accountID, policyID, token string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.admin.CreateSecret(ctx, api.CreateSecretRequest{Name: acSecret, Value: text("cached-access-value-0042")}); err != nil {
		t.Fatal(err)
	}
	sa, err := s.admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "cache-reader"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: sa.ID, Pattern: "apps/**", Actions: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	return sa.ID, p.ID, newSAToken(t, s, sa.ID)
}

func newSAToken(t *testing.T, s *acServer, accountID string) string {
	t.Helper()
	tok, err := s.admin.CreateServiceAccountToken(context.Background(), accountID, api.CreateServiceAccountTokenRequest{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Token
}

// newestTokenID is the ID of the account's newest token (tokens are listed oldest first).
func newestTokenID(t *testing.T, s *acServer, accountID string) string {
	t.Helper()
	list, err := s.admin.ServiceAccountTokens(context.Background(), accountID)
	if err != nil || len(list) == 0 {
		t.Fatalf("tokens: %v %v", list, err)
	}
	return list[len(list)-1].ID
}

// SEC-42 and token revocation with the access cache on one server: every change applies at
// the next request.
func TestSecretsAccessCacheAppliesChangesAtOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		s := newACServer(t, testenv.New(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Secrets.AccessCacheAge = time.Hour // only invalidation can make it read again
		})), true)
		ctx := context.Background()
		accountID, policyID, token := acFixture(t, s)
		other := newSAToken(t, s, accountID)

		for range 3 {
			s.want(t, token, 200, "cached read")
			s.want(t, other, 200, "cached read, other token")
		}
		if accessHits(t, s.env) == 0 {
			t.Fatal("the access cache answered nothing")
		}

		// Revoke one token (other, the newest): refused next; the account's first still works.
		if err := s.admin.RevokeServiceAccountToken(ctx, accountID, newestTokenID(t, s, accountID)); err != nil {
			t.Fatal(err)
		}
		s.want(t, other, 401, "revoked token, next request")
		s.want(t, token, 200, "the account's other token")

		// Delete the policy: forbidden next; recreate it: allowed next.
		if err := s.admin.DeleteSecretPolicy(ctx, policyID); err != nil {
			t.Fatal(err)
		}
		s.want(t, token, 403, "policy deleted, next request")
		if _, err := s.admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: accountID, Pattern: acSecret, Actions: []string{"read"}}); err != nil {
			t.Fatal(err)
		}
		s.want(t, token, 200, "policy created, next request")

		// Delete the account: its cached token is refused next.
		if err := s.admin.DeleteServiceAccount(ctx, accountID); err != nil {
			t.Fatal(err)
		}
		s.want(t, token, 401, "account deleted, next request")
	})
}

// Two replicas on one PostgreSQL database sharing Redis: what one replica changes, the other
// applies at its next request although it had the token and policies cached.
func TestSecretsAccessCacheAcrossReplicas(t *testing.T) {
	ea, eb := twoReplicas(t)
	a, b := newACServer(t, ea, true), newACServer(t, eb, false)
	ctx := context.Background()
	accountID, policyID, _ := acFixture(t, a)
	for i := range 6 {
		on, other := a, b
		if i%2 == 1 {
			on, other = b, a
		}
		token := newSAToken(t, on, accountID)
		for range 3 {
			other.want(t, token, 200, "cached read on the other replica")
		}
		if err := on.admin.RevokeServiceAccountToken(ctx, accountID, newestTokenID(t, on, accountID)); err != nil {
			t.Fatal(err)
		}
		other.want(t, token, 401, "token revoked on the other replica")
	}

	token := newSAToken(t, a, accountID)
	for i := range 4 {
		on, other := a, b
		if i%2 == 1 {
			on, other = b, a
		}
		other.want(t, token, 200, "cached read before the policy change")
		if err := on.admin.DeleteSecretPolicy(ctx, policyID); err != nil {
			t.Fatal(err)
		}
		other.want(t, token, 403, "policy deleted on the other replica")
		other.want(t, token, 403, "policy deleted on the other replica, again")
		p, err := on.admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: accountID, Pattern: "apps/**", Actions: []string{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		policyID = p.ID
		other.want(t, token, 200, "policy created on the other replica")
	}
	if accessHits(t, ea) == 0 || accessHits(t, eb) == 0 {
		t.Fatal("a replica's access cache answered nothing")
	}

	b.want(t, token, 200, "cached read before the account is deleted")
	if err := a.admin.DeleteServiceAccount(ctx, accountID); err != nil {
		t.Fatal(err)
	}
	b.want(t, token, 401, "account deleted on the other replica")
}

// Without Redis, replicas on one PostgreSQL database cannot tell each other: the replica that
// revokes refuses at once, the others once their entry reaches secrets.access_cache_max_age
// (the documented bound).
func TestSecretsAccessCacheWithoutRedisIsBoundedByMaxAge(t *testing.T) {
	const maxAge = 400 * time.Millisecond
	db := testenv.FreshPostgres(t)
	cfg := testenv.WithConfig(func(c *config.Config) {
		c.Database.URL = db
		c.Secrets.AccessCacheAge = maxAge
	})
	a := newACServer(t, testenv.New(t, testenv.Postgres, cfg), true)
	b := newACServer(t, testenv.New(t, testenv.Postgres, cfg), false)
	ctx := context.Background()
	accountID, _, token := acFixture(t, a)
	b.want(t, token, 200, "read on b")
	if err := a.admin.RevokeServiceAccountToken(ctx, accountID, newestTokenID(t, a, accountID)); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	a.want(t, token, 401, "revoked on this replica, next request")
	for {
		status, _ := b.read(t, token)
		if status == 401 {
			break
		}
		if status != 200 || time.Since(revoked) > maxAge+200*time.Millisecond {
			t.Fatalf("replica b still answered %d %v after the revocation (max age %v)", status, time.Since(revoked), maxAge)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// SEC-41: a read whose audit record cannot be written is not answered, and the value is not
// in the answer. The failure is the database's own (an insert the schema refuses), so the
// audit writer's real INSERT is what fails.
func TestSEC41AuditFailureWithholdsValue(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		s := newACServer(t, testenv.New(t, dialect), true)
		_, _, token := acFixture(t, s)
		s.want(t, token, 200, "read with a working audit trail")

		block, unblock := "CREATE TRIGGER audit_off BEFORE INSERT ON secret_audit BEGIN SELECT RAISE(ABORT, 'audit off'); END",
			"DROP TRIGGER audit_off"
		if dialect == testenv.Postgres {
			block, unblock = "ALTER TABLE secret_audit ADD CONSTRAINT audit_off CHECK (false) NOT VALID",
				"ALTER TABLE secret_audit DROP CONSTRAINT audit_off"
		}
		sqlDB := s.env.App.DB.SQL()
		if _, err := sqlDB.ExecContext(context.Background(), block); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			status, body := s.read(t, token)
			if status != http.StatusServiceUnavailable || !strings.Contains(body, string(api.CodeAuditUnavailable)) {
				t.Fatalf("read with the audit trail refusing inserts: %d %s", status, body)
			}
			if strings.Contains(body, "cached-access-value-0042") {
				t.Fatal("the value was answered without a durable audit record")
			}
		}
		if _, err := sqlDB.ExecContext(context.Background(), unblock); err != nil {
			t.Fatal(err)
		}
		s.want(t, token, 200, "read once the audit trail works again")
	})
}
