package oauth

import (
	"errors"
	"testing"
)

func TestCheckRedirect_SEC35(t *testing.T) {
	allowed := []string{"https://app.example.com/signed-in", "http://127.0.0.1:3000/"}
	for _, tc := range []struct {
		in       string
		want     string
		loopback bool
		ok       bool
	}{
		{"", "/", false, true},
		{"/account?tab=2", "/account?tab=2", false, true},
		{"https://app.example.com/signed-in", "https://app.example.com/signed-in", false, true},
		{"https://app.example.com/signed-in/deep?x=1", "https://app.example.com/signed-in/deep?x=1", false, true},
		{"HTTPS://APP.EXAMPLE.COM/signed-in", "https://APP.EXAMPLE.COM/signed-in", false, true},
		{"http://127.0.0.1:54321/cb", "http://127.0.0.1:54321/cb", true, true},
		{"http://[::1]:54321/cb", "http://[::1]:54321/cb", true, true},
		{"//evil.example.com/x", "", false, false},
		{"/\\evil.example.com", "", false, false},
		{"https://evil.example.com/", "", false, false},
		{"https://app.example.com/other", "", false, false},
		{"https://app.example.com.evil.example/signed-in", "", false, false},
		{"https://app.example.com:8443/signed-in", "", false, false},
		{"http://app.example.com/signed-in", "", false, false},
		{"https://user@app.example.com/signed-in", "", false, false},
		{"https://app.example.com/signed-in#frag", "", false, false},
		{"javascript:alert(1)", "", false, false},
		{"account", "", false, false},
		{"http://127.0.0.1/cb", "", false, false}, // no port: not a native app's listener
		{"http://localhost:54321/cb", "", false, false},
		{"https://127.0.0.1:54321/cb", "", false, false},
		{"/x\r\nSet-Cookie: a=b", "", false, false},
	} {
		got, loopback, err := CheckRedirect(tc.in, allowed)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrRedirectNotAllowed)) || got != tc.want || loopback != tc.loopback {
			t.Errorf("CheckRedirect(%q) = %q, %v, %v; want %q, %v, ok=%v", tc.in, got, loopback, err, tc.want, tc.loopback, tc.ok)
		}
	}
}

func TestDeriveBindsToBrowserAndState_SEC30(t *testing.T) {
	a := derive("binding-a", "pkce", "state-1")
	if len(a) != 43 {
		t.Fatalf("verifier length %d, want 43 (RFC 7636 allows 43-128)", len(a))
	}
	for _, other := range []string{derive("binding-b", "pkce", "state-1"), derive("binding-a", "pkce", "state-2"), derive("binding-a", "nonce", "state-1")} {
		if other == a {
			t.Fatal("derived values must differ by browser, state and purpose")
		}
	}
	if derive("binding-a", "pkce", "state-1") != a {
		t.Fatal("derive is not deterministic")
	}
}

func TestCheckDomain(t *testing.T) {
	c := Config{AllowedDomains: []string{"corp.example.com"}}
	if err := checkDomain(c, Profile{Email: "a@CORP.example.com", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if err := checkDomain(c, Profile{Email: "a@corp.example.com.evil.example", EmailVerified: true}); !errors.Is(err, ErrEmailDomain) {
		t.Fatalf("suffix domain: %v", err)
	}
	if err := checkDomain(c, Profile{Email: "a@corp.example.com"}); !errors.Is(err, ErrEmailUnverified) {
		t.Fatalf("unverified email passed a domain rule: %v", err)
	}
	if err := checkDomain(Config{}, Profile{Email: "x@anything.example"}); err != nil {
		t.Fatal(err)
	}
}

func TestValidateProvider(t *testing.T) {
	ok := Config{Slug: "ms", Type: "microsoft", DisplayName: "Microsoft", ClientID: "id", Tenant: "organizations", Scopes: []string{"openid", "email"}}
	if err := validate(&ok); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]Config{
		"slug":           {Slug: "-x", Type: "google", DisplayName: "G", ClientID: "id", Scopes: []string{"openid"}},
		"tenant":         {Slug: "ms", Type: "microsoft", DisplayName: "M", ClientID: "id", Tenant: "a/b", Scopes: []string{"openid"}},
		"base_url http":  {Slug: "o", Type: "oidc", DisplayName: "O", ClientID: "id", BaseURL: "http://idp.example.com", Scopes: []string{"openid"}},
		"base_url query": {Slug: "o", Type: "oidc", DisplayName: "O", ClientID: "id", BaseURL: "https://idp.example.com/?x=1", Scopes: []string{"openid"}},
		"scope space":    {Slug: "g", Type: "github", DisplayName: "G", ClientID: "id", Scopes: []string{"read user"}},
		"no openid":      {Slug: "g", Type: "google", DisplayName: "G", ClientID: "id", Scopes: []string{"email"}},
		"api_url":        {Slug: "g", Type: "google", DisplayName: "G", ClientID: "id", APIURL: "https://api.example.com", Scopes: []string{"openid"}},
	} {
		if err := validate(&c); err == nil {
			t.Errorf("%s: accepted %+v", name, c)
		}
	}
	loop := Config{Slug: "o", Type: "oidc", DisplayName: "O", ClientID: "id", BaseURL: "http://127.0.0.1:9999/oidc/", Scopes: []string{"openid"}}
	if err := validate(&loop); err != nil || loop.BaseURL != "http://127.0.0.1:9999/oidc" {
		t.Fatalf("loopback issuer: %v %q", err, loop.BaseURL)
	}
}
