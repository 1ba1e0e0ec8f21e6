package api

import "time"

// Login statuses.
const (
	LoginOK          = "ok"
	LoginMFARequired = "mfa_required"
)

// Assurance levels.
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// LoginRequest is the body of POST /api/v1/auth/login and of password grants.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// LoginResponse answers POST /api/v1/auth/login; the session itself travels in an httpOnly cookie.
type LoginResponse struct {
	Status    string `json:"status"`
	User      *User  `json:"user,omitempty"`
	CSRFToken string `json:"csrf_token"`
	// Factors lists the account's second factors when Status is mfa_required; the pending
	// login travels in its own httpOnly cookie and reaches only the MFA endpoints.
	Factors []string `json:"factors,omitempty"`
	// ExpiresIn is how many seconds the pending login lives (mfa_required only).
	ExpiresIn int `json:"expires_in,omitempty"`
}

// RegisterRequest is the body of POST /api/v1/auth/register.
type RegisterRequest struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

// CSRFResponse answers GET /api/v1/auth/csrf.
type CSRFResponse struct {
	CSRFToken string `json:"csrf_token"`
}

// Grant types of POST /api/v1/auth/token.
const (
	GrantPassword     = "password"
	GrantRefreshToken = "refresh_token"
	// GrantMFA finishes a password grant that answered mfa_required: mfa_token, factor, code.
	GrantMFA = "mfa"
)

// TokenRequest is the body of POST /api/v1/auth/token (JSON).
type TokenRequest struct {
	GrantType    string `json:"grant_type"`
	Email        string `json:"email,omitempty"`
	Password     string `json:"password,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	MFAToken     string `json:"mfa_token,omitempty"`
	Factor       string `json:"factor,omitempty"`
	Code         string `json:"code,omitempty"`
}

// TokenResponse carries a new access token and the rotated refresh token.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// TokenBody is the body of POST /api/v1/auth/revoke and /api/v1/auth/introspect.
type TokenBody struct {
	Token string `json:"token"`
}

// Introspection answers POST /api/v1/auth/introspect (RFC 7662 style): only Active when the
// token is valid and its session is live.
type Introspection struct {
	Active    bool     `json:"active"`
	TokenType string   `json:"token_type,omitempty"`
	Subject   string   `json:"sub,omitempty"`
	SessionID string   `json:"sid,omitempty"`
	AAL       string   `json:"aal,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	ExpiresAt int64    `json:"exp,omitempty"`
}

// Session is a login session as its owner or an admin sees it.
type Session struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	AAL        string     `json:"aal"`
	Current    bool       `json:"current"`
	IP         string     `json:"ip"`
	UserAgent  string     `json:"user_agent"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// SessionList answers the session listing routes.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}
