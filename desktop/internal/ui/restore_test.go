package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

func TestDeleteShowDeletedAndRestore(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.mustSignIn(adminEmail, adminPass)
	p := h.openSecret("search/api-key")
	test.Tap(p.del)
	if p.lastConfirm == nil || !strings.Contains(h.overlayTexts(), "restorable") {
		t.Fatal("delete asks first")
	}
	p.lastConfirm.Confirm()
	h.noProblem()
	v := h.secrets()
	if _, open := v.detail.Name(); open || !strings.Contains(h.c.status.Text, "restorable until") {
		t.Fatalf("after delete: status %q", h.c.status.Text)
	}
	for _, r := range v.rows {
		if r.Name == "search/api-key" {
			t.Fatal("still listed")
		}
	}
	v.deleted.SetChecked(true)
	if len(v.rows) != 1 || !h.fake.Called("ListSecrets", "", "", "1", "deleted") {
		t.Fatalf("deleted list %v", v.rows)
	}
	hl := widget.NewLabel("")
	v.table.UpdateHeader(widget.TableCellID{Row: -1, Col: 3}, hl)
	if hl.Text != "Restorable" {
		t.Fatalf("heading %q", hl.Text)
	}
	v.table.Select(widget.TableCellID{Row: 0, Col: 0})
	if p.restore == nil || !strings.Contains(texts(p.content), "Restorable until") || h.fake.Called("GetSecret", "search/api-key") && h.count("GetSecret") > 1 {
		t.Fatalf("deleted pane %q", texts(p.content))
	}
	test.Tap(p.restore)
	h.noProblem()
	if v.deleted.Checked || !h.fake.Called("RestoreSecret", "search/api-key") {
		t.Fatal("back to the live list")
	}
	if name, open := v.detail.Name(); !open || name != "search/api-key" {
		t.Fatalf("restored secret open: %q", name)
	}
}

func TestSecretAuditScreen(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.fake.AddSecretAudit(api.SecretAuditRecord{Time: now.Add(-time.Hour), ActorType: "user", ActorID: h.alice.ID, Action: "read", Secret: "billing/prod/db-password", Version: 2, IP: "192.0.2.1", RequestID: "req-1"})
	h.fake.AddSecretAudit(api.SecretAuditRecord{Time: now.Add(-40 * 24 * time.Hour), ActorType: "user", ActorID: h.alice.ID, Action: "rotate", Secret: "search/api-key", Version: 1})
	h.mustSignIn(adminEmail, adminPass)
	if !h.c.ws.selectScreen(state.ScreenAudit) {
		t.Fatal("no audit screen")
	}
	v := h.c.ws.audit
	h.noProblem()
	if len(v.rows) != 1 || v.vm.Cells(v.rows[0])[4] != aliceEmail {
		t.Fatalf("last 7 days: %+v", v.rows)
	}
	v.table.Select(widget.TableCellID{Row: 0, Col: 0})
	if got := texts(v.detail); !strings.Contains(got, "req-1") || !strings.Contains(got, "user:"+h.alice.ID) {
		t.Fatalf("detail %q", got)
	}
	v.rangeSel.SetSelected(state.RangeAll)
	test.Type(v.actor, aliceEmail)
	test.Tap(v.apply)
	if len(v.rows) != 2 || !h.fake.Called("SecretsAuditTrail", "", h.alice.ID, "", "1") {
		t.Fatalf("all time, by alice: %v", h.fake.Calls())
	}
	test.Tap(v.export)
	h.noProblem()
	out := h.saved.String()
	if !strings.HasPrefix(out, "time,action,secret") || strings.Count(out, "\n") != 3 || !strings.Contains(out, aliceEmail) {
		t.Fatalf("csv %q", out)
	}
	if !strings.Contains(h.c.status.Text, "Exported 2 audit records") {
		t.Fatalf("status %q", h.c.status.Text)
	}
}

func TestSupportSeesNoSecretAudit(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(supportEmail, supportPass)
	if h.c.ws.audit != nil || h.c.ws.selectScreen(state.ScreenAudit) {
		t.Fatal("the audit trail is for admins")
	}
}
