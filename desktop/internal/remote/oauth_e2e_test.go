package remote_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/loopback"
	"gatehouse/desktop/internal/remote"
	"gatehouse/desktop/internal/state"
	"gatehouse/server/testserver"
	"gatehouse/shared/api"
)

// The console's "Sign in with <provider>" against the real server and a real OpenID Connect
// provider on loopback (RFC 8252): the console listens on 127.0.0.1, a browser goes through the
// server and the provider back to that listener, and the console trades the one-time code
// (with its PKCE verifier) for its own session. The browser itself is never signed in.
func TestConsoleSignsInWithProviderAgainstRealServer(t *testing.T) {
	ctx := context.Background()
	idp := testserver.StartOIDCProvider(t)
	srv := testserver.Start(t, testserver.WithLoginRate(600))
	srv.CreateUser(t, officerEmail, officerPass, api.RoleAdmin)

	admin := newClient(t, srv.URL, nil)
	if _, err := admin.Login(ctx, officerEmail, officerPass); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateOAuthProvider(ctx, api.CreateOAuthProviderRequest{Slug: "corp", Type: api.ProviderOIDC, DisplayName: "Corp SSO",
		ClientID: idp.ClientID(), ClientSecret: idp.ClientSecret(), BaseURL: idp.Issuer(), AutoRegister: true}); err != nil {
		t.Fatalf("create provider: %v", err)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(base string) (state.Backend, error) { return remote.New(newClient(t, base, jar)), nil }
	s := state.NewSession(dial)
	providers, err := s.Providers(ctx, srv.URL)
	if err != nil || len(providers) != 1 || providers[0].DisplayName != "Corp SSO" {
		t.Fatalf("providers for the sign-in screen: %+v %v", providers, err)
	}

	// The browser: its own cookies, following every redirect, as a real one does.
	browserJar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: browserJar, Timeout: 20 * time.Second}
	landed := make(chan string, 1) // the page the browser ends on
	open := func(u string) error {
		go func() {
			res, err := browser.Get(u) //nolint:noctx // the browser's own navigation
			if err != nil {
				landed <- "error: " + err.Error()
				return
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			landed <- res.Request.URL.Hostname() + " " + string(body)
		}()
		return nil
	}
	listen := func() (state.Loopback, error) { return loopback.Listen() }

	idp.NextUser("corp-42", "dana@corp.example.com", "Dana Corp")
	stage, err := s.SignInWithProvider(ctx, srv.URL, providers[0], listen, open)
	if err != nil || stage != state.SignedIn {
		t.Fatalf("sign in with the provider: %v %v\n%s", stage, err, srv.Logs())
	}
	if u := s.User(); u.Email != "dana@corp.example.com" || u.DisplayName != "Dana Corp" || s.Provider() != "Corp SSO" {
		t.Fatalf("signed in as %+v via %q", u, s.Provider())
	}
	me, err := s.Backend().Me(ctx)
	if err != nil || me.Email != "dana@corp.example.com" {
		t.Fatalf("the console's session: %+v %v", me, err)
	}
	// The browser landed on the console's listener and holds no session of its own.
	bc := newClient(t, srv.URL, browserJar)
	if _, err := bc.Me(ctx); err == nil {
		t.Fatal("the browser was signed in by the console's flow")
	}
	select {
	case page := <-landed:
		if !strings.HasPrefix(page, "127.0.0.1 ") || !strings.Contains(strings.ToLower(page), "close") {
			t.Fatalf("the browser ended on %.300q, want the console's listener page", page)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the browser never reached the loopback listener")
	}
}
