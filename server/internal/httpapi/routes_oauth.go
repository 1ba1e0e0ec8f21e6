package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authz"
	"gatehouse/server/internal/oauth"
	"gatehouse/shared/api"
)

// Cookie names of the browser binding of a social-login flow (SEC-30).
const (
	OAuthCookieSecure = "__Host-gatehouse_oauth"
	OAuthCookiePlain  = "gatehouse_oauth"
)

// OAuth is social login (internal/oauth).
type OAuth interface {
	PublicProviders(ctx context.Context) ([]api.PublicProvider, error)
	Start(ctx context.Context, slug, redirectTo, codeChallenge, base string, meta auth.Meta) (oauth.StartResult, error)
	StartLink(ctx context.Context, p auth.Principal, slug, redirectTo, base string) (oauth.StartResult, error)
	Callback(ctx context.Context, slug string, q oauth.CallbackParams, binding, previousToken, deviceToken, base string, meta auth.Meta) (oauth.CallbackResult, error)
	Exchange(ctx context.Context, code, verifier, previousToken, deviceToken string, meta auth.Meta) (auth.CookieLogin, error)

	MyIdentities(ctx context.Context, p auth.Principal) ([]api.Identity, error)
	UserIdentities(ctx context.Context, userID string) ([]api.Identity, error)
	Unlink(ctx context.Context, p auth.Principal, id string, meta auth.Meta) error

	ListProviders(ctx context.Context) ([]api.OAuthProvider, error)
	GetProvider(ctx context.Context, id string) (api.OAuthProvider, error)
	CreateProvider(ctx context.Context, p auth.Principal, req api.CreateOAuthProviderRequest, meta auth.Meta) (api.OAuthProvider, error)
	UpdateProvider(ctx context.Context, p auth.Principal, id string, req api.UpdateOAuthProviderRequest, meta auth.Meta) (api.OAuthProvider, error)
	DeleteProvider(ctx context.Context, p auth.Principal, id string, meta auth.Meta) error
}

// StepUpGate refuses sensitive self-service at aal1 when the user has a second factor.
type StepUpGate func(ctx context.Context, p auth.Principal) error

// routeOAuth registers the social-login routes.
func (s *Server) routeOAuth(o OAuth, publicURL string, stepUp StepUpGate) {
	s.oauth, s.publicURL, s.stepUpGate = o, strings.TrimRight(publicURL, "/"), stepUp
	a := s.api
	a.GET("/auth/providers", s.publicProviders)
	a.GET("/auth/oauth/:provider/start", s.oauthStart)
	a.GET("/auth/oauth/:provider/callback", s.oauthCallback)
	a.POST("/auth/oauth/exchange", s.oauthExchange)

	in := a.Group("", s.authenticate)
	in.GET("/me/identities", s.myIdentities)
	in.POST("/me/identities/:provider/link", s.linkIdentity)
	in.DELETE("/me/identities/:id", s.unlinkIdentity)

	ad := in.Group("/admin")
	if s.mfa != nil {
		ad.Use(s.adminGate)
	}
	ad.GET("/users/:id/identities", require(authz.UsersRead), s.userIdentities)
	ad.GET("/oauth-providers", require(authz.ProvidersManage), s.listProviders)
	ad.POST("/oauth-providers", require(authz.ProvidersManage), s.createProvider)
	ad.GET("/oauth-providers/:id", require(authz.ProvidersManage), s.getProvider)
	ad.PATCH("/oauth-providers/:id", require(authz.ProvidersManage), s.updateProvider)
	ad.DELETE("/oauth-providers/:id", require(authz.ProvidersManage), s.deleteProvider)
}

func (s *Server) oauthCookieName() string {
	if s.cookieSecure {
		return OAuthCookieSecure
	}
	return OAuthCookiePlain
}

// externalBase is the server's address as browsers and providers see it: the configured
// public URL, else this request's scheme and host (development).
func (s *Server) externalBase(c *gin.Context) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if c.Request.TLS != nil || s.tls {
		scheme = "https"
	}
	return scheme + "://" + c.Request.Host
}

func (s *Server) publicProviders(c *gin.Context) {
	list, err := s.oauth.PublicProviders(c.Request.Context())
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.PublicProviderList{Providers: list})
}

func (s *Server) oauthStart(c *gin.Context) {
	res, err := s.oauth.Start(c.Request.Context(), c.Param("provider"), c.Query(api.OAuthRedirectParam), c.Query(api.OAuthChallengeParam), s.externalBase(c), meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	s.setCookie(c, s.oauthCookieName(), res.Binding, res.MaxAge)
	c.Header("Cache-Control", "no-store")
	redirect(c, res.AuthorizationURL)
}

func (s *Server) oauthCallback(c *gin.Context) {
	ctx := c.Request.Context()
	binding, _ := c.Cookie(s.oauthCookieName())
	prev, _ := c.Cookie(s.cookieName())
	dev, _ := c.Cookie(s.deviceCookieName())
	q := oauth.CallbackParams{State: c.Query("state"), Code: c.Query("code"), Error: c.Query("error"), ErrorDescription: c.Query("error_description")}
	res, err := s.oauth.Callback(ctx, c.Param("provider"), q, binding, prev, dev, s.externalBase(c), meta(c))
	c.Header("Cache-Control", "no-store")
	var fe *oauth.FlowError
	if err == nil || errors.As(err, &fe) {
		// The flow is spent. A refused state leaves the cookie: the browser's own flow may
		// still come back (a forged callback must not break it).
		s.setCookie(c, s.oauthCookieName(), "", -1)
	}
	if fe != nil {
		e := resolveError(ctx, fe.Err)
		switch {
		case e.Code == api.CodeOAuthProviderError || e.Code == api.CodeOAuthTokenInvalid:
			// The provider's side: operators need the detail (never a token: failures carry none).
			Logger(ctx).LogAttrs(ctx, slog.LevelWarn, "oauth provider failure", slog.String("provider", c.Param("provider")), slog.String("error", err.Error()))
		case e.Code.Status() >= http.StatusInternalServerError:
			Logger(ctx).LogAttrs(ctx, slog.LevelError, "oauth callback failed", slog.String("code", string(e.Code)), slog.String("error", err.Error()))
		}
		redirect(c, withQuery(fe.RedirectTo, api.OAuthErrorParam, string(e.Code)))
		return
	}
	if err != nil {
		WriteError(c, err)
		return
	}
	switch {
	case res.ExchangeCode != "":
		redirect(c, withQuery(res.RedirectTo, api.OAuthCodeParam, res.ExchangeCode))
	case res.Linked != nil:
		redirect(c, withQuery(res.RedirectTo, api.OAuthStatusParam, "linked"))
	case res.Login != nil && res.Login.Pending != nil:
		if prev != "" {
			s.clearSessionCookie(c)
		}
		s.setCookie(c, s.pendingCookieName(), res.Login.Pending.Token, res.Login.Pending.ExpiresIn)
		redirect(c, withQuery(res.RedirectTo, api.OAuthStatusParam, api.LoginMFARequired))
	case res.Login != nil:
		s.setSessionCookie(c, res.Login.Token)
		redirect(c, withQuery(res.RedirectTo, api.OAuthStatusParam, api.LoginOK))
	default:
		WriteError(c, errors.New("oauth callback: no result"))
	}
}

// redirect answers 302 with no body (gin's Redirect writes an HTML one for GET).
func redirect(c *gin.Context, to string) {
	c.Header("Location", to)
	c.Status(http.StatusFound)
	c.Writer.WriteHeaderNow()
}

// withQuery adds one parameter to a checked redirect target.
func withQuery(target, key, value string) string {
	u, err := url.Parse(target)
	if err != nil {
		return "/"
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func (s *Server) oauthExchange(c *gin.Context) {
	var req api.OAuthExchangeRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	prev, _ := c.Cookie(s.cookieName())
	dev, _ := c.Cookie(s.deviceCookieName())
	res, err := s.oauth.Exchange(c.Request.Context(), req.Code, req.CodeVerifier, prev, dev, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	s.answerLogin(c, res, prev)
}

func (s *Server) myIdentities(c *gin.Context) {
	list, err := s.oauth.MyIdentities(c.Request.Context(), principal(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.IdentityList{Identities: list})
}

func (s *Server) linkIdentity(c *gin.Context) {
	var req api.LinkIdentityRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	ctx, p := c.Request.Context(), principal(c)
	if err := s.stepUpGate(ctx, p); err != nil {
		WriteError(c, err)
		return
	}
	res, err := s.oauth.StartLink(ctx, p, c.Param("provider"), req.RedirectTo, s.externalBase(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	s.setCookie(c, s.oauthCookieName(), res.Binding, res.MaxAge)
	c.JSON(http.StatusOK, api.LinkIdentityResponse{AuthorizationURL: res.AuthorizationURL})
}

func (s *Server) unlinkIdentity(c *gin.Context) {
	ctx, p := c.Request.Context(), principal(c)
	if err := s.stepUpGate(ctx, p); err != nil {
		WriteError(c, err)
		return
	}
	if err := s.oauth.Unlink(ctx, p, c.Param("id"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) userIdentities(c *gin.Context) {
	list, err := s.oauth.UserIdentities(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.IdentityList{Identities: list})
}

func (s *Server) listProviders(c *gin.Context) {
	list, err := s.oauth.ListProviders(c.Request.Context())
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.OAuthProviderList{Providers: list})
}

func (s *Server) getProvider(c *gin.Context) {
	p, err := s.oauth.GetProvider(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *Server) createProvider(c *gin.Context) {
	var req api.CreateOAuthProviderRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	p, err := s.oauth.CreateProvider(c.Request.Context(), principal(c), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusCreated, p)
}

func (s *Server) updateProvider(c *gin.Context) {
	var req api.UpdateOAuthProviderRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	p, err := s.oauth.UpdateProvider(c.Request.Context(), principal(c), c.Param("id"), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (s *Server) deleteProvider(c *gin.Context) {
	if err := s.oauth.DeleteProvider(c.Request.Context(), principal(c), c.Param("id"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
