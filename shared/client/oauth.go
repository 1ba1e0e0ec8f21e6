package client

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"

	"gatehouse/shared/api"
)

// PublicProviders lists the enabled social-login providers (no authentication needed).
func (c *Client) PublicProviders(ctx context.Context) ([]api.PublicProvider, error) {
	var res api.PublicProviderList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/auth/providers", nil, &res); err != nil {
		return nil, err
	}
	return res.Providers, nil
}

// OAuthStartURL is the address a browser opens to sign in with provider (its slug). A native
// app passes its loopback redirect (http://127.0.0.1:PORT/...) as redirectTo and the S256
// challenge of a verifier from NewPKCEVerifier; a web page passes a path and no challenge.
func (c *Client) OAuthStartURL(provider, redirectTo, codeChallenge string) string {
	u := *c.base
	u.Path = u.Path + "/api/v1/auth/oauth/" + url.PathEscape(provider) + "/start"
	q := url.Values{}
	if redirectTo != "" {
		q.Set(api.OAuthRedirectParam, redirectTo)
	}
	if codeChallenge != "" {
		q.Set(api.OAuthChallengeParam, codeChallenge)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// NewPKCEVerifier returns a fresh PKCE verifier (256 random bits) and its S256 challenge, for
// the loopback flow (RFC 7636, RFC 8252).
func NewPKCEVerifier() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text() // 2 x 26 base32 characters: 260 bits
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// OAuthExchange trades the one-time code from a loopback redirect for a cookie session (or a
// pending login when the account has a second factor: Status is mfa_required, continue with
// MFAChallenge and MFAVerify as after Login).
func (c *Client) OAuthExchange(ctx context.Context, code, verifier string) (*api.LoginResponse, error) {
	var res api.LoginResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/oauth/exchange", api.OAuthExchangeRequest{Code: code, CodeVerifier: verifier}, &res); err != nil {
		return nil, err
	}
	c.SetCSRFToken(res.CSRFToken)
	return &res, nil
}

// MyIdentities lists the caller's linked provider identities.
func (c *Client) MyIdentities(ctx context.Context) ([]api.Identity, error) {
	var res api.IdentityList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/me/identities", nil, &res); err != nil {
		return nil, err
	}
	return res.Identities, nil
}

// LinkIdentity starts linking a provider identity to the caller's account (aal2): the browser
// that holds this client's cookies must then open the returned URL.
func (c *Client) LinkIdentity(ctx context.Context, provider, redirectTo string) (*api.LinkIdentityResponse, error) {
	var res api.LinkIdentityResponse
	path := "/api/v1/me/identities/" + url.PathEscape(provider) + "/link"
	if _, err := c.Do(ctx, http.MethodPost, path, api.LinkIdentityRequest{RedirectTo: redirectTo}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// UnlinkIdentity removes one of the caller's identities (refused for the last way to sign in).
func (c *Client) UnlinkIdentity(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/me/identities/"+url.PathEscape(id), nil, nil)
	return err
}

// UserIdentities lists a user's linked identities (admin, support).
func (c *Client) UserIdentities(ctx context.Context, userID string) ([]api.Identity, error) {
	var res api.IdentityList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/users/"+url.PathEscape(userID)+"/identities", nil, &res); err != nil {
		return nil, err
	}
	return res.Identities, nil
}

// ListOAuthProviders lists every configured provider (admin).
func (c *Client) ListOAuthProviders(ctx context.Context) ([]api.OAuthProvider, error) {
	var res api.OAuthProviderList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/oauth-providers", nil, &res); err != nil {
		return nil, err
	}
	return res.Providers, nil
}

// CreateOAuthProvider adds a provider (admin).
func (c *Client) CreateOAuthProvider(ctx context.Context, req api.CreateOAuthProviderRequest) (*api.OAuthProvider, error) {
	var res api.OAuthProvider
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/oauth-providers", req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// GetOAuthProvider reads one provider (admin).
func (c *Client) GetOAuthProvider(ctx context.Context, id string) (*api.OAuthProvider, error) {
	var res api.OAuthProvider
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/oauth-providers/"+url.PathEscape(id), nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// UpdateOAuthProvider changes the fields set in req (admin).
func (c *Client) UpdateOAuthProvider(ctx context.Context, id string, req api.UpdateOAuthProviderRequest) (*api.OAuthProvider, error) {
	var res api.OAuthProvider
	if _, err := c.Do(ctx, http.MethodPatch, "/api/v1/admin/oauth-providers/"+url.PathEscape(id), req, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// DeleteOAuthProvider removes a provider and every identity linked through it (admin).
func (c *Client) DeleteOAuthProvider(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/oauth-providers/"+url.PathEscape(id), nil, nil)
	return err
}
