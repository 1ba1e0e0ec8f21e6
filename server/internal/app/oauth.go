package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/oauth"
	"gatehouse/server/internal/oauth/github"
	"gatehouse/server/internal/oauth/oidcprovider"
	"gatehouse/server/internal/ratelimit"
	"gatehouse/shared/api"
)

var oauthErrorKinds = []httpapi.ErrorKind{
	{Target: oauth.ErrProviderNotFound, Code: api.CodeNotFound, Message: "no such OAuth provider"},
	{Target: oauth.ErrSlugTaken, Code: api.CodeConflict, Message: "a provider with that slug exists"},
	{Target: oauth.ErrIdentityNotFound, Code: api.CodeNotFound, Message: "identity not found"},
	{Target: oauth.ErrStateInvalid, Code: api.CodeOAuthStateInvalid, Message: "the sign-in flow is invalid, expired, already used or from another browser: start again"},
	{Target: oauth.ErrTokenInvalid, Code: api.CodeOAuthTokenInvalid, Message: "the provider's ID token failed verification"},
	{Target: oauth.ErrProviderFailed, Code: api.CodeOAuthProviderError, Message: "the provider did not complete the sign-in"},
	{Target: oauth.ErrEmailUnverified, Code: api.CodeOAuthEmailUnverified, Message: "the provider did not confirm a verified email address"},
	{Target: oauth.ErrEmailDomain, Code: api.CodeOAuthEmailDomain, Message: "this email domain may not sign in with this provider"},
	{Target: oauth.ErrLinkRequired, Code: api.CodeOAuthLinkRequired, Message: "an account with this email exists: sign in to it, then link this provider"},
	{Target: oauth.ErrNoAccount, Code: api.CodeOAuthNoAccount, Message: "no account is linked to this identity"},
	{Target: oauth.ErrIdentityTaken, Code: api.CodeOAuthIdentityTaken, Message: "this identity is linked to another account"},
	{Target: oauth.ErrLastMethod, Code: api.CodeOAuthLastMethod, Message: "this is the account's last way to sign in: set a password or link another provider first"},
	{Target: oauth.ErrRedirectNotAllowed, Code: api.CodeRedirectNotAllowed, Message: "redirect_to is not an allowed target"},
	{Target: oauth.ErrAccountInactive, Code: api.CodeInvalidCredentials, Message: "invalid email or password"},
}

// wireOAuth builds social login: providers from the database (seeded from configuration),
// the protocol side per type, and flow metrics.
func (a *App) wireOAuth(ctx context.Context) error {
	cfg := a.Config.OAuth
	hc := &http.Client{Timeout: cfg.Timeout}
	factory := func(ctx context.Context, s oauth.Spec) (oauth.Provider, error) {
		if s.Type == api.ProviderGitHub {
			return github.New(s, hc), nil
		}
		return oidcprovider.New(ctx, s, hc)
	}
	flows := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_oauth_flows_total",
		Help: "Social-login flows finished, by provider and outcome (success, mfa_required, linked, exchange_issued, or the failure reason).",
	}, []string{"provider", "outcome"})
	if err := a.Registry.Register(flows); err != nil {
		return fmt.Errorf("oauth metrics: %w", err)
	}
	// Flow requests from one address are limited like logins: in Redis when replicas share it.
	var limiter oauth.Limiter = ratelimit.NewMemory(100_000)
	if a.Redis != nil {
		limiter = ratelimit.NewRedis(a.Redis, "gatehouse:rl:")
	}
	a.OAuth = oauth.New(oauth.Deps{
		Store: a.DB.OAuth(), Users: a.UserStore, Logins: a.Auth, Events: a.Events, Sealer: a.Keyring,
		Factory: factory, NewID: uuid.NewString, Limiter: limiter,
	}, oauth.Options{
		FlowTTL: cfg.FlowTTL, ProviderTimeout: cfg.Timeout, AllowedRedirects: cfg.AllowedRedirects,
		PerIP:   ratelimit.Limit{Rate: cfg.RatePerIP, Period: time.Minute, Burst: min(20, cfg.RatePerIP)},
		Observe: func(provider, outcome string) { flows.WithLabelValues(provider, outcome).Inc() },
	})
	if err := a.OAuth.Seed(ctx, oauthSeeds(a)); err != nil {
		return fmt.Errorf("oauth providers from configuration: %w", err)
	}
	return nil
}

// oauthSeeds are the providers configuration names (those with a client id).
func oauthSeeds(a *App) []api.CreateOAuthProviderRequest {
	c := a.Config.OAuth
	var out []api.CreateOAuthProviderRequest
	add := func(typ, id, secret string, mod func(*api.CreateOAuthProviderRequest)) {
		if id == "" {
			return
		}
		r := api.CreateOAuthProviderRequest{Type: typ, ClientID: id, ClientSecret: secret}
		if mod != nil {
			mod(&r)
		}
		out = append(out, r)
	}
	add(api.ProviderGoogle, c.GoogleClientID, c.GoogleClientSecret, nil)
	add(api.ProviderMicrosoft, c.MicrosoftClientID, c.MicrosoftClientSecret, func(r *api.CreateOAuthProviderRequest) {
		r.Tenant = c.MicrosoftTenant
		if r.Tenant == "" {
			r.Tenant = "common"
		}
	})
	add(api.ProviderLinkedIn, c.LinkedInClientID, c.LinkedInClientSecret, nil)
	add(api.ProviderGitHub, c.GitHubClientID, c.GitHubClientSecret, nil)
	add(api.ProviderOIDC, c.OIDCClientID, c.OIDCClientSecret, func(r *api.CreateOAuthProviderRequest) {
		r.BaseURL, r.DisplayName = strings.TrimRight(c.OIDCIssuer, "/"), c.OIDCName
	})
	return out
}
