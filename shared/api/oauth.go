package api

import "time"

// OAuth provider types: each maps its profile to email, email_verified, name, avatar, subject.
const (
	ProviderGoogle    = "google"    // OpenID Connect, issuer https://accounts.google.com
	ProviderMicrosoft = "microsoft" // OpenID Connect (Entra ID / Azure AD), tenant common, organizations, consumers or an id
	ProviderLinkedIn  = "linkedin"  // OpenID Connect ("Sign In with LinkedIn using OpenID Connect")
	ProviderGitHub    = "github"    // OAuth2 + REST /user and /user/emails (only verified primary emails count)
	ProviderOIDC      = "oidc"      // any OpenID Connect provider, by its issuer (discovery)
)

// ProviderTypes lists the provider types in display order.
func ProviderTypes() []string {
	return []string{ProviderGoogle, ProviderMicrosoft, ProviderLinkedIn, ProviderGitHub, ProviderOIDC}
}

// OAuthProvider is a configured social-login provider as administrators see it. The client
// secret is write-only: answers only say whether one is set.
type OAuthProvider struct {
	ID          string `json:"id"`
	Slug        string `json:"slug"` // names the provider in URLs: /api/v1/auth/oauth/{slug}/start
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	ClientID    string `json:"client_id"`
	// HasClientSecret says whether a client secret is stored (it is never returned).
	HasClientSecret bool `json:"has_client_secret"`
	// BaseURL overrides where the provider lives: the issuer for oidc (required), google and
	// linkedin; the authority host for microsoft; the web host for github (GitHub Enterprise).
	// Empty means the public service.
	BaseURL string `json:"base_url,omitempty"`
	// APIURL is github's REST API base (empty: https://api.github.com).
	APIURL string `json:"api_url,omitempty"`
	// Tenant is microsoft's tenant: common, organizations, consumers or a tenant id.
	Tenant string   `json:"tenant,omitempty"`
	Scopes []string `json:"scopes"`
	// AllowedDomains restricts sign-in and registration to these email domains (empty: any).
	AllowedDomains []string `json:"allowed_domains"`
	// AutoRegister creates an account for a verified email that has none.
	AutoRegister bool `json:"auto_register"`
	// AutoLink trusts the provider's verified email to link an unlinked identity to the
	// existing account with that email (SEC-33); off, the user must sign in and link.
	AutoLink  bool      `json:"auto_link"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OAuthProviderList answers GET /api/v1/admin/oauth-providers.
type OAuthProviderList struct {
	Providers []OAuthProvider `json:"providers"`
}

// CreateOAuthProviderRequest is the body of POST /api/v1/admin/oauth-providers. Slug defaults
// to the type; scopes default to the type's (openid email profile, or read:user user:email).
type CreateOAuthProviderRequest struct {
	Slug           string   `json:"slug,omitempty"`
	Type           string   `json:"type"`
	DisplayName    string   `json:"display_name,omitempty"`
	ClientID       string   `json:"client_id"`
	ClientSecret   string   `json:"client_secret"`
	BaseURL        string   `json:"base_url,omitempty"`
	APIURL         string   `json:"api_url,omitempty"`
	Tenant         string   `json:"tenant,omitempty"`
	Scopes         []string `json:"scopes,omitempty"`
	AllowedDomains []string `json:"allowed_domains,omitempty"`
	AutoRegister   bool     `json:"auto_register"`
	AutoLink       bool     `json:"auto_link"`
	Enabled        *bool    `json:"enabled,omitempty"` // default true
}

// UpdateOAuthProviderRequest is the body of PATCH /api/v1/admin/oauth-providers/{id}: only the
// fields present change. An empty client_secret is refused; leave it out to keep the secret.
type UpdateOAuthProviderRequest struct {
	DisplayName    *string   `json:"display_name,omitempty"`
	ClientID       *string   `json:"client_id,omitempty"`
	ClientSecret   *string   `json:"client_secret,omitempty"`
	BaseURL        *string   `json:"base_url,omitempty"`
	APIURL         *string   `json:"api_url,omitempty"`
	Tenant         *string   `json:"tenant,omitempty"`
	Scopes         *[]string `json:"scopes,omitempty"`
	AllowedDomains *[]string `json:"allowed_domains,omitempty"`
	AutoRegister   *bool     `json:"auto_register,omitempty"`
	AutoLink       *bool     `json:"auto_link,omitempty"`
	Enabled        *bool     `json:"enabled,omitempty"`
}

// PublicProvider is an enabled provider as login screens see it (GET /api/v1/auth/providers).
type PublicProvider struct {
	Slug        string `json:"slug"`
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	// StartURL is the path that begins the flow; add ?redirect_to=.
	StartURL string `json:"start_url"`
}

// PublicProviderList answers GET /api/v1/auth/providers.
type PublicProviderList struct {
	Providers []PublicProvider `json:"providers"`
}

// Identity is a provider account linked to a user.
type Identity struct {
	ID            string     `json:"id"`
	ProviderID    string     `json:"provider_id"`
	Provider      string     `json:"provider"` // the provider's slug
	ProviderType  string     `json:"provider_type"`
	Subject       string     `json:"subject"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	DisplayName   string     `json:"display_name"`
	AvatarURL     string     `json:"avatar_url,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	LastLoginAt   *time.Time `json:"last_login_at,omitempty"`
}

// IdentityList answers GET /api/v1/me/identities and GET /api/v1/admin/users/{id}/identities.
type IdentityList struct {
	Identities []Identity `json:"identities"`
}

// LinkIdentityRequest is the body of POST /api/v1/me/identities/{provider}/link.
type LinkIdentityRequest struct {
	// RedirectTo is where the browser goes after the provider (allow-listed, SEC-35).
	RedirectTo string `json:"redirect_to,omitempty"`
}

// LinkIdentityResponse says where to send the browser to link the identity. The flow is bound
// to the browser by a cookie set on this answer, so the same browser must follow the URL.
type LinkIdentityResponse struct {
	AuthorizationURL string `json:"authorization_url"`
}

// OAuthExchangeRequest is the body of POST /api/v1/auth/oauth/exchange: the one-time code a
// native app received on its loopback redirect (RFC 8252) and the PKCE verifier whose S256
// challenge it passed to /start as code_challenge.
type OAuthExchangeRequest struct {
	Code         string `json:"code"`
	CodeVerifier string `json:"code_verifier"`
}

// Query parameters of the OAuth flow.
const (
	// OAuthRedirectParam names where the browser goes after the flow (/start).
	OAuthRedirectParam = "redirect_to"
	// OAuthChallengeParam carries a native app's PKCE S256 challenge (/start, loopback only).
	OAuthChallengeParam = "code_challenge"
	// OAuthCodeParam carries the one-time exchange code to a loopback redirect.
	OAuthCodeParam = "code"
	// OAuthErrorParam carries an error code (one of the Code values) to the redirect target
	// when the flow fails after its target was checked.
	OAuthErrorParam = "error"
	// OAuthStatusParam is "ok" or "mfa_required" on a browser redirect after the flow.
	OAuthStatusParam = "status"
)
