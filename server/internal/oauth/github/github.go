// Package github is social login with GitHub: OAuth2 (x/oauth2, with PKCE) and the REST API's
// /user and /user/emails. GitHub has no ID token; only a verified primary email counts as the
// account's email.
package github

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"gatehouse/server/internal/oauth"
)

// Public endpoints; BaseURL and APIURL replace them (GitHub Enterprise, tests).
const (
	WebURL = "https://github.com"
	APIURL = "https://api.github.com"
)

// Provider is GitHub (or a GitHub Enterprise server).
type Provider struct {
	hc   *http.Client
	api  string
	conf oauth2.Config
}

var _ oauth.Provider = (*Provider)(nil)

// New builds the provider; it makes no request.
func New(s oauth.Spec, hc *http.Client) *Provider {
	web, apiURL := WebURL, APIURL
	if s.BaseURL != "" {
		web = s.BaseURL
		apiURL = s.BaseURL + "/api/v3" // GitHub Enterprise Server's REST API
	}
	if s.APIURL != "" {
		apiURL = s.APIURL
	}
	return &Provider{hc: hc, api: strings.TrimRight(apiURL, "/"), conf: oauth2.Config{
		ClientID: s.ClientID, ClientSecret: s.ClientSecret, Scopes: s.Scopes,
		Endpoint: oauth2.Endpoint{AuthURL: web + "/login/oauth/authorize", TokenURL: web + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams},
	}}
}

// AuthCodeURL builds the authorization request with state and PKCE S256 (GitHub has no nonce).
func (p *Provider) AuthCodeURL(state, _, verifier, redirectURI string) string {
	c := p.conf
	c.RedirectURL = redirectURI
	return c.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

// Exchange redeems the code and reads the profile and the verified primary email.
func (p *Provider) Exchange(ctx context.Context, code, verifier, _, redirectURI string) (oauth.Profile, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.hc)
	c := p.conf
	c.RedirectURL = redirectURI
	tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return oauth.Profile{}, fmt.Errorf("%w: token endpoint: %w", oauth.ErrProviderFailed, err)
	}
	var user struct {
		ID        int64  `json:"id"`
		Login     string `json:"login"`
		Name      string `json:"name"`
		AvatarURL string `json:"avatar_url"`
	}
	if err := p.get(ctx, tok.AccessToken, "/user", &user); err != nil {
		return oauth.Profile{}, err
	}
	if user.ID == 0 {
		return oauth.Profile{}, fmt.Errorf("%w: /user has no id", oauth.ErrProviderFailed)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if err := p.get(ctx, tok.AccessToken, "/user/emails", &emails); err != nil {
		return oauth.Profile{}, err
	}
	prof := oauth.Profile{Subject: strconv.FormatInt(user.ID, 10), Name: user.Name, AvatarURL: user.AvatarURL,
		Claims: map[string]any{"login": user.Login, "id": user.ID}}
	if prof.Name == "" {
		prof.Name = user.Login
	}
	for _, e := range emails {
		if e.Primary && e.Verified {
			prof.Email, prof.EmailVerified = e.Email, true
			prof.Claims["email"] = e.Email
		}
	}
	return prof, nil
}

func (p *Provider) get(ctx context.Context, token, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.api+path, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", oauth.ErrProviderFailed, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	res, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", oauth.ErrProviderFailed, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		return fmt.Errorf("%w: GET %s answered %s", oauth.ErrProviderFailed, path, res.Status)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(out); err != nil {
		return fmt.Errorf("%w: GET %s: %w", oauth.ErrProviderFailed, path, err)
	}
	return nil
}
