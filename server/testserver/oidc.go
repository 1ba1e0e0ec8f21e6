package testserver

import (
	"testing"

	"gatehouse/server/internal/oauth/oauthtest"
)

// OIDCProvider is an OpenID Connect identity provider on loopback (discovery, JWKS, signed ID
// tokens, PKCE: github.com/oauth2-proxy/mockoidc), for end-to-end tests of social login in
// other modules. Every authorization is granted at once, as the account queued by NextUser.
type OIDCProvider struct{ o *oauthtest.OIDC }

// StartOIDCProvider runs a provider for the rest of the test.
func StartOIDCProvider(t testing.TB) *OIDCProvider {
	t.Helper()
	return &OIDCProvider{o: oauthtest.StartOIDC(t)}
}

// Issuer is the provider's issuer URL: the base_url of an "oidc" provider.
func (p *OIDCProvider) Issuer() string { return p.o.Issuer() }

// ClientID is the client id the provider accepts.
func (p *OIDCProvider) ClientID() string { return p.o.ClientID() }

// ClientSecret is the client secret the provider accepts.
func (p *OIDCProvider) ClientSecret() string { return p.o.ClientSecret() }

// NextUser makes the next authorization sign in as this account, with a verified email.
func (p *OIDCProvider) NextUser(subject, email, name string) {
	p.o.Next(&oauthtest.User{Subject: subject, Email: email, EmailVerified: true, Name: name})
}
