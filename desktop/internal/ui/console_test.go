package ui

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

func TestWrongPasswordIsShownOnceWithTheServersCode(t *testing.T) {
	h := newHarness(t)
	h.signIn(adminEmail, "not my password")
	p := h.c.Problem()
	if p.Code != string(api.CodeInvalidCredentials) || p.Message != "wrong email or password" || p.RequestID != "req-fake" {
		t.Fatalf("problem %+v", p)
	}
	if !h.c.banner.Visible() || !strings.Contains(h.c.banner.detail.Text, "invalid_credentials") || !strings.Contains(h.c.banner.detail.Text, "req-fake") {
		t.Fatalf("banner %q", h.c.banner.detail.Text)
	}
	if h.c.ws != nil || h.c.signIn.password.Text != "" {
		t.Fatal("still on sign-in, password cleared")
	}
	// The next attempt clears the old error.
	h.signIn(adminEmail, adminPass)
	h.noProblem()
	if h.c.banner.Visible() {
		t.Fatal("banner hidden after success")
	}
}

func TestSignInValidationSendsNothing(t *testing.T) {
	h := newHarness(t)
	test.Tap(h.c.signIn.submit)
	if p := h.c.Problem(); p.Code != state.CodeInvalidInput || p.Message != "Enter the server address." {
		t.Fatalf("problem %+v", p)
	}
	if len(h.fake.Calls()) != 0 {
		t.Fatal(h.fake.Calls())
	}
}

func TestProfileIsRemembered(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	h.start() // a new console with the same preferences
	v := h.c.signIn
	if v.server.Text != "http://localhost:8080" || v.email.Text != adminEmail || v.password.Text != "" {
		t.Fatalf("prefilled %q %q", v.server.Text, v.email.Text)
	}
	if got := state.NewSettings(h.prefs).Servers(); !slices.Equal(got, []string{"http://localhost:8080"}) {
		t.Fatalf("profiles %v", got)
	}
	if h.win.Canvas().Focused() != v.password {
		t.Fatal("the password has the focus when the rest is known")
	}
}

func TestSignInWithSecondFactor(t *testing.T) {
	h := newHarness(t)
	h.fake.SecondFactor[adminEmail] = []string{api.FactorTOTP, api.FactorSMS, api.FactorRecoveryCode}
	h.signIn(adminEmail, adminPass)
	v := h.c.signIn
	if !v.mfaForm.Visible() || v.pwForm.Visible() || h.c.ws != nil {
		t.Fatal("the second-factor step shows")
	}
	if !slices.Equal(v.factor.Options, []string{"Authenticator app", "Text message", "Recovery code"}) || v.send.Visible() {
		t.Fatalf("factors %v, send visible %v", v.factor.Options, v.send.Visible())
	}
	v.factor.SetSelected("Text message")
	if !v.send.Visible() {
		t.Fatal("SMS needs a send button")
	}
	test.Tap(v.send)
	if !h.fake.Called("ChallengeMFA", "sms") || !strings.Contains(h.c.status.Text, "Code sent") {
		t.Fatalf("calls %v status %q", h.fake.Calls(), h.c.status.Text)
	}
	test.Type(v.code, "999999")
	test.Tap(v.verify)
	if p := h.c.Problem(); p.Code != string(api.CodeMFAInvalidCode) || h.c.ws != nil || v.code.Text != "" {
		t.Fatalf("wrong code: %+v", p)
	}
	test.Type(v.code, "123 456")
	test.Tap(v.remember)
	test.Tap(v.verify)
	h.noProblem()
	if !h.fake.Called("VerifyMFA", "sms", "123456", "true") || h.c.ws == nil {
		t.Fatalf("calls %v", h.fake.Calls())
	}
	if h.c.opt.Session.AAL() != api.AAL2 || !strings.Contains(h.c.status.Text, "aal2") {
		t.Fatalf("status %q", h.c.status.Text)
	}
}

func TestSecondFactorBackReturnsToPassword(t *testing.T) {
	h := newHarness(t)
	h.fake.SecondFactor[adminEmail] = []string{api.FactorTOTP}
	h.signIn(adminEmail, adminPass)
	test.Tap(h.c.signIn.back)
	if !h.c.signIn.pwForm.Visible() || h.c.signIn.mfaForm.Visible() || h.c.opt.Session.Stage() != state.SignedOut {
		t.Fatal("back to the password form")
	}
}

func TestSupportSeesOnlyWhatSupportMayDo(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(supportEmail, supportPass)
	if got := h.tabTitles(); !slices.Equal(got, []string{"Dashboard", "Users"}) {
		t.Fatalf("tabs %v", got)
	}
	if h.c.ws.dash.conns != nil || h.c.ws.dash.latest != nil || h.fake.Called("ListEvents", "", "", "1") {
		t.Fatal("no pool or events for support")
	}
	if len(h.runner.loops) != 0 {
		t.Fatal("no pool stream for support")
	}
	h.c.ws.selectScreen(state.ScreenUsers)
	v := h.c.ws.users
	if v.newUser.Visible() {
		t.Fatal("support cannot create users")
	}
	h.openUser(aliceEmail)
	p := v.pane
	if p.lock == nil || p.resetMFA == nil || p.endAll == nil || p.revokeDevice["d1"] == nil || p.revokeSession["s1"] == nil {
		t.Fatalf("support helps alice: %+v", p)
	}
	if p.roles != nil || p.saveRoles != nil || p.rename != nil {
		t.Fatal("support never edits roles or names")
	}
	h.openUser(adminEmail)
	if p.lock != nil || p.resetMFA != nil || p.endAll != nil || p.roles != nil {
		t.Fatal("support cannot act on an admin: the buttons are hidden")
	}
	h.noProblem()
}

func TestAdminActsOnAUser(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	if got := h.tabTitles(); !slices.Equal(got, []string{"Dashboard", "Users", "Events", "Secrets", "Secret audit", "Providers"}) {
		t.Fatalf("tabs %v", got)
	}
	h.openUser(aliceEmail)
	p := h.c.ws.users.pane

	test.Tap(p.revokeSession["s1"])
	if !h.fake.Called("RevokeUserSession", h.alice.ID, "s1") || p.revokeSession["s1"] != nil || p.revokeSession["s2"] == nil {
		t.Fatalf("calls %v", h.fake.Calls())
	}
	test.Tap(p.revokeDevice["d1"])
	if !h.fake.Called("RevokeUserDevice", h.alice.ID, "d1") || len(p.revokeDevice) != 0 {
		t.Fatal("device forgotten")
	}

	test.Tap(p.lock)
	if h.count("LockUser") != 0 || !strings.Contains(h.overlayTexts(), "Lock "+aliceEmail+"?") {
		t.Fatalf("a confirmation first: %q", h.overlayTexts())
	}
	p.lastConfirm.Confirm()
	if !h.fake.Called("LockUser", h.alice.ID) || p.lock != nil || p.unlock == nil {
		t.Fatal("locked")
	}
	row := slices.IndexFunc(h.c.ws.users.rows, func(u api.User) bool { return u.ID == h.alice.ID })
	if h.c.ws.users.rows[row].Status != api.UserLocked {
		t.Fatal("the table row shows the new status")
	}
	test.Tap(p.unlock)
	if !h.fake.Called("UnlockUser", h.alice.ID) {
		t.Fatal("unlocked")
	}

	if p.saveRoles.Disabled() == false {
		t.Fatal("nothing to save yet")
	}
	p.roles.SetSelected([]string{api.RoleUser, api.RoleSupport})
	test.Tap(p.saveRoles)
	if !h.fake.Called("UpdateUser", h.alice.ID, "roles=support+user") {
		t.Fatalf("calls %v", h.fake.Calls())
	}
	h.noProblem()
}

func TestResetMFANeedsAReasonAndAConfirmationNamingTheUser(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(supportEmail, supportPass)
	h.openUser(aliceEmail)
	p := h.c.ws.users.pane
	test.Tap(p.resetMFA)
	reason := p.lastFormEntries[0]
	test.Type(reason, "lost it")
	p.lastForm.Submit()
	if p.lastConfirm != nil || h.count("ResetMFA") != 0 {
		t.Fatal("a short reason cannot be submitted")
	}
	test.Type(reason, " — phone stolen; identity checked by video call")
	p.lastForm.Submit()
	if p.lastConfirm == nil || !strings.Contains(h.overlayTexts(), "Alice Liddell <"+aliceEmail+">") {
		t.Fatalf("the confirmation names the user: %q", h.overlayTexts())
	}
	if h.count("ResetMFA") != 0 {
		t.Fatal("nothing before the confirmation")
	}
	p.lastConfirm.Confirm()
	if !h.fake.Called("ResetMFA", h.alice.ID, "lost it — phone stolen; identity checked by video call") {
		t.Fatalf("calls %v", h.fake.Calls())
	}
	if p.revokeDevice["d1"] != nil || p.revokeSession["s1"] != nil || !strings.Contains(h.c.status.Text, "reset") {
		t.Fatal("the pane shows the reset account")
	}
	h.noProblem()
}

func TestStepUpDialogThenRetry(t *testing.T) {
	h := newHarness(t)
	h.fake.RequireStepUp = true
	h.fake.SetMFA("u002", api.MFAStatus{Factors: []api.MFAFactor{{Factor: api.FactorTOTP, Enrolled: true}, {Factor: api.FactorEmail, Enrolled: true}}})
	h.mustSignIn(supportEmail, supportPass)
	h.openUser(aliceEmail)
	p := h.c.ws.users.pane
	test.Tap(p.lock)
	p.lastConfirm.Confirm()
	d := h.c.stepUp
	if d == nil || h.c.Problem().Code != "" {
		t.Fatal("step_up_required opens the dialog, not an error")
	}
	if !slices.Equal(d.factor.Options, []string{"Authenticator app", "Email code"}) || d.send.Visible() {
		t.Fatalf("factors %v", d.factor.Options)
	}
	d.factor.SetSelected("Email code")
	test.Tap(d.send)
	if !h.fake.Called("ChallengeStepUp", "email") {
		t.Fatal("code sent")
	}
	test.Type(d.code, "000000")
	test.Tap(d.verify)
	if d.problem.Problem().Code != string(api.CodeMFAInvalidCode) || h.c.Problem().Code != "" {
		t.Fatalf("the wrong code is shown in the dialog (only): %+v %+v", d.problem.Problem(), h.c.Problem())
	}
	if h.count("LockUser") != 1 {
		t.Fatal("no retry before the step-up")
	}
	test.Type(d.code, "123456")
	test.Tap(d.verify)
	if !h.fake.Called("StepUp", "email", "123456") || h.count("LockUser") != 2 || p.unlock == nil {
		t.Fatalf("retried after the step-up: %v", h.fake.Methods())
	}
	h.noProblem()
}

func TestStepUpCancelShowsTheRefusal(t *testing.T) {
	h := newHarness(t)
	h.fake.RequireStepUp = true
	h.mustSignIn(supportEmail, supportPass)
	h.openUser(aliceEmail)
	test.Tap(h.c.ws.users.pane.revokeSession["s1"])
	test.Tap(h.c.stepUp.cancel)
	if p := h.c.Problem(); p.Code != string(api.CodeStepUpRequired) {
		t.Fatalf("problem %+v", p)
	}
}

func TestSessionEndReturnsToSignInAndResumes(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	h.openUser(aliceEmail)
	ws := h.c.ws
	lists := h.count("ListUsers")
	h.fake.Expire() // an admin revoked our session
	h.win.Canvas().(fyne.Shortcutable).TypedShortcut(shortcutRefresh)
	if h.c.body.Objects[0] != h.c.signIn.content || !h.c.signIn.expired.Visible() || h.c.Problem().Code != "" {
		t.Fatal("back to sign-in with a note, not an error")
	}
	if h.c.signIn.email.Text != adminEmail {
		t.Fatal("the email is kept")
	}
	test.Type(h.c.signIn.password, adminPass)
	test.Tap(h.c.signIn.submit)
	if h.c.ws != ws || h.c.ws.tabs.Selected() != ws.names[state.ScreenUsers] {
		t.Fatal("the same workspace, on the same screen")
	}
	if id, _ := ws.users.detail.ID(); id != h.alice.ID {
		t.Fatal("the same user open")
	}
	if h.count("ListUsers") <= lists {
		t.Fatal("the failed refresh was retried")
	}
	h.noProblem()
}

func TestAnotherAccountAfterExpiryStartsFresh(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	h.openUser(aliceEmail)
	ws := h.c.ws
	h.fake.Expire()
	h.c.refresh()
	h.signIn(supportEmail, supportPass)
	if h.c.ws == ws || h.c.ws.tabs.Selected() != h.c.ws.names[state.ScreenDashboard] {
		t.Fatal("a new workspace for another account")
	}
	if slices.Contains(h.tabTitles(), "Events") {
		t.Fatal("support's tabs")
	}
}

func TestShortcuts(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	sc := h.win.Canvas().(fyne.Shortcutable)

	sc.TypedShortcut(shortcutFind) // from the dashboard: go to users and search
	if h.c.ws.tabs.Selected().Text != "Users" || h.win.Canvas().Focused() != h.c.ws.users.search {
		t.Fatal("Ctrl+F focuses the user search")
	}
	test.Type(h.c.ws.users.search, "alice")
	h.c.ws.users.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if !h.fake.Called("ListUsers", "alice", "", "", "1") || len(h.c.ws.users.rows) != 1 {
		t.Fatalf("search: %v", h.fake.Calls())
	}
	n := h.count("ListUsers")
	h.c.ws.users.search.TypedKey(&fyne.KeyEvent{Name: fyne.KeyF5}) // F5 inside the entry
	h.win.Canvas().Unfocus()
	h.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyF5}) // F5 with nothing focused
	sc.TypedShortcut(shortcutRefresh)
	if h.count("ListUsers") != n+3 {
		t.Fatalf("refreshes: %d", h.count("ListUsers")-n)
	}

	h.c.ws.selectScreen(state.ScreenEvents)
	sc.TypedShortcut(shortcutFind)
	if h.win.Canvas().Focused() != h.c.ws.events.user {
		t.Fatal("Ctrl+F on events focuses the user filter")
	}

	// The main menu carries the same shortcuts, so they work while an entry has the focus.
	var found []string
	for _, m := range h.win.MainMenu().Items {
		for _, it := range m.Items {
			if it.Shortcut != nil {
				found = append(found, it.Label+"="+it.Shortcut.ShortcutName())
			}
		}
	}
	if len(found) != 3 {
		t.Fatalf("menu shortcuts %v", found)
	}
}

func TestThemeToggleIsRemembered(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	dark := isDark(h.app)
	h.win.Canvas().(fyne.Shortcutable).TypedShortcut(shortcutTheme)
	if isDark(h.app) == dark {
		t.Fatal("toggled")
	}
	if got, chosen := state.NewSettings(h.prefs).Dark(); !chosen || got == dark {
		t.Fatal("remembered")
	}
	bg := h.app.Settings().Theme().Color(theme.ColorNameBackground, theme.VariantLight)
	if isDark(h.app) && bg != theme.DefaultTheme().Color(theme.ColorNameBackground, theme.VariantDark) {
		t.Fatal("the forced variant wins over the system's")
	}
	test.Tap(h.c.ws.themeBtn)
	if isDark(h.app) != dark {
		t.Fatal("toggled back")
	}
}

func TestWindowSizeIsRemembered(t *testing.T) {
	h := newHarness(t)
	if sz := h.win.Canvas().Size(); sz.Width != 1280 || sz.Height != 800 {
		t.Fatalf("default size %v", sz)
	}
	h.win.Resize(fyne.NewSize(1111, 777))
	h.c.Close()
	if w, hh := state.NewSettings(h.prefs).WindowSize(); w != 1111 || hh != 777 {
		t.Fatalf("remembered %v×%v", w, hh)
	}
	h.start()
	if sz := h.win.Canvas().Size(); sz.Width != 1111 {
		t.Fatalf("restored size %v", sz)
	}
}

func TestUsersPagingAndCreate(t *testing.T) {
	h := newHarness(t)
	for i := range 40 {
		h.fake.AddUser("person"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.com", "", "long enough password", api.RoleUser)
	}
	h.mustSignIn(adminEmail, adminPass)
	h.c.ws.selectScreen(state.ScreenUsers)
	v := h.c.ws.users
	if len(v.rows) != 25 || v.pageLbl.Text != "Page 1 of 2 · 43 results" || !v.prev.Disabled() || v.next.Disabled() {
		t.Fatalf("page %q", v.pageLbl.Text)
	}
	test.Tap(v.next)
	if len(v.rows) != 18 || v.next.Disabled() == false {
		t.Fatal("page 2")
	}
	v.status.SetSelected("Locked")
	if !h.fake.Called("ListUsers", "", "locked", "", "1") || v.pageLbl.Text != "No users match." {
		t.Fatalf("filter: %q", v.pageLbl.Text)
	}
	v.status.SetSelected(anyStatus)

	test.Tap(v.newUser)
	e := v.pane.lastFormEntries
	test.Type(e[0], "zed@example.com")
	test.Type(e[1], "Zed")
	test.Type(e[2], "a long enough secret")
	v.pane.lastForm.Submit()
	if !h.fake.Called("CreateUser", "zed@example.com", "user") {
		t.Fatalf("calls %v", h.fake.Calls())
	}
	if u, ok := v.detail.User(); !ok || u.Email != "zed@example.com" {
		t.Fatal("the new user opens")
	}
	h.noProblem()
}

func TestEventsFilterDetailAndExport(t *testing.T) {
	h := newHarness(t)
	h.fake.AddEvent(api.SecurityEvent{Type: api.EventLoginFailed, Outcome: api.OutcomeFailure, IP: "198.51.100.7", UserAgent: "=cmd()", CreatedAt: now.Add(-48 * time.Hour), Details: map[string]any{"reason": "bad password"}})
	h.mustSignIn(adminEmail, adminPass)
	h.c.ws.selectScreen(state.ScreenEvents)
	v := h.c.ws.events
	if len(v.rows) != 25 || v.pageLbl.Text != "Page 1 of 2 · 30 results" {
		t.Fatalf("last 24 hours by default: %q", v.pageLbl.Text)
	}
	v.rangeSel.SetSelected(state.RangeAll)
	v.typeSel.SetSelected(api.EventLoginFailed)
	test.Tap(v.apply)
	if len(v.rows) != 1 || v.rows[0].IP != "198.51.100.7" {
		t.Fatalf("rows %v", v.rows)
	}
	v.table.Select(widgetCell(0))
	if !strings.Contains(texts(v.detail), "bad password") || !strings.Contains(texts(v.detail), "198.51.100.7") {
		t.Fatalf("detail %q", texts(v.detail))
	}
	v.typeSel.SetSelectedIndex(0)
	v.user.SetText(aliceEmail)
	test.Tap(v.apply)
	if !h.fake.Called("ListEvents", "", h.alice.ID, "1") || v.rows[0].ActorID != h.alice.ID {
		t.Fatal("the email filter becomes the ID")
	}
	if v.vm.EventCells(v.rows[0])[3] != aliceEmail {
		t.Fatal("names instead of IDs")
	}

	v.rangeSel.SetSelected(state.RangeCustom)
	v.since.SetText("tomorrow")
	test.Tap(v.apply)
	if p := h.c.Problem(); p.Code != state.CodeInvalidInput {
		t.Fatalf("bad time: %+v", p)
	}
	v.since.SetText("")
	v.user.SetText("")
	test.Tap(v.apply)
	h.noProblem()

	test.Tap(v.export)
	recs, err := csv.NewReader(bytes.NewReader(h.saved.Bytes())).ReadAll()
	if err != nil || len(recs) != 32 || recs[0][0] != "time" {
		t.Fatalf("csv: %d rows, %v", len(recs), err)
	}
	if !strings.Contains(h.saved.String(), "'=cmd()") {
		t.Fatal("formulas neutralised in the export")
	}
	if !strings.Contains(h.c.status.Text, "Exported 31 events") {
		t.Fatalf("status %q", h.c.status.Text)
	}
}

func TestDashboardAndLivePoolChart(t *testing.T) {
	h := newHarness(t)
	base := now
	var samples []api.PoolStats
	for i := range 10 {
		samples = append(samples, api.PoolStats{Dialect: "sqlite", SampledAt: base.Add(time.Duration(i) * time.Second), InUse: i % 3, Idle: 2, OpenConnections: 2 + i%3, MaxOpenConnections: 8, WaitCount: int64(i)})
	}
	h.fake.AddStream(fakeapi.Stream{Samples: samples[:4], Err: errors.New("connection reset")})
	h.fake.AddStream(fakeapi.Stream{Samples: samples[4:]})
	h.c.opt.PoolSleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	h.mustSignIn(adminEmail, adminPass)
	d := h.c.ws.dash
	if !strings.Contains(texts(d.server), "v0.9.0-test") || !strings.Contains(texts(d.health), "database") {
		t.Fatalf("server %q health %q", texts(d.server), texts(d.health))
	}
	if len(d.rows) != state.LatestEvents {
		t.Fatalf("latest events %d", len(d.rows))
	}
	if len(h.runner.loops) != 1 {
		t.Fatal("the pool stream is started")
	}
	// Run the stream on its goroutine; apply its UI updates here, as fyne.Do would.
	posted := make(chan func(), 64)
	go h.runner.loops[0](func(fn func()) { posted <- fn })
	deadline := time.After(5 * time.Second)
	for len(d.conns.times) < 10 {
		select {
		case fn := <-posted:
			fn()
		case <-deadline:
			t.Fatalf("chart has %d points", len(d.conns.times))
		}
	}
	h.c.Close() // stops the stream
	if len(d.conns.series) != 2 || d.conns.series[0].values[9] != 0 || d.conns.series[0].values[8] != 2 || d.waits.series[0].values[9] != 1 {
		t.Fatalf("series %+v", d.conns.series)
	}
	if caption := noteText(d.poolNow); !strings.Contains(caption, "live") || !strings.Contains(caption, "sqlite") {
		t.Fatalf("caption %q", caption)
	}
	// The chart draws a line per segment and per series.
	r := test.WidgetRenderer(d.conns).(*chartRenderer)
	if len(r.lines) != 2 || len(r.lines[0]) != 9 {
		t.Fatalf("lines %d", len(r.lines))
	}
}

func TestSignOut(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	test.Tap(h.c.ws.signOut)
	if !h.fake.Called("Logout") || h.c.ws != nil || h.c.body.Objects[0] != h.c.signIn.content || h.c.signIn.expired.Visible() {
		t.Fatal("signed out")
	}
}

func TestConsoleErrorsAreNeverRawGoErrors(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(adminEmail, adminPass)
	h.fake.FailNext("ListUsers", errors.New("json: cannot unmarshal number into Go struct field"))
	h.c.ws.selectScreen(state.ScreenUsers)
	p := h.c.Problem()
	if p.Code != state.CodeConsoleFailed || strings.Contains(h.c.banner.message.Text, "json") {
		t.Fatalf("problem %+v", p)
	}
}

func TestChartHelpers(t *testing.T) {
	for v, want := range map[float64]float64{0: 1, 0.3: 0.4, 3: 4, 7: 8, 12: 20, 150: 200, 1333: 2000} {
		if got := niceMax(v, false); got != want {
			t.Errorf("niceMax(%v) = %v", v, got)
		}
	}
	if got := niceMax(1, true); got != 4 {
		t.Errorf("whole numbers: %v", got)
	}
	if got := formatTick(0.25); got != "0.25" {
		t.Error(got)
	}
	c := newLineChart("t", "", 5*time.Minute)
	c.times = []time.Time{now, now.Add(10 * time.Second)}
	if c.span() != time.Minute {
		t.Errorf("a fresh feed spans a minute: %v", c.span())
	}
	c.times = []time.Time{now, now.Add(150 * time.Second)}
	if c.span() != 3*time.Minute {
		t.Errorf("span %v", c.span())
	}
	c.times = []time.Time{now, now.Add(9 * time.Minute)}
	if c.span() != 5*time.Minute || spanLabel(c.span()) != "5 min" {
		t.Errorf("span %v", c.span())
	}
	if got := downsample(300, 150); len(got) != 150 || got[0] != 0 || got[149] != 299 {
		t.Fatalf("downsample %v", got[:3])
	}
	if got := downsample(3, 150); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatal(got)
	}
}

func TestExpiredSecondFactorStepReturnsToPassword(t *testing.T) {
	h := newHarness(t)
	h.fake.SecondFactor[adminEmail] = []string{api.FactorTOTP}
	h.signIn(adminEmail, adminPass)
	h.fake.FailNext("VerifyMFA", &api.Error{Code: api.CodeMFALoginExpired, Message: "this sign-in has expired: sign in again"})
	test.Type(h.c.signIn.code, "123456")
	test.Tap(h.c.signIn.verify)
	if !h.c.signIn.pwForm.Visible() || h.c.Problem().Code != string(api.CodeMFALoginExpired) || h.c.signIn.email.Text != adminEmail {
		t.Fatalf("back to the password with the server's message: %+v", h.c.Problem())
	}
}

func TestUsersTableFillsTheMFAColumn(t *testing.T) {
	h := newHarness(t)
	h.mustSignIn(supportEmail, supportPass)
	h.c.ws.selectScreen(state.ScreenUsers)
	v := h.c.ws.users
	i := slices.IndexFunc(v.rows, func(u api.User) bool { return u.Email == aliceEmail })
	if got := state.UserCells(v.rows[i], now)[4]; got != "TOTP" {
		t.Fatalf("MFA column %q", got)
	}
}

func TestForgetAllDevices(t *testing.T) {
	h := newHarness(t)
	h.fake.AddDevice(h.alice.ID, "d2", "Chrome on Windows")
	h.mustSignIn(supportEmail, supportPass)
	h.openUser(aliceEmail)
	p := h.c.ws.users.pane
	test.Tap(p.forgetAll)
	p.lastConfirm.Confirm()
	if !h.fake.Called("RevokeUserDevices", h.alice.ID) || len(p.revokeDevice) != 0 {
		t.Fatal("every device forgotten")
	}
}
