// Package oauth is social login: providers configured at runtime, the authorization-code flow
// with state, nonce and PKCE (SEC-30, SEC-31), linking provider identities to accounts
// (SEC-33, SEC-34), auto-registration, and the loopback variant for native apps (RFC 8252).
// The protocol work is behind Provider (internal/oauth/oidcprovider, internal/oauth/github),
// built by a factory wired in internal/app; storage is behind Store (internal/store); the
// session at the end comes from the account service through Logins.
package oauth

import (
	"context"
	"errors"
	"time"

	"gatehouse/shared/api"
)

// Errors at the package boundary; internal/app maps them to API codes in one table.
var (
	ErrProviderNotFound = errors.New("no such OAuth provider")
	ErrSlugTaken        = errors.New("a provider with that slug exists")
	ErrIdentityNotFound = errors.New("no such identity")
	// ErrStateInvalid: state missing, unknown, expired, used, or from another browser (SEC-30).
	ErrStateInvalid = errors.New("the sign-in flow is invalid or expired: start again")
	// ErrTokenInvalid: the ID token failed verification (SEC-32). Providers wrap it.
	ErrTokenInvalid = errors.New("the provider's ID token is invalid")
	// ErrProviderFailed: the provider refused, answered badly or timed out. Providers wrap it.
	ErrProviderFailed = errors.New("the provider did not complete the sign-in")
	// ErrEmailUnverified: the provider asserts no verified email.
	ErrEmailUnverified = errors.New("the provider did not confirm a verified email address")
	// ErrEmailDomain: the email's domain is not allowed for the provider.
	ErrEmailDomain = errors.New("this email domain may not sign in with this provider")
	// ErrLinkRequired: an account has this email; its owner must sign in and link (SEC-33).
	ErrLinkRequired = errors.New("an account with this email exists: sign in to it and link this provider")
	// ErrNoAccount: no account, and the provider does not register new ones.
	ErrNoAccount = errors.New("no account is linked to this identity")
	// ErrIdentityTaken: the identity is linked to another account.
	ErrIdentityTaken = errors.New("this identity is linked to another account")
	// ErrLastMethod: unlinking would leave no way to sign in (SEC-34).
	ErrLastMethod = errors.New("this is the account's last way to sign in: set a password or link another provider first")
	// ErrRedirectNotAllowed: redirect_to is not allow-listed (SEC-35).
	ErrRedirectNotAllowed = errors.New("redirect_to is not an allowed target")
	// ErrAccountInactive: the account is locked or disabled.
	ErrAccountInactive = errors.New("the account may not sign in")
)

// Provider is one provider's protocol: building the authorization URL and turning the code
// the browser brings back into a verified profile.
type Provider interface {
	// AuthCodeURL is where the browser goes: state, nonce and the PKCE S256 challenge of
	// verifier are in it.
	AuthCodeURL(state, nonce, verifier, redirectURI string) string
	// Exchange redeems code (with the PKCE verifier), verifies the ID token against nonce
	// where the protocol has one, and reads the profile. Failures wrap ErrTokenInvalid or
	// ErrProviderFailed.
	Exchange(ctx context.Context, code, verifier, nonce, redirectURI string) (Profile, error)
}

// Profile is what a provider asserts about the account that signed in.
type Profile struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	AvatarURL     string
	// Claims is a small, non-secret subset of the provider's profile kept for support.
	Claims map[string]any
}

// Config is a provider as stored. ClientSecret is sealed by the keyring.
type Config struct {
	ID             string
	Slug           string
	Type           string
	DisplayName    string
	ClientID       string
	SealedSecret   string
	BaseURL        string
	APIURL         string
	Tenant         string
	Scopes         []string
	AllowedDomains []string
	AutoRegister   bool
	AutoLink       bool
	Enabled        bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// API converts to the wire type (never the secret).
func (c Config) API() api.OAuthProvider {
	return api.OAuthProvider{ID: c.ID, Slug: c.Slug, Type: c.Type, DisplayName: c.DisplayName, ClientID: c.ClientID,
		HasClientSecret: c.SealedSecret != "", BaseURL: c.BaseURL, APIURL: c.APIURL, Tenant: c.Tenant,
		Scopes: nonNil(c.Scopes), AllowedDomains: nonNil(c.AllowedDomains), AutoRegister: c.AutoRegister,
		AutoLink: c.AutoLink, Enabled: c.Enabled, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Spec is a provider's settings as a Factory needs them (the secret unsealed).
type Spec struct {
	Type         string
	ClientID     string
	ClientSecret string
	BaseURL      string
	APIURL       string
	Tenant       string
	Scopes       []string
}

// Factory builds the protocol side of a provider. It may reach the provider (OIDC discovery);
// failures wrap ErrProviderFailed.
type Factory func(ctx context.Context, s Spec) (Provider, error)

// Identity is a provider account linked to a user.
type Identity struct {
	ID            string
	UserID        string
	ProviderID    string
	Subject       string
	Email         string
	EmailVerified bool
	DisplayName   string
	AvatarURL     string
	Claims        map[string]any
	CreatedAt     time.Time
	LastLoginAt   *time.Time
}

// Flow intents.
const (
	IntentLogin = "login"
	IntentLink  = "link"
)

// Flow is an authorization in progress, between /start and /callback. Only hashes of the
// state and of the browser-binding cookie are kept.
type Flow struct {
	ID            string
	StateHash     string
	BindingHash   string
	ProviderID    string
	Intent        string
	UserID        string // the account to link to (IntentLink)
	RedirectTo    string
	CodeChallenge string // a native app's S256 challenge (loopback redirects)
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Exchange is a one-time code handed to a native app's loopback redirect.
type Exchange struct {
	CodeHash      string
	UserID        string
	ProviderID    string
	CodeChallenge string
	CreatedAt     time.Time
	ExpiresAt     time.Time
}

// Store keeps providers, identities, flows and exchange codes (internal/store).
type Store interface {
	CreateProvider(ctx context.Context, c Config) error // ErrSlugTaken
	GetProvider(ctx context.Context, id string) (Config, error)
	GetProviderBySlug(ctx context.Context, slug string) (Config, error)
	ListProviders(ctx context.Context) ([]Config, error)
	UpdateProvider(ctx context.Context, c Config) error
	DeleteProvider(ctx context.Context, id string) error

	IdentityBySubject(ctx context.Context, providerID, subject string) (Identity, error)
	CreateIdentity(ctx context.Context, i Identity) error // ErrIdentityTaken
	UpdateIdentity(ctx context.Context, i Identity) error
	ListIdentities(ctx context.Context, userID string) ([]Identity, error)
	DeleteIdentity(ctx context.Context, userID, id string) error

	CreateFlow(ctx context.Context, f Flow) error
	// UseFlow spends the flow with that state and browser-binding hash, once, if it has not
	// expired at now. Another browser's attempt neither finds nor spends it.
	UseFlow(ctx context.Context, stateHash, bindingHash string, now time.Time) (Flow, error) // ErrStateInvalid
	CreateExchange(ctx context.Context, e Exchange) error
	UseExchange(ctx context.Context, codeHash string, now time.Time) (Exchange, error) // ErrStateInvalid
}
