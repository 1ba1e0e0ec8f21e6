package app_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/oauth/oauthtest"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// oauthEnv is a server with an admin and loopback identity providers.
type oauthEnv struct {
	*mfaEnv
	admin *client.Client
	oidc  *oauthtest.OIDC
	seq   atomic.Int64
}

func newOAuthEnv(t *testing.T, dialect string) *oauthEnv {
	t.Helper()
	e := &oauthEnv{mfaEnv: newMFAEnv(t, dialect, testenv.WithConfig(func(c *config.Config) {
		c.OAuth.Timeout = 2 * time.Second
		c.OAuth.RatePerIP = 30_000 // every browser here is 127.0.0.1
		c.OAuth.AllowedRedirects = []string{"https://app.example.com/signed-in"}
	}))}
	e.CreateUser(t, "oauth-admin@example.com", "admin-pass-7Hq2-xZ", api.RoleAdmin)
	e.admin = e.LoginCookie(t, "oauth-admin@example.com", "admin-pass-7Hq2-xZ")
	e.oidc = oauthtest.StartOIDC(t)
	return e
}

// provider creates a provider through the admin API.
func (e *oauthEnv) provider(t *testing.T, req api.CreateOAuthProviderRequest) api.OAuthProvider {
	t.Helper()
	p, err := e.admin.CreateOAuthProvider(context.Background(), req)
	if err != nil {
		t.Fatalf("create provider %s: %v", req.Slug, err)
	}
	return *p
}

// oidcProvider creates a generic OIDC provider over the mock.
func (e *oauthEnv) oidcProvider(t *testing.T, slug string, mod func(*api.CreateOAuthProviderRequest)) api.OAuthProvider {
	t.Helper()
	req := api.CreateOAuthProviderRequest{Slug: slug, Type: api.ProviderOIDC, DisplayName: "Acme SSO", ClientID: e.oidc.ClientID(),
		ClientSecret: e.oidc.ClientSecret(), BaseURL: e.oidc.Issuer(), AutoRegister: true}
	if mod != nil {
		mod(&req)
	}
	return e.provider(t, req)
}

func (e *oauthEnv) subject() string {
	return fmt.Sprintf("sub-%d-%d", time.Now().UnixNano(), e.seq.Add(1))
}

// browser is a web browser: a cookie jar, redirects followed one by one.
type browser struct {
	t    *testing.T
	jar  *cookiejar.Jar
	hc   *http.Client
	base *url.URL
}

func (e *oauthEnv) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(e.URL)
	return &browser{t: t, jar: jar, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// get fetches one URL without following redirects.
func (b *browser) get(u string) *http.Response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	res, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	res.Body = io.NopCloser(strings.NewReader(string(raw)))
	return res
}

// follow goes from u through redirects until the flow leaves the provider and the OAuth
// endpoints: it returns where the browser lands (not fetched), or the last answer when it is
// not a redirect (an error page).
func (b *browser) follow(u string) (*url.URL, *http.Response) {
	b.t.Helper()
	for range 10 {
		res := b.get(u)
		if res.StatusCode != http.StatusFound {
			return nil, res
		}
		loc, err := res.Location()
		if err != nil {
			b.t.Fatal(err)
		}
		ours := loc.Host == b.base.Host
		if (ours && !strings.HasPrefix(loc.Path, "/api/v1/auth/oauth/")) || (!ours && loc.Hostname() == "127.0.0.1" && loc.Path == "/cb") ||
			loc.Host == "app.example.com" {
			return loc, nil
		}
		u = loc.String()
	}
	b.t.Fatal("too many redirects")
	return nil, nil
}

// authorize starts a flow and goes as far as the provider's redirect back to our callback,
// returning that callback URL (not fetched).
func (b *browser) authorize(startURL string) *url.URL {
	b.t.Helper()
	res := b.get(startURL)
	if res.StatusCode != http.StatusFound {
		b.t.Fatalf("start: %d %s", res.StatusCode, readBody(res))
	}
	loc, _ := res.Location()
	res = b.get(loc.String())
	if res.StatusCode != http.StatusFound {
		b.t.Fatalf("provider authorize: %d %s", res.StatusCode, readBody(res))
	}
	cb, _ := res.Location()
	return cb
}

// client is an API client sharing the browser's cookies (signed in when the browser is).
func (b *browser) client(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(b.base.String(), client.WithHTTPClient(&http.Client{Jar: b.jar, Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readBody(res *http.Response) string {
	raw, _ := io.ReadAll(res.Body)
	return string(raw)
}

func startURL(base, slug, redirectTo string) string {
	u := base + "/api/v1/auth/oauth/" + slug + "/start"
	if redirectTo != "" {
		u += "?redirect_to=" + url.QueryEscape(redirectTo)
	}
	return u
}

func wantLanded(t *testing.T, loc *url.URL, res *http.Response, key, want string) {
	t.Helper()
	if loc == nil {
		t.Fatalf("flow ended on %d %s, want a redirect with %s=%s", res.StatusCode, readBody(res), key, want)
	}
	if got := loc.Query().Get(key); got != want {
		t.Fatalf("landed on %s, want %s=%s", loc, key, want)
	}
}

func wantAPIError(t *testing.T, res *http.Response, status int, code api.Code) {
	t.Helper()
	if res == nil {
		t.Fatalf("want %d %s, got a redirect", status, code)
	}
	body := readBody(res)
	var e api.ErrorBody
	_ = json.Unmarshal([]byte(body), &e)
	if res.StatusCode != status || e.Error.Code != code {
		t.Fatalf("got %d %s, want %d %s", res.StatusCode, body, status, code)
	}
}

func (e *oauthEnv) events(t *testing.T, typ string) []api.SecurityEvent {
	t.Helper()
	list, err := e.admin.ListEvents(context.Background(), client.EventQuery{Type: typ, PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	return list.Events
}

func TestOAuthProvidersAdmin(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ctx := context.Background()
		p := e.oidcProvider(t, "acme", nil)
		if !p.HasClientSecret || p.ID == "" || p.Type != api.ProviderOIDC || !p.Enabled || len(p.Scopes) != 3 {
			t.Fatalf("created %+v", p)
		}
		// The client secret is sealed at rest and never returned (write-only).
		var raw json.RawMessage
		if _, err := e.admin.Do(ctx, http.MethodGet, "/api/v1/admin/oauth-providers/"+p.ID, nil, &raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), e.oidc.ClientSecret()) || strings.Contains(string(raw), `"client_secret":`) {
			t.Fatalf("provider answer shows the secret: %s", raw)
		}
		stored, err := e.App.DB.OAuth().GetProvider(ctx, p.ID)
		if err != nil || !strings.HasPrefix(stored.SealedSecret, "v1:") || strings.Contains(stored.SealedSecret, e.oidc.ClientSecret()) {
			t.Fatalf("stored secret %q (%v): want a keyring ciphertext", stored.SealedSecret, err)
		}

		for _, bad := range []struct {
			req   api.CreateOAuthProviderRequest
			field string
		}{
			{api.CreateOAuthProviderRequest{Type: "facebook", ClientID: "x", ClientSecret: "y"}, "type"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderOIDC, Slug: "x", ClientID: "x", ClientSecret: "y"}, "base_url"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderOIDC, Slug: "x", ClientID: "x", ClientSecret: "y", BaseURL: "http://idp.example.com"}, "base_url"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderGoogle, Slug: "Bad Slug", ClientID: "x", ClientSecret: "y"}, "slug"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderGoogle, Slug: "g2", ClientID: "x"}, "client_secret"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderGoogle, Slug: "g3", ClientID: "x", ClientSecret: "y", Scopes: []string{"email"}}, "scopes"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderGitHub, Slug: "g4", ClientID: "x", ClientSecret: "y", Tenant: "common"}, "tenant"},
			{api.CreateOAuthProviderRequest{Type: api.ProviderGitHub, Slug: "g5", ClientID: "x", ClientSecret: "y", AllowedDomains: []string{"not a domain"}}, "allowed_domains"},
		} {
			_, err := e.admin.CreateOAuthProvider(ctx, bad.req)
			var ae *api.Error
			if !asAPI(err, &ae) || ae.Code != api.CodeInvalidRequest || ae.Details["field"] != bad.field {
				t.Errorf("create %+v: %v, want invalid_request on %s", bad.req, err, bad.field)
			}
		}
		if _, err := e.admin.CreateOAuthProvider(ctx, api.CreateOAuthProviderRequest{Slug: "acme", Type: api.ProviderGoogle, ClientID: "x", ClientSecret: "y"}); client.ErrorCode(err) != api.CodeConflict {
			t.Fatalf("duplicate slug: %v", err)
		}

		gh := e.provider(t, api.CreateOAuthProviderRequest{Type: api.ProviderGitHub, ClientID: "gh-id", ClientSecret: "gh-secret", Enabled: ptr(false)})
		pub, err := e.NewClient(t).PublicProviders(ctx)
		if err != nil || len(pub) != 1 || pub[0].Slug != "acme" || pub[0].StartURL != "/api/v1/auth/oauth/acme/start" {
			t.Fatalf("public providers %+v %v: want only the enabled one", pub, err)
		}
		up, err := e.admin.UpdateOAuthProvider(ctx, gh.ID, api.UpdateOAuthProviderRequest{Enabled: ptr(true), DisplayName: ptr("GitHub.com"), ClientSecret: ptr("rotated-secret")})
		if err != nil || !up.Enabled || up.DisplayName != "GitHub.com" || !up.UpdatedAt.After(gh.UpdatedAt) {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := e.admin.UpdateOAuthProvider(ctx, gh.ID, api.UpdateOAuthProviderRequest{ClientSecret: ptr("")}); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("empty secret: %v", err)
		}
		list, err := e.admin.ListOAuthProviders(ctx)
		if err != nil || len(list) != 2 {
			t.Fatalf("list: %+v %v", list, err)
		}

		// Support staff never see providers (their client secrets' configuration).
		e.CreateUser(t, "oauth-support@example.com", "support-pass-4Kd9-qW", api.RoleSupport)
		sup := e.LoginCookie(t, "oauth-support@example.com", "support-pass-4Kd9-qW")
		if _, err := sup.ListOAuthProviders(ctx); client.ErrorCode(err) != api.CodeForbidden {
			t.Fatalf("support lists providers: %v", err)
		}

		if err := e.admin.DeleteOAuthProvider(ctx, gh.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.admin.GetOAuthProvider(ctx, gh.ID); client.ErrorCode(err) != api.CodeNotFound {
			t.Fatalf("deleted provider: %v", err)
		}
		var actions []string
		for _, ev := range e.events(t, api.EventOAuthProviderChanged) {
			actions = append(actions, fmt.Sprint(ev.Details["action"]))
		}
		if strings.Join(actions, ",") != "deleted,updated,created,created" {
			t.Fatalf("provider events %v", actions)
		}
	})
}

func ptr[T any](v T) *T { return &v }

// TestSEC31OAuthLoginOIDC: the full flow with auto-registration, then a known identity with profile
// sync (SEC-30, SEC-31, SEC-32).
func TestSEC31OAuthLoginOIDC(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ctx := context.Background()
		e.oidcProvider(t, "acme", nil)
		sub := e.subject()
		e.oidc.Next(&oauthtest.User{Subject: sub, Email: "New.Person@Example.com", EmailVerified: true, Name: "New Person", Picture: "https://img.example.com/p.png"})
		b := e.browser(t)
		loc, res := b.follow(startURL(e.URL, "acme", "/welcome"))
		wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
		if loc.Path != "/welcome" {
			t.Fatalf("landed on %s, want /welcome", loc)
		}
		c := b.client(t)
		me, err := c.Me(ctx)
		if err != nil {
			t.Fatalf("me after social login: %v", err)
		}
		if me.Email != "new.person@example.com" || me.HasPassword || !me.EmailVerified || me.DisplayName != "New Person" || me.AvatarURL != "https://img.example.com/p.png" {
			t.Fatalf("registered account %+v", me)
		}
		ids, err := c.MyIdentities(ctx)
		if err != nil || len(ids) != 1 || ids[0].Subject != sub || ids[0].Provider != "acme" || ids[0].LastLoginAt == nil {
			t.Fatalf("identities %+v %v", ids, err)
		}
		// SEC-31: the code was redeemed with the PKCE verifier of the challenge sent.
		reqs := e.oidc.TokenRequests()
		if len(reqs) == 0 || len(reqs[len(reqs)-1].Get("code_verifier")) != 43 {
			t.Fatalf("token request without a PKCE verifier: %v", reqs)
		}
		if got := e.events(t, api.EventUserRegistered); len(got) != 1 || got[0].Details["provider"] != "acme" {
			t.Fatalf("registration events %+v", got)
		}

		// Known identity: signs in to the same account; the profile follows the provider.
		e.oidc.Next(&oauthtest.User{Subject: sub, Email: "new.person@example.com", EmailVerified: true, Name: "Renamed Person"})
		b2 := e.browser(t)
		loc, res = b2.follow(startURL(e.URL, "acme", ""))
		wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
		me2, err := b2.client(t).Me(ctx)
		if err != nil || me2.ID != me.ID || me2.DisplayName != "Renamed Person" {
			t.Fatalf("second login %+v %v", me2, err)
		}
		methods := 0
		for _, ev := range e.events(t, api.EventLoginSucceeded) {
			if ev.Details["method"] == "oauth:acme" && ev.SubjectUserID == me.ID {
				methods++
			}
		}
		if methods != 2 {
			t.Fatalf("%d social login events, want 2", methods)
		}
	})
}

// TestSEC33OAuthAccountRules: SEC-33 (auto-link only when allowed), unverified emails, allowed
// domains, registration off, locked accounts.
func TestSEC33OAuthAccountRules(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	ctx := context.Background()
	p := e.oidcProvider(t, "acme", nil)
	existing := e.CreateUser(t, "existing@example.com", "prior-pass-9Lm3-tR")

	run := func(u *oauthtest.User) (*url.URL, *http.Response) {
		e.oidc.Next(u)
		return e.browser(t).follow(startURL(e.URL, "acme", ""))
	}
	loc, res := run(&oauthtest.User{Subject: e.subject(), Email: "existing@example.com", EmailVerified: true})
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthLinkRequired))
	if ids, _ := e.App.OAuth.UserIdentities(ctx, existing.ID); len(ids) != 0 {
		t.Fatalf("identity linked without auto_link: %+v", ids)
	}

	loc, res = run(&oauthtest.User{Subject: e.subject(), Email: "unverified@example.com", EmailVerified: false})
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthEmailUnverified))

	if _, err := e.admin.UpdateOAuthProvider(ctx, p.ID, api.UpdateOAuthProviderRequest{AllowedDomains: &[]string{"corp.example.com"}}); err != nil {
		t.Fatal(err)
	}
	loc, res = run(&oauthtest.User{Subject: e.subject(), Email: "someone@elsewhere.example.com", EmailVerified: true})
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthEmailDomain))
	loc, res = run(&oauthtest.User{Subject: e.subject(), Email: "someone@corp.example.com", EmailVerified: true})
	wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)

	if _, err := e.admin.UpdateOAuthProvider(ctx, p.ID, api.UpdateOAuthProviderRequest{AllowedDomains: &[]string{}, AutoRegister: ptr(false), AutoLink: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	loc, res = run(&oauthtest.User{Subject: e.subject(), Email: "nobody@example.com", EmailVerified: true})
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthNoAccount))

	// SEC-33: a provider trusted to auto-link attaches the identity to the verified email's account.
	linkedSub := e.subject()
	loc, res = run(&oauthtest.User{Subject: linkedSub, Email: "existing@example.com", EmailVerified: true})
	wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
	ids, _ := e.App.OAuth.UserIdentities(ctx, existing.ID)
	if len(ids) != 1 || ids[0].Subject != linkedSub {
		t.Fatalf("auto-linked identities %+v", ids)
	}
	if ev := e.events(t, api.EventIdentityLinked); len(ev) != 1 || ev[0].Details["auto"] != true {
		t.Fatalf("link events %+v", ev)
	}

	// A locked account cannot sign in socially either.
	if _, err := e.admin.LockUser(ctx, existing.ID); err != nil {
		t.Fatal(err)
	}
	loc, res = run(&oauthtest.User{Subject: linkedSub, Email: "existing@example.com", EmailVerified: true})
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeInvalidCredentials))
	failed := e.events(t, api.EventOAuthFailed)
	reasons := map[string]bool{}
	for _, ev := range failed {
		reasons[fmt.Sprint(ev.Details["reason"])] = true
	}
	for _, r := range []string{"link_required", "email_unverified", "domain", "no_account", "account_inactive"} {
		if !reasons[r] {
			t.Errorf("no oauth.failed event with reason %s (have %v)", r, reasons)
		}
	}
}

// TestSEC30OAuthState: SEC-30 — state missing, unknown, replayed, from another browser, expired,
// or brought back to another provider (mix-up) is refused.
func TestSEC30OAuthState(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	ctx := context.Background()
	e.oidcProvider(t, "acme", nil)
	e.oidcProvider(t, "other", func(r *api.CreateOAuthProviderRequest) { r.DisplayName = "Other" })
	next := func() {
		e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "state@example.com", EmailVerified: true})
	}

	next()
	b := e.browser(t)
	cb := b.authorize(startURL(e.URL, "acme", ""))
	if cb.Query().Get("state") == "" {
		t.Fatalf("callback without state: %s", cb)
	}
	// Missing state.
	noState := *cb
	q := noState.Query()
	q.Del("state")
	noState.RawQuery = q.Encode()
	wantAPIError(t, b.get(noState.String()), http.StatusBadRequest, api.CodeOAuthStateInvalid)
	// Unknown (mismatched) state.
	bad := *cb
	q = bad.Query()
	q.Set("state", "not-the-state")
	bad.RawQuery = q.Encode()
	wantAPIError(t, b.get(bad.String()), http.StatusBadRequest, api.CodeOAuthStateInvalid)

	// Another browser cannot finish this browser's flow (login CSRF): without the binding
	// cookie, or with its own flow's.
	wantAPIError(t, e.browser(t).get(cb.String()), http.StatusBadRequest, api.CodeOAuthStateInvalid)
	next()
	other := e.browser(t)
	other.authorize(startURL(e.URL, "acme", ""))
	wantAPIError(t, other.get(cb.String()), http.StatusBadRequest, api.CodeOAuthStateInvalid)

	// The owner still can, once: a replay after success is refused.
	res := b.get(cb.String())
	if res.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d %s", res.StatusCode, readBody(res))
	}
	wantAPIError(t, b.get(cb.String()), http.StatusBadRequest, api.CodeOAuthStateInvalid)

	// Mix-up: a state from acme's flow brought to other's callback.
	next()
	b = e.browser(t)
	cb = b.authorize(startURL(e.URL, "acme", ""))
	mixed := strings.Replace(cb.String(), "/oauth/acme/callback", "/oauth/other/callback", 1)
	wantAPIError(t, b.get(mixed), http.StatusBadRequest, api.CodeOAuthStateInvalid)

	// Expired state.
	next()
	b = e.browser(t)
	cb = b.authorize(startURL(e.URL, "acme", ""))
	if _, err := e.App.DB.SQL().ExecContext(ctx, "UPDATE oauth_flows SET expires_at = ?", time.Now().Add(-time.Minute).UTC()); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, b.get(cb.String()), http.StatusBadRequest, api.CodeOAuthStateInvalid)

	if n := len(e.events(t, api.EventOAuthFailed)); n < 6 {
		t.Fatalf("%d oauth.failed events, want one per refusal", n)
	}
	// The binding cookie is httpOnly and short-lived.
	res = e.browser(t).get(startURL(e.URL, "acme", ""))
	ck := res.Header.Get("Set-Cookie")
	if !strings.Contains(ck, "gatehouse_oauth=") || !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "Max-Age=600") || !strings.Contains(ck, "SameSite=Lax") {
		t.Fatalf("binding cookie %q", ck)
	}
	loc, _ := res.Location()
	for _, p := range []string{"state", "nonce", "code_challenge"} {
		if len(loc.Query().Get(p)) < 43 {
			t.Errorf("authorization request %s=%q: want >= 256 bits", p, loc.Query().Get(p))
		}
	}
	if loc.Query().Get("code_challenge_method") != "S256" {
		t.Errorf("code_challenge_method %q", loc.Query().Get("code_challenge_method"))
	}
}

// TestSEC32OAuthIDToken: SEC-32 — nonce, issuer, audience and expiry are verified.
func TestSEC32OAuthIDToken(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	e.oidcProvider(t, "acme", nil)
	for name, mutate := range map[string]func(c *mockoidc.IDTokenClaims){
		"nonce":    func(c *mockoidc.IDTokenClaims) { c.Nonce = "another-nonce" },
		"issuer":   func(c *mockoidc.IDTokenClaims) { c.Issuer = "https://evil.example.com" },
		"audience": func(c *mockoidc.IDTokenClaims) { c.Audience = jwt.ClaimStrings{"someone-else"} },
		"expired": func(c *mockoidc.IDTokenClaims) {
			c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
			c.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
		},
	} {
		t.Run(name, func(t *testing.T) {
			e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "tok@example.com", EmailVerified: true, Mutate: mutate})
			loc, res := e.browser(t).follow(startURL(e.URL, "acme", ""))
			wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthTokenInvalid))
		})
	}
	if _, err := e.App.UserStore.GetByEmail(context.Background(), "tok@example.com"); err == nil {
		t.Fatal("an account was made from an invalid ID token")
	}
}

// TestOAuthProviderFailures: the provider refusing, erroring or timing out ends the flow with
// oauth_provider_error at the target.
func TestOAuthProviderFailures(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	e.oidcProvider(t, "acme", nil)
	user := func() {
		e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "fail@example.com", EmailVerified: true})
	}

	// The user denied consent: the provider comes back with error=access_denied.
	user()
	b := e.browser(t)
	cb := b.authorize(startURL(e.URL, "acme", "/after"))
	denied := *cb
	q := denied.Query()
	q.Del("code")
	q.Set("error", "access_denied")
	denied.RawQuery = q.Encode()
	loc, res := b.follow(denied.String())
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthProviderError))
	if loc.Path != "/after" {
		t.Fatalf("error landed on %s", loc)
	}

	// The token endpoint fails.
	user()
	b = e.browser(t)
	cb = b.authorize(startURL(e.URL, "acme", ""))
	e.oidc.FailNext(1, http.StatusInternalServerError, "server_error")
	loc, res = b.follow(cb.String())
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthProviderError))

	// The token endpoint does not answer in time (oauth.timeout is 2s here).
	user()
	b = e.browser(t)
	cb = b.authorize(startURL(e.URL, "acme", ""))
	e.oidc.SetTokenDelay(time.Minute)
	began := time.Now()
	loc, res = b.follow(cb.String())
	e.oidc.SetTokenDelay(0)
	wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthProviderError))
	if waited := time.Since(began); waited > 30*time.Second {
		t.Fatalf("the callback waited %s for a provider bounded at 2s", waited)
	}

	// An unknown or disabled provider.
	wantAPIError(t, e.browser(t).get(startURL(e.URL, "nope", "")), http.StatusNotFound, api.CodeNotFound)
}

// TestOAuthFlowsThrottledPerIP: unauthenticated flow requests write to the database, so one
// address gets only so many.
func TestOAuthFlowsThrottledPerIP(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite) // its provider and browsers; the server under test is low
	low := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.OAuth.RatePerIP = 2 }))
	low.CreateUser(t, "low-admin@example.com", "admin-pass-7Hq2-xZ", api.RoleAdmin)
	adm := low.LoginCookie(t, "low-admin@example.com", "admin-pass-7Hq2-xZ")
	if _, err := adm.CreateOAuthProvider(context.Background(), api.CreateOAuthProviderRequest{Slug: "acme", Type: api.ProviderOIDC, ClientID: e.oidc.ClientID(),
		ClientSecret: e.oidc.ClientSecret(), BaseURL: e.oidc.Issuer()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(t)
	for i := range 2 {
		if res := b.get(startURL(low.URL, "acme", "")); res.StatusCode != http.StatusFound {
			t.Fatalf("start %d: %d %s", i, res.StatusCode, readBody(res))
		}
	}
	res := b.get(startURL(low.URL, "acme", ""))
	wantAPIError(t, res, http.StatusTooManyRequests, api.CodeRateLimited)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

// TestSEC35OAuthRedirects: SEC-35 — only same-site paths, allow-listed prefixes and loopback
// addresses (with a PKCE challenge) are targets.
func TestSEC35OAuthRedirects(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	e.oidcProvider(t, "acme", nil)
	for _, bad := range []string{"https://evil.example.com/", "//evil.example.com/x", "/\\evil.example.com", "https://app.example.com/other",
		"https://app.example.com.evil.example/signed-in", "javascript:alert(1)", "http://localhost:8000/cb", "https://user@app.example.com/signed-in"} {
		wantAPIError(t, e.browser(t).get(startURL(e.URL, "acme", bad)), http.StatusBadRequest, api.CodeRedirectNotAllowed)
	}
	// A loopback target needs the app's PKCE challenge; a page must not send one.
	wantAPIError(t, e.browser(t).get(startURL(e.URL, "acme", "http://127.0.0.1:5555/cb")), http.StatusBadRequest, api.CodeInvalidRequest)
	wantAPIError(t, e.browser(t).get(startURL(e.URL, "acme", "/x")+"&code_challenge=abc"), http.StatusBadRequest, api.CodeInvalidRequest)

	e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "redir@example.com", EmailVerified: true})
	loc, res := e.browser(t).follow(startURL(e.URL, "acme", "https://app.example.com/signed-in?tab=2"))
	wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
	if loc.Host != "app.example.com" || loc.Query().Get("tab") != "2" {
		t.Fatalf("landed on %s", loc)
	}
}

// TestOAuthLoopbackExchange: the native-app variant (RFC 8252) — the code reaches the loopback
// listener, and only the app holding the PKCE verifier can trade it, once.
func TestOAuthLoopbackExchange(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ctx := context.Background()
		e.oidcProvider(t, "acme", nil)
		native := e.NewClient(t)
		verifier, challenge := client.NewPKCEVerifier()
		sum := sha256.Sum256([]byte(verifier))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			t.Fatal("NewPKCEVerifier: challenge is not S256 of the verifier")
		}
		e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "native@example.com", EmailVerified: true, Name: "Native User"})
		b := e.browser(t)
		loc, res := b.follow(native.OAuthStartURL("acme", "http://127.0.0.1:45678/cb", challenge))
		if loc == nil || loc.Host != "127.0.0.1:45678" || loc.Query().Get("code") == "" {
			t.Fatalf("loopback redirect: %v %v", loc, res)
		}
		code := loc.Query().Get("code")
		// The browser got no session: the app does.
		if _, err := b.client(t).Me(ctx); client.ErrorCode(err) != api.CodeUnauthorized {
			t.Fatalf("browser signed in by a loopback flow: %v", err)
		}
		if _, err := native.OAuthExchange(ctx, code, "wrong-verifier-wrong-verifier-wrong-verifier"); client.ErrorCode(err) != api.CodeOAuthStateInvalid {
			t.Fatalf("exchange with a wrong verifier: %v", err)
		}
		// A wrong verifier spends the code too: a stolen code is worth one guess.
		if _, err := native.OAuthExchange(ctx, code, verifier); client.ErrorCode(err) != api.CodeOAuthStateInvalid {
			t.Fatalf("exchange after a wrong verifier: %v", err)
		}

		e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "native2@example.com", EmailVerified: true})
		verifier, challenge = client.NewPKCEVerifier()
		loc, _ = e.browser(t).follow(native.OAuthStartURL("acme", "http://127.0.0.1:45678/cb", challenge))
		code = loc.Query().Get("code")
		got, err := native.OAuthExchange(ctx, code, verifier)
		if err != nil || got.Status != api.LoginOK || got.User == nil || got.User.Email != "native2@example.com" || got.CSRFToken == "" {
			t.Fatalf("exchange: %+v %v", got, err)
		}
		if me, err := native.Me(ctx); err != nil || me.Email != "native2@example.com" {
			t.Fatalf("app session: %+v %v", me, err)
		}
		if _, err := native.UpdateMe(ctx, api.UpdateMeRequest{DisplayName: ptr("Console User")}); err != nil {
			t.Fatalf("unsafe request with the exchanged session's CSRF token: %v", err)
		}
		if _, err := e.NewClient(t).OAuthExchange(ctx, code, verifier); client.ErrorCode(err) != api.CodeOAuthStateInvalid {
			t.Fatalf("replayed exchange code: %v", err)
		}
		if _, err := e.NewClient(t).OAuthExchange(ctx, "", verifier); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("empty code: %v", err)
		}
	})
}

// TestSEC23OAuthMFA: SEC-23 — a social login of a user with a second factor waits for it.
func TestSEC23OAuthMFA(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	ctx := context.Background()
	e.oidcProvider(t, "acme", func(r *api.CreateOAuthProviderRequest) { r.AutoLink = true })
	e.CreateUser(t, "mfa-social@example.com", "second-factor-8Pz1-k")
	pw := e.LoginCookie(t, "mfa-social@example.com", "second-factor-8Pz1-k")
	auth := enrollTOTP(t, pw)

	e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "mfa-social@example.com", EmailVerified: true})
	b := e.browser(t)
	loc, res := b.follow(startURL(e.URL, "acme", "/mfa"))
	wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginMFARequired)
	c := b.client(t)
	if _, err := c.Me(ctx); client.ErrorCode(err) != api.CodeUnauthorized {
		t.Fatalf("a social login skipped the second factor: %v", err)
	}
	var pending api.LoginResponse
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/auth/mfa/pending", nil, &pending); err != nil {
		t.Fatalf("pending login: %v", err)
	}
	if pending.Status != api.LoginMFARequired || pending.CSRFToken == "" || len(pending.Factors) == 0 || pending.ExpiresIn <= 0 {
		t.Fatalf("pending %+v", pending)
	}
	c.SetCSRFToken(pending.CSRFToken)
	if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: auth.code(t)}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if aal := currentAAL(t, c); aal != api.AAL2 {
		t.Fatalf("aal %s after social login + TOTP", aal)
	}
	if _, err := e.NewClient(t).Do(ctx, http.MethodGet, "/api/v1/auth/mfa/pending", nil, nil); client.ErrorCode(err) != api.CodeMFALoginExpired {
		t.Fatalf("pending without a cookie: %v", err)
	}
}

// TestSEC34OAuthLinkAndUnlink: linking from a signed-in account, an identity taken by another
// account, and SEC-34 (the last way to sign in cannot be unlinked).
func TestSEC34OAuthLinkAndUnlink(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ctx := context.Background()
		e.oidcProvider(t, "acme", nil)

		// A social-only account (registered by its first social login).
		socialSub := e.subject()
		e.oidc.Next(&oauthtest.User{Subject: socialSub, Email: "social-only@example.com", EmailVerified: true})
		sb := e.browser(t)
		loc, res := sb.follow(startURL(e.URL, "acme", ""))
		wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
		social := sb.client(t)
		if _, err := social.CSRF(ctx); err != nil {
			t.Fatal(err)
		}
		ids, _ := social.MyIdentities(ctx)
		if err := social.UnlinkIdentity(ctx, ids[0].ID); client.ErrorCode(err) != api.CodeOAuthLastMethod {
			t.Fatalf("unlink the last method: %v", err)
		}

		// A password account links an identity from its browser.
		u := e.CreateUser(t, "linker@example.com", "joiner-pass-3Vb8-nM")
		pb := e.browser(t)
		pw := pb.client(t)
		if _, err := pw.Login(ctx, "linker@example.com", "joiner-pass-3Vb8-nM"); err != nil {
			t.Fatal(err)
		}
		linkSub := e.subject()
		e.oidc.Next(&oauthtest.User{Subject: linkSub, Email: "linker-at-idp@example.com", EmailVerified: true, Name: "Linker"})
		link, err := pw.LinkIdentity(ctx, "acme", "/account")
		if err != nil {
			t.Fatalf("link: %v", err)
		}
		loc, res = pb.follow(link.AuthorizationURL)
		wantLanded(t, loc, res, api.OAuthStatusParam, "linked")
		ids, err = pw.MyIdentities(ctx)
		if err != nil || len(ids) != 1 || ids[0].Subject != linkSub || ids[0].Email != "linker-at-idp@example.com" {
			t.Fatalf("linked identities %+v %v", ids, err)
		}
		adminView, err := e.admin.UserIdentities(ctx, u.ID)
		if err != nil || len(adminView) != 1 || adminView[0].ID != ids[0].ID {
			t.Fatalf("admin view of identities %+v %v", adminView, err)
		}
		// Now that identity signs in to the password account.
		e.oidc.Next(&oauthtest.User{Subject: linkSub, Email: "linker-at-idp@example.com", EmailVerified: true})
		ob := e.browser(t)
		loc, res = ob.follow(startURL(e.URL, "acme", ""))
		wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
		if me, err := ob.client(t).Me(ctx); err != nil || me.ID != u.ID {
			t.Fatalf("login through the linked identity: %+v %v", me, err)
		}

		// The social-only account's identity cannot be linked to the password account too.
		e.oidc.Next(&oauthtest.User{Subject: socialSub, Email: "social-only@example.com", EmailVerified: true})
		link, err = pw.LinkIdentity(ctx, "acme", "/account")
		if err != nil {
			t.Fatal(err)
		}
		loc, res = pb.follow(link.AuthorizationURL)
		wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthIdentityTaken))

		// A linking flow is bound to the browser that asked for it.
		e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: "x@example.com", EmailVerified: true})
		link, err = pw.LinkIdentity(ctx, "acme", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, res := e.browser(t).follow(link.AuthorizationURL); res == nil || res.StatusCode != http.StatusBadRequest {
			t.Fatalf("another browser finished a link flow")
		}
		if _, err := pw.LinkIdentity(ctx, "acme", "http://127.0.0.1:4000/cb"); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("link to a loopback target: %v", err)
		}

		// With a password left, the identity can go.
		if err := pw.UnlinkIdentity(ctx, ids[0].ID); err != nil {
			t.Fatalf("unlink: %v", err)
		}
		if err := pw.UnlinkIdentity(ctx, ids[0].ID); client.ErrorCode(err) != api.CodeNotFound {
			t.Fatalf("unlink twice: %v", err)
		}
		var outcomes []string
		for _, ev := range e.events(t, api.EventIdentityUnlinked) {
			outcomes = append(outcomes, ev.Outcome)
		}
		if strings.Join(outcomes, ",") != "success,failure" {
			t.Fatalf("unlink events %v", outcomes)
		}
	})
}

// TestOAuthLinkNeedsStepUp: linking is aal2 once the account has a second factor.
func TestOAuthLinkNeedsStepUp(t *testing.T) {
	e := newOAuthEnv(t, testenv.SQLite)
	ctx := context.Background()
	e.oidcProvider(t, "acme", nil)
	e.CreateUser(t, "stepper@example.com", "climb-pass-6Tg4-wQ")
	c := e.LoginCookie(t, "stepper@example.com", "climb-pass-6Tg4-wQ")
	a := enrollTOTP(t, c)
	trusted := e.NewClient(t)
	res, err := trusted.Login(ctx, "stepper@example.com", "climb-pass-6Tg4-wQ")
	if err != nil || res.Status != api.LoginMFARequired {
		t.Fatalf("login: %+v %v", res, err)
	}
	if _, err := trusted.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: a.code(t)}); err != nil {
		t.Fatal(err)
	}
	if _, err := trusted.LinkIdentity(ctx, "acme", ""); err != nil {
		t.Fatalf("link at aal2: %v", err)
	}
	// The first session (aal1, from before the factor) must step up.
	if _, err := c.LinkIdentity(ctx, "acme", ""); client.ErrorCode(err) != api.CodeStepUpRequired {
		t.Fatalf("link at aal1 with a factor: %v", err)
	}
}

// TestSEC32OAuthMicrosoftIssuers: Entra ID's multi-tenant issuers — the token's issuer must be its own
// tenant's, organizations refuses personal accounts, and an email counts as verified only with
// xms_edov.
func TestSEC32OAuthMicrosoftIssuers(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ms := oauthtest.StartMicrosoft(t, e.oidc)
		const tenantA, consumers = "2f0b5e4a-7c1d-4a8e-9b3f-1d2c3b4a5e6f", "9188040d-6c67-4c5b-b112-36a304b66dad"
		mk := func(slug, tenant string) {
			e.provider(t, api.CreateOAuthProviderRequest{Slug: slug, Type: api.ProviderMicrosoft, ClientID: e.oidc.ClientID(), ClientSecret: e.oidc.ClientSecret(),
				BaseURL: ms.URL, Tenant: tenant, AutoRegister: true})
		}
		mk("ms-common", "common")
		mk("ms-orgs", "organizations")
		mk("ms-tenant", tenantA)
		user := func(tid, iss string, edov bool) *oauthtest.User {
			return &oauthtest.User{Subject: e.subject(), Email: fmt.Sprintf("ms-%d@contoso.example.com", e.seq.Add(1)), Name: "Contoso User",
				Extra:  map[string]any{"tid": tid, "xms_edov": edov},
				Mutate: func(c *mockoidc.IDTokenClaims) { c.Issuer = iss }}
		}
		for _, tc := range []struct {
			name, slug string
			u          *oauthtest.User
			key, want  string
		}{
			{"common, own tenant's issuer", "ms-common", user(tenantA, ms.Issuer(tenantA), true), api.OAuthStatusParam, api.LoginOK},
			{"common, another tenant's issuer", "ms-common", user(tenantA, ms.Issuer("0c1d2e3f-0000-4000-8000-000000000000"), true), api.OAuthErrorParam, string(api.CodeOAuthTokenInvalid)},
			{"common, template issuer", "ms-common", user(tenantA, ms.URL+"/{tenantid}/v2.0", true), api.OAuthErrorParam, string(api.CodeOAuthTokenInvalid)},
			{"common, no xms_edov", "ms-common", user(tenantA, ms.Issuer(tenantA), false), api.OAuthErrorParam, string(api.CodeOAuthEmailUnverified)},
			{"organizations, personal account", "ms-orgs", user(consumers, ms.Issuer(consumers), true), api.OAuthErrorParam, string(api.CodeOAuthTokenInvalid)},
			{"organizations, work account", "ms-orgs", user(tenantA, ms.Issuer(tenantA), true), api.OAuthStatusParam, api.LoginOK},
			{"tenant id, its issuer", "ms-tenant", user(tenantA, ms.Issuer(tenantA), true), api.OAuthStatusParam, api.LoginOK},
			{"tenant id, other issuer", "ms-tenant", user(consumers, ms.Issuer(consumers), true), api.OAuthErrorParam, string(api.CodeOAuthTokenInvalid)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e.oidc.Next(tc.u)
				loc, res := e.browser(t).follow(startURL(e.URL, tc.slug, ""))
				wantLanded(t, loc, res, tc.key, tc.want)
			})
		}
	})
}

// TestOAuthGoogleLinkedIn: the Google and LinkedIn types over an OIDC provider at their base URL.
func TestOAuthGoogleLinkedIn(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ctx := context.Background()
		for _, typ := range []string{api.ProviderGoogle, api.ProviderLinkedIn} {
			e.provider(t, api.CreateOAuthProviderRequest{Type: typ, ClientID: e.oidc.ClientID(), ClientSecret: e.oidc.ClientSecret(), BaseURL: e.oidc.Issuer(), AutoRegister: true})
			email := typ + "-user@example.com"
			e.oidc.Next(&oauthtest.User{Subject: e.subject(), Email: email, EmailVerified: true, Name: typ + " user", Extra: map[string]any{"hd": "example.com"}})
			b := e.browser(t)
			loc, res := b.follow(startURL(e.URL, typ, ""))
			wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
			me, err := b.client(t).Me(ctx)
			if err != nil || me.Email != email {
				t.Fatalf("%s login: %+v %v", typ, me, err)
			}
		}
	})
}

// TestOAuthGitHub: GitHub's OAuth2 + REST path; only a verified primary email counts.
func TestOAuthGitHub(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		e := newOAuthEnv(t, dialect)
		ctx := context.Background()
		gh := oauthtest.StartGitHub(t)
		e.provider(t, api.CreateOAuthProviderRequest{Type: api.ProviderGitHub, ClientID: gh.ClientID, ClientSecret: gh.ClientSecret,
			BaseURL: gh.URL, APIURL: gh.URL, AutoRegister: true})

		gh.Next(oauthtest.GitHubUser{ID: 4242, Login: "octo", Avatar: "https://avatars.example.com/u/4242", Emails: []oauthtest.GitHubEmail{
			{Email: "octo-old@example.com", Primary: false, Verified: true}, {Email: "octo@example.com", Primary: true, Verified: true}}})
		b := e.browser(t)
		loc, res := b.follow(startURL(e.URL, "github", ""))
		wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
		me, err := b.client(t).Me(ctx)
		if err != nil || me.Email != "octo@example.com" || me.DisplayName != "octo" || me.AvatarURL != "https://avatars.example.com/u/4242" {
			t.Fatalf("github account %+v %v", me, err)
		}
		ids, _ := b.client(t).MyIdentities(ctx)
		if len(ids) != 1 || ids[0].Subject != "4242" || ids[0].ProviderType != api.ProviderGitHub {
			t.Fatalf("github identity %+v", ids)
		}
		if v := gh.Verifiers(); len(v) != 1 || len(v[0]) != 43 {
			t.Fatalf("github token requests' verifiers %q", v)
		}

		// A primary email that is not verified does not count.
		gh.Next(oauthtest.GitHubUser{ID: 777, Login: "unverified", Emails: []oauthtest.GitHubEmail{{Email: "unv@example.com", Primary: true, Verified: false}}})
		loc, res = e.browser(t).follow(startURL(e.URL, "github", ""))
		wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthEmailUnverified))

		// GitHub refusing the code exchange.
		gh.Next(oauthtest.GitHubUser{ID: 778, Login: "x", Emails: []oauthtest.GitHubEmail{{Email: "x@example.com", Primary: true, Verified: true}}})
		gh.FailNextToken()
		loc, res = e.browser(t).follow(startURL(e.URL, "github", ""))
		wantLanded(t, loc, res, api.OAuthErrorParam, string(api.CodeOAuthProviderError))
	})
}

// TestOAuthProvidersSeededFromConfig: providers named in configuration exist after start, and
// configuration keeps their credentials in step on the next start (other settings stay as
// administrators left them).
func TestOAuthProvidersSeededFromConfig(t *testing.T) {
	ctx := context.Background()
	oidc := oauthtest.StartOIDC(t)
	cfg := testenv.Config(t, testenv.SQLite)
	cfg.OAuth.OIDCIssuer, cfg.OAuth.OIDCClientID, cfg.OAuth.OIDCClientSecret, cfg.OAuth.OIDCName = oidc.Issuer(), "seed-client", "seed-secret-1", "Corporate SSO"
	cfg.OAuth.GitHubClientID, cfg.OAuth.GitHubClientSecret = "gh-seed", "gh-seed-secret"
	cfg.OAuth.MicrosoftClientID, cfg.OAuth.MicrosoftClientSecret = "ms-seed", "ms-seed-secret"
	start := func() *app.App {
		t.Helper()
		a, err := app.New(ctx, cfg, discard())
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		return a
	}
	a := start()
	list, err := a.OAuth.ListProviders(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("seeded providers %+v %v", list, err)
	}
	bySlug := map[string]api.OAuthProvider{}
	for _, p := range list {
		bySlug[p.Slug] = p
	}
	if p := bySlug["oidc"]; p.DisplayName != "Corporate SSO" || p.ClientID != "seed-client" || p.BaseURL != oidc.Issuer() || !p.HasClientSecret {
		t.Fatalf("oidc provider %+v", p)
	}
	if p := bySlug["microsoft"]; p.Tenant != "common" {
		t.Fatalf("microsoft provider %+v", p)
	}
	// An administrator disables one; configuration then rotates its secret.
	if _, err := a.OAuth.UpdateProvider(ctx, auth.Principal{UserID: "00000000-0000-4000-8000-000000000001"}, bySlug["oidc"].ID,
		api.UpdateOAuthProviderRequest{Enabled: ptr(false)}, auth.Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.OAuth.OIDCClientSecret = "seed-secret-2"
	a = start()
	defer func() { _ = a.Close() }()
	c, err := a.DB.OAuth().GetProviderBySlug(ctx, "oidc")
	if err != nil {
		t.Fatal(err)
	}
	if secret, err := a.Keyring.DecryptString(c.SealedSecret); err != nil || secret != "seed-secret-2" || c.Enabled {
		t.Fatalf("after restart: secret %q (%v), enabled %v: want the new secret, still disabled", secret, err, c.Enabled)
	}
}
