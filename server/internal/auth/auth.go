// Package auth holds the account rules: password login for cookie sessions and bearer tokens,
// refresh and revocation, the caller's own profile, password and sessions, self-registration,
// and the admin and support operations on accounts. It depends on small interfaces it owns
// (stores, hasher, sessions, tokens, throttle, events), wired in internal/app.
package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/server/internal/events"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Errors at the package boundary; internal/app maps them to API codes in one table.
var (
	// ErrInvalidCredentials is the one answer for unknown user, wrong password, locked and
	// disabled accounts (SEC-04).
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrUnauthenticated: no valid session or token.
	ErrUnauthenticated = errors.New("authentication required")
	// ErrInvalidGrant: a refresh token that is unknown, used, expired or revoked.
	ErrInvalidGrant = errors.New("invalid or expired refresh token")
	// ErrRegistrationClosed: self-registration is off.
	ErrRegistrationClosed = errors.New("self-registration is disabled")
	// ErrCannotManage: support acting on an admin, or another object-level refusal.
	ErrCannotManage = errors.New("not allowed to manage this account")
	// ErrLastAdmin: the change would leave no active administrator.
	ErrLastAdmin = errors.New("the last active administrator cannot lose the role or be locked")
	// ErrWrongPassword: the current password given to a password change is wrong.
	ErrWrongPassword = errors.New("the current password is wrong")
)

// ThrottledError says when to try again (429 with Retry-After).
type ThrottledError struct{ RetryAfter time.Duration }

// RetryAfterDuration lets the HTTP layer set Retry-After.
func (e *ThrottledError) RetryAfterDuration() time.Duration { return e.RetryAfter }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// Meta is what the HTTP layer knows about the caller.
type Meta struct {
	IP        string
	UserAgent string
}

// Principal is an authenticated caller. Roles come from the user record (cookie) or the
// access token (bearer); both are current because every role or status change revokes the
// user's sessions, and with them their tokens.
type Principal struct {
	UserID  string
	Roles   []string
	Session session.Session
	Method  string // MethodCookie or MethodBearer
	// User is the account as read while authenticating (cookie requests), so handlers that
	// answer with it do not read it again; nil for bearer requests, which read no user.
	User *users.User
	// ServiceAccountID is set (and UserID, Roles and Session are empty) when the caller is a
	// service account with a "gsa_" token (internal/serviceaccount). Only the secrets API
	// accepts such principals; every other authenticated route refuses them with 403.
	ServiceAccountID string
}

// Authentication methods.
const (
	MethodCookie = "cookie"
	MethodBearer = "bearer"
)

// Hasher hashes and verifies passwords (internal/password).
type Hasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, phc string) (ok, needsRehash bool, err error)
	VerifyDummy(ctx context.Context, password string) error
}

// Sessions is the session manager (internal/session).
type Sessions interface {
	Create(ctx context.Context, n session.NewSession) (session.Session, string, error)
	Authenticate(ctx context.Context, token string) (session.Session, error)
	Validate(ctx context.Context, sid string) (session.Session, error)
	Get(ctx context.Context, sid string) (session.Session, error)
	Revoke(ctx context.Context, sid, reason string) error
	RevokeAllForUser(ctx context.Context, userID, exceptSID, reason string) (int, error)
	ListForUser(ctx context.Context, userID string, includeRevoked bool) ([]session.Session, error)
	Refresh(ctx context.Context, refreshToken string) (session.Session, string, error)
	RevokeRefresh(ctx context.Context, refreshToken string) (session.Session, error)
	Rotate(ctx context.Context, sid, newAAL string) (session.Session, string, error)
}

// Tokens issues and verifies access tokens (internal/token).
type Tokens interface {
	Issue(c token.Claims) (string, time.Time, error)
	Verify(tok string) (token.Claims, error)
}

// Events records security events (internal/events).
type Events interface {
	Record(ctx context.Context, e events.Event) error
	List(ctx context.Context, f events.Filter) ([]events.Event, int, error)
}

// PolicyFunc checks a new password against the password policy.
type PolicyFunc func(password, email string) error

// Options tunes the service.
type Options struct {
	AllowRegistration bool
	Now               func() time.Time
}

// Service implements the account rules.
type Service struct {
	users    users.Store
	hasher   Hasher
	policy   PolicyFunc
	sessions Sessions
	tokens   Tokens
	throttle *Throttle
	events   Events
	opts     Options
	newID    func() string
	mfa      *MFA
	tx       Transactor
}

// Transactor runs fn in one database transaction, which the stores join through the context
// fn is given; work the caches defer until the commit runs after it (store.DB.InTx).
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// noTx runs fn directly: each write commits on its own.
type noTx struct{}

func (noTx) InTx(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// Deps are the service's collaborators.
type Deps struct {
	Users    users.Store
	Hasher   Hasher
	Policy   PolicyFunc
	Sessions Sessions
	Tokens   Tokens
	Throttle *Throttle
	Events   Events
	NewID    func() string
	// MFA is the second-factor capability; nil turns it off.
	MFA *MFA
	// Tx groups a successful login's writes (last login, session or pending login, event) into
	// one transaction; nil commits each on its own.
	Tx Transactor
}

// New builds the service.
func New(d Deps, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	tx := d.Tx
	if tx == nil {
		tx = noTx{}
	}
	return &Service{users: d.Users, hasher: d.Hasher, policy: d.Policy, sessions: d.Sessions, tokens: d.Tokens,
		throttle: d.Throttle, events: d.Events, opts: o, newID: d.NewID, mfa: d.MFA, tx: tx}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// record writes a security event. A failure to record is returned: an action whose audit
// trail cannot be written does not silently succeed.
func (s *Service) record(ctx context.Context, typ, outcome, actor, subject string, meta Meta, details map[string]any) error {
	err := s.events.Record(ctx, events.Event{Type: typ, Outcome: outcome, ActorID: actor, SubjectUserID: subject,
		IP: meta.IP, UserAgent: meta.UserAgent, Details: details})
	if err != nil {
		return fmt.Errorf("record %s event: %w", typ, err)
	}
	return nil
}

// invalid builds a 400 naming the offending field.
func invalid(field, message string) *api.Error {
	return &api.Error{Code: api.CodeInvalidRequest, Message: message, Details: map[string]any{"field": field}}
}
