package state_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// Delete is soft: the deleted list shows the secret with its recovery deadline, and Restore
// brings it back to the live list.
func TestSecretDeleteAndRestore(t *testing.T) {
	f := newFake()
	seedSecrets(f)
	signedIn(t, f, adminEmail, adminPass)
	ctx := context.Background()
	s := state.NewSecrets(f)
	if err := s.Filter(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	d := openSecret(t, f, &fakeapi.Timers{}, "search/api-key")
	if q := d.DeleteConfirmation(); !strings.Contains(q, "search/api-key") || !strings.Contains(q, "restorable") {
		t.Fatalf("confirmation %q", q)
	}
	gone, err := d.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, open := d.Name(); open || gone.PurgeAfter == nil {
		t.Fatalf("after delete: open=%v %+v", open, gone)
	}
	if want := "until " + state.Stamp(*gone.PurgeAfter) + " (in 30 days)"; state.RecoveryDeadline(gone, secretsNow) != want {
		t.Fatalf("deadline %q, want %q", state.RecoveryDeadline(gone, secretsNow), want)
	}
	if err := s.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(s.Rows()); slices.Contains(got, "search/api-key") {
		t.Fatalf("live list still shows it: %v", got)
	}
	if err := s.ShowDeleted(ctx, true); err != nil {
		t.Fatal(err)
	}
	rows := s.Rows()
	if !s.Deleted() || len(rows) != 1 || rows[0].Name != "search/api-key" || !f.Called("ListSecrets", "", "", "1", "deleted") {
		t.Fatalf("deleted list %v calls %v", names(rows), f.Calls())
	}
	cells := state.SecretCells(rows[0], secretsNow.Add(time.Hour))
	if cells[2] != "1 h ago" || cells[3] != "in 29 days" {
		t.Fatalf("cells %q", cells)
	}
	if state.DeletedSecretColumns()[3] != "Restorable" {
		t.Fatal("headings")
	}
	restored, err := s.Restore(ctx, "search/api-key")
	if err != nil || restored.DeletedAt != nil {
		t.Fatalf("restore %+v %v", restored, err)
	}
	if len(s.Rows()) != 0 {
		t.Fatalf("restored secret left in the deleted list: %v", names(s.Rows()))
	}
	if err := s.ShowDeleted(ctx, false); err != nil || !slices.Contains(names(s.Rows()), "search/api-key") {
		t.Fatalf("live list %v %v", names(s.Rows()), err)
	}
	// Restoring twice is the server's conflict, reported as such.
	if _, err := s.Restore(ctx, "search/api-key"); state.Describe(err).Code != string(api.CodeConflict) {
		t.Fatalf("second restore: %v", err)
	}
}

func TestRestoreUrgency(t *testing.T) {
	del := secretsNow.Add(-29 * 24 * time.Hour)
	soon, past := secretsNow.Add(3*time.Hour), secretsNow.Add(-time.Minute)
	cases := []struct {
		purge *time.Time
		want  state.Urgency
		text  string
	}{
		{&soon, state.UrgencyDue, "(in 3 h)"},
		{&past, state.UrgencyOverdue, "purge due now"},
		{nil, state.UrgencyNone, "until purged"},
	}
	for _, c := range cases {
		s := api.Secret{Name: "x", DeletedAt: &del, PurgeAfter: c.purge}
		if u := state.RestoreUrgency(s, secretsNow); u != c.want || !strings.Contains(state.RecoveryDeadline(s, secretsNow), c.text) {
			t.Errorf("%v: %v %q", c.purge, u, state.RecoveryDeadline(s, secretsNow))
		}
	}
}

func seedAudit(f *fakeapi.API, alice api.User) {
	f.AddSecretAudit(api.SecretAuditRecord{Time: secretsNow.Add(-10 * 24 * time.Hour), ActorType: "user", ActorID: alice.ID, Action: "read", Secret: "billing/prod/db-password", Version: 1, IP: "192.0.2.1"})
	f.AddSecretAudit(api.SecretAuditRecord{Time: secretsNow.Add(-2 * time.Hour), ActorType: "service_account", ActorID: "sa-0123456789abcdef", Action: "read", Secret: "billing/prod/db-password", Version: 2, IP: "10.0.0.9"})
	f.AddSecretAudit(api.SecretAuditRecord{Time: secretsNow.Add(-time.Hour), ActorType: "user", ActorID: alice.ID, Action: "rotate", Secret: "search/api-key", Version: 3, IP: "=cmd|' /C calc'!A0", Reason: "+scheduled"})
}

// The admin-wide audit trail: since, actor (an email is resolved to the ID the server filters
// on) and secret filters, emails in place of user IDs, and a CSV export safe for spreadsheets.
func TestSecretAuditFilterAndExport(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	seedAudit(f, alice)
	signedIn(t, f, adminEmail, adminPass)
	ctx := context.Background()
	a := state.NewSecretAudit(f, f)
	if err := a.Apply(ctx, state.SecretAuditFilter{Since: secretsNow.Add(-7 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	rows := a.Rows()
	if len(rows) != 2 || rows[0].Action != "rotate" || a.Page().Total != 2 {
		t.Fatalf("since a week: %+v", rows)
	}
	cells := a.Cells(rows[0])
	if cells[4] != "alice@example.com" || cells[3] != "v3" || cells[1] != "rotate" {
		t.Fatalf("cells %q", cells)
	}
	if c := a.Cells(rows[1]); c[4] != "service_account:sa-01234…" {
		t.Fatalf("service account actor %q", c[4])
	}
	if err := a.Apply(ctx, state.SecretAuditFilter{Actor: " Alice@Example.com "}); err != nil {
		t.Fatal(err)
	}
	if len(a.Rows()) != 2 || !f.Called("SecretsAuditTrail", "", alice.ID, "", "1") {
		t.Fatalf("actor filter %+v %v", a.Rows(), f.Calls())
	}
	if err := a.Apply(ctx, state.SecretAuditFilter{Actor: "user:" + alice.ID, Secret: "search/api-key/"}); err != nil || len(a.Rows()) != 1 {
		t.Fatalf("actor and secret %v %+v", err, a.Rows())
	}
	if err := a.Apply(ctx, state.SecretAuditFilter{Actor: "nobody@example.com"}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("unknown email: %v", err)
	}
	if err := a.Apply(ctx, state.SecretAuditFilter{}); err != nil {
		t.Fatal(err)
	}
	all, err := a.Export(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("export %d %v", len(all), err)
	}
	var buf bytes.Buffer
	if err := state.WriteSecretAuditCSV(&buf, all, a.Email); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 4 || !slices.Equal(recs[0], state.SecretAuditCSVHeader()) {
		t.Fatalf("csv %v %v", recs, err)
	}
	first := recs[1] // newest first: the rotation
	if first[9] != "alice@example.com" || first[10] != "'=cmd|' /C calc'!A0" || first[6] != "'+scheduled" {
		t.Fatalf("row %q", first)
	}
	if !strings.HasPrefix(state.SecretAuditFileName(secretsNow), "gatehouse-secrets-audit-20260301") {
		t.Fatal("file name")
	}
}
