// Package oidcprovider is social login over OpenID Connect (go-oidc and x/oauth2): Google,
// Microsoft (Entra ID, with its multi-tenant issuer rules), LinkedIn and any provider found by
// discovery. The ID token is verified for signature, issuer, audience, expiry and nonce
// (SEC-32); the code is redeemed with the PKCE verifier (SEC-31).
package oidcprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"gatehouse/server/internal/oauth"
	"gatehouse/shared/api"
)

// Public issuers and authorities; a provider's base URL replaces them (tests, sovereign clouds).
const (
	GoogleIssuer       = "https://accounts.google.com"
	LinkedInIssuer     = "https://www.linkedin.com/oauth"
	MicrosoftAuthority = "https://login.microsoftonline.com"
	// consumersTenant is the tenant id of personal Microsoft accounts.
	consumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
)

// Provider is one OpenID Connect provider.
type Provider struct {
	typ      string
	hc       *http.Client
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	conf     oauth2.Config
	// checkIssuer replaces go-oidc's exact issuer check for Microsoft's multi-tenant
	// endpoints, whose discovered issuer is a template ("{tenantid}").
	checkIssuer func(iss string, claims map[string]any) error
}

var _ oauth.Provider = (*Provider)(nil)

// New discovers the provider and builds it. hc makes every request (discovery, keys, token,
// userinfo) and bounds it with its timeout.
func New(ctx context.Context, s oauth.Spec, hc *http.Client) (*Provider, error) {
	p := &Provider{typ: s.Type, hc: hc}
	ctx = oidc.ClientContext(context.WithoutCancel(ctx), hc)
	var issuer string
	switch s.Type {
	case api.ProviderGoogle:
		issuer = or(s.BaseURL, GoogleIssuer)
	case api.ProviderLinkedIn:
		issuer = or(s.BaseURL, LinkedInIssuer)
	case api.ProviderOIDC:
		issuer = s.BaseURL
	case api.ProviderMicrosoft:
		return newMicrosoft(ctx, p, s)
	default:
		return nil, fmt.Errorf("oidcprovider: type %q is not OpenID Connect", s.Type)
	}
	prov, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %w", oauth.ErrProviderFailed, issuer, err)
	}
	p.provider = prov
	p.verifier = prov.Verifier(&oidc.Config{ClientID: s.ClientID})
	p.conf = oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: endpoint(prov), Scopes: s.Scopes}
	return p, nil
}

// newMicrosoft builds an Entra ID provider. For a tenant id the discovered issuer is exact and
// checked as usual. For common, organizations and consumers it is a template, so the token's
// issuer must be the authority's issuer for the token's own tenant (tid), and the tenant must
// fit the audience asked for: any (common), work accounts only (organizations) or personal
// accounts only (consumers). A token from another tenant's issuer never passes.
func newMicrosoft(ctx context.Context, p *Provider, s oauth.Spec) (*Provider, error) {
	authority := or(s.BaseURL, MicrosoftAuthority)
	tenant := or(s.Tenant, "common")
	discovery := authority + "/" + tenant + "/v2.0"
	var raw struct {
		Issuer string `json:"issuer"`
	}
	if err := getJSON(ctx, p.hc, discovery+"/.well-known/openid-configuration", &raw); err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %w", oauth.ErrProviderFailed, discovery, err)
	}
	prov, err := oidc.NewProvider(oidc.InsecureIssuerURLContext(ctx, raw.Issuer), discovery)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %w", oauth.ErrProviderFailed, discovery, err)
	}
	p.provider = prov
	p.conf = oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: endpoint(prov), Scopes: s.Scopes}
	if !strings.Contains(raw.Issuer, "{tenantid}") {
		p.verifier = prov.Verifier(&oidc.Config{ClientID: s.ClientID}) // exact: the tenant's own issuer
		return p, nil
	}
	p.verifier = prov.Verifier(&oidc.Config{ClientID: s.ClientID, SkipIssuerCheck: true})
	p.checkIssuer = func(iss string, claims map[string]any) error {
		tid, _ := claims["tid"].(string)
		if tid == "" || strings.ContainsAny(tid, "/{}") {
			return errors.New("no tenant (tid) in the token")
		}
		if want := strings.ReplaceAll(raw.Issuer, "{tenantid}", tid); iss != want {
			return fmt.Errorf("issuer %q is not the issuer of tenant %s", iss, tid)
		}
		switch strings.ToLower(tenant) {
		case "organizations":
			if tid == consumersTenant {
				return errors.New("a personal account, but only work or school accounts may sign in")
			}
		case "consumers":
			if tid != consumersTenant {
				return errors.New("a work account, but only personal accounts may sign in")
			}
		}
		return nil
	}
	return p, nil
}

// endpoint is the provider's endpoints with the client authentication it announces:
// client_secret_post when offered (LinkedIn accepts nothing else; Google, Microsoft and most
// others take both), else client_secret_basic; a provider announcing neither is probed
// (x/oauth2's auto-detection).
func endpoint(prov *oidc.Provider) oauth2.Endpoint {
	ep := prov.Endpoint()
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := prov.Claims(&meta); err == nil {
		switch {
		case slices.Contains(meta.Methods, "client_secret_post"):
			ep.AuthStyle = oauth2.AuthStyleInParams
		case slices.Contains(meta.Methods, "client_secret_basic"):
			ep.AuthStyle = oauth2.AuthStyleInHeader
		}
	}
	return ep
}

// AuthCodeURL builds the authorization request with state, nonce and PKCE S256.
func (p *Provider) AuthCodeURL(state, nonce, verifier, redirectURI string) string {
	c := p.conf
	c.RedirectURL = redirectURI
	return c.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// Exchange redeems the code and verifies the ID token.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce, redirectURI string) (oauth.Profile, error) {
	ctx = oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, p.hc), p.hc)
	c := p.conf
	c.RedirectURL = redirectURI
	tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return oauth.Profile{}, fmt.Errorf("%w: token endpoint: %w", oauth.ErrProviderFailed, err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return oauth.Profile{}, fmt.Errorf("%w: no id_token in the token response", oauth.ErrTokenInvalid)
	}
	idt, err := p.verifier.Verify(ctx, rawID)
	if err != nil {
		return oauth.Profile{}, fmt.Errorf("%w: %w", oauth.ErrTokenInvalid, err)
	}
	if idt.Nonce != nonce {
		return oauth.Profile{}, fmt.Errorf("%w: nonce mismatch", oauth.ErrTokenInvalid)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return oauth.Profile{}, fmt.Errorf("%w: claims: %w", oauth.ErrTokenInvalid, err)
	}
	if p.checkIssuer != nil {
		if err := p.checkIssuer(idt.Issuer, claims); err != nil {
			return oauth.Profile{}, fmt.Errorf("%w: %w", oauth.ErrTokenInvalid, err)
		}
	}
	prof := p.profile(idt.Subject, claims)
	if prof.Email == "" && p.provider.UserInfoEndpoint() != "" {
		// Some providers keep the email out of the ID token: ask userinfo, for the same subject.
		ui, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return oauth.Profile{}, fmt.Errorf("%w: userinfo: %w", oauth.ErrProviderFailed, err)
		}
		if ui.Subject != idt.Subject {
			return oauth.Profile{}, fmt.Errorf("%w: userinfo is for another subject", oauth.ErrTokenInvalid)
		}
		var more map[string]any
		if err := ui.Claims(&more); err == nil {
			for k, v := range more {
				if _, ok := claims[k]; !ok {
					claims[k] = v
				}
			}
			prof = p.profile(idt.Subject, claims)
		}
	}
	return prof, nil
}

// profile maps claims. Microsoft does not verify the email claim of its tokens (any tenant
// admin can set it), so there it counts as verified only with the xms_edov claim (the email's
// domain is verified by the tenant that owns it).
func (p *Provider) profile(sub string, claims map[string]any) oauth.Profile {
	str := func(k string) string { v, _ := claims[k].(string); return v }
	prof := oauth.Profile{Subject: sub, Email: str("email"), Name: str("name"), AvatarURL: str("picture")}
	if p.typ == api.ProviderMicrosoft {
		prof.EmailVerified = truthy(claims["xms_edov"])
	} else {
		prof.EmailVerified = truthy(claims["email_verified"])
	}
	keep := map[string]any{}
	for _, k := range []string{"iss", "email", "email_verified", "name", "preferred_username", "hd", "tid", "xms_edov", "locale"} {
		if v, ok := claims[k]; ok {
			keep[k] = v
		}
	}
	prof.Claims = keep
	return prof
}

// truthy reads a boolean claim, which some providers send as a string.
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(b, "true")
	}
	return false
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u, res.Status)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out)
}
