package app_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"

	"gatehouse/server/internal/oauth/oauthtest"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// hostRouter sends the server's requests through the OpenAPI checker and everything else (the
// identity provider) straight out.
type hostRouter struct {
	host    string
	checked http.RoundTripper
}

func (h hostRouter) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == h.host {
		return h.checked.RoundTrip(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// exerciseOAuthSpec runs every social-login route through the OpenAPI checker, on success and
// on its main failures (called from TestOpenAPIResponsesMatchSpec).
func exerciseOAuthSpec(t *testing.T, m *mfaEnv, sc *specChecker) {
	t.Helper()
	ctx := context.Background()
	bad := offSpec(ctx)
	env := m.Env
	oidc := oauthtest.StartOIDC(t)
	ok := func(err error) {
		t.Helper()
		if err != nil {
			t.Errorf("unexpected error: %v", err)
		}
	}
	want := func(err error, code api.Code) {
		t.Helper()
		if got := client.ErrorCode(err); got != code {
			t.Errorf("got %v, want %s", err, code)
		}
	}
	env.CreateUser(t, "spec-idp-officer@example.com", "harbor-lantern-phrase-5", api.RoleAdmin)
	adm := sc.client(t, env.URL)
	_, err := adm.Login(ctx, "spec-idp-officer@example.com", "harbor-lantern-phrase-5")
	ok(err)

	prov, err := adm.CreateOAuthProvider(ctx, api.CreateOAuthProviderRequest{Slug: "spec-idp", Type: api.ProviderOIDC, ClientID: oidc.ClientID(),
		ClientSecret: oidc.ClientSecret(), BaseURL: oidc.Issuer(), AutoRegister: true})
	if err != nil {
		t.Fatalf("create provider: %v", err)
	}
	_, err = adm.CreateOAuthProvider(bad, api.CreateOAuthProviderRequest{Type: "myspace", ClientID: "x", ClientSecret: "y"})
	want(err, api.CodeInvalidRequest)
	_, err = adm.CreateOAuthProvider(ctx, api.CreateOAuthProviderRequest{Slug: "spec-idp", Type: api.ProviderGoogle, ClientID: "x", ClientSecret: "y"})
	want(err, api.CodeConflict)
	_, err = adm.ListOAuthProviders(ctx)
	ok(err)
	_, err = adm.GetOAuthProvider(ctx, prov.ID)
	ok(err)
	_, err = adm.GetOAuthProvider(ctx, "00000000-0000-4000-8000-000000000000")
	want(err, api.CodeNotFound)
	_, err = adm.UpdateOAuthProvider(ctx, prov.ID, api.UpdateOAuthProviderRequest{DisplayName: ptr("Spec IdP")})
	ok(err)
	_, err = adm.UpdateOAuthProvider(ctx, prov.ID, api.UpdateOAuthProviderRequest{Scopes: &[]string{"email"}})
	want(err, api.CodeInvalidRequest)
	_, err = sc.client(t, env.URL).ListOAuthProviders(ctx)
	want(err, api.CodeUnauthorized)
	_, err = sc.client(t, env.URL).PublicProviders(ctx)
	ok(err)

	// A browser: the server's answers are checked, the provider's are not.
	base, _ := url.Parse(env.URL)
	newBrowser := func() *browser {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		return &browser{t: t, jar: jar, base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			Transport:     hostRouter{host: base.Host, checked: sc},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}
	oidc.Next(&oauthtest.User{Subject: "spec-sub-1", Email: "spec-social@example.com", EmailVerified: true, Name: "Spec Social"})
	b := newBrowser()
	loc, res := b.follow(startURL(env.URL, "spec-idp", "/home"))
	wantLanded(t, loc, res, api.OAuthStatusParam, api.LoginOK)
	wantAPIError(t, b.get(startURL(env.URL, "spec-idp", "https://evil.example.com/")), http.StatusBadRequest, api.CodeRedirectNotAllowed)
	wantAPIError(t, b.get(startURL(env.URL, "no-such-idp", "")), http.StatusNotFound, api.CodeNotFound)
	wantAPIError(t, b.get(env.URL+"/api/v1/auth/oauth/spec-idp/callback?state=forged&code=x"), http.StatusBadRequest, api.CodeOAuthStateInvalid)

	social, err := client.New(env.URL, client.WithHTTPClient(&http.Client{Jar: b.jar, Transport: sc, Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = social.CSRF(ctx)
	ok(err)
	ids, err := social.MyIdentities(ctx)
	ok(err)
	if len(ids) != 1 {
		t.Fatalf("identities %+v", ids)
	}
	want(social.UnlinkIdentity(ctx, ids[0].ID), api.CodeOAuthLastMethod)
	want(social.UnlinkIdentity(ctx, "00000000-0000-4000-8000-000000000000"), api.CodeNotFound)
	me, err := social.Me(ctx)
	ok(err)
	_, err = adm.UserIdentities(ctx, me.ID)
	ok(err)
	_, err = adm.UserIdentities(ctx, "00000000-0000-4000-8000-000000000000")
	want(err, api.CodeNotFound)

	// Linking from a password account, then unlinking.
	env.CreateUser(t, "spec-linker@example.com", "copper-kettle-phrase-8")
	lb := newBrowser()
	linker, err := client.New(env.URL, client.WithHTTPClient(&http.Client{Jar: lb.jar, Transport: sc, Timeout: 30 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = linker.Login(ctx, "spec-linker@example.com", "copper-kettle-phrase-8")
	ok(err)
	oidc.Next(&oauthtest.User{Subject: "spec-sub-2", Email: "spec-linked@example.com", EmailVerified: true})
	link, err := linker.LinkIdentity(ctx, "spec-idp", "/account")
	ok(err)
	_, err = linker.LinkIdentity(ctx, "spec-idp", "https://evil.example.com/")
	want(err, api.CodeRedirectNotAllowed)
	_, err = linker.LinkIdentity(ctx, "no-such-idp", "")
	want(err, api.CodeNotFound)
	if link != nil {
		loc, res = lb.follow(link.AuthorizationURL)
		wantLanded(t, loc, res, api.OAuthStatusParam, "linked")
	}
	ids, err = linker.MyIdentities(ctx)
	ok(err)
	if len(ids) == 1 {
		ok(linker.UnlinkIdentity(ctx, ids[0].ID))
	}

	// The native-app exchange.
	verifier, challenge := client.NewPKCEVerifier()
	native := sc.client(t, env.URL)
	oidc.Next(&oauthtest.User{Subject: "spec-sub-3", Email: "spec-native@example.com", EmailVerified: true})
	loc, _ = newBrowser().follow(native.OAuthStartURL("spec-idp", "http://127.0.0.1:45999/cb", challenge))
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("no exchange code: %v", loc)
	}
	_, err = native.OAuthExchange(ctx, loc.Query().Get("code"), verifier)
	ok(err)
	_, err = native.OAuthExchange(ctx, loc.Query().Get("code"), verifier)
	want(err, api.CodeOAuthStateInvalid)
	_, err = native.OAuthExchange(bad, "", "")
	want(err, api.CodeInvalidRequest)

	// The pending login of a password login that waits for a factor.
	env.CreateUser(t, "spec-pending@example.com", "quiet-meadow-phrase-4")
	pc := sc.client(t, env.URL)
	_, err = pc.Login(ctx, "spec-pending@example.com", "quiet-meadow-phrase-4")
	ok(err)
	enrollTOTP(t, pc)
	pending := sc.client(t, env.URL)
	res2, err := pending.Login(ctx, "spec-pending@example.com", "quiet-meadow-phrase-4")
	ok(err)
	if res2 != nil && res2.Status != api.LoginMFARequired {
		t.Fatalf("login status %q", res2.Status)
	}
	_, err = pending.Do(ctx, http.MethodGet, "/api/v1/auth/mfa/pending", nil, nil)
	ok(err)
	_, err = sc.client(t, env.URL).Do(ctx, http.MethodGet, "/api/v1/auth/mfa/pending", nil, nil)
	want(err, api.CodeMFALoginExpired)

	ok(adm.DeleteOAuthProvider(ctx, prov.ID))
	want(adm.DeleteOAuthProvider(ctx, prov.ID), api.CodeNotFound)
}
