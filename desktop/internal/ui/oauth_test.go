package ui

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// browserReturning is a browser that follows the start address straight to the console's
// loopback redirect with query (the server and the provider are the fake's business).
func (h *harness) browserReturning(query string, page *string) func(string) error {
	return func(start string) error {
		u, err := url.Parse(start)
		if err != nil {
			return err
		}
		redirect := u.Query().Get(api.OAuthRedirectParam)
		if !strings.HasPrefix(redirect, "http://127.0.0.1:") || u.Query().Get(api.OAuthChallengeParam) == "" {
			h.t.Errorf("start address %s", start)
		}
		resp, err := http.Get(redirect + "?" + query) //nolint:gosec,noctx // the console's own loopback listener
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if page != nil {
			*page = string(b)
		}
		return nil
	}
}

func (h *harness) typeServer() {
	h.t.Helper()
	v := h.c.signIn
	v.server.SetText("")
	test.Type(v.server, "localhost:8080")
	h.timers.FireAll() // typing paused: the providers load
}

func (h *harness) addProviders() {
	h.fake.AddProvider(api.OAuthProvider{Type: api.ProviderGoogle, DisplayName: "Google", ClientID: "gid", HasClientSecret: true, Enabled: true, Scopes: []string{"openid", "email"}})
	h.fake.AddProvider(api.OAuthProvider{Type: api.ProviderGitHub, DisplayName: "GitHub", ClientID: "ghid", HasClientSecret: true, Enabled: false})
}

func TestSignInWithProviderThroughTheLoopback(t *testing.T) {
	h := newHarness(t)
	h.addProviders()
	h.typeServer()
	v := h.c.signIn
	if len(v.providerBtns) != 1 || v.providerBtns["google"] == nil || v.providerBtns["google"].Text != "Sign in with Google" {
		t.Fatalf("buttons %v", v.providerBtns)
	}
	h.fake.IssueOAuthCode("one-time-1", adminEmail)
	var page string
	h.browser = h.browserReturning("code=one-time-1", &page)
	test.Tap(v.providerBtns["google"])
	h.noProblem()
	if h.c.ws == nil || h.c.opt.Session.User().Email != adminEmail || !h.fake.Called("OAuthExchange", "one-time-1") {
		t.Fatalf("not signed in: %v", h.fake.Calls())
	}
	if !strings.Contains(page, "You can close this window") {
		t.Fatalf("browser page %q", page)
	}
	i := slices.IndexFunc(h.fake.Calls(), func(c fakeapi.Call) bool { return c.Method == "OAuthStartURL" })
	if i < 0 || h.fake.Calls()[i].Args[0] != "google" || !strings.HasSuffix(h.fake.Calls()[i].Args[1], "/callback") {
		t.Fatalf("start address %v", h.fake.Calls())
	}
}

func TestProviderSignInAsksForTheSecondFactor(t *testing.T) {
	h := newHarness(t)
	h.addProviders()
	h.fake.SecondFactor[strings.ToLower(adminEmail)] = []string{api.FactorTOTP}
	h.typeServer()
	v := h.c.signIn
	h.fake.IssueOAuthCode("one-time-2", adminEmail)
	h.browser = h.browserReturning("code=one-time-2", nil)
	test.Tap(v.providerBtns["google"])
	h.noProblem()
	if !v.mfaForm.Visible() || !strings.Contains(v.who.Text, "with Google") {
		t.Fatalf("second factor step: %v %q", v.mfaForm.Visible(), v.who.Text)
	}
	test.Type(v.code, h.fake.Code)
	test.Tap(v.verify)
	h.noProblem()
	if h.c.ws == nil || h.c.opt.Session.AAL() != api.AAL2 {
		t.Fatal("not signed in at aal2")
	}
}

func TestProviderSignInFailureIsShownOnce(t *testing.T) {
	h := newHarness(t)
	h.addProviders()
	h.typeServer()
	v := h.c.signIn
	var page string
	h.browser = h.browserReturning("error="+string(api.CodeForbidden), &page)
	test.Tap(v.providerBtns["google"])
	if p := h.c.Problem(); p.Code != string(api.CodeForbidden) || h.c.ws != nil {
		t.Fatalf("problem %+v", p)
	}
	if !strings.Contains(page, "Sign-in failed") || v.waiting.Visible() || v.submit.Disabled() {
		t.Fatalf("after failure: page %q waiting %v", page, v.waiting.Visible())
	}
	if h.count("OAuthExchange") != 0 {
		t.Fatal("nothing to exchange after an error")
	}
}

func TestProvidersScreen(t *testing.T) {
	h := newHarness(t)
	h.addProviders()
	h.mustSignIn(adminEmail, adminPass)
	if !h.c.ws.selectScreen(state.ScreenProviders) {
		t.Fatal("no providers screen")
	}
	v := h.c.ws.provs
	h.noProblem()
	if len(v.rows) != 2 || v.rows[0].DisplayName != "GitHub" || !strings.Contains(texts(v.backends), "db") {
		t.Fatalf("rows %+v backends %q", v.rows, texts(v.backends))
	}
	v.table.Select(widget.TableCellID{Row: 1, Col: 0}) // Google
	e := v.ed
	if e.draft.Type != api.ProviderGoogle || e.entries["client_secret"].Text != "" || !strings.Contains(e.entries["client_secret"].PlaceHolder, "leave blank") {
		t.Fatalf("editor %+v", e.draft)
	}
	e.entries["display_name"].SetText("Google Workspace")
	e.entries["allowed_domains"].SetText("example.com, Example.org")
	test.Tap(e.save)
	h.noProblem()
	g, _ := h.fake.Provider("google")
	if g.DisplayName != "Google Workspace" || !slices.Equal(g.AllowedDomains, []string{"example.com", "example.org"}) || h.fake.ProviderSecret(g.ID) != "" {
		t.Fatalf("saved %+v", g)
	}
	if !h.fake.Called("UpdateOAuthProvider", g.ID, "enabled=true") {
		t.Fatalf("a blank secret is not sent: %v", h.fake.Calls())
	}
	test.Type(e.entries["client_secret"], "new-client-secret")
	test.Tap(e.save)
	if h.fake.ProviderSecret(g.ID) != "new-client-secret" || e.entries["client_secret"].Text != "" {
		t.Fatal("the typed secret is sent, then the field is blank again")
	}
	test.Tap(e.toggle) // disable
	if g, _ := h.fake.Provider("google"); g.Enabled || e.toggle.Text != "Enable" {
		t.Fatalf("toggle %+v", g)
	}
	test.Tap(e.del)
	if e.lastConfirm == nil || !strings.Contains(h.overlayTexts(), "every identity linked through it") {
		t.Fatal("delete asks first")
	}
	e.lastConfirm.Confirm()
	if _, ok := h.fake.Provider("google"); ok || len(v.rows) != 1 || e.save != nil {
		t.Fatal("deleted")
	}

	// A new OpenID Connect provider needs its issuer; the banner says so, the form keeps the rest.
	v.newType.SetSelected(state.ProviderTypeLabel(api.ProviderOIDC))
	test.Tap(v.newBtn)
	test.Type(e.entries["client_id"], "cid")
	test.Type(e.entries["client_secret"], "csecret")
	e.entries["display_name"].SetText("Corporate SSO")
	test.Tap(e.save)
	if p := h.c.Problem(); p.Code != state.CodeInvalidInput || e.entries["client_id"].Text != "cid" {
		t.Fatalf("problem %+v", p)
	}
	test.Type(e.entries["base_url"], "https://sso.example.com")
	test.Tap(e.save)
	h.noProblem()
	if p, ok := h.fake.Provider("oidc"); !ok || p.BaseURL != "https://sso.example.com" || h.fake.ProviderSecret(p.ID) != "csecret" || !p.Enabled {
		t.Fatalf("created %+v", p)
	}
}

func TestSupportSeesNoProvidersButLinkedIdentities(t *testing.T) {
	h := newHarness(t)
	h.addProviders()
	last := now.Add(-2 * time.Hour)
	h.fake.AddIdentity(h.alice.ID, api.Identity{ID: "i1", ProviderID: "p001", Provider: "google", ProviderType: api.ProviderGoogle, Email: "alice@gmail.example", EmailVerified: true, CreatedAt: now.Add(-48 * time.Hour), LastLoginAt: &last})
	h.mustSignIn(supportEmail, supportPass)
	if h.c.ws.provs != nil || h.c.ws.selectScreen(state.ScreenProviders) {
		t.Fatal("providers are for admins")
	}
	h.openUser(aliceEmail)
	got := texts(h.c.ws.users.pane.content)
	if !strings.Contains(got, "Linked identities (1)") || !strings.Contains(got, "Google · google") || !strings.Contains(got, "last sign-in 2 h ago") {
		t.Fatalf("pane %q", got)
	}
}
