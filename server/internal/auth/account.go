package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"gatehouse/server/internal/password"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Me returns the caller's account.
func (s *Service) Me(ctx context.Context, p Principal) (users.User, error) {
	if p.User != nil {
		return *p.User, nil
	}
	u, err := s.users.Get(ctx, p.UserID)
	if errors.Is(err, users.ErrNotFound) {
		return users.User{}, ErrUnauthenticated
	}
	return u, err
}

// UpdateMe changes the caller's own profile.
func (s *Service) UpdateMe(ctx context.Context, p Principal, req api.UpdateMeRequest, meta Meta) (users.User, error) {
	u, err := s.Me(ctx, p)
	if err != nil {
		return users.User{}, err
	}
	if req.DisplayName != nil {
		name, err := users.ValidDisplayName(*req.DisplayName)
		if err != nil {
			return users.User{}, invalid("display_name", fmt.Sprintf("display_name must be at most %d printable characters", users.MaxDisplayName))
		}
		u.DisplayName = name
	}
	u.UpdatedAt = s.now()
	if err := s.users.Update(ctx, u); err != nil {
		return users.User{}, err
	}
	return u, s.record(ctx, api.EventUserUpdated, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"fields": []string{"display_name"}})
}

// ChangePassword sets a new password given the current one (SEC-07), then revokes every other
// session of the user, so a stolen session dies with the old password.
func (s *Service) ChangePassword(ctx context.Context, p Principal, req api.ChangePasswordRequest, meta Meta) error {
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	if len(req.CurrentPassword) > MaxPasswordBytes {
		return ErrWrongPassword
	}
	if err := s.throttle.before(ctx, "password", u.Email, meta.IP); err != nil {
		return err
	}
	ok := false
	if u.PasswordHash != "" {
		if ok, _, err = s.hasher.Verify(ctx, req.CurrentPassword, u.PasswordHash); err != nil {
			return fmt.Errorf("verify password: %w", err)
		}
	}
	if !ok {
		if _, _, err := s.throttle.failed(ctx, u.Email, meta.IP); err != nil {
			return err
		}
		if err := s.record(ctx, api.EventPasswordChanged, api.OutcomeFailure, u.ID, u.ID, meta, map[string]any{"reason": "wrong_current_password"}); err != nil {
			return err
		}
		return ErrWrongPassword
	}
	if err := s.setPassword(ctx, &u, req.NewPassword); err != nil {
		return err
	}
	n, err := s.sessions.RevokeAllForUser(ctx, u.ID, p.Session.ID, "password_changed")
	if err != nil {
		return fmt.Errorf("revoke other sessions: %w", err)
	}
	// SEC-07: a remembered device must not skip the second factor for whoever learns the
	// new password.
	devices, err := s.revokeAllDevices(ctx, u.ID, u.ID, "password_changed", meta)
	if err != nil {
		return err
	}
	if err := s.record(ctx, api.EventPasswordChanged, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"sessions_revoked": n, "devices_revoked": devices}); err != nil {
		return err
	}
	s.notify(ctx, u, Notice{Kind: NoticePasswordChanged, IP: meta.IP})
	return nil
}

// setPassword checks the policy, hashes and stores.
func (s *Service) setPassword(ctx context.Context, u *users.User, password string) error {
	if err := s.checkPolicy(password, u.Email); err != nil {
		return err
	}
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	u.PasswordHash = h
	u.UpdatedAt = s.now()
	return s.users.Update(ctx, *u)
}

func (s *Service) checkPolicy(pw, email string) error {
	err := s.policy(pw, email)
	if err == nil {
		return nil
	}
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		return &api.Error{Code: api.CodeInvalidRequest, Message: pe.Message, Details: map[string]any{"field": "password", "reason": pe.Reason}}
	}
	return fmt.Errorf("password policy: %w", err)
}

// Sessions lists the caller's live sessions, marking the current one.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]api.Session, error) {
	return s.listSessions(ctx, p.UserID, p.Session.ID)
}

func (s *Service) listSessions(ctx context.Context, userID, currentID string) ([]api.Session, error) {
	list, err := s.sessions.ListForUser(ctx, userID, false)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]api.Session, 0, len(list))
	for _, x := range list {
		out = append(out, sessionAPI(x, currentID))
	}
	return out, nil
}

func sessionAPI(x session.Session, currentID string) api.Session {
	exp := x.AbsoluteExpiresAt
	if x.IdleExpiresAt.Before(exp) {
		exp = x.IdleExpiresAt
	}
	return api.Session{ID: x.ID, Kind: x.Kind, AAL: x.AAL, Current: x.ID == currentID, IP: x.IP, UserAgent: x.UserAgent,
		CreatedAt: x.CreatedAt, LastSeenAt: x.LastSeenAt, ExpiresAt: exp, RevokedAt: x.RevokedAt}
}

// RevokeSession ends one of the caller's own sessions. Another user's session ID reads as
// not found: no way to learn or touch it (SEC-51).
func (s *Service) RevokeSession(ctx context.Context, p Principal, sid string, meta Meta) error {
	return s.revokeUserSession(ctx, p.UserID, p.UserID, sid, meta)
}

func (s *Service) revokeUserSession(ctx context.Context, actorID, userID, sid string, meta Meta) error {
	x, err := s.sessions.Get(ctx, sid)
	if errors.Is(err, session.ErrInvalid) || (err == nil && x.UserID != userID) {
		return ErrSessionNotFound
	}
	if err != nil {
		return fmt.Errorf("load session: %w", err)
	}
	if err := s.sessions.Revoke(ctx, sid, "revoked"); err != nil && !errors.Is(err, session.ErrInvalid) {
		return fmt.Errorf("revoke session: %w", err)
	}
	return s.record(ctx, api.EventSessionRevoked, api.OutcomeSuccess, actorID, userID, meta, map[string]any{"session_id": sid})
}

// ErrSessionNotFound: no such session for this user.
var ErrSessionNotFound = errors.New("session not found")

// Register creates an account for a visitor and signs them in (when registration is on).
func (s *Service) Register(ctx context.Context, req api.RegisterRequest, meta Meta) (CookieLogin, error) {
	if !s.opts.AllowRegistration {
		return CookieLogin{}, ErrRegistrationClosed
	}
	u, err := s.newUser(ctx, req.Email, req.DisplayName, req.Password, nil)
	if err != nil {
		return CookieLogin{}, err
	}
	if err := s.record(ctx, api.EventUserRegistered, api.OutcomeSuccess, u.ID, u.ID, meta, nil); err != nil {
		return CookieLogin{}, err
	}
	sess, tok, err := s.sessions.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindCookie, AAL: api.AAL1, IP: meta.IP, UserAgent: meta.UserAgent})
	if err != nil {
		return CookieLogin{}, fmt.Errorf("create session: %w", err)
	}
	if s.mfa != nil && s.mfa.Verifier != nil {
		// Best effort: the account exists either way, and the user can ask for another code
		// (POST /me/email/verification); the failure is in the events.
		if _, err := s.sendVerification(ctx, u, meta); err != nil {
			if rerr := s.record(ctx, api.EventEmailVerified, api.OutcomeFailure, u.ID, u.ID, meta, map[string]any{"reason": "code_not_sent"}); rerr != nil {
				return CookieLogin{}, rerr
			}
		}
	}
	return CookieLogin{User: u, Session: sess, Token: tok}, nil
}

// newUser validates and creates an account.
func (s *Service) newUser(ctx context.Context, rawEmail, name, password string, roles []string) (users.User, error) {
	email, err := users.NormalizeEmail(rawEmail)
	if err != nil {
		return users.User{}, invalid("email", "email is not a valid address")
	}
	name, err = users.ValidDisplayName(name)
	if err != nil {
		return users.User{}, invalid("display_name", fmt.Sprintf("display_name must be at most %d printable characters", users.MaxDisplayName))
	}
	roles, err = users.ValidRoles(roles)
	if err != nil {
		return users.User{}, invalid("roles", "roles must be among admin, support, user")
	}
	if len(password) > MaxPasswordBytes {
		return users.User{}, invalid("password", fmt.Sprintf("password is longer than %d bytes", MaxPasswordBytes))
	}
	if err := s.checkPolicy(password, email); err != nil {
		return users.User{}, err
	}
	h, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return users.User{}, fmt.Errorf("hash password: %w", err)
	}
	now := s.now()
	u := users.User{ID: s.newID(), Email: email, DisplayName: name, PasswordHash: h, Roles: roles, Status: api.UserActive, CreatedAt: now, UpdatedAt: now}
	if err := s.users.Create(ctx, u); err != nil {
		return users.User{}, err
	}
	return u, nil
}

// EnsureAdmin creates the bootstrap administrator when no admin exists. An empty password
// generates one, returned so the caller can show it once.
func (s *Service) EnsureAdmin(ctx context.Context, email, password string) (created bool, generated string, err error) {
	n, err := s.users.CountWithRole(ctx, api.RoleAdmin)
	if err != nil || n > 0 {
		return false, "", err
	}
	if password == "" {
		generated = rand.Text() // 26 base32 characters, 130 bits
		password = generated
	}
	u, err := s.newUser(ctx, email, "Administrator", password, []string{api.RoleAdmin})
	if errors.Is(err, users.ErrEmailTaken) {
		return false, "", fmt.Errorf("bootstrap admin %s: the address belongs to an account without the admin role", email)
	}
	if err != nil {
		return false, "", err
	}
	return true, generated, s.record(ctx, api.EventUserCreated, api.OutcomeSuccess, "", u.ID, Meta{IP: "local"}, map[string]any{"roles": u.Roles, "via": "bootstrap"})
}

// CreateUserLocal creates an account from the operator's command line.
func (s *Service) CreateUserLocal(ctx context.Context, email, password string, roles []string) (users.User, error) {
	u, err := s.newUser(ctx, email, "", password, roles)
	if err != nil {
		return users.User{}, err
	}
	return u, s.record(ctx, api.EventUserCreated, api.OutcomeSuccess, "", u.ID, Meta{IP: "local"}, map[string]any{"roles": u.Roles, "via": "cli"})
}

// ResetPasswordLocal sets a password from the operator's command line and ends every session.
func (s *Service) ResetPasswordLocal(ctx context.Context, email, password string) error {
	e, err := users.NormalizeEmail(email)
	if err != nil {
		return invalid("email", "email is not a valid address")
	}
	u, err := s.users.GetByEmail(ctx, e)
	if err != nil {
		return err
	}
	if err := s.setPassword(ctx, &u, password); err != nil {
		return err
	}
	if _, err := s.sessions.RevokeAllForUser(ctx, u.ID, "", "password_reset"); err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	return s.record(ctx, api.EventPasswordChanged, api.OutcomeSuccess, "", u.ID, Meta{IP: "local"}, map[string]any{"via": "cli"})
}
