package httpapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authz"
	"gatehouse/shared/api"
)

// Session cookie names: the __Host- prefix pins the cookie to this host, path / and Secure
// (SEC-11); plain HTTP development cannot use it.
const (
	CookieNameSecure = "__Host-gatehouse_session"
	CookieNamePlain  = "gatehouse_session"
)

// Authenticator resolves credentials to a principal (internal/auth).
type Authenticator interface {
	AuthenticateCookie(ctx context.Context, token string) (auth.Principal, error)
	AuthenticateBearer(ctx context.Context, token string) (auth.Principal, error)
}

const principalKey = "gatehouse.principal"

// principal returns the authenticated caller set by authenticate.
func principal(c *gin.Context) auth.Principal {
	p, _ := c.Get(principalKey)
	pr, _ := p.(auth.Principal)
	return pr
}

func (s *Server) cookieName() string {
	if s.cookieSecure {
		return CookieNameSecure
	}
	return CookieNamePlain
}

// authenticate accepts a bearer token (Authorization header) or the session cookie. Cookie
// requests with an unsafe method must carry the session's CSRF token (SEC-14); bearer requests
// need none, since a browser never attaches them on its own.
func (s *Server) authenticate(c *gin.Context) {
	ctx := c.Request.Context()
	var (
		p   auth.Principal
		err error
	)
	if h := c.GetHeader("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			writeAPIError(c, api.NewError(api.CodeUnauthorized, "the Authorization header must be \"Bearer <token>\""))
			return
		}
		tok = strings.TrimSpace(tok)
		if s.serviceAccounts != nil && strings.HasPrefix(tok, api.ServiceAccountTokenPrefix) {
			p, err = s.authenticateServiceAccount(ctx, tok) // routes_secrets.go
		} else {
			p, err = s.accounts.AuthenticateBearer(ctx, tok)
		}
	} else if ck, cerr := c.Cookie(s.cookieName()); cerr == nil && ck != "" {
		p, err = s.accounts.AuthenticateCookie(ctx, ck)
		if err != nil {
			s.clearSessionCookie(c)
		} else if !safeMethod(c.Request.Method) {
			sent := c.GetHeader(api.HeaderCSRFToken)
			if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(p.Session.CSRFToken)) != 1 {
				writeAPIError(c, api.NewError(api.CodeCSRFFailed, "missing or wrong X-CSRF-Token for this session"))
				return
			}
		}
	} else {
		writeAPIError(c, api.NewError(api.CodeUnauthorized, "authentication required"))
		return
	}
	if err != nil {
		WriteError(c, err)
		return
	}
	// Service accounts may call only the routes that opt in (the secrets API: see
	// allowServiceAccounts); every other route expects a person.
	if p.ServiceAccountID != "" && !c.GetBool(serviceAccountsAllowedKey) {
		writeAPIError(c, api.NewError(api.CodeForbidden, "service account tokens are accepted only by the secrets API"))
		return
	}
	c.Set(principalKey, p)
	c.Next()
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// require refuses callers whose roles lack perm (SEC-51).
func require(perm authz.Permission) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !authz.Allowed(principal(c).Roles, perm) {
			writeAPIError(c, api.NewError(api.CodeForbidden, "your role does not allow this"))
			return
		}
		c.Next()
	}
}

// SEC-11: HttpOnly, SameSite=Lax, Path=/, and Secure with the __Host- prefix outside
// plain-HTTP development (configuration refuses insecure cookies in production).
func (s *Server) setSessionCookie(c *gin.Context, token string) {
	http.SetCookie(c.Writer, &http.Cookie{ //nolint:gosec // Secure follows configuration, see above

		Name: s.cookieName(), Value: token, Path: "/", HttpOnly: true, Secure: s.cookieSecure, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{ //nolint:gosec // as setSessionCookie

		Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cookieSecure, SameSite: http.SameSiteLaxMode,
	})
}

// meta is what services learn about the caller.
func meta(c *gin.Context) auth.Meta {
	return auth.Meta{IP: c.ClientIP(), UserAgent: truncate(c.Request.UserAgent(), 512)}
}
