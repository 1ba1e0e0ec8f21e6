package httpapi

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authz"
	"gatehouse/server/internal/mfa/pending"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Cookie names of the pending second-factor login and of a trusted device (SEC-11, SEC-24).
const (
	PendingCookieSecure = "__Host-gatehouse_mfa"
	PendingCookiePlain  = "gatehouse_mfa"
	DeviceCookieSecure  = "__Host-gatehouse_device"
	DeviceCookiePlain   = "gatehouse_device"
)

// MFA is the second-factor side of the account service (internal/auth).
type MFA interface {
	LookupPending(ctx context.Context, tok string) (pending.Login, error)
	PendingFactors(ctx context.Context, l pending.Login) ([]string, error)
	ChallengePending(ctx context.Context, l pending.Login, factor string, meta auth.Meta) (string, error)
	VerifyPending(ctx context.Context, l pending.Login, factor, code string, remember bool, meta auth.Meta) (auth.VerifyPendingResult, error)
	MFAGrant(ctx context.Context, req api.TokenRequest, meta auth.Meta) (auth.TokenPair, error)
	StepUpChallenge(ctx context.Context, p auth.Principal, factor string, meta auth.Meta) (string, error)
	StepUp(ctx context.Context, p auth.Principal, req api.StepUpRequest, meta auth.Meta) (auth.StepUpResult, error)
	AdminGate(ctx context.Context, p auth.Principal) error

	MyMFA(ctx context.Context, p auth.Principal) (api.MFAStatus, error)
	MFAStatus(ctx context.Context, userID string) (api.MFAStatus, error)
	MFASummaries(ctx context.Context, list []users.User) (map[string]api.MFASummary, error)
	BeginTOTP(ctx context.Context, p auth.Principal, meta auth.Meta) (api.TOTPEnrollment, error)
	ConfirmTOTP(ctx context.Context, p auth.Principal, code string, meta auth.Meta) error
	BeginOOB(ctx context.Context, p auth.Principal, factor, address string, meta auth.Meta) (string, error)
	ConfirmOOB(ctx context.Context, p auth.Principal, factor, code string, meta auth.Meta) error
	RemoveFactor(ctx context.Context, p auth.Principal, factor string, meta auth.Meta) error
	RegenerateRecoveryCodes(ctx context.Context, p auth.Principal, meta auth.Meta) ([]string, error)

	MyDevices(ctx context.Context, p auth.Principal, currentToken string) ([]api.Device, error)
	RevokeMyDevice(ctx context.Context, p auth.Principal, id string, meta auth.Meta) error
	UserDevices(ctx context.Context, id string) ([]api.Device, error)
	RevokeUserDevice(ctx context.Context, p auth.Principal, id, did string, meta auth.Meta) error
	RevokeUserDevices(ctx context.Context, p auth.Principal, id string, meta auth.Meta) (int, error)
	ResetMFA(ctx context.Context, p auth.Principal, id, reason string, meta auth.Meta) error

	SendEmailVerification(ctx context.Context, p auth.Principal, meta auth.Meta) (string, error)
	VerifyEmail(ctx context.Context, p auth.Principal, code string, meta auth.Meta) (users.User, error)
}

func (s *Server) pendingCookieName() string {
	if s.cookieSecure {
		return PendingCookieSecure
	}
	return PendingCookiePlain
}

func (s *Server) deviceCookieName() string {
	if s.cookieSecure {
		return DeviceCookieSecure
	}
	return DeviceCookiePlain
}

// setCookie writes one of our httpOnly cookies (SEC-11); maxAge < 0 deletes it.
func (s *Server) setCookie(c *gin.Context, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.cookieSecure, SameSite: http.SameSiteLaxMode} //nolint:gosec // Secure follows configuration (SEC-53 refuses insecure cookies in production)
	if maxAge < 0 {
		ck.Value, ck.MaxAge = "", -1
	} else if maxAge > 0 {
		ck.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(c.Writer, ck)
}

// routeMFA registers the second-factor routes. in is the authenticated group, ad the admin one.
func (s *Server) routeMFA(in, ad *gin.RouterGroup) {
	a := s.api
	a.GET("/auth/mfa/pending", s.mfaPending)
	a.POST("/auth/mfa/challenge", s.mfaChallenge)
	a.POST("/auth/mfa/verify", s.mfaVerify)

	in.POST("/auth/step-up/challenge", s.stepUpChallenge)
	in.POST("/auth/step-up", s.stepUp)
	in.GET("/me/mfa", s.myMFA)
	in.POST("/me/mfa/totp", s.beginTOTP)
	in.POST("/me/mfa/totp/confirm", s.confirmTOTP)
	in.DELETE("/me/mfa/totp", s.removeFactor(api.FactorTOTP))
	in.POST("/me/mfa/sms", s.beginSMS)
	in.POST("/me/mfa/sms/confirm", s.confirmOOB(api.FactorSMS))
	in.DELETE("/me/mfa/sms", s.removeFactor(api.FactorSMS))
	in.POST("/me/mfa/email", s.beginEmail)
	in.POST("/me/mfa/email/confirm", s.confirmOOB(api.FactorEmail))
	in.DELETE("/me/mfa/email", s.removeFactor(api.FactorEmail))
	in.POST("/me/mfa/recovery-codes", s.recoveryCodes)
	in.POST("/me/email/verification", s.sendEmailVerification)
	in.POST("/me/email/verify", s.verifyEmail)
	in.GET("/me/devices", s.myDevices)
	in.DELETE("/me/devices/:id", s.revokeMyDevice)

	ad.GET("/users/:id/devices", require(authz.UsersRead), s.userDevices)
	ad.DELETE("/users/:id/devices", require(authz.DevicesRevoke), s.revokeUserDevices)
	ad.DELETE("/users/:id/devices/:did", require(authz.DevicesRevoke), s.revokeUserDevice)
	ad.POST("/users/:id/mfa/reset", require(authz.MFAReset), s.resetMFA)
}

// adminGate guards the admin group (SEC-25): aal2, or enrollment inside the grace period.
func (s *Server) adminGate(c *gin.Context) {
	if err := s.mfa.AdminGate(c.Request.Context(), principal(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Next()
}

// pendingLogin resolves the pending login of a challenge or verification: an mfa_token in
// the body (API clients), or the pending cookie, which like any cookie credential needs the
// CSRF token it came with (SEC-14).
func (s *Server) pendingLogin(c *gin.Context, mfaToken string) (pending.Login, bool) {
	ctx := c.Request.Context()
	if mfaToken != "" {
		l, err := s.mfa.LookupPending(ctx, mfaToken)
		if err != nil {
			WriteError(c, err)
			return pending.Login{}, false
		}
		return l, true
	}
	tok, err := c.Cookie(s.pendingCookieName())
	if err != nil || tok == "" {
		WriteError(c, auth.ErrPendingInvalid)
		return pending.Login{}, false
	}
	l, err := s.mfa.LookupPending(ctx, tok)
	if err != nil {
		if errors.Is(err, auth.ErrPendingInvalid) {
			s.setCookie(c, s.pendingCookieName(), "", -1)
		}
		WriteError(c, err)
		return pending.Login{}, false
	}
	sent := c.GetHeader(api.HeaderCSRFToken)
	if sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(l.CSRFToken)) != 1 {
		writeAPIError(c, api.NewError(api.CodeCSRFFailed, "missing or wrong X-CSRF-Token for this sign-in"))
		return pending.Login{}, false
	}
	return l, true
}

// mfaPending describes the browser's pending login: a page that arrives with only the pending
// cookie (after a social login's redirect) learns the factors and the CSRF token for the MFA
// endpoints here. A GET, so it needs no CSRF token; other sites cannot read the answer.
func (s *Server) mfaPending(c *gin.Context) {
	tok, err := c.Cookie(s.pendingCookieName())
	if err != nil || tok == "" {
		WriteError(c, auth.ErrPendingInvalid)
		return
	}
	ctx := c.Request.Context()
	l, err := s.mfa.LookupPending(ctx, tok)
	if err == nil && l.Kind != pending.KindCookie {
		err = auth.ErrPendingInvalid
	}
	if err != nil {
		if errors.Is(err, auth.ErrPendingInvalid) {
			s.setCookie(c, s.pendingCookieName(), "", -1)
		}
		WriteError(c, err)
		return
	}
	factors, err := s.mfa.PendingFactors(ctx, l)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, api.LoginResponse{Status: api.LoginMFARequired, CSRFToken: l.CSRFToken, Factors: factors,
		ExpiresIn: max(int(time.Until(l.ExpiresAt)/time.Second), 0)})
}

func (s *Server) mfaChallenge(c *gin.Context) {
	var req api.MFAChallengeRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	l, ok := s.pendingLogin(c, req.MFAToken)
	if !ok {
		return
	}
	sentTo, err := s.mfa.ChallengePending(c.Request.Context(), l, req.Factor, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.MFAChallengeResponse{Factor: req.Factor, SentTo: sentTo, ExpiresIn: int(s.codeTTL / time.Second)})
}

func (s *Server) mfaVerify(c *gin.Context) {
	var req api.MFAVerifyRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	l, ok := s.pendingLogin(c, "")
	if !ok {
		return
	}
	if l.Kind != pending.KindCookie {
		WriteError(c, auth.ErrPendingInvalid)
		return
	}
	res, err := s.mfa.VerifyPending(c.Request.Context(), l, req.Factor, req.Code, req.RememberDevice, meta(c))
	if err != nil {
		if errors.Is(err, auth.ErrPendingInvalid) {
			s.setCookie(c, s.pendingCookieName(), "", -1)
		}
		WriteError(c, err)
		return
	}
	s.setCookie(c, s.pendingCookieName(), "", -1)
	s.setSessionCookie(c, res.Cookie.Token)
	if res.DeviceToken != "" {
		s.setCookie(c, s.deviceCookieName(), res.DeviceToken, s.deviceTTL)
	}
	u := res.Cookie.User.API()
	c.JSON(http.StatusOK, api.LoginResponse{Status: api.LoginOK, User: &u, CSRFToken: res.Cookie.Session.CSRFToken})
}

func (s *Server) stepUpChallenge(c *gin.Context) {
	var req api.StepUpChallengeRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	sentTo, err := s.mfa.StepUpChallenge(c.Request.Context(), principal(c), req.Factor, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.MFAChallengeResponse{Factor: req.Factor, SentTo: sentTo, ExpiresIn: int(s.codeTTL / time.Second)})
}

func (s *Server) stepUp(c *gin.Context) {
	var req api.StepUpRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	res, err := s.mfa.StepUp(c.Request.Context(), principal(c), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	out := api.StepUpResponse{Status: api.LoginOK, AAL: res.Session.AAL}
	if res.Tokens != nil {
		out.AccessToken, out.TokenType, out.RefreshToken = res.Tokens.AccessToken, "Bearer", res.Tokens.RefreshToken
		out.ExpiresIn = int(time.Until(res.Tokens.ExpiresAt).Round(time.Second).Seconds())
	} else {
		s.setSessionCookie(c, res.Token)
		out.CSRFToken = res.Session.CSRFToken
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) myMFA(c *gin.Context) {
	st, err := s.mfa.MyMFA(c.Request.Context(), principal(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (s *Server) beginTOTP(c *gin.Context) {
	en, err := s.mfa.BeginTOTP(c.Request.Context(), principal(c), meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, en)
}

func (s *Server) confirmTOTP(c *gin.Context) {
	var req api.CodeRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	if err := s.mfa.ConfirmTOTP(c.Request.Context(), principal(c), req.Code, meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) beginSMS(c *gin.Context) {
	var req api.PhoneEnrollRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	s.beginOOB(c, api.FactorSMS, req.Phone)
}

func (s *Server) beginEmail(c *gin.Context) {
	var req api.EmailEnrollRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	s.beginOOB(c, api.FactorEmail, req.Email)
}

func (s *Server) beginOOB(c *gin.Context, factor, address string) {
	sentTo, err := s.mfa.BeginOOB(c.Request.Context(), principal(c), factor, address, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, api.EnrollmentStarted{Factor: factor, SentTo: sentTo, ExpiresIn: int(s.codeTTL / time.Second)})
}

func (s *Server) confirmOOB(factor string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var req api.CodeRequest
		if err := DecodeJSON(c, &req); err != nil {
			WriteError(c, err)
			return
		}
		if err := s.mfa.ConfirmOOB(c.Request.Context(), principal(c), factor, req.Code, meta(c)); err != nil {
			WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *Server) removeFactor(factor string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.mfa.RemoveFactor(c.Request.Context(), principal(c), factor, meta(c)); err != nil {
			WriteError(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func (s *Server) recoveryCodes(c *gin.Context) {
	codes, err := s.mfa.RegenerateRecoveryCodes(c.Request.Context(), principal(c), meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.RecoveryCodes{Codes: codes})
}

func (s *Server) myDevices(c *gin.Context) {
	current, _ := c.Cookie(s.deviceCookieName())
	list, err := s.mfa.MyDevices(c.Request.Context(), principal(c), current)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.DeviceList{Devices: list})
}

func (s *Server) revokeMyDevice(c *gin.Context) {
	if err := s.mfa.RevokeMyDevice(c.Request.Context(), principal(c), c.Param("id"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) userDevices(c *gin.Context) {
	list, err := s.mfa.UserDevices(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.DeviceList{Devices: list})
}

func (s *Server) revokeUserDevices(c *gin.Context) {
	if _, err := s.mfa.RevokeUserDevices(c.Request.Context(), principal(c), c.Param("id"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) revokeUserDevice(c *gin.Context) {
	if err := s.mfa.RevokeUserDevice(c.Request.Context(), principal(c), c.Param("id"), c.Param("did"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) resetMFA(c *gin.Context) {
	var req api.MFAResetRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	if err := s.mfa.ResetMFA(c.Request.Context(), principal(c), c.Param("id"), req.Reason, meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) sendEmailVerification(c *gin.Context) {
	sentTo, err := s.mfa.SendEmailVerification(c.Request.Context(), principal(c), meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, api.EnrollmentStarted{Factor: api.FactorEmail, SentTo: sentTo, ExpiresIn: int(s.codeTTL / time.Second)})
}

func (s *Server) verifyEmail(c *gin.Context) {
	var req api.CodeRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	u, err := s.mfa.VerifyEmail(c.Request.Context(), principal(c), req.Code, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, u.API())
}
