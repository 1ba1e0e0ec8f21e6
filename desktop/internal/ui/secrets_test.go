package ui

import (
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

func (h *harness) seedSecrets() {
	due := now.Add(2 * 24 * time.Hour)
	over := now.Add(-time.Hour)
	pol := &api.RotationPolicy{IntervalSeconds: 30 * 86400, WindowSeconds: 7 * 86400, Generator: api.GeneratorSpec{Type: "password", Length: 32}}
	h.fake.AddSecret(api.Secret{Name: "billing/prod/db-password", Description: "main DB", Owner: "billing-team", Labels: map[string]string{"team": "billing"}, Rotation: pol, NextRotationAt: &due, RotationDue: true}, "first-pass", "second-pass")
	h.fake.AddSecret(api.Secret{Name: "billing/prod/stripe-key", Labels: map[string]string{"team": "billing"}, Rotation: pol, NextRotationAt: &over, RotationDue: true}, "sk_live_1")
	h.fake.AddSecret(api.Secret{Name: "search/api-key", Labels: map[string]string{"team": "search"}}, "k1")
}

func (h *harness) secrets() *secretsView {
	h.t.Helper()
	if !h.c.ws.selectScreen(state.ScreenSecrets) {
		h.t.Fatal("no secrets screen")
	}
	return h.c.ws.secrets
}

func (h *harness) openSecret(name string) *secretPane {
	h.t.Helper()
	v := h.secrets()
	for i, s := range v.rows {
		if s.Name == name {
			v.table.Select(widget.TableCellID{Row: i, Col: 0})
			return v.pane
		}
	}
	h.t.Fatalf("%s is not listed: %v", name, v.rows)
	return nil
}

func cellImportance(v *secretsView, row int) widget.Importance {
	l := widget.NewLabel("")
	v.table.UpdateCell(widget.TableCellID{Row: row, Col: 0}, l)
	return l.Importance
}

func TestSecretsScreenIsForAdminsOnly(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.mustSignIn(supportEmail, supportPass)
	if h.c.ws.secrets != nil || h.c.ws.selectScreen(state.ScreenSecrets) || h.fake.Called("ListSecrets", "", "", "1") {
		t.Fatal("support never sees the secrets screen")
	}
}

func TestSecretsListFilterHighlightAndBackends(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.fake.Backends = []api.SecretBackend{{Kind: "db", Default: true, Writable: true, Healthy: true}, {Kind: "vault", Writable: true, Error: "connection refused"}}
	h.fake.Keys = &api.KeyStatus{CurrentVersion: 2, Rewrap: api.RewrapStatus{State: api.RewrapRunning, Total: 40, Done: 30, Remaining: 10}}
	h.mustSignIn(adminEmail, adminPass)
	v := h.secrets()
	h.noProblem()
	if len(v.rows) != 3 || !strings.Contains(v.pageLbl.Text, "2 due for rotation") {
		t.Fatalf("rows %d, %q", len(v.rows), v.pageLbl.Text)
	}
	if cellImportance(v, 0) != widget.WarningImportance || cellImportance(v, 1) != widget.DangerImportance || cellImportance(v, 2) != widget.MediumImportance {
		t.Fatal("due rows are amber, overdue rows red")
	}
	ops := texts(v.opsBox)
	if !strings.Contains(ops, "vault") || !strings.Contains(ops, "unhealthy: connection refused") || !strings.Contains(ops, "30 of 40 done") {
		t.Fatalf("ops %q", ops)
	}
	if v.rewrap.Value != 0.75 {
		t.Fatalf("progress %v", v.rewrap.Value)
	}

	test.Type(v.prefix, "search/")
	test.Tap(v.filterBtn)
	if len(v.rows) != 1 || v.rows[0].Name != "search/api-key" {
		t.Fatalf("prefix %v", v.rows)
	}
	v.prefix.SetText("")
	test.Type(v.label, "team=billing")
	v.label.OnSubmitted(v.label.Text)
	if len(v.rows) != 2 || !h.fake.Called("ListSecrets", "", "team=billing", "1") {
		t.Fatalf("label %v", v.rows)
	}
	v.label.SetText("team")
	test.Tap(v.filterBtn)
	if p := h.c.Problem(); p.Code != state.CodeInvalidInput {
		t.Fatalf("a bad label is shown once in the banner: %+v", p)
	}
	// Ctrl+F lands in the prefix box on this screen.
	h.c.find()
	if h.win.Canvas().Focused() != v.prefix {
		t.Fatal("find focuses the prefix")
	}
}

func TestSecretRevealHidesAfter30sAndCopyClearsTheClipboard(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.mustSignIn(adminEmail, adminPass)
	p := h.openSecret("billing/prod/db-password")
	h.noProblem()
	if p.reveal == nil || p.value.Text == "second-pass" || h.fake.Called("SecretValue", "billing/prod/db-password", "0") {
		t.Fatal("the value is hidden until Reveal is clicked")
	}
	if !strings.Contains(texts(p.content), "Due in 2 days: rotate it now") {
		t.Fatalf("due highlighting in the pane: %q", texts(p.content))
	}
	test.Tap(p.reveal)
	h.noProblem()
	if p.value.Text != "second-pass" || p.hide == nil || !h.fake.Called("SecretValue", "billing/prod/db-password", "0") {
		t.Fatalf("revealed %q", p.value.Text)
	}
	if !strings.Contains(texts(p.content), "read v2") {
		t.Fatal("the audit trail shows the read")
	}
	if got := h.timers.Pending(); !slices.Equal(got, []time.Duration{30 * time.Second}) {
		t.Fatalf("timers %v", got)
	}
	h.timers.FireAll()
	if p.value.Text == "second-pass" || p.reveal == nil {
		t.Fatal("hidden again after 30 s")
	}

	clip := h.app.Clipboard()
	test.Tap(p.copyBtn)
	if clip.Content() != "second-pass" || !strings.Contains(h.c.status.Text, "cleared in 30 s") {
		t.Fatalf("copied %q, status %q", clip.Content(), h.c.status.Text)
	}
	if p.value.Text == "second-pass" {
		t.Fatal("copying does not reveal")
	}
	h.timers.FireAll()
	if clip.Content() != "" || h.c.status.Text != "Clipboard cleared." {
		t.Fatalf("cleared: %q %q", clip.Content(), h.c.status.Text)
	}
	test.Tap(p.copyBtn)
	clip.SetContent("something the user copied since")
	h.timers.FireAll()
	if clip.Content() != "something the user copied since" {
		t.Fatal("the clipboard is only cleared while it holds the value")
	}

	// Signing out clears a copied value at once.
	test.Tap(p.copyBtn)
	if clip.Content() != "second-pass" {
		t.Fatal("copied")
	}
	test.Tap(h.c.ws.signOut)
	if clip.Content() != "" {
		t.Fatal("signing out clears the clipboard")
	}
	h.mustSignIn(adminEmail, adminPass)
	p = h.openSecret("billing/prod/db-password")

	// Hide by hand, and a value never survives the session ending.
	test.Tap(p.reveal)
	test.Tap(p.hide)
	if p.value.Text == "second-pass" {
		t.Fatal("hidden")
	}
	test.Tap(p.reveal)
	h.fake.Expire()
	h.c.refresh()
	if _, ok := h.c.ws.secrets.detail.Revealed(); ok {
		t.Fatal("the session ended: the value is hidden")
	}
}

func TestSecretCreateVersionRollbackRotateAndPolicy(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.mustSignIn(adminEmail, adminPass)
	v := h.secrets()

	test.Tap(v.newSecret)
	f := v.pane.form
	test.Type(f.entries["name"], "app/manual")
	f.source.SetSelected("Enter a value")
	test.Tap(f.submit)
	if f.problem.Problem().Code != state.CodeInvalidInput || h.fake.Called("CreateSecret", "app/manual", "value") {
		t.Fatal("the form says what is missing, in the form, and sends nothing")
	}
	test.Type(f.entries["value"], "typed value")
	test.Type(f.entries["labels"], "team=app")
	test.Tap(f.submit)
	h.noProblem()
	if !h.fake.Called("CreateSecret", "app/manual", "value") {
		t.Fatal(h.fake.Calls())
	}
	p := v.pane
	if s, ok := v.detail.Secret(); !ok || s.Name != "app/manual" || s.Labels["team"] != "app" {
		t.Fatalf("the new secret opens: %+v", s)
	}
	if p.rotate.Disabled() == false {
		t.Fatal("no policy: Rotate now is disabled")
	}

	test.Tap(p.newVersion)
	test.Type(p.form.entries["value"], "second value")
	test.Tap(p.form.submit)
	h.noProblem()
	if val, n, _ := h.fake.SecretValueOf("app/manual"); val != "second value" || n != 2 {
		t.Fatalf("new version %q v%d", val, n)
	}
	if p.rollback[1] == nil || p.rollback[2] != nil {
		t.Fatal("only earlier versions roll back")
	}
	test.Tap(p.rollback[1])
	if !strings.Contains(h.overlayTexts(), "version 1 of app/manual") {
		t.Fatalf("the confirmation names the secret: %q", h.overlayTexts())
	}
	p.lastConfirm.Confirm()
	if val, n, _ := h.fake.SecretValueOf("app/manual"); val != "typed value" || n != 3 {
		t.Fatalf("rolled back %q v%d", val, n)
	}

	test.Tap(p.policy)
	p.form.entries["interval"].SetText("monthly")
	test.Tap(p.form.submit)
	if p.form.problem.Problem().Code != state.CodeInvalidInput {
		t.Fatal("a bad interval is refused in the dialog")
	}
	p.form.entries["interval"].SetText("1d")
	p.form.entries["window"].SetText("6h")
	p.form.kind.SetSelected("hex")
	p.form.entries["size"].SetText("16")
	test.Tap(p.form.submit)
	h.noProblem()
	if !h.fake.Called("SetSecretRotation", "app/manual", "86400s/hex") || p.rotate.Disabled() {
		t.Fatal(h.fake.Calls())
	}
	test.Tap(p.rotate)
	p.lastConfirm.Confirm()
	h.noProblem()
	if val, n, _ := h.fake.SecretValueOf("app/manual"); n != 4 || len(val) != 32 {
		t.Fatalf("rotated %q v%d", val, n)
	}
	if !strings.Contains(texts(p.content), "rotate v4") || !strings.Contains(h.c.status.Text, "Rotated app/manual") {
		t.Fatalf("%q", h.c.status.Text)
	}
}

func TestSecretRevealAsksForStepUp(t *testing.T) {
	h := newHarness(t)
	h.seedSecrets()
	h.fake.RequireStepUp = true
	h.fake.SetMFA("u001", api.MFAStatus{Factors: []api.MFAFactor{{Factor: api.FactorTOTP, Enrolled: true}}})
	h.mustSignIn(adminEmail, adminPass)
	p := h.openSecret("search/api-key")
	test.Tap(p.reveal)
	d := h.c.stepUp
	if d == nil || h.c.Problem().Code != "" {
		t.Fatal("step_up_required opens the dialog")
	}
	test.Type(d.code, "123456")
	test.Tap(d.verify)
	h.noProblem()
	if p.value.Text != "k1" {
		t.Fatalf("revealed after the step-up: %q", p.value.Text)
	}
}
