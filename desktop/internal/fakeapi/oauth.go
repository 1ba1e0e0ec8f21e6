package fakeapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// AddProvider configures an OAuth provider (ID and slug filled in when empty).
func (f *API) AddProvider(p api.OAuthProvider) api.OAuthProvider {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	if p.ID == "" {
		p.ID = fmt.Sprintf("p%03d", f.nextID)
	}
	if p.Slug == "" {
		p.Slug = p.Type
	}
	p.CreatedAt, p.UpdatedAt = f.Now(), f.Now()
	f.providers = append(f.providers, p)
	return p
}

// Provider returns a provider by slug (tests check what the console wrote).
func (f *API) Provider(slug string) (api.OAuthProvider, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.providers {
		if p.Slug == slug {
			return p, true
		}
	}
	return api.OAuthProvider{}, false
}

// ProviderSecret is the client secret stored for a provider (never returned by the API).
func (f *API) ProviderSecret(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.providerSecrets[id]
}

// AddIdentity links a provider identity to a user.
func (f *API) AddIdentity(userID string, id api.Identity) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.identities[userID] = append(f.identities[userID], id)
}

// IssueOAuthCode makes the next exchange of code sign in email (as the server does after the
// provider came back); the exchange also checks the PKCE verifier against the challenge the
// start address carried.
func (f *API) IssueOAuthCode(code, email string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.oauthCodes[code] = email
}

// PublicProviders implements state.OAuthAPI: the enabled providers.
func (f *API) PublicProviders(context.Context) ([]api.PublicProvider, error) {
	if err := f.begin("PublicProviders"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.PublicProvider
	for _, p := range f.providers {
		if p.Enabled {
			out = append(out, api.PublicProvider{Slug: p.Slug, Type: p.Type, DisplayName: p.DisplayName, StartURL: "/api/v1/auth/oauth/" + p.Slug + "/start"})
		}
	}
	return out, nil
}

// OAuthStartURL implements state.OAuthAPI.
func (f *API) OAuthStartURL(provider, redirectTo, challenge string) string {
	f.record("OAuthStartURL", provider, redirectTo)
	f.mu.Lock()
	f.challenge = challenge
	f.mu.Unlock()
	q := url.Values{api.OAuthRedirectParam: {redirectTo}, api.OAuthChallengeParam: {challenge}}
	return "https://gatehouse.test/api/v1/auth/oauth/" + url.PathEscape(provider) + "/start?" + q.Encode()
}

// OAuthExchange implements state.OAuthAPI.
func (f *API) OAuthExchange(_ context.Context, code, verifier string) (state.LoginResult, error) {
	if err := f.begin("OAuthExchange", code); err != nil {
		return state.LoginResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	email, ok := f.oauthCodes[code]
	delete(f.oauthCodes, code)
	sum := sha256.Sum256([]byte(verifier))
	if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
		return state.LoginResult{}, apiErr(api.CodeOAuthStateInvalid, "the sign-in code is wrong, expired or already used")
	}
	for _, u := range f.users {
		if !strings.EqualFold(u.Email, email) {
			continue
		}
		if factors, ok := f.SecondFactor[strings.ToLower(email)]; ok {
			f.pending, f.me = u.Email, nil
			return state.LoginResult{Status: api.LoginMFARequired, Factors: factors}, nil
		}
		f.me, f.aal = u, api.AAL1
		c := *u
		return state.LoginResult{Status: api.LoginOK, User: &c}, nil
	}
	return state.LoginResult{}, apiErr(api.CodeUnauthorized, "no account for this identity")
}

// ListOAuthProviders implements state.ProvidersAPI.
func (f *API) ListOAuthProviders(context.Context) ([]api.OAuthProvider, error) {
	if err := f.begin("ListOAuthProviders"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	return append([]api.OAuthProvider(nil), f.providers...), nil
}

// CreateOAuthProvider implements state.ProvidersAPI.
func (f *API) CreateOAuthProvider(_ context.Context, req api.CreateOAuthProviderRequest) (*api.OAuthProvider, error) {
	if err := f.begin("CreateOAuthProvider", req.Type, req.Slug); err != nil {
		return nil, err
	}
	f.mu.Lock()
	if err := f.authLocked(admin, true); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	slug := req.Slug
	if slug == "" {
		slug = req.Type
	}
	for _, p := range f.providers {
		if p.Slug == slug {
			f.mu.Unlock()
			return nil, apiErr(api.CodeConflict, "a provider with this slug exists")
		}
	}
	f.mu.Unlock()
	p := f.AddProvider(api.OAuthProvider{Slug: slug, Type: req.Type, DisplayName: req.DisplayName, ClientID: req.ClientID,
		HasClientSecret: req.ClientSecret != "", BaseURL: req.BaseURL, Tenant: req.Tenant, Scopes: req.Scopes,
		AllowedDomains: req.AllowedDomains, AutoRegister: req.AutoRegister, AutoLink: req.AutoLink, Enabled: req.Enabled == nil || *req.Enabled})
	f.mu.Lock()
	f.providerSecrets[p.ID] = req.ClientSecret
	f.mu.Unlock()
	return &p, nil
}

// UpdateOAuthProvider implements state.ProvidersAPI.
func (f *API) UpdateOAuthProvider(_ context.Context, id string, req api.UpdateOAuthProviderRequest) (*api.OAuthProvider, error) {
	args := []string{id}
	if req.ClientSecret != nil {
		args = append(args, "secret")
	}
	if req.Enabled != nil {
		args = append(args, fmt.Sprintf("enabled=%v", *req.Enabled))
	}
	if err := f.begin("UpdateOAuthProvider", args...); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	i := slices.IndexFunc(f.providers, func(p api.OAuthProvider) bool { return p.ID == id })
	if i < 0 {
		return nil, apiErr(api.CodeNotFound, "no such provider")
	}
	p := &f.providers[i]
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.DisplayName, req.DisplayName)
	set(&p.ClientID, req.ClientID)
	set(&p.BaseURL, req.BaseURL)
	set(&p.Tenant, req.Tenant)
	if req.ClientSecret != nil {
		if *req.ClientSecret == "" {
			return nil, apiErr(api.CodeInvalidRequest, "client_secret cannot be empty")
		}
		f.providerSecrets[id], p.HasClientSecret = *req.ClientSecret, true
	}
	if req.Scopes != nil {
		p.Scopes = *req.Scopes
	}
	if req.AllowedDomains != nil {
		p.AllowedDomains = *req.AllowedDomains
	}
	for dst, v := range map[*bool]*bool{&p.AutoRegister: req.AutoRegister, &p.AutoLink: req.AutoLink, &p.Enabled: req.Enabled} {
		if v != nil {
			*dst = *v
		}
	}
	p.UpdatedAt = f.Now()
	c := *p
	return &c, nil
}

// DeleteOAuthProvider implements state.ProvidersAPI.
func (f *API) DeleteOAuthProvider(_ context.Context, id string) error {
	if err := f.begin("DeleteOAuthProvider", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return err
	}
	n := len(f.providers)
	f.providers = slices.DeleteFunc(f.providers, func(p api.OAuthProvider) bool { return p.ID == id })
	if len(f.providers) == n {
		return apiErr(api.CodeNotFound, "no such provider")
	}
	for uid, list := range f.identities {
		f.identities[uid] = slices.DeleteFunc(list, func(i api.Identity) bool { return i.ProviderID == id })
	}
	return nil
}

// UserIdentities implements state.UsersAPI.
func (f *API) UserIdentities(_ context.Context, id string) ([]api.Identity, error) {
	if err := f.begin("UserIdentities", id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, false); err != nil {
		return nil, err
	}
	return append([]api.Identity(nil), f.identities[id]...), nil
}
