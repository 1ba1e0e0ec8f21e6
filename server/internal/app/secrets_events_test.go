package app_test

import (
	"encoding/json"
	"strings"
	"testing"

	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// secretEvents returns the security events of one type, oldest first.
func secretEvents(t *testing.T, se *secretsEnv, typ string) []api.SecurityEvent {
	t.Helper()
	l, err := se.admin.ListEvents(se.ctx, client.EventQuery{Type: typ, PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]api.SecurityEvent, 0, len(l.Events))
	for i := len(l.Events) - 1; i >= 0; i-- {
		out = append(out, l.Events[i])
	}
	return out
}

// wantEvent checks one event's type, outcome, actor and details (a subset), and that the
// request's context (IP, request ID) was recorded.
func wantEvent(t *testing.T, e api.SecurityEvent, outcome, actor string, details map[string]any) {
	t.Helper()
	if e.Outcome != outcome || e.ActorID != actor || e.IP == "" || e.RequestID == "" {
		t.Errorf("%s: outcome %q actor %q ip %q request %q; want %s by %s", e.Type, e.Outcome, e.ActorID, e.IP, e.RequestID, outcome, actor)
	}
	for k, v := range details {
		if e.Details[k] != v {
			t.Errorf("%s: details[%s] = %v, want %v (all: %v)", e.Type, k, e.Details[k], v, e.Details)
		}
	}
}

// SEC-41, SEC-42: changes to who may read secrets — policies, service accounts, their tokens —
// are security events with actor and outcome, and never carry a token.
func TestSecretsAdministrationEvents(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		se := newSecretsEnv(t, dialect)
		ctx, admin := se.ctx, se.admin

		sa, err := admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "billing-app"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "billing-app"})
		wantCode(t, err, api.CodeConflict)
		// Refused before the handler (admins only): no event claims it happened.
		_, err = se.user.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "sneaky"})
		wantCode(t, err, api.CodeForbidden)
		ev := secretEvents(t, se, api.EventServiceAccountCreated)
		if len(ev) != 2 {
			t.Fatalf("service_account.created events: %+v", ev)
		}
		wantEvent(t, ev[0], api.OutcomeSuccess, se.adminID, map[string]any{"service_account_id": sa.ID, "name": "billing-app"})
		wantEvent(t, ev[1], api.OutcomeFailure, se.adminID, map[string]any{"name": "billing-app", "reason": string(api.CodeConflict)})

		pol, err := admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: sa.ID, Pattern: "billing/**", Actions: []string{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "role", Subject: "support", Pattern: "**", Actions: []string{"read"}})
		wantCode(t, err, api.CodeInvalidRequest)
		ev = secretEvents(t, se, api.EventSecretPolicyCreated)
		if len(ev) != 2 {
			t.Fatalf("secret_policy.created events: %+v", ev)
		}
		wantEvent(t, ev[0], api.OutcomeSuccess, se.adminID, map[string]any{"policy_id": pol.ID, "subject_type": "service_account", "subject": sa.ID, "pattern": "billing/**"})
		if acts, _ := ev[0].Details["actions"].([]any); len(acts) != 1 || acts[0] != "read" {
			t.Errorf("policy actions in the event: %v", ev[0].Details["actions"])
		}
		wantEvent(t, ev[1], api.OutcomeFailure, se.adminID, map[string]any{"subject": "support", "reason": string(api.CodeInvalidRequest)})

		tok, err := admin.CreateServiceAccountToken(ctx, sa.ID, api.CreateServiceAccountTokenRequest{Name: "prod", ExpiresInSeconds: 3600})
		if err != nil {
			t.Fatal(err)
		}
		_, err = admin.CreateServiceAccountToken(ctx, "00000000-0000-4000-8000-000000000000", api.CreateServiceAccountTokenRequest{Name: "ghost"})
		wantCode(t, err, api.CodeNotFound)
		ev = secretEvents(t, se, api.EventServiceAccountTokenIssued)
		if len(ev) != 2 {
			t.Fatalf("service_account.token_issued events: %+v", ev)
		}
		wantEvent(t, ev[0], api.OutcomeSuccess, se.adminID, map[string]any{"service_account_id": sa.ID, "credential_id": tok.ID, "credential_name": "prod"})
		if ev[0].Details["expires_at"] == nil {
			t.Errorf("token_issued without its expiry: %v", ev[0].Details)
		}
		wantEvent(t, ev[1], api.OutcomeFailure, se.adminID, map[string]any{"reason": string(api.CodeNotFound)})

		if err := admin.RevokeServiceAccountToken(ctx, sa.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		if err := admin.DeleteSecretPolicy(ctx, pol.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, admin.DeleteSecretPolicy(ctx, pol.ID), api.CodeNotFound)
		if err := admin.DeleteServiceAccount(ctx, sa.ID); err != nil {
			t.Fatal(err)
		}
		ev = secretEvents(t, se, api.EventServiceAccountTokenRevoked)
		if len(ev) != 1 {
			t.Fatalf("service_account.token_revoked events: %+v", ev)
		}
		wantEvent(t, ev[0], api.OutcomeSuccess, se.adminID, map[string]any{"service_account_id": sa.ID, "credential_id": tok.ID})
		ev = secretEvents(t, se, api.EventSecretPolicyDeleted)
		if len(ev) != 2 {
			t.Fatalf("secret_policy.deleted events: %+v", ev)
		}
		wantEvent(t, ev[0], api.OutcomeSuccess, se.adminID, map[string]any{"policy_id": pol.ID})
		wantEvent(t, ev[1], api.OutcomeFailure, se.adminID, map[string]any{"policy_id": pol.ID, "reason": string(api.CodeNotFound)})
		ev = secretEvents(t, se, api.EventServiceAccountDeleted)
		if len(ev) != 1 {
			t.Fatalf("service_account.deleted events: %+v", ev)
		}
		wantEvent(t, ev[0], api.OutcomeSuccess, se.adminID, map[string]any{"service_account_id": sa.ID})

		// No event anywhere carries the token (SEC-18).
		all, err := admin.ListEvents(ctx, client.EventQuery{PerPage: 200})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(all)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), tok.Token) || strings.Contains(string(raw), api.ServiceAccountTokenPrefix) {
			t.Fatal("a security event carries the service account token")
		}
	})
}
