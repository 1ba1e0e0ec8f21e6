package remote

import (
	"context"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// PublicProviders implements state.OAuthAPI.
func (b *Backend) PublicProviders(ctx context.Context) ([]api.PublicProvider, error) {
	return b.c.PublicProviders(ctx)
}

// OAuthStartURL implements state.OAuthAPI.
func (b *Backend) OAuthStartURL(provider, redirectTo, codeChallenge string) string {
	return b.c.OAuthStartURL(provider, redirectTo, codeChallenge)
}

// OAuthExchange implements state.OAuthAPI: the client keeps the session cookie and adopts the
// CSRF token, as after Login.
func (b *Backend) OAuthExchange(ctx context.Context, code, verifier string) (state.LoginResult, error) {
	res, err := b.c.OAuthExchange(ctx, code, verifier)
	if err != nil {
		return state.LoginResult{}, err
	}
	return state.LoginResult{Status: res.Status, User: res.User, Factors: res.Factors}, nil
}

// ListOAuthProviders implements state.ProvidersAPI.
func (b *Backend) ListOAuthProviders(ctx context.Context) ([]api.OAuthProvider, error) {
	return b.c.ListOAuthProviders(ctx)
}

// CreateOAuthProvider implements state.ProvidersAPI.
func (b *Backend) CreateOAuthProvider(ctx context.Context, req api.CreateOAuthProviderRequest) (*api.OAuthProvider, error) {
	return b.c.CreateOAuthProvider(ctx, req)
}

// UpdateOAuthProvider implements state.ProvidersAPI.
func (b *Backend) UpdateOAuthProvider(ctx context.Context, id string, req api.UpdateOAuthProviderRequest) (*api.OAuthProvider, error) {
	return b.c.UpdateOAuthProvider(ctx, id, req)
}

// DeleteOAuthProvider implements state.ProvidersAPI.
func (b *Backend) DeleteOAuthProvider(ctx context.Context, id string) error {
	return b.c.DeleteOAuthProvider(ctx, id)
}
