package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/server/internal/mfa/pending"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// MaxPasswordBytes caps what is ever hashed (SEC-02): longer input is refused, never truncated.
const MaxPasswordBytes = 1024

// CookieLogin is a new browser session: the cookie value and its CSRF token.
type CookieLogin struct {
	User    users.User
	Session session.Session
	Token   string
	// Pending is set instead of a session when the login waits for a second factor.
	Pending *PendingCookieLogin
}

// TokenPair answers the token endpoint.
type TokenPair struct {
	AccessToken  string
	ExpiresAt    time.Time
	RefreshToken string
	User         users.User
}

// Login checks a password and opens a cookie session. A session the browser already had
// (previousToken) is revoked, so a pre-login cookie never survives login (SEC-10). When the
// user has a second factor and the browser is not one of their trusted devices
// (deviceToken), no session is made: the login waits for the factor (SEC-23).
func (s *Service) Login(ctx context.Context, req api.LoginRequest, previousToken, deviceToken string, meta Meta) (CookieLogin, error) {
	u, err := s.checkPassword(ctx, "login", req.Email, req.Password, meta)
	if err != nil {
		return CookieLogin{}, err
	}
	return s.finishCookieLogin(ctx, u, "password", previousToken, deviceToken, meta)
}

// finishCookieLogin records the login and opens its session (or pending login) in one
// transaction: the last-login time, the revocation of the browser's previous session, the new
// session and the event commit together, so on PostgreSQL a login waits for one WAL flush, not
// three, and a failure leaves none of them behind.
func (s *Service) finishCookieLogin(ctx context.Context, u users.User, method, previousToken, deviceToken string, meta Meta) (CookieLogin, error) {
	var res CookieLogin
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.setLastLogin(ctx, &u); err != nil {
			return err
		}
		var err error
		res, err = s.openCookieSession(ctx, u, method, previousToken, deviceToken, meta)
		return err
	})
	if err != nil {
		return CookieLogin{}, err
	}
	return res, nil
}

func (s *Service) setLastLogin(ctx context.Context, u *users.User) error {
	now := s.now()
	if err := s.users.SetLastLogin(ctx, u.ID, now); err != nil {
		return fmt.Errorf("record last login: %w", err)
	}
	u.LastLoginAt = &now
	return nil
}

// openCookieSession finishes every cookie login once the user is known (method "password" or
// "oauth:<provider>"): the browser's previous session is revoked (SEC-10); a user with a
// second factor gets a pending login instead of a session, unless the browser is one of their
// trusted devices (SEC-23, SEC-24).
func (s *Service) openCookieSession(ctx context.Context, u users.User, method, previousToken, deviceToken string, meta Meta) (CookieLogin, error) {
	if previousToken != "" {
		if old, err := s.sessions.Authenticate(ctx, previousToken); err == nil {
			if err := s.sessions.Revoke(ctx, old.ID, "replaced_by_login"); err != nil {
				return CookieLogin{}, fmt.Errorf("revoke previous session: %w", err)
			}
		}
	}
	factors, err := s.needsSecondFactor(ctx, u, deviceToken, meta)
	if err != nil {
		return CookieLogin{}, err
	}
	if len(factors) > 0 {
		l, tok, err := s.startPending(ctx, u, pending.KindCookie, factors, meta)
		if err != nil {
			return CookieLogin{}, err
		}
		return CookieLogin{User: u, Pending: &PendingCookieLogin{Token: tok, CSRFToken: l.CSRFToken, Factors: factors, ExpiresIn: s.mfa.Pending.TTL()}}, nil
	}
	sess, tok, err := s.sessions.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindCookie, AAL: api.AAL1, IP: meta.IP, UserAgent: meta.UserAgent})
	if err != nil {
		return CookieLogin{}, fmt.Errorf("create session: %w", err)
	}
	if err := s.record(ctx, api.EventLoginSucceeded, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"session_id": sess.ID, "method": method, "kind": session.KindCookie}); err != nil {
		return CookieLogin{}, err
	}
	return CookieLogin{User: u, Session: sess, Token: tok}, nil
}

// PasswordGrant checks a password and issues an access token and a refresh token.
func (s *Service) PasswordGrant(ctx context.Context, req api.TokenRequest, meta Meta) (TokenPair, error) {
	u, err := s.checkPassword(ctx, "token", req.Email, req.Password, meta)
	if err != nil {
		return TokenPair{}, err
	}
	// One transaction, as for cookie logins (finishCookieLogin). A login that waits for its
	// second factor commits its pending login and answers with the MFARequiredError after.
	var (
		pair TokenPair
		mfa  *MFARequiredError
	)
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.setLastLogin(ctx, &u); err != nil {
			return err
		}
		factors, err := s.needsSecondFactor(ctx, u, "", meta)
		if err != nil {
			return err
		}
		if len(factors) > 0 {
			_, tok, err := s.startPending(ctx, u, pending.KindToken, factors, meta)
			if err != nil {
				return err
			}
			mfa = &MFARequiredError{Token: tok, Factors: factors, ExpiresIn: s.mfa.Pending.TTL()}
			return nil
		}
		// For a token session, Create hands back the family's first refresh token.
		sess, refresh, err := s.sessions.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: api.AAL1, IP: meta.IP, UserAgent: meta.UserAgent})
		if err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if pair, err = s.access(u, sess, refresh); err != nil {
			return err
		}
		return s.record(ctx, api.EventLoginSucceeded, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"session_id": sess.ID, "method": "password", "kind": session.KindToken})
	})
	switch {
	case err != nil:
		return TokenPair{}, err
	case mfa != nil:
		return TokenPair{}, mfa
	}
	return pair, nil
}

// RefreshGrant rotates a refresh token (SEC-16): the presented one is spent and a new pair
// issued. A replayed, already-spent token revokes its whole family and is recorded.
func (s *Service) RefreshGrant(ctx context.Context, refreshToken string, meta Meta) (TokenPair, error) {
	if refreshToken == "" {
		return TokenPair{}, invalid("refresh_token", "refresh_token is required")
	}
	sess, next, err := s.sessions.Refresh(ctx, refreshToken)
	var reuse *session.ReuseError
	switch {
	case errors.As(err, &reuse):
		if rerr := s.record(ctx, api.EventTokenRefreshReused, api.OutcomeFailure, "", reuse.UserID, meta, map[string]any{"session_id": reuse.SessionID}); rerr != nil {
			return TokenPair{}, rerr
		}
		return TokenPair{}, ErrInvalidGrant
	case errors.Is(err, session.ErrInvalid):
		return TokenPair{}, ErrInvalidGrant
	case err != nil:
		return TokenPair{}, fmt.Errorf("refresh: %w", err)
	}
	u, err := s.activeUser(ctx, sess.UserID)
	if err != nil {
		return TokenPair{}, ErrInvalidGrant
	}
	pair, err := s.access(u, sess, next)
	if err != nil {
		return TokenPair{}, err
	}
	if err := s.record(ctx, api.EventTokenRefreshed, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"session_id": sess.ID}); err != nil {
		return TokenPair{}, err
	}
	return pair, nil
}

func (s *Service) access(u users.User, sess session.Session, refresh string) (TokenPair, error) {
	at, exp, err := s.tokens.Issue(token.Claims{Subject: u.ID, SessionID: sess.ID, AAL: sess.AAL, Roles: u.Roles})
	if err != nil {
		return TokenPair{}, fmt.Errorf("issue access token: %w", err)
	}
	return TokenPair{AccessToken: at, ExpiresAt: exp, RefreshToken: refresh, User: u}, nil
}

// Revoke ends the session behind a refresh token or an access token (RFC 7009: unknown tokens
// are not an error, so the answer reveals nothing).
func (s *Service) Revoke(ctx context.Context, tok string, meta Meta) error {
	if tok == "" {
		return invalid("token", "token is required")
	}
	sess, err := s.sessions.RevokeRefresh(ctx, tok)
	if err == nil {
		return s.record(ctx, api.EventSessionRevoked, api.OutcomeSuccess, sess.UserID, sess.UserID, meta, map[string]any{"session_id": sess.ID, "via": "revoke"})
	}
	if !errors.Is(err, session.ErrInvalid) {
		return fmt.Errorf("revoke refresh token: %w", err)
	}
	claims, verr := s.tokens.Verify(tok)
	if verr != nil {
		return nil //nolint:nilerr // neither a live refresh token nor a valid access token: nothing to revoke (RFC 7009)
	}
	if err := s.sessions.Revoke(ctx, claims.SessionID, "revoked"); err != nil && !errors.Is(err, session.ErrInvalid) {
		return fmt.Errorf("revoke session: %w", err)
	}
	return s.record(ctx, api.EventSessionRevoked, api.OutcomeSuccess, claims.Subject, claims.Subject, meta, map[string]any{"session_id": claims.SessionID, "via": "revoke"})
}

// Introspect answers exactly whether an access token is live now, including its session.
func (s *Service) Introspect(ctx context.Context, tok string) (api.Introspection, error) {
	if tok == "" {
		return api.Introspection{}, invalid("token", "token is required")
	}
	claims, verr := s.tokens.Verify(tok)
	if verr != nil {
		return api.Introspection{Active: false}, nil //nolint:nilerr // an invalid token is an answer, not a failure
	}
	sess, err := s.sessions.Validate(ctx, claims.SessionID)
	if errors.Is(err, session.ErrInvalid) || (err == nil && sess.UserID != claims.Subject) {
		return api.Introspection{Active: false}, nil
	}
	if err != nil {
		return api.Introspection{}, fmt.Errorf("introspect: %w", err)
	}
	return api.Introspection{Active: true, TokenType: "access_token", Subject: claims.Subject, SessionID: claims.SessionID,
		AAL: sess.AAL, Roles: claims.Roles, ExpiresAt: claims.ExpiresAt.Unix()}, nil
}

// AuthenticateCookie resolves a session cookie to its principal.
func (s *Service) AuthenticateCookie(ctx context.Context, tok string) (Principal, error) {
	sess, err := s.sessions.Authenticate(ctx, tok)
	if errors.Is(err, session.ErrInvalid) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate session: %w", err)
	}
	u, err := s.activeUser(ctx, sess.UserID)
	if err != nil {
		return Principal{}, err
	}
	return Principal{UserID: u.ID, Roles: u.Roles, Session: sess, Method: MethodCookie, User: &u}, nil
}

// AuthenticateBearer resolves an access token to its principal: the signature and claims
// (no database), then the session (one primary-key read), so revocation is immediate (SEC-12).
func (s *Service) AuthenticateBearer(ctx context.Context, tok string) (Principal, error) {
	claims, err := s.tokens.Verify(tok)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	sess, err := s.sessions.Validate(ctx, claims.SessionID)
	if errors.Is(err, session.ErrInvalid) || (err == nil && sess.UserID != claims.Subject) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("validate session: %w", err)
	}
	return Principal{UserID: claims.Subject, Roles: claims.Roles, Session: sess, Method: MethodBearer}, nil
}

// activeUser loads a user who may still act; anything else reads as unauthenticated.
func (s *Service) activeUser(ctx context.Context, id string) (users.User, error) {
	u, err := s.users.Get(ctx, id)
	if errors.Is(err, users.ErrNotFound) {
		return users.User{}, ErrUnauthenticated
	}
	if err != nil {
		return users.User{}, fmt.Errorf("load user: %w", err)
	}
	if u.Status != api.UserActive {
		return users.User{}, ErrUnauthenticated
	}
	return u, nil
}

// Logout revokes the caller's session.
func (s *Service) Logout(ctx context.Context, p Principal, meta Meta) error {
	if err := s.sessions.Revoke(ctx, p.Session.ID, "logout"); err != nil && !errors.Is(err, session.ErrInvalid) {
		return fmt.Errorf("logout: %w", err)
	}
	return s.record(ctx, api.EventLogout, api.OutcomeSuccess, p.UserID, p.UserID, meta, map[string]any{"session_id": p.Session.ID})
}

// checkPassword is the one password check behind every login path. Unknown users, wrong
// passwords, accounts without a password, locked and disabled accounts all cost one argon2id
// verification and give ErrInvalidCredentials (SEC-04); the reason goes to the event only.
func (s *Service) checkPassword(ctx context.Context, scope, rawEmail, password string, meta Meta) (users.User, error) {
	email, err := users.NormalizeEmail(rawEmail)
	if err != nil {
		return users.User{}, invalid("email", "email is not a valid address")
	}
	if password == "" {
		return users.User{}, invalid("password", "password is required")
	}
	if len(password) > MaxPasswordBytes {
		return users.User{}, invalid("password", fmt.Sprintf("password is longer than %d bytes", MaxPasswordBytes))
	}
	if err := s.throttle.before(ctx, scope, email, meta.IP); err != nil {
		var te *ThrottledError
		if errors.As(err, &te) {
			_ = s.record(ctx, api.EventLoginFailed, api.OutcomeDenied, "", "", meta, map[string]any{"email": email, "reason": "throttled"})
		}
		return users.User{}, err
	}

	reason := ""
	u, err := s.users.GetByEmail(ctx, email)
	switch {
	case errors.Is(err, users.ErrNotFound):
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return users.User{}, fmt.Errorf("verify password: %w", err)
		}
		reason = "unknown_user"
	case err != nil:
		return users.User{}, fmt.Errorf("load user: %w", err)
	case u.PasswordHash == "":
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return users.User{}, fmt.Errorf("verify password: %w", err)
		}
		reason = "no_password"
	default:
		ok, rehash, err := s.hasher.Verify(ctx, password, u.PasswordHash)
		if err != nil {
			return users.User{}, fmt.Errorf("verify password: %w", err)
		}
		switch {
		case !ok:
			reason = "wrong_password"
		case u.Status != api.UserActive:
			reason = "account_" + u.Status
		case rehash:
			// SEC-01: parameters changed since this hash was made; upgrade it now that we
			// hold the password.
			if err := s.rehash(ctx, &u, password); err != nil {
				return users.User{}, err
			}
		}
	}

	if reason != "" {
		lockedNow, retry, err := s.throttle.failed(ctx, email, meta.IP)
		if err != nil {
			return users.User{}, err
		}
		if err := s.record(ctx, api.EventLoginFailed, api.OutcomeFailure, "", u.ID, meta, map[string]any{"email": email, "reason": reason}); err != nil {
			return users.User{}, err
		}
		if lockedNow {
			if err := s.record(ctx, api.EventAccountLocked, api.OutcomeFailure, "", u.ID, meta, map[string]any{"email": email, "retry_after_seconds": int(retry.Seconds())}); err != nil {
				return users.User{}, err
			}
		}
		return users.User{}, ErrInvalidCredentials
	}
	if err := s.throttle.succeeded(ctx, email, meta.IP); err != nil {
		return users.User{}, err
	}
	return u, nil
}

func (s *Service) rehash(ctx context.Context, u *users.User, password string) error {
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("rehash password: %w", err)
	}
	u.PasswordHash = h
	u.UpdatedAt = s.now()
	if err := s.users.Update(ctx, *u); err != nil {
		return fmt.Errorf("store rehashed password: %w", err)
	}
	return nil
}
