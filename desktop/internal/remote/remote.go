// Package remote adapts shared/client to the console's state interfaces: the one place that
// knows the typed client, so the view models depend on interfaces they own.
package remote

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// RequestTimeout bounds each request (the pool stream is exempt: it is long by design).
const RequestTimeout = 20 * time.Second

// Backend is a state.Backend over one server's typed client (cookie session + CSRF).
type Backend struct {
	c *client.Client
}

var _ state.Backend = (*Backend)(nil)

// Dial returns a Backend with a fresh cookie jar for baseURL.
func Dial(baseURL string) (state.Backend, error) {
	c, err := client.New(baseURL, client.WithHTTPClient(&http.Client{Timeout: RequestTimeout}))
	if err != nil {
		return nil, fmt.Errorf("console client: %w", err)
	}
	return New(c), nil
}

// New wraps an existing client.
func New(c *client.Client) *Backend { return &Backend{c: c} }

// Client is the underlying client.
func (b *Backend) Client() *client.Client { return b.c }

// Login implements state.AuthAPI.
func (b *Backend) Login(ctx context.Context, email, password string) (state.LoginResult, error) {
	res, err := b.c.Login(ctx, email, password)
	if err != nil {
		return state.LoginResult{}, err
	}
	return state.LoginResult{Status: res.Status, User: res.User, Factors: res.Factors}, nil
}

// Logout implements state.AuthAPI.
func (b *Backend) Logout(ctx context.Context) error { return b.c.Logout(ctx) }

// Me implements state.AuthAPI.
func (b *Backend) Me(ctx context.Context) (*api.User, error) { return b.c.Me(ctx) }

// Version implements state.ServerAPI.
func (b *Backend) Version(ctx context.Context) (*api.Version, error) { return b.c.Version(ctx) }

// Livez implements state.ServerAPI.
func (b *Backend) Livez(ctx context.Context) (*api.Health, error) { return b.c.Livez(ctx) }

// Readyz implements state.ServerAPI.
func (b *Backend) Readyz(ctx context.Context) (*api.Health, error) { return b.c.Readyz(ctx) }

// ListUsers implements state.UsersAPI.
func (b *Backend) ListUsers(ctx context.Context, q api.UserQuery) (*api.UserList, error) {
	return b.c.ListUsers(ctx, q)
}

// GetUser implements state.UsersAPI.
func (b *Backend) GetUser(ctx context.Context, id string) (*api.User, error) {
	return b.c.GetUser(ctx, id)
}

// CreateUser implements state.UsersAPI.
func (b *Backend) CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, error) {
	return b.c.CreateUser(ctx, req)
}

// UpdateUser implements state.UsersAPI.
func (b *Backend) UpdateUser(ctx context.Context, id string, req api.UpdateUserRequest) (*api.User, error) {
	return b.c.UpdateUser(ctx, id, req)
}

// LockUser implements state.UsersAPI.
func (b *Backend) LockUser(ctx context.Context, id string) (*api.User, error) {
	return b.c.LockUser(ctx, id)
}

// UnlockUser implements state.UsersAPI.
func (b *Backend) UnlockUser(ctx context.Context, id string) (*api.User, error) {
	return b.c.UnlockUser(ctx, id)
}

// UserSessions implements state.UsersAPI.
func (b *Backend) UserSessions(ctx context.Context, id string) ([]api.Session, error) {
	return b.c.UserSessions(ctx, id)
}

// RevokeUserSession implements state.UsersAPI.
func (b *Backend) RevokeUserSession(ctx context.Context, id, sessionID string) error {
	return b.c.RevokeUserSession(ctx, id, sessionID)
}

// RevokeUserSessions implements state.UsersAPI.
func (b *Backend) RevokeUserSessions(ctx context.Context, id string) error {
	return b.c.RevokeUserSessions(ctx, id)
}

// ListEvents implements state.EventsAPI.
func (b *Backend) ListEvents(ctx context.Context, q api.SecurityEventQuery) (*api.SecurityEventList, error) {
	return b.c.ListEvents(ctx, client.EventQuery{Type: q.Type, UserID: q.User, Since: q.Since, Until: q.Until, Page: q.Page, PerPage: q.PerPage})
}

// PoolStream implements state.PoolAPI.
func (b *Backend) PoolStream(ctx context.Context, fn func(api.PoolStats) error) error {
	return b.c.PoolStream(ctx, fn)
}

// UserIdentities implements state.UsersAPI.
func (b *Backend) UserIdentities(ctx context.Context, id string) ([]api.Identity, error) {
	return b.c.UserIdentities(ctx, id)
}
