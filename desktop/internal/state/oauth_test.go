package state_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// stubLoopback hands over a code (or an error) without a network; block waits for ctx.
type stubLoopback struct {
	code   string
	err    error
	block  bool
	closed bool
}

func (l *stubLoopback) RedirectURL() string { return "http://127.0.0.1:49152/callback" }
func (l *stubLoopback) Close() error        { l.closed = true; return nil }
func (l *stubLoopback) Wait(ctx context.Context) (string, error) {
	if l.block {
		<-ctx.Done()
		return "", ctx.Err()
	}
	return l.code, l.err
}

var google = api.PublicProvider{Slug: "google", Type: api.ProviderGoogle, DisplayName: "Google"}

func TestSignInWithProvider(t *testing.T) {
	f := newFake()
	f.AddProvider(api.OAuthProvider{Type: api.ProviderGoogle, DisplayName: "Google", Enabled: true})
	s := state.NewSession(f.Dialer())
	ctx := context.Background()
	list, err := s.Providers(ctx, "localhost:8080")
	if err != nil || len(list) != 1 || state.ProviderButtonLabel(list[0]) != "Sign in with Google" {
		t.Fatalf("providers %+v %v", list, err)
	}
	f.IssueOAuthCode("code-1", adminEmail)
	lb := &stubLoopback{code: "code-1"}
	var opened string
	stage, err := s.SignInWithProvider(ctx, "localhost:8080", google, func() (state.Loopback, error) { return lb, nil },
		func(u string) error { opened = u; return nil })
	if err != nil || stage != state.SignedIn || s.User().Email != adminEmail || s.Email() != adminEmail || !lb.closed {
		t.Fatalf("stage %v err %v user %+v closed %v", stage, err, s.User(), lb.closed)
	}
	u, _ := url.Parse(opened)
	if u.Query().Get(api.OAuthRedirectParam) != lb.RedirectURL() || len(u.Query().Get(api.OAuthChallengeParam)) != 43 {
		t.Fatalf("start address %s", opened)
	}
	// The fake checked the verifier against the challenge: a replayed code fails.
	if _, err := s.SignInWithProvider(ctx, "localhost:8080", google, func() (state.Loopback, error) { return &stubLoopback{code: "code-1"}, nil },
		func(string) error { return nil }); state.Describe(err).Code != string(api.CodeOAuthStateInvalid) {
		t.Fatalf("replayed code: %v", err)
	}
}

func TestProviderSignInWithSecondFactor(t *testing.T) {
	f := newFake()
	f.SecondFactor[strings.ToLower(adminEmail)] = []string{api.FactorTOTP}
	s := state.NewSession(f.Dialer())
	ctx := context.Background()
	f.IssueOAuthCode("code-2", adminEmail)
	stage, err := s.SignInWithProvider(ctx, "localhost:8080", google, func() (state.Loopback, error) { return &stubLoopback{code: "code-2"}, nil },
		func(string) error { return nil })
	if err != nil || stage != state.NeedSecondFactor || s.Provider() != "Google" || s.Email() != "" {
		t.Fatalf("stage %v err %v", stage, err)
	}
	if err := s.Verify(ctx, api.FactorTOTP, f.Code, false); err != nil || s.Stage() != state.SignedIn || s.AAL() != api.AAL2 {
		t.Fatalf("verify %v", err)
	}
}

func TestProviderSignInFailures(t *testing.T) {
	f := newFake()
	s := state.NewSession(f.Dialer())
	ctx := context.Background()
	never := func(string) error { return nil }
	flowErr := &api.Error{Code: api.CodeForbidden, Message: "not allowed"}
	if _, err := s.SignInWithProvider(ctx, "localhost:8080", google, func() (state.Loopback, error) { return &stubLoopback{err: flowErr}, nil }, never); !errors.Is(err, flowErr) {
		t.Fatalf("flow error: %v", err)
	}
	if _, err := s.SignInWithProvider(ctx, "localhost:8080", google, func() (state.Loopback, error) { return nil, errors.New("no port") }, never); err == nil {
		t.Fatal("listen error")
	}
	cctx, cancel := context.WithCancel(ctx)
	lb := &stubLoopback{block: true}
	go cancel()
	if _, err := s.SignInWithProvider(cctx, "localhost:8080", google, func() (state.Loopback, error) { return lb, nil }, never); !errors.Is(err, context.Canceled) || !lb.closed {
		t.Fatalf("cancelled: %v", err)
	}
	if s.Stage() != state.SignedOut || f.Called("OAuthExchange") {
		t.Fatal("nothing exchanged")
	}
	if _, err := s.SignInWithProvider(ctx, " ", google, nil, never); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("no server: %v", err)
	}
}

func TestProviderDrafts(t *testing.T) {
	d := state.NewProviderDraft(api.ProviderOIDC)
	d.ClientID = "cid"
	if _, err := d.Create(); state.Describe(err).Code != state.CodeInvalidInput || !strings.Contains(err.Error(), "client_secret") {
		t.Fatalf("a new provider needs its secret: %v", err)
	}
	d.ClientSecret = "s3cret"
	if _, err := d.Create(); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Fatalf("oidc needs its issuer: %v", err)
	}
	d.BaseURL, d.AllowedDomains, d.Scopes = " https://sso.example.com ", "Example.com, example.org example.com", "openid  email,profile"
	req, err := d.Create()
	if err != nil || req.BaseURL != "https://sso.example.com" || strings.Join(req.AllowedDomains, "|") != "example.com|example.org" ||
		strings.Join(req.Scopes, "|") != "openid|email|profile" || req.Enabled == nil || !*req.Enabled || req.Tenant != "" {
		t.Fatalf("create %+v %v", req, err)
	}
	d.AllowedDomains = "@example.com"
	if _, err := d.Create(); err == nil || !strings.Contains(err.Error(), "allowed_domains") {
		t.Fatalf("bad domain: %v", err)
	}

	ms := state.DraftForProvider(api.OAuthProvider{ID: "p1", Type: api.ProviderMicrosoft, DisplayName: "Microsoft", ClientID: "m", HasClientSecret: true, Tenant: "organizations", Enabled: true})
	up, err := ms.Update()
	if err != nil || up.ClientSecret != nil || up.Tenant == nil || *up.Tenant != "organizations" || up.Scopes == nil || len(*up.Scopes) != 0 {
		t.Fatalf("a blank secret stays out of the update: %+v %v", up, err)
	}
	ms.ClientSecret = "rotated"
	if up, _ := ms.Update(); up.ClientSecret == nil || *up.ClientSecret != "rotated" {
		t.Fatal("a typed secret is sent")
	}
	gh := state.DraftForProvider(api.OAuthProvider{ID: "p2", Type: api.ProviderGitHub, ClientID: "g", Tenant: "x"})
	if up, _ := gh.Update(); up.Tenant != nil {
		t.Fatal("tenant is microsoft's")
	}
	if c := state.ProviderCells(api.OAuthProvider{DisplayName: "GitHub", Type: api.ProviderGitHub, Slug: "github"}); c[3] != "Disabled" || c[4] != "any" || c[1] != "GitHub" {
		t.Fatalf("cells %q", c)
	}
}

func TestOAuthProvidersScreenModel(t *testing.T) {
	f := newFake()
	signedIn(t, f, adminEmail, adminPass)
	ctx := context.Background()
	p := state.NewOAuthProviders(f)
	d := state.NewProviderDraft(api.ProviderGitHub)
	d.ClientID, d.ClientSecret = "gh", "ghs"
	saved, err := p.Save(ctx, d)
	if err != nil || saved.Slug != "github" || len(p.Rows()) != 1 || f.ProviderSecret(saved.ID) != "ghs" {
		t.Fatalf("create %+v %v", saved, err)
	}
	if err := p.SetEnabled(ctx, saved.ID, false); err != nil || p.Rows()[0].Enabled {
		t.Fatalf("disable %v", err)
	}
	if q := state.DeleteProviderConfirmation(p.Rows()[0]); !strings.Contains(q, "unlinked") {
		t.Fatalf("confirmation %q", q)
	}
	if err := p.Delete(ctx, saved.ID); err != nil || len(p.Rows()) != 0 {
		t.Fatalf("delete %v", err)
	}
}
