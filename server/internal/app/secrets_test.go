package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

const (
	secAdminEmail   = "officer@example.com"
	secAdminPass    = "vault-keeper-passphrase-17"
	secSupportEmail = "helpdesk@example.com"
	secSupportPass  = "friendly-helper-passphrase"
	secUserEmail    = "dev@example.com"
	secUserPass     = "builder-of-things-2026"
)

// secretsEnv starts a server with an admin, a support person and a plain user signed in with
// bearer tokens.
type secretsEnv struct {
	env                  *testenv.Env
	admin, support, user *client.Client
	adminID, supportID   string
	adminToken           string
	ctx                  context.Context
}

func newSecretsEnv(t *testing.T, dialect string, opts ...testenv.Option) *secretsEnv {
	t.Helper()
	env := testenv.New(t, dialect, opts...)
	a := env.CreateUser(t, secAdminEmail, secAdminPass, api.RoleAdmin)
	s := env.CreateUser(t, secSupportEmail, secSupportPass, api.RoleSupport)
	env.CreateUser(t, secUserEmail, secUserPass)
	admin, tok := env.LoginBearer(t, secAdminEmail, secAdminPass)
	support, _ := env.LoginBearer(t, secSupportEmail, secSupportPass)
	user, _ := env.LoginBearer(t, secUserEmail, secUserPass)
	return &secretsEnv{env: env, admin: admin, support: support, user: user, adminID: a.ID, supportID: s.ID,
		adminToken: tok.AccessToken, ctx: context.Background()}
}

// withToken is a client for the server that sends a bearer token (a service account's).
func (se *secretsEnv) withToken(t *testing.T, token string) *client.Client {
	t.Helper()
	c := se.env.NewClient(t)
	c.SetBearerToken(token)
	return c
}

func wantCode(t *testing.T, err error, code api.Code) {
	t.Helper()
	if got := client.ErrorCode(err); got != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func text(s string) *string { return &s }

// CRUD, versions, rollback and names with slashes, through the public API.
func TestSecretsAPI(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		se := newSecretsEnv(t, dialect)
		ctx, admin := se.ctx, se.admin
		name := "billing/prod/db-password"

		sec, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: text("first-pass"), Description: "main DB",
			Owner: "billing-team", Labels: map[string]string{"team": "billing", "env": "prod"}})
		if err != nil {
			t.Fatal(err)
		}
		if sec.Name != name || sec.Backend != "db" || sec.CurrentVersion != 1 || sec.Labels["team"] != "billing" || sec.CreatedBy != "user:"+se.adminID {
			t.Fatalf("created: %+v", sec)
		}
		got, err := admin.GetSecret(ctx, name)
		if err != nil || got.Description != "main DB" || got.Owner != "billing-team" {
			t.Fatalf("metadata: %+v %v", got, err)
		}
		v, err := admin.SecretValue(ctx, name, 0)
		if err != nil || v.Value != "first-pass" || v.Version != 1 || v.Stage != api.StageCurrent || v.Encoding != api.EncodingUTF8 {
			t.Fatalf("value: %+v %v", v, err)
		}
		for _, val := range []string{"second-pass", "third-pass"} {
			if _, err := admin.PutSecretValue(ctx, name, val); err != nil {
				t.Fatal(err)
			}
		}
		vs, err := admin.SecretVersions(ctx, name)
		if err != nil || len(vs) != 3 || vs[2].Stage != api.StageCurrent || vs[1].Stage != api.StagePrevious || vs[0].Stage != "" {
			t.Fatalf("versions: %+v %v", vs, err)
		}
		if v, _ := admin.SecretValue(ctx, name, 1); v == nil || v.Value != "first-pass" {
			t.Fatalf("version 1: %+v", v)
		}
		rb, err := admin.RollbackSecret(ctx, name, 1)
		if err != nil || rb.Version != 4 || rb.Stage != api.StageCurrent {
			t.Fatalf("rollback: %+v %v", rb, err)
		}
		if v, _ := admin.SecretValue(ctx, name, 0); v == nil || v.Value != "first-pass" || v.Version != 4 {
			t.Fatalf("after rollback: %+v", v)
		}
		// Metadata-only update: no new version.
		desc := "main DB (rotated monthly)"
		if s, err := admin.UpdateSecret(ctx, name, api.UpdateSecretRequest{Description: &desc}); err != nil || s.CurrentVersion != 4 || s.Description != desc {
			t.Fatalf("metadata update: %+v %v", s, err)
		}

		// Binary values travel base64-encoded, both ways.
		bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0x80}
		bv, enc := client.BinaryValue(bin)
		if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "certs/tls.key", Value: bv, Encoding: enc}); err != nil {
			t.Fatal(err)
		}
		bvv, err := admin.SecretValue(ctx, "certs/tls.key", 0)
		if err != nil || bvv.Encoding != api.EncodingBase64 {
			t.Fatalf("binary value: %+v %v", bvv, err)
		}
		if b, err := client.Bytes(bvv); err != nil || !bytes.Equal(b, bin) {
			t.Fatalf("binary round trip: %v %v", b, err)
		}

		// Slash names work in every route, deep or shallow; a name that is a prefix of
		// another is its own secret.
		for _, n := range []string{"a", "a/b", "a/b/c", "x.y/z_w/v-1"} {
			if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: n, Value: text("v:" + n)}); err != nil {
				t.Fatalf("create %s: %v", n, err)
			}
		}
		for _, n := range []string{"a", "a/b", "a/b/c", "x.y/z_w/v-1"} {
			if v, err := admin.SecretValue(ctx, n, 0); err != nil || v.Value != "v:"+n || v.Name != n {
				t.Fatalf("read %s: %+v %v", n, v, err)
			}
			if _, err := admin.SecretVersions(ctx, n); err != nil {
				t.Fatalf("versions of %s: %v", n, err)
			}
			if _, err := admin.SecretAudit(ctx, n, 0, 0); err != nil {
				t.Fatalf("audit of %s: %v", n, err)
			}
		}
		// %2F-escaped slashes mean the same name.
		var esc api.SecretValue
		if _, err := admin.Do(ctx, http.MethodGet, "/api/v1/secrets/a%2Fb%2Fc/value", nil, &esc); err != nil || esc.Value != "v:a/b/c" {
			t.Fatalf("escaped slashes: %+v %v", esc, err)
		}

		list, err := admin.ListSecrets(ctx, api.SecretQuery{Prefix: "a/"})
		if err != nil || list.Total != 2 || list.Secrets[0].Name != "a/b" || list.Secrets[1].Name != "a/b/c" {
			t.Fatalf("list by prefix: %+v %v", list, err)
		}
		list, err = admin.ListSecrets(ctx, api.SecretQuery{Label: "team=billing"})
		if err != nil || list.Total != 1 || list.Secrets[0].Name != name {
			t.Fatalf("list by label: %+v %v", list, err)
		}
		list, err = admin.ListSecrets(ctx, api.SecretQuery{PerPage: 2, Page: 2})
		if err != nil || list.Total != 6 || len(list.Secrets) != 2 || list.Page != 2 {
			t.Fatalf("pagination: %+v %v", list, err)
		}

		// Bad input.
		for _, bad := range []string{"a/../b", "..", "a//b", "billing/", strings.Repeat("n", 513), "sp ace", "app/value"} {
			_, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: bad, Value: text("x")})
			wantCode(t, err, api.CodeInvalidSecretName)
		}
		_, err = admin.SecretValue(ctx, "a//b", 0)
		wantCode(t, err, api.CodeInvalidSecretName)
		_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "big", Value: text(strings.Repeat("x", 64<<10+1))})
		wantCode(t, err, api.CodeSecretTooLarge)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusRequestEntityTooLarge {
			t.Fatalf("too large: %v", err)
		}
		if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "big", Value: text(strings.Repeat("x", 64<<10))}); err != nil {
			t.Fatalf("a value at the limit: %v", err)
		}
		_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: text("dup")})
		wantCode(t, err, api.CodeConflict)
		_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "nobackend", Backend: "s3", Value: text("x")})
		wantCode(t, err, api.CodeUnknownBackend)
		_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "empty", Value: text("")})
		wantCode(t, err, api.CodeInvalidRequest)
		_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "badb64", Value: text("***"), Encoding: api.EncodingBase64})
		wantCode(t, err, api.CodeInvalidRequest)
		_, err = admin.SecretValue(ctx, "no/such/secret", 0)
		wantCode(t, err, api.CodeNotFound)
		_, err = admin.SecretValue(ctx, name, 99)
		wantCode(t, err, api.CodeNotFound)
		_, err = admin.RollbackSecret(ctx, name, 99)
		wantCode(t, err, api.CodeNotFound)
		_, err = admin.Do(ctx, http.MethodPatch, "/api/v1/secrets/a/value", nil, nil)
		wantCode(t, err, api.CodeMethodNotAllowed)
		_, err = admin.Do(ctx, http.MethodPost, "/api/v1/secrets/a/value", nil, nil)
		wantCode(t, err, api.CodeMethodNotAllowed)
		_, err = admin.Do(ctx, http.MethodPut, secretURL(name), map[string]any{"value": "x", "admin": true}, nil)
		wantCode(t, err, api.CodeUnknownField)

		// Soft delete, listing of deleted secrets, restore.
		if d, err := admin.DeleteSecret(ctx, "a/b"); err != nil || d.DeletedAt == nil || d.PurgeAfter == nil {
			t.Fatalf("delete: %+v %v", d, err)
		}
		_, err = admin.SecretValue(ctx, "a/b", 0)
		wantCode(t, err, api.CodeNotFound)
		if l, _ := admin.ListSecrets(ctx, api.SecretQuery{Deleted: true}); l == nil || l.Total != 1 || l.Secrets[0].Name != "a/b" {
			t.Fatalf("deleted list: %+v", l)
		}
		_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "a/b", Value: text("again")})
		wantCode(t, err, api.CodeConflict)
		if _, err := admin.RestoreSecret(ctx, "a/b"); err != nil {
			t.Fatal(err)
		}
		if v, err := admin.SecretValue(ctx, "a/b", 0); err != nil || v.Value != "v:a/b" {
			t.Fatalf("restored: %+v %v", v, err)
		}
		_, err = admin.RestoreSecret(ctx, "a/b")
		wantCode(t, err, api.CodeConflict)
	})
}

func secretURL(name string) string { return "/api/v1/secrets/" + name }

// SEC-40: lists and metadata never carry values; value reads are not cacheable.
func TestSEC40ListsNeverReturnValues(t *testing.T) {
	se := newSecretsEnv(t, testenv.SQLite)
	const marker = "sec40-marker-value-d41d8cd9"
	if _, err := se.admin.CreateSecret(se.ctx, api.CreateSecretRequest{Name: "app/key", Value: text(marker)}); err != nil {
		t.Fatal(err)
	}
	if _, err := se.admin.PutSecretValue(se.ctx, "app/key", marker+"-2"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/secrets", "/api/v1/secrets?prefix=app", "/api/v1/secrets/app/key", "/api/v1/secrets/app/key/versions",
		"/api/v1/secrets/app/key/audit", "/api/v1/admin/secrets/audit"} {
		raw := rawBody(t, se, p)
		if strings.Contains(raw, marker) {
			t.Fatalf("GET %s returned the value: %s", p, raw)
		}
		if strings.Contains(raw, `"value"`) {
			t.Fatalf("GET %s has a value field: %s", p, raw)
		}
	}
	resp := bearerGet(t, se, "/api/v1/secrets/app/key/value")
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("value response Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	// And never in the server's logs.
	if strings.Contains(se.env.Logs.String(), marker) {
		t.Fatal("the value reached the logs")
	}
}

func bearerGet(t *testing.T, se *secretsEnv, path string) *http.Response {
	t.Helper()
	return rawGetH(t, se.env.URL+path, http.Header{"Authorization": {"Bearer " + se.adminToken}})
}

func rawBody(t *testing.T, se *secretsEnv, path string) string {
	t.Helper()
	resp := bearerGet(t, se, path)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}

// SEC-42: support users get 403 everywhere in the secrets API; plain users get nothing until
// a policy grants it; service accounts get exactly their policies, unscoped ones nothing, and
// their tokens work nowhere but the secrets API.
func TestSEC42SecretsAccess(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		se := newSecretsEnv(t, dialect)
		ctx, admin := se.ctx, se.admin
		for _, n := range []string{"billing/prod/db", "billing/dev/db", "hr/payroll"} {
			if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: n, Value: text("value of " + n)}); err != nil {
				t.Fatal(err)
			}
		}
		// Support: 403 for everything, including the admin side.
		_, err := se.support.ListSecrets(ctx, api.SecretQuery{})
		wantCode(t, err, api.CodeForbidden)
		_, err = se.support.SecretValue(ctx, "billing/prod/db", 0)
		wantCode(t, err, api.CodeForbidden)
		_, err = se.support.GetSecret(ctx, "billing/prod/db")
		wantCode(t, err, api.CodeForbidden)
		_, err = se.support.CreateSecret(ctx, api.CreateSecretRequest{Name: "support/x", Value: text("x")})
		wantCode(t, err, api.CodeForbidden)
		_, err = se.support.SecretBackends(ctx)
		wantCode(t, err, api.CodeForbidden)
		_, err = se.support.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "sneaky"})
		wantCode(t, err, api.CodeForbidden)
		_, err = admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "role", Subject: "support", Pattern: "**", Actions: []string{"read"}})
		wantCode(t, err, api.CodeInvalidRequest)

		// A plain user: nothing by default, then what the user-role policy grants.
		_, err = se.user.SecretValue(ctx, "billing/dev/db", 0)
		wantCode(t, err, api.CodeForbidden)
		_, err = se.user.SecretPolicies(ctx)
		wantCode(t, err, api.CodeForbidden)
		pol, err := admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "role", Subject: "user", Pattern: "billing/dev/*", Actions: []string{"read", "write"}})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := se.user.SecretValue(ctx, "billing/dev/db", 0); err != nil || v.Value != "value of billing/dev/db" {
			t.Fatalf("user read with policy: %+v %v", v, err)
		}
		if _, err := se.user.PutSecretValue(ctx, "billing/dev/db", "dev-2"); err != nil {
			t.Fatalf("user write with policy: %v", err)
		}
		_, err = se.user.DeleteSecret(ctx, "billing/dev/db")
		wantCode(t, err, api.CodeForbidden)
		_, err = se.user.SecretValue(ctx, "billing/prod/db", 0)
		wantCode(t, err, api.CodeForbidden)
		if err := admin.DeleteSecretPolicy(ctx, pol.ID); err != nil {
			t.Fatal(err)
		}
		_, err = se.user.SecretValue(ctx, "billing/dev/db", 0)
		wantCode(t, err, api.CodeForbidden)
		wantCode(t, admin.DeleteSecretPolicy(ctx, pol.ID), api.CodeNotFound)

		// Service accounts.
		scoped, err := admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "billing-app", Description: "reads prod billing"})
		if err != nil {
			t.Fatal(err)
		}
		unscoped, err := admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "idle-app"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "billing-app"})
		wantCode(t, err, api.CodeConflict)
		if _, err := admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: scoped.ID, Pattern: "billing/prod/**", Actions: []string{"read"}}); err != nil {
			t.Fatal(err)
		}
		_, err = admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: "00000000-0000-4000-8000-000000000000", Pattern: "**", Actions: []string{"read"}})
		wantCode(t, err, api.CodeNotFound)
		_, err = admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "role", Subject: "user", Pattern: "a/**b", Actions: []string{"read"}})
		wantCode(t, err, api.CodeInvalidRequest)
		_, err = admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "role", Subject: "user", Pattern: "a/*", Actions: []string{"sudo"}})
		wantCode(t, err, api.CodeInvalidRequest)

		tok, err := admin.CreateServiceAccountToken(ctx, scoped.ID, api.CreateServiceAccountTokenRequest{Name: "prod", ExpiresInSeconds: 3600})
		if err != nil || !strings.HasPrefix(tok.Token, api.ServiceAccountTokenPrefix) || tok.ExpiresAt == nil {
			t.Fatalf("token: %+v %v", tok, err)
		}
		utok, err := admin.CreateServiceAccountToken(ctx, unscoped.ID, api.CreateServiceAccountTokenRequest{})
		if err != nil {
			t.Fatal(err)
		}
		app := se.withToken(t, tok.Token)
		idle := se.withToken(t, utok.Token)

		if v, err := app.SecretValue(ctx, "billing/prod/db", 0); err != nil || v.Value != "value of billing/prod/db" {
			t.Fatalf("scoped service account read: %+v %v", v, err)
		}
		_, err = app.SecretValue(ctx, "billing/dev/db", 0)
		wantCode(t, err, api.CodeForbidden)
		_, err = app.PutSecretValue(ctx, "billing/prod/db", "overwrite")
		wantCode(t, err, api.CodeForbidden)
		l, err := app.ListSecrets(ctx, api.SecretQuery{})
		if err != nil || l.Total != 1 || l.Secrets[0].Name != "billing/prod/db" {
			t.Fatalf("scoped list: %+v %v", l, err)
		}
		_, err = idle.SecretValue(ctx, "billing/prod/db", 0)
		wantCode(t, err, api.CodeForbidden)
		_, err = idle.ListSecrets(ctx, api.SecretQuery{})
		wantCode(t, err, api.CodeForbidden)

		// Service account tokens open nothing but the secrets API.
		_, err = app.Me(ctx)
		wantCode(t, err, api.CodeForbidden)
		_, err = app.MySessions(ctx)
		wantCode(t, err, api.CodeForbidden)
		_, err = app.ServiceAccounts(ctx)
		wantCode(t, err, api.CodeForbidden)
		_, err = app.SecretBackends(ctx)
		wantCode(t, err, api.CodeForbidden)
		wantCode(t, app.Logout(ctx), api.CodeForbidden)

		// Tokens: listed without their value, last use recorded, revocable.
		ts, err := admin.ServiceAccountTokens(ctx, scoped.ID)
		if err != nil || len(ts) != 1 || ts[0].LastUsedAt == nil {
			t.Fatalf("tokens: %+v %v", ts, err)
		}
		raw := rawBody(t, se, "/api/v1/admin/service-accounts/"+scoped.ID+"/tokens")
		if strings.Contains(raw, tok.Token) || strings.Contains(raw, `"token"`) {
			t.Fatal("a token listing shows the token")
		}
		if err := admin.RevokeServiceAccountToken(ctx, scoped.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err = app.SecretValue(ctx, "billing/prod/db", 0)
		wantCode(t, err, api.CodeUnauthorized)
		wantCode(t, admin.RevokeServiceAccountToken(ctx, unscoped.ID, tok.ID), api.CodeNotFound)
		bogus := se.withToken(t, api.ServiceAccountTokenPrefix+strings.Repeat("A", 43))
		_, err = bogus.SecretValue(ctx, "billing/prod/db", 0)
		wantCode(t, err, api.CodeUnauthorized)

		// Deleting an account ends its tokens and its policies.
		if err := admin.DeleteServiceAccount(ctx, unscoped.ID); err != nil {
			t.Fatal(err)
		}
		_, err = idle.ListSecrets(ctx, api.SecretQuery{})
		wantCode(t, err, api.CodeUnauthorized)
		_, err = admin.GetServiceAccount(ctx, unscoped.ID)
		wantCode(t, err, api.CodeNotFound)
		if accs, err := admin.ServiceAccounts(ctx); err != nil || len(accs) != 1 {
			t.Fatalf("accounts: %+v %v", accs, err)
		}
	})
}

// SEC-41: reads, writes, rotations, deletes and denied attempts are all in the audit trail,
// with actor, secret, version, backend, outcome and request ID — never the value.
func TestSEC41SecretsAudit(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		se := newSecretsEnv(t, dialect)
		ctx, admin := se.ctx, se.admin
		const marker = "sec41-value-8f14e45f"
		if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "ops/key", Value: text(marker)}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.SecretValue(ctx, "ops/key", 0); err != nil {
			t.Fatal(err)
		}
		_, err := se.support.SecretValue(ctx, "ops/key", 0)
		wantCode(t, err, api.CodeForbidden)
		if _, err := admin.PutSecretValue(ctx, "ops/key", marker+"2"); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.DeleteSecret(ctx, "ops/key"); err != nil {
			t.Fatal(err)
		}

		trail, err := admin.SecretsAuditTrail(ctx, api.SecretAuditQuery{Secret: "ops/key", Since: time.Now().Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for i := len(trail.Records) - 1; i >= 0; i-- {
			r := trail.Records[i]
			lines = append(lines, r.Action+"/"+r.Outcome)
			if r.RequestID == "" || r.ActorID == "" || r.Backend != "db" || r.IP == "" {
				t.Errorf("record lacks request id, actor, backend or ip: %+v", r)
			}
		}
		want := "create/success read/success read/denied write/success delete/success"
		if strings.Join(lines, " ") != want {
			t.Fatalf("trail = %v, want %s", lines, want)
		}
		read := trail.Records[3]
		if read.Version != 1 || read.ActorType != "user" || read.ActorID != se.adminID {
			t.Fatalf("read record: %+v", read)
		}
		denied := trail.Records[2]
		if denied.ActorID != se.supportID || denied.Reason != "forbidden" {
			t.Fatalf("denied record: %+v", denied)
		}
		// Filter by actor.
		mine, err := admin.SecretsAuditTrail(ctx, api.SecretAuditQuery{Actor: se.supportID})
		if err != nil || mine.Total != 1 || mine.Records[0].Outcome != "denied" {
			t.Fatalf("by actor: %+v %v", mine, err)
		}
		raw, _ := json.Marshal(trail)
		if bytes.Contains(raw, []byte(marker)) {
			t.Fatal("the audit trail holds the value")
		}
		// Only administrators read the whole trail; that refusal is audited too.
		_, err = se.user.SecretsAuditTrail(ctx, api.SecretAuditQuery{})
		wantCode(t, err, api.CodeForbidden)
		_, err = admin.Do(ctx, http.MethodGet, "/api/v1/admin/secrets/audit?since=yesterday", nil, nil)
		wantCode(t, err, api.CodeInvalidRequest)
	})
}

// Concurrent writers of one secret, through the API: no version lost.
func TestSecretsConcurrentWriters(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		se := newSecretsEnv(t, dialect)
		ctx := se.ctx
		if _, err := se.admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "hot/counter", Value: text("v0")}); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, errs[i] = se.admin.PutSecretValue(ctx, "hot/counter", "w"+string(rune('a'+i))) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		vs, err := se.admin.SecretVersions(ctx, "hot/counter")
		if err != nil || len(vs) != n+1 {
			t.Fatalf("%d versions after %d writes: %v", len(vs), n+1, err)
		}
		seen := map[string]bool{}
		for _, v := range vs {
			val, err := se.admin.SecretValue(ctx, "hot/counter", v.Version)
			if err != nil || seen[val.Value] {
				t.Fatalf("version %d: %+v %v (duplicate or unreadable)", v.Version, val, err)
			}
			seen[val.Value] = true
		}
	})
}

// The env backend is read-only: a secret whose variable exists can be registered and read,
// writes get backend_read_only.
func TestSecretsReadOnlyEnvBackend(t *testing.T) {
	t.Setenv("GATEHOUSE_SECRET_CI__DEPLOY_TOKEN", "from-the-environment")
	se := newSecretsEnv(t, testenv.SQLite)
	ctx, admin := se.ctx, se.admin
	if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "ci/deploy-token", Backend: "env"}); err != nil {
		t.Fatal(err)
	}
	if v, err := admin.SecretValue(ctx, "ci/deploy-token", 0); err != nil || v.Value != "from-the-environment" {
		t.Fatalf("env value: %+v %v", v, err)
	}
	_, err := admin.PutSecretValue(ctx, "ci/deploy-token", "new")
	wantCode(t, err, api.CodeBackendReadOnly)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.HTTPStatus != http.StatusConflict || ae.Details["backend"] != "env" {
		t.Fatalf("read-only write: %+v", ae)
	}
	_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "ci/other", Backend: "env", Value: text("x")})
	wantCode(t, err, api.CodeBackendReadOnly)
	_, err = admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "ci/unset", Backend: "env"})
	wantCode(t, err, api.CodeInvalidRequest)

	bs, err := admin.SecretBackends(ctx)
	if err != nil || len(bs) != 2 {
		t.Fatalf("backends: %+v %v", bs, err)
	}
	for _, b := range bs {
		switch b.Kind {
		case "db":
			if !b.Default || !b.Writable || !b.Healthy {
				t.Fatalf("db backend: %+v", b)
			}
		case "env":
			if b.Default || b.Writable || !b.Healthy {
				t.Fatalf("env backend: %+v", b)
			}
		default:
			t.Fatalf("unexpected backend %+v", b)
		}
	}
}

// Rotation through the API: a policy with a generator, then POST .../rotate; the new value is
// current, the old one previous (SEC-44's failure path is tested in internal/secrets).
func TestSecretsRotationAPI(t *testing.T) {
	se := newSecretsEnv(t, testenv.SQLite)
	ctx, admin := se.ctx, se.admin
	if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: "db/app", Generate: &api.GeneratorSpec{Type: "password", Length: 40}}); err != nil {
		t.Fatal(err)
	}
	first, err := admin.SecretValue(ctx, "db/app", 0)
	if err != nil || len(first.Value) != 40 {
		t.Fatalf("generated value: %d bytes, %v", len(first.Value), err)
	}
	_, err = admin.RotateSecret(ctx, "db/app")
	wantCode(t, err, api.CodeConflict) // no policy yet
	_, err = admin.SetSecretRotation(ctx, "db/app", &api.RotationPolicy{IntervalSeconds: 60, Generator: api.GeneratorSpec{Type: "hex", Bytes: 16}})
	wantCode(t, err, api.CodeInvalidRequest) // interval under an hour
	_, err = admin.SetSecretRotation(ctx, "db/app", &api.RotationPolicy{Generator: api.GeneratorSpec{Type: "hex", Bytes: 16}, HookURL: "https://hooks.example.com/x"})
	wantCode(t, err, api.CodeInvalidRequest) // no hook key configured
	_, err = admin.SetSecretRotation(ctx, "db/app", &api.RotationPolicy{Generator: api.GeneratorSpec{Type: "rot13"}})
	wantCode(t, err, api.CodeInvalidRequest)
	sec, err := admin.SetSecretRotation(ctx, "db/app", &api.RotationPolicy{IntervalSeconds: 86400, WindowSeconds: 3600, Generator: api.GeneratorSpec{Type: "hex", Bytes: 16}})
	if err != nil || sec.Rotation == nil || sec.NextRotationAt == nil || sec.RotationDue {
		t.Fatalf("set rotation: %+v %v", sec, err)
	}
	v, err := admin.RotateSecret(ctx, "db/app")
	if err != nil || v.Version != 2 || v.Stage != api.StageCurrent {
		t.Fatalf("rotate: %+v %v", v, err)
	}
	now, err := admin.SecretValue(ctx, "db/app", 0)
	if err != nil || len(now.Value) != 32 || now.Value == first.Value {
		t.Fatalf("rotated value: %+v %v", now, err)
	}
	vs, _ := admin.SecretVersions(ctx, "db/app")
	if len(vs) != 2 || vs[0].Stage != api.StagePrevious {
		t.Fatalf("versions after rotation: %+v", vs)
	}
	if sec, err := admin.SetSecretRotation(ctx, "db/app", nil); err != nil || sec.Rotation != nil || sec.NextRotationAt != nil {
		t.Fatalf("remove policy: %+v %v", sec, err)
	}
}

// SEC-43: a server started with the wrong master key on an existing database refuses to
// start, loudly, and leaves every secret intact for the right key.
func TestSEC43SecretsWrongMasterKey(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		se := newSecretsEnv(t, dialect)
		if _, err := se.admin.CreateSecret(se.ctx, api.CreateSecretRequest{Name: "keep/me", Value: text("still here")}); err != nil {
			t.Fatal(err)
		}
		cfg := se.env.Config
		cfg.Keyring.MasterKey = "an-entirely-different-master-key"
		a, err := app.New(context.Background(), cfg, discard())
		if err == nil {
			_ = a.Close()
			t.Fatal("a server started with the wrong master key")
		}
		if !errors.Is(err, keyring.ErrWrongMasterKey) || !strings.Contains(err.Error(), "SEC-43") {
			t.Fatalf("wrong master key: %v", err)
		}
		if v, err := se.admin.SecretValue(se.ctx, "keep/me", 0); err != nil || v.Value != "still here" {
			t.Fatalf("after a refused start: %+v %v", v, err)
		}
	})
}
