package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"gatehouse/shared/api"
)

// Login signs in with a password in cookie mode: the server sets the session cookie in the
// client's jar, and the CSRF token is kept for unsafe requests.
func (c *Client) Login(ctx context.Context, email, password string) (*api.LoginResponse, error) {
	var res api.LoginResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/login", api.LoginRequest{Email: email, Password: password}, &res); err != nil {
		return nil, err
	}
	c.SetCSRFToken(res.CSRFToken)
	return &res, nil
}

// Register creates an account and signs in (cookie mode).
func (c *Client) Register(ctx context.Context, req api.RegisterRequest) (*api.LoginResponse, error) {
	var res api.LoginResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/register", req, &res); err != nil {
		return nil, err
	}
	c.SetCSRFToken(res.CSRFToken)
	return &res, nil
}

// Logout ends the current session (cookie or bearer).
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/logout", nil, nil)
	if err == nil {
		c.SetCSRFToken("")
	}
	return err
}

// CSRF fetches (and keeps) the session's CSRF token.
func (c *Client) CSRF(ctx context.Context) (string, error) {
	var res api.CSRFResponse
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/auth/csrf", nil, &res); err != nil {
		return "", err
	}
	c.SetCSRFToken(res.CSRFToken)
	return res.CSRFToken, nil
}

// TokenWithPassword gets an access and refresh token (bearer mode) and switches the client to
// the access token.
func (c *Client) TokenWithPassword(ctx context.Context, email, password string) (*api.TokenResponse, error) {
	return c.grant(ctx, api.TokenRequest{GrantType: api.GrantPassword, Email: email, Password: password})
}

// Refresh rotates a refresh token and switches the client to the new access token.
func (c *Client) Refresh(ctx context.Context, refreshToken string) (*api.TokenResponse, error) {
	return c.grant(ctx, api.TokenRequest{GrantType: api.GrantRefreshToken, RefreshToken: refreshToken})
}

func (c *Client) grant(ctx context.Context, req api.TokenRequest) (*api.TokenResponse, error) {
	var res api.TokenResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/token", req, &res); err != nil {
		return nil, err
	}
	c.SetBearerToken(res.AccessToken)
	return &res, nil
}

// RevokeToken revokes a refresh or access token (RFC 7009 style).
func (c *Client) RevokeToken(ctx context.Context, token string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/revoke", api.TokenBody{Token: token}, nil)
	return err
}

// Introspect asks whether an access token is live (admins).
func (c *Client) Introspect(ctx context.Context, token string) (*api.Introspection, error) {
	var res api.Introspection
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/introspect", api.TokenBody{Token: token}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// JWKS fetches the public keys that verify access tokens.
func (c *Client) JWKS(ctx context.Context) (*api.JWKS, error) {
	var res api.JWKS
	if _, err := c.Do(ctx, http.MethodGet, "/.well-known/jwks.json", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// Me returns the signed-in account.
func (c *Client) Me(ctx context.Context) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/me", nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateMe changes the signed-in account's profile.
func (c *Client) UpdateMe(ctx context.Context, req api.UpdateMeRequest) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodPatch, "/api/v1/me", req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ChangePassword changes the signed-in account's password; other sessions end.
func (c *Client) ChangePassword(ctx context.Context, current, next string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/me/password", api.ChangePasswordRequest{CurrentPassword: current, NewPassword: next}, nil)
	return err
}

// MySessions lists the signed-in account's live sessions.
func (c *Client) MySessions(ctx context.Context) ([]api.Session, error) {
	var res api.SessionList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/me/sessions", nil, &res); err != nil {
		return nil, err
	}
	return res.Sessions, nil
}

// RevokeMySession ends one of the signed-in account's sessions.
func (c *Client) RevokeMySession(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/me/sessions/"+url.PathEscape(id), nil, nil)
	return err
}

// ListUsers searches accounts (admin, support).
func (c *Client) ListUsers(ctx context.Context, q api.UserQuery) (*api.UserList, error) {
	v := url.Values{}
	setIf(v, "query", q.Query)
	setIf(v, "status", q.Status)
	setIf(v, "role", q.Role)
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	var res api.UserList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/users"+query(v), nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// CreateUser creates an account (admin).
func (c *Client) CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/users", req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// GetUser loads an account (admin, support).
func (c *Client) GetUser(ctx context.Context, id string) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/users/"+url.PathEscape(id), nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UpdateUser changes display name, roles or status (admin; support: status only).
func (c *Client) UpdateUser(ctx context.Context, id string, req api.UpdateUserRequest) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodPatch, "/api/v1/admin/users/"+url.PathEscape(id), req, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// LockUser locks an account and ends its sessions (admin, support).
func (c *Client) LockUser(ctx context.Context, id string) (*api.User, error) {
	return c.userAction(ctx, id, "lock")
}

// UnlockUser reactivates a locked account (admin, support).
func (c *Client) UnlockUser(ctx context.Context, id string) (*api.User, error) {
	return c.userAction(ctx, id, "unlock")
}

func (c *Client) userAction(ctx context.Context, id, action string) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/users/"+url.PathEscape(id)+"/"+action, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// UserSessions lists an account's live sessions (admin, support).
func (c *Client) UserSessions(ctx context.Context, id string) ([]api.Session, error) {
	var res api.SessionList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/users/"+url.PathEscape(id)+"/sessions", nil, &res); err != nil {
		return nil, err
	}
	return res.Sessions, nil
}

// RevokeUserSessions ends every session of an account (admin, support).
func (c *Client) RevokeUserSessions(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/users/"+url.PathEscape(id)+"/sessions", nil, nil)
	return err
}

// RevokeUserSession ends one session of an account (admin, support).
func (c *Client) RevokeUserSession(ctx context.Context, id, sid string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/users/"+url.PathEscape(id)+"/sessions/"+url.PathEscape(sid), nil, nil)
	return err
}

// EventQuery filters ListEvents.
type EventQuery struct {
	Type    string
	UserID  string
	Since   time.Time
	Until   time.Time
	Page    int
	PerPage int
}

// ListEvents pages through security events (admin).
func (c *Client) ListEvents(ctx context.Context, q EventQuery) (*api.SecurityEventList, error) {
	v := url.Values{}
	setIf(v, "type", q.Type)
	setIf(v, "user", q.UserID)
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339))
	}
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	var res api.SecurityEventList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/events"+query(v), nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// PoolStats samples the database pool (admin).
func (c *Client) PoolStats(ctx context.Context) (*api.PoolStats, error) {
	var res api.PoolStats
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/pool", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

func setIf(v url.Values, k, val string) {
	if val != "" {
		v.Set(k, val)
	}
}

func query(v url.Values) string {
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
