package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authz"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Accounts is the account service behind the auth, me and admin routes (internal/auth).
type Accounts interface {
	Authenticator
	Login(ctx context.Context, req api.LoginRequest, previousToken, deviceToken string, meta auth.Meta) (auth.CookieLogin, error)
	Register(ctx context.Context, req api.RegisterRequest, meta auth.Meta) (auth.CookieLogin, error)
	Logout(ctx context.Context, p auth.Principal, meta auth.Meta) error
	PasswordGrant(ctx context.Context, req api.TokenRequest, meta auth.Meta) (auth.TokenPair, error)
	RefreshGrant(ctx context.Context, refreshToken string, meta auth.Meta) (auth.TokenPair, error)
	Revoke(ctx context.Context, token string, meta auth.Meta) error
	Introspect(ctx context.Context, token string) (api.Introspection, error)

	Me(ctx context.Context, p auth.Principal) (users.User, error)
	UpdateMe(ctx context.Context, p auth.Principal, req api.UpdateMeRequest, meta auth.Meta) (users.User, error)
	ChangePassword(ctx context.Context, p auth.Principal, req api.ChangePasswordRequest, meta auth.Meta) error
	Sessions(ctx context.Context, p auth.Principal) ([]api.Session, error)
	RevokeSession(ctx context.Context, p auth.Principal, sid string, meta auth.Meta) error

	ListUsers(ctx context.Context, q api.UserQuery) ([]users.User, int, users.Query, error)
	CreateUser(ctx context.Context, p auth.Principal, req api.CreateUserRequest, meta auth.Meta) (users.User, error)
	GetUser(ctx context.Context, id string) (users.User, error)
	UpdateUser(ctx context.Context, p auth.Principal, id string, req api.UpdateUserRequest, meta auth.Meta) (users.User, error)
	SetStatus(ctx context.Context, p auth.Principal, id, status string, meta auth.Meta) (users.User, error)
	UserSessions(ctx context.Context, id string) ([]api.Session, error)
	RevokeUserSessions(ctx context.Context, p auth.Principal, id string, meta auth.Meta) (int, error)
	RevokeUserSession(ctx context.Context, p auth.Principal, id, sid string, meta auth.Meta) error
	ListEvents(ctx context.Context, f events.Filter) ([]events.Event, int, events.Filter, error)
}

// routeAccounts registers the account routes.
func (s *Server) routeAccounts() {
	a := s.api
	a.POST("/auth/login", s.login)
	a.POST("/auth/register", s.register)
	a.POST("/auth/token", s.token)
	a.POST("/auth/revoke", s.revoke)
	s.engine.GET("/.well-known/jwks.json", s.jwksHandler)

	in := a.Group("", s.authenticate)
	in.POST("/auth/logout", s.logout)
	in.GET("/auth/csrf", s.csrf)
	in.POST("/auth/introspect", require(authz.TokensInspect), s.introspect)
	in.GET("/me", s.me)
	in.PATCH("/me", s.updateMe)
	in.POST("/me/password", s.changePassword)
	in.GET("/me/sessions", s.mySessions)
	in.DELETE("/me/sessions/:id", s.revokeMySession)

	ad := in.Group("/admin")
	if s.mfa != nil {
		ad.Use(s.adminGate)
		s.routeMFA(in, ad)
	}
	ad.GET("/users", require(authz.UsersRead), s.listUsers)
	ad.POST("/users", require(authz.UsersCreate), s.createUser)
	ad.GET("/users/:id", require(authz.UsersRead), s.getUser)
	ad.PATCH("/users/:id", require(authz.UsersRead), s.updateUser) // field permissions: in the service
	ad.POST("/users/:id/lock", require(authz.UsersLock), s.setStatus(api.UserLocked))
	ad.POST("/users/:id/unlock", require(authz.UsersLock), s.setStatus(api.UserActive))
	ad.GET("/users/:id/sessions", require(authz.UsersRead), s.userSessions)
	ad.DELETE("/users/:id/sessions", require(authz.SessionsRevoke), s.revokeUserSessions)
	ad.DELETE("/users/:id/sessions/:sid", require(authz.SessionsRevoke), s.revokeUserSession)
	ad.GET("/events", require(authz.EventsRead), s.listEvents)
	if s.pool != nil {
		ad.GET("/pool", require(authz.PoolRead), s.poolStats)
		ad.GET("/pool/stream", require(authz.PoolRead), s.poolStream)
	}
}

func (s *Server) login(c *gin.Context) {
	var req api.LoginRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	prev, _ := c.Cookie(s.cookieName())
	dev, _ := c.Cookie(s.deviceCookieName())
	res, err := s.accounts.Login(c.Request.Context(), req, prev, dev, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	s.answerLogin(c, res, prev)
}

// answerLogin sets a cookie login's cookies and answers it: the session, or, when the second
// factor is still to come, only the pending cookie, which reaches nothing but the MFA
// endpoints (SEC-23). A session cookie the browser brought (prev) is cleared then.
func (s *Server) answerLogin(c *gin.Context, res auth.CookieLogin, prev string) {
	if p := res.Pending; p != nil {
		if prev != "" {
			s.clearSessionCookie(c)
		}
		s.setCookie(c, s.pendingCookieName(), p.Token, p.ExpiresIn)
		c.JSON(http.StatusOK, api.LoginResponse{Status: api.LoginMFARequired, CSRFToken: p.CSRFToken, Factors: p.Factors,
			ExpiresIn: int(p.ExpiresIn / time.Second)})
		return
	}
	s.setSessionCookie(c, res.Token)
	u := res.User.API()
	c.JSON(http.StatusOK, api.LoginResponse{Status: api.LoginOK, User: &u, CSRFToken: res.Session.CSRFToken})
}

func (s *Server) register(c *gin.Context) {
	var req api.RegisterRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	res, err := s.accounts.Register(c.Request.Context(), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	s.setSessionCookie(c, res.Token)
	u := res.User.API()
	c.JSON(http.StatusCreated, api.LoginResponse{Status: api.LoginOK, User: &u, CSRFToken: res.Session.CSRFToken})
}

func (s *Server) logout(c *gin.Context) {
	if err := s.accounts.Logout(c.Request.Context(), principal(c), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	s.clearSessionCookie(c)
	c.Status(http.StatusNoContent)
}

func (s *Server) csrf(c *gin.Context) {
	c.JSON(http.StatusOK, api.CSRFResponse{CSRFToken: principal(c).Session.CSRFToken})
}

func (s *Server) token(c *gin.Context) {
	var req api.TokenRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	var (
		pair auth.TokenPair
		err  error
	)
	switch req.GrantType {
	case api.GrantPassword:
		pair, err = s.accounts.PasswordGrant(c.Request.Context(), req, meta(c))
	case api.GrantRefreshToken:
		pair, err = s.accounts.RefreshGrant(c.Request.Context(), req.RefreshToken, meta(c))
	case api.GrantMFA:
		if s.mfa == nil {
			err = &api.Error{Code: api.CodeInvalidRequest, Message: "grant_type must be password or refresh_token", Details: map[string]any{"field": "grant_type"}}
			break
		}
		pair, err = s.mfa.MFAGrant(c.Request.Context(), req, meta(c))
	default:
		err = &api.Error{Code: api.CodeInvalidRequest, Message: "grant_type must be password, refresh_token or mfa", Details: map[string]any{"field": "grant_type"}}
	}
	var mfaErr *auth.MFARequiredError
	if errors.As(err, &mfaErr) {
		// The client finishes with grant_type=mfa and this single-use token (SEC-23).
		writeAPIError(c, &api.Error{Code: api.CodeMFARequired, Message: "a second factor is required: finish with grant_type=mfa",
			Details: map[string]any{api.DetailMFAToken: mfaErr.Token, api.DetailFactors: mfaErr.Factors, "expires_in": int(mfaErr.ExpiresIn / time.Second)}})
		return
	}
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.TokenResponse{AccessToken: pair.AccessToken, TokenType: "Bearer",
		ExpiresIn: int(time.Until(pair.ExpiresAt).Round(time.Second).Seconds()), RefreshToken: pair.RefreshToken})
}

func (s *Server) revoke(c *gin.Context) {
	var req api.TokenBody
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	if err := s.accounts.Revoke(c.Request.Context(), req.Token, meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, struct{}{})
}

func (s *Server) introspect(c *gin.Context) {
	var req api.TokenBody
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	res, err := s.accounts.Introspect(c.Request.Context(), req.Token)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (s *Server) jwksHandler(c *gin.Context) {
	if s.jwks == nil {
		writeAPIError(c, api.NewError(api.CodeNotFound, "route not found"))
		return
	}
	// Offline verifiers may cache the key set briefly; rotation keeps old keys listed longer.
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, s.jwks())
}
