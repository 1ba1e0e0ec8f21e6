package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gatehouse/server/internal/auth"
	"gatehouse/shared/api"
)

var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// defaultScopes are asked for when a provider names none.
func defaultScopes(typ string) []string {
	if typ == api.ProviderGitHub {
		return []string{"read:user", "user:email"}
	}
	return []string{"openid", "email", "profile"}
}

func defaultName(typ string) string {
	switch typ {
	case api.ProviderGoogle:
		return "Google"
	case api.ProviderMicrosoft:
		return "Microsoft"
	case api.ProviderLinkedIn:
		return "LinkedIn"
	case api.ProviderGitHub:
		return "GitHub"
	}
	return "Single sign-on"
}

func invalid(field, msg string) *api.Error {
	return &api.Error{Code: api.CodeInvalidRequest, Message: msg, Details: map[string]any{"field": field}}
}

// ListProviders lists every provider (admin).
func (s *Service) ListProviders(ctx context.Context) ([]api.OAuthProvider, error) {
	list, err := s.d.Store.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.OAuthProvider, 0, len(list))
	for _, c := range list {
		out = append(out, c.API())
	}
	return out, nil
}

// GetProvider reads one provider (admin).
func (s *Service) GetProvider(ctx context.Context, id string) (api.OAuthProvider, error) {
	c, err := s.d.Store.GetProvider(ctx, id)
	if err != nil {
		return api.OAuthProvider{}, err
	}
	return c.API(), nil
}

// CreateProvider adds a provider; the client secret is sealed and never shown again.
func (s *Service) CreateProvider(ctx context.Context, p auth.Principal, req api.CreateOAuthProviderRequest, meta auth.Meta) (api.OAuthProvider, error) {
	if !slices.Contains(api.ProviderTypes(), req.Type) {
		return api.OAuthProvider{}, invalid("type", "type must be one of "+strings.Join(api.ProviderTypes(), ", "))
	}
	now := s.now()
	c := Config{ID: s.d.NewID(), Slug: req.Slug, Type: req.Type, DisplayName: req.DisplayName, ClientID: strings.TrimSpace(req.ClientID),
		BaseURL: req.BaseURL, APIURL: req.APIURL, Tenant: req.Tenant, Scopes: req.Scopes, AllowedDomains: req.AllowedDomains,
		AutoRegister: req.AutoRegister, AutoLink: req.AutoLink, Enabled: req.Enabled == nil || *req.Enabled, CreatedAt: now, UpdatedAt: now}
	if c.Slug == "" {
		c.Slug = c.Type
	}
	if c.DisplayName == "" {
		c.DisplayName = defaultName(c.Type)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = defaultScopes(c.Type)
	}
	if c.Type == api.ProviderMicrosoft && c.Tenant == "" {
		c.Tenant = "common"
	}
	if err := validate(&c); err != nil {
		return api.OAuthProvider{}, err
	}
	if req.ClientSecret == "" {
		return api.OAuthProvider{}, invalid("client_secret", "client_secret is required")
	}
	if err := s.seal(&c, req.ClientSecret); err != nil {
		return api.OAuthProvider{}, err
	}
	if err := s.d.Store.CreateProvider(ctx, c); err != nil {
		return api.OAuthProvider{}, err
	}
	return c.API(), s.changed(ctx, p, c, "created", meta)
}

// UpdateProvider changes the fields present in req.
func (s *Service) UpdateProvider(ctx context.Context, p auth.Principal, id string, req api.UpdateOAuthProviderRequest, meta auth.Meta) (api.OAuthProvider, error) {
	c, err := s.d.Store.GetProvider(ctx, id)
	if err != nil {
		return api.OAuthProvider{}, err
	}
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.DisplayName, req.DisplayName)
	set(&c.ClientID, req.ClientID)
	set(&c.BaseURL, req.BaseURL)
	set(&c.APIURL, req.APIURL)
	set(&c.Tenant, req.Tenant)
	c.ClientID = strings.TrimSpace(c.ClientID)
	if req.Scopes != nil {
		c.Scopes = *req.Scopes
		if len(c.Scopes) == 0 {
			c.Scopes = defaultScopes(c.Type)
		}
	}
	if req.AllowedDomains != nil {
		c.AllowedDomains = *req.AllowedDomains
	}
	for _, b := range []struct {
		dst *bool
		v   *bool
	}{{&c.AutoRegister, req.AutoRegister}, {&c.AutoLink, req.AutoLink}, {&c.Enabled, req.Enabled}} {
		if b.v != nil {
			*b.dst = *b.v
		}
	}
	if err := validate(&c); err != nil {
		return api.OAuthProvider{}, err
	}
	if req.ClientSecret != nil {
		if *req.ClientSecret == "" {
			return api.OAuthProvider{}, invalid("client_secret", "client_secret must not be empty: leave it out to keep the stored one")
		}
		if err := s.seal(&c, *req.ClientSecret); err != nil {
			return api.OAuthProvider{}, err
		}
	}
	c.UpdatedAt = s.now()
	if err := s.d.Store.UpdateProvider(ctx, c); err != nil {
		return api.OAuthProvider{}, err
	}
	return c.API(), s.changed(ctx, p, c, "updated", meta)
}

// DeleteProvider removes a provider with its identities and flows in progress.
func (s *Service) DeleteProvider(ctx context.Context, p auth.Principal, id string, meta auth.Meta) error {
	c, err := s.d.Store.GetProvider(ctx, id)
	if err != nil {
		return err
	}
	if err := s.d.Store.DeleteProvider(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.built, id)
	s.mu.Unlock()
	return s.changed(ctx, p, c, "deleted", meta)
}

// Seed creates or updates the providers named in configuration at start: configuration owns
// their credentials and endpoints; everything else stays as administrators set it.
func (s *Service) Seed(ctx context.Context, seeds []api.CreateOAuthProviderRequest) error {
	for _, req := range seeds {
		slug := req.Slug
		if slug == "" {
			slug = req.Type
		}
		c, err := s.d.Store.GetProviderBySlug(ctx, slug)
		if errors.Is(err, ErrProviderNotFound) {
			if _, err := s.CreateProvider(ctx, auth.Principal{}, req, auth.Meta{}); err != nil {
				return fmt.Errorf("seed provider %s: %w", slug, err)
			}
			continue
		}
		if err != nil {
			return err
		}
		secret := ""
		if c.SealedSecret != "" {
			if secret, err = s.d.Sealer.DecryptString(c.SealedSecret); err != nil {
				return fmt.Errorf("seed provider %s: unseal: %w", slug, err)
			}
		}
		if c.ClientID == req.ClientID && secret == req.ClientSecret && c.BaseURL == req.BaseURL && c.APIURL == req.APIURL && c.Tenant == req.Tenant {
			continue
		}
		upd := api.UpdateOAuthProviderRequest{ClientID: &req.ClientID, BaseURL: &req.BaseURL, APIURL: &req.APIURL, Tenant: &req.Tenant}
		if secret != req.ClientSecret {
			upd.ClientSecret = &req.ClientSecret
		}
		if _, err := s.UpdateProvider(ctx, auth.Principal{}, c.ID, upd, auth.Meta{}); err != nil {
			return fmt.Errorf("seed provider %s: %w", slug, err)
		}
	}
	return nil
}

func (s *Service) seal(c *Config, secret string) error {
	if len(secret) > 4096 {
		return invalid("client_secret", "client_secret is longer than 4096 bytes")
	}
	sealed, err := s.d.Sealer.EncryptString(secret)
	if err != nil {
		return fmt.Errorf("seal client secret: %w", err)
	}
	c.SealedSecret = sealed
	return nil
}

func (s *Service) changed(ctx context.Context, p auth.Principal, c Config, action string, meta auth.Meta) error {
	actor := p.UserID
	details := map[string]any{"action": action, "provider_id": c.ID, "slug": c.Slug, "type": c.Type, "enabled": c.Enabled}
	if actor == "" {
		details["source"] = "configuration"
	}
	return s.record(ctx, api.EventOAuthProviderChanged, api.OutcomeSuccess, actor, "", meta, details)
}

// validate checks and normalises a provider's settings.
func validate(c *Config) error {
	if !slugPattern.MatchString(c.Slug) {
		return invalid("slug", "slug must be 1-32 lower-case letters, digits or '-', starting with a letter or digit")
	}
	if c.DisplayName = strings.TrimSpace(c.DisplayName); c.DisplayName == "" || utf8.RuneCountInString(c.DisplayName) > 64 {
		return invalid("display_name", "display_name must be 1-64 characters")
	}
	if c.ClientID == "" || len(c.ClientID) > 512 {
		return invalid("client_id", "client_id is required (at most 512 bytes)")
	}
	if c.BaseURL != "" {
		if err := checkEndpoint(c.BaseURL); err != nil {
			return invalid("base_url", "base_url "+err.Error())
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	}
	if c.Type == api.ProviderOIDC && c.BaseURL == "" {
		return invalid("base_url", "base_url (the issuer) is required for an oidc provider")
	}
	if c.APIURL != "" {
		if c.Type != api.ProviderGitHub {
			return invalid("api_url", "api_url is only for github")
		}
		if err := checkEndpoint(c.APIURL); err != nil {
			return invalid("api_url", "api_url "+err.Error())
		}
		c.APIURL = strings.TrimRight(c.APIURL, "/")
	}
	if c.Tenant != "" && c.Type != api.ProviderMicrosoft {
		return invalid("tenant", "tenant is only for microsoft")
	}
	if c.Type == api.ProviderMicrosoft && !tenantPattern.MatchString(c.Tenant) {
		return invalid("tenant", "tenant must be common, organizations, consumers, a tenant id or a domain")
	}
	if len(c.Scopes) > 20 {
		return invalid("scopes", "at most 20 scopes")
	}
	for _, sc := range c.Scopes {
		if sc == "" || len(sc) > 200 || strings.ContainsAny(sc, " \t\r\n\"\\") {
			return invalid("scopes", "scopes must be non-empty words without spaces")
		}
	}
	if c.Type != api.ProviderGitHub && !slices.Contains(c.Scopes, "openid") {
		return invalid("scopes", "an OpenID Connect provider needs the openid scope")
	}
	for i, d := range c.AllowedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || len(d) > 253 || strings.ContainsAny(d, "@/ ") || !strings.Contains(d, ".") {
			return invalid("allowed_domains", fmt.Sprintf("allowed_domains[%d] is not a domain name", i))
		}
		c.AllowedDomains[i] = d
	}
	return nil
}

var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$`)

// checkEndpoint accepts https URLs, and http only on loopback addresses (test providers,
// local development): a provider reached in clear text could be impersonated.
func checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be an absolute URL without query or credentials")
	}
	if !secureScheme(u) {
		return errors.New("must use https (http only for loopback addresses)")
	}
	return nil
}
