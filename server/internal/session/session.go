// Package session keeps server-side sessions: browser cookie sessions and the sessions behind
// API bearer tokens. Every authenticated request is checked against a session row, so logout,
// expiry and revocation take effect on the next request (SEC-12), whatever the credential.
//
// A cookie session is found by its opaque token (Authenticate); a bearer request carries a JWT
// whose sid claim names a token session (Validate). Token sessions hold a family of refresh
// tokens, rotated on every use; a spent token presented again revokes the family (SEC-16).
//
// Tokens are 32 bytes from a CSPRNG, base64url without padding (SEC-10). Only their SHA-256 is
// stored, so a copy of the database does not hand out working credentials. Tokens never appear
// in errors (SEC-18).
package session

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"
)

// Kinds of session.
const (
	// KindCookie sessions are used by browsers and the console: the token is the cookie value.
	KindCookie = "cookie"
	// KindToken sessions stand behind API bearer tokens: clients hold a JWT access token naming
	// the session and a refresh token of the session's family.
	KindToken = "token"
)

// Authenticator assurance levels.
const (
	// AAL1 is reached with a password or social login.
	AAL1 = "aal1"
	// AAL2 is reached with a second factor.
	AAL2 = "aal2"
)

// Revocation reasons this package records itself. Callers pass their own to Revoke and
// RevokeAllForUser (for example "logout", "admin", "password_change").
const (
	// ReasonRefreshReuse: a spent refresh token was presented again (SEC-16).
	ReasonRefreshReuse = "refresh_token_reuse"
	// ReasonRefreshRevoked: the client revoked its refresh token (RFC 7009).
	ReasonRefreshRevoked = "refresh_token_revoked"
	// reasonDefault is recorded when a caller gives no reason.
	reasonDefault = "revoked"
)

// Errors. Every refusal of a credential wraps ErrInvalid, so an HTTP layer can answer one
// generic 401 for all of them and still tell them apart for logs and events.
var (
	// ErrInvalid is the parent of every "this credential does not authenticate" error.
	ErrInvalid = errors.New("session: invalid")
	// ErrNotFound: no session (or refresh token) matches. Also returned for malformed tokens
	// and IDs, which cannot match anything.
	ErrNotFound = fmt.Errorf("%w: not found", ErrInvalid)
	// ErrRevoked: the session was revoked.
	ErrRevoked = fmt.Errorf("%w: revoked", ErrInvalid)
	// ErrExpired: the session passed its idle or absolute expiry, or the refresh token its own.
	ErrExpired = fmt.Errorf("%w: expired", ErrInvalid)
	// ErrRefreshReused: a spent refresh token was presented; the session has been revoked.
	// Refresh returns it inside a *ReuseError that names the session and user.
	ErrRefreshReused = fmt.Errorf("%w: refresh token reused", ErrInvalid)
	// ErrWrongKind: the operation does not apply to this kind of session (refresh tokens
	// belong to token sessions only).
	ErrWrongKind = errors.New("session: operation not available for this kind of session")
)

// ReuseError reports a refresh-token replay. The session it names has been revoked; the caller
// should record a security event with the user ID. errors.Is(err, ErrRefreshReused) holds.
type ReuseError struct {
	SessionID string
	UserID    string
}

func (e *ReuseError) Error() string {
	return "session: refresh token reused; session " + e.SessionID + " revoked"
}

// Unwrap makes errors.Is(err, ErrRefreshReused) and errors.Is(err, ErrInvalid) hold.
func (e *ReuseError) Unwrap() error { return ErrRefreshReused }

// Session is one server-side session. It carries no token: only the token's hash is stored,
// and that stays in the store.
type Session struct {
	ID     string // UUID v4
	UserID string
	Kind   string // KindCookie or KindToken
	AAL    string // AAL1 or AAL2
	// CSRFToken is bound to the session and answered by GET /auth/csrf. It is not a credential
	// on its own (it proves the request came from a page that could read it), so it is stored
	// as is.
	CSRFToken         string
	CreatedAt         time.Time
	LastSeenAt        time.Time
	IdleExpiresAt     time.Time
	AbsoluteExpiresAt time.Time
	RevokedAt         *time.Time
	RevokeReason      string
	IP                string
	UserAgent         string
}

// Check says whether the session authenticates at now: nil, ErrRevoked or ErrExpired. Expiry
// is exclusive: at IdleExpiresAt the session is already expired.
func (s Session) Check(now time.Time) error {
	switch {
	case s.RevokedAt != nil:
		return ErrRevoked
	case !now.Before(s.AbsoluteExpiresAt), !now.Before(s.IdleExpiresAt):
		return ErrExpired
	}
	return nil
}

// ValidCSRF says whether presented is this session's CSRF token (SEC-14), in constant time so
// the comparison leaks nothing about the token through timing. An empty token never matches.
func (s Session) ValidCSRF(presented string) bool {
	return presented != "" && s.CSRFToken != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(s.CSRFToken)) == 1
}

// NewSession is what Create needs to know about a login.
type NewSession struct {
	UserID    string
	Kind      string // KindCookie or KindToken
	AAL       string // AAL1 or AAL2
	IP        string
	UserAgent string // truncated to 512 bytes and made valid UTF-8
}

// Defaults for Options.
const (
	DefaultIdleTTL       = 30 * time.Minute
	DefaultAbsoluteTTL   = 12 * time.Hour
	DefaultTouchInterval = time.Minute
)

// Options tune a Manager. Zero (or negative) values take the defaults.
type Options struct {
	// IdleTTL: a session not used for this long expires (SEC-13). Default 30 min.
	IdleTTL time.Duration
	// AbsoluteTTL: a session expires this long after login whatever its use (SEC-13).
	// Default 12 h. Neither step-up nor refresh extends it.
	AbsoluteTTL time.Duration
	// RefreshTTL: how long one refresh token stays usable if it is not used. Default
	// AbsoluteTTL. A refresh token never outlives its session (it expires at the session's
	// absolute expiry at the latest) and refreshing needs a session that has not idled out,
	// so a longer value does not lengthen API sessions; a shorter one forces clients to
	// rotate more often.
	RefreshTTL time.Duration
	// TouchInterval: LastSeenAt and IdleExpiresAt are written at most once per interval, so a
	// busy client costs one read per request rather than a write. Idle expiry is therefore
	// measured from the last recorded touch and can fall up to this much early. Default 1 min;
	// capped at IdleTTL/2 so an active session can never idle out between touches.
	TouchInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of tokens and IDs. Default crypto/rand.Reader.
	Rand io.Reader
}

// Store persists sessions and refresh tokens. The session package owns the contract; the
// database implementation lives in the store layer and sessiontest.Exercise checks it.
//
// IDs passed in are canonical lower-case UUIDs (the Manager refuses anything else before it
// reaches the store). Lookups of absent rows return ErrNotFound.
type Store interface {
	// Create stores a new session with its token hash and, when first is not nil, the first
	// refresh token of its family, in one transaction.
	Create(ctx context.Context, s Session, tokenHash string, first *RefreshToken) error
	// ByID returns the session with that ID, revoked or not.
	ByID(ctx context.Context, id string) (Session, error)
	// ByTokenHash returns the session whose token hashes to tokenHash, revoked or not.
	ByTokenHash(ctx context.Context, tokenHash string) (Session, error)
	// Touch records activity: sets LastSeenAt and IdleExpiresAt unless the session is revoked.
	// A revoked or missing session is not an error (the request was checked already).
	Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error
	// Rotate applies r to a session that is not revoked, in one transaction: ErrRevoked when it
	// is revoked, ErrNotFound when it does not exist, and then nothing is written.
	Rotate(ctx context.Context, id string, r Rotation) error
	// Revoke marks the session revoked at `at` with reason. Revoking a revoked session changes
	// nothing and is not an error (the first reason is kept for the record); ErrNotFound when
	// the session does not exist.
	Revoke(ctx context.Context, id string, at time.Time, reason string) error
	// RevokeAllForUser revokes every session of the user that is not revoked yet, except
	// exceptID (none when empty), and returns how many it revoked.
	RevokeAllForUser(ctx context.Context, userID, exceptID string, at time.Time, reason string) (int, error)
	// ListForUser returns the user's sessions, newest first (ties broken by ID, descending);
	// revoked ones only when includeRevoked.
	ListForUser(ctx context.Context, userID string, includeRevoked bool) ([]Session, error)
	// RefreshByHash returns the refresh token with that hash and its session.
	RefreshByHash(ctx context.Context, hash string) (RefreshToken, Session, error)
	// ConsumeRefresh spends u.Hash and stores u.Next, in one transaction. The token is marked
	// used only if it is unused (a conditional update, so of two concurrent calls exactly one
	// wins); the loser gets ErrRefreshReused. ErrRevoked when the session is revoked,
	// ErrNotFound when the token is gone. On any error nothing is written. On success the
	// session's LastSeenAt becomes u.At and its IdleExpiresAt u.IdleExpiresAt.
	ConsumeRefresh(ctx context.Context, u RefreshUse) error
}

// Manager creates, checks, rotates and revokes sessions. It is safe for concurrent use.
type Manager struct {
	store         Store
	idleTTL       time.Duration
	absoluteTTL   time.Duration
	refreshTTL    time.Duration
	touchInterval time.Duration
	now           func() time.Time
	rand          io.Reader
}

// New returns a Manager over store with the defaults applied to o.
func New(store Store, o Options) *Manager {
	m := &Manager{store: store, idleTTL: o.IdleTTL, absoluteTTL: o.AbsoluteTTL, refreshTTL: o.RefreshTTL,
		touchInterval: o.TouchInterval, now: o.Now, rand: o.Rand}
	if m.idleTTL <= 0 {
		m.idleTTL = DefaultIdleTTL
	}
	if m.absoluteTTL <= 0 {
		m.absoluteTTL = DefaultAbsoluteTTL
	}
	if m.refreshTTL <= 0 {
		m.refreshTTL = m.absoluteTTL
	}
	if m.touchInterval <= 0 {
		m.touchInterval = DefaultTouchInterval
	}
	m.touchInterval = min(m.touchInterval, m.idleTTL/2)
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	return m
}

// clock returns the current time in UTC at microsecond precision, the precision PostgreSQL
// keeps, so what the Manager returns equals what a later read returns on every store.
func (m *Manager) clock() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

// idleExpiry is the idle deadline for activity at now; it never passes the absolute one.
func (m *Manager) idleExpiry(s Session, now time.Time) time.Time {
	return minTime(now.Add(m.idleTTL), s.AbsoluteExpiresAt)
}

// Create starts a session for a user who has just logged in (SEC-10: every login gets a new
// session and token; nothing from before the login survives it).
//
// The returned token is the credential the client keeps: for a cookie session the cookie
// value, for a token session the first refresh token of its family (stored together with the
// session). A token session's own session token is random and never handed out: its clients
// authenticate with JWTs naming the session, checked with Validate.
func (m *Manager) Create(ctx context.Context, n NewSession) (Session, string, error) {
	userID, ok := canonicalID(n.UserID)
	if !ok {
		return Session{}, "", errors.New("create session: malformed user id")
	}
	if n.Kind != KindCookie && n.Kind != KindToken {
		return Session{}, "", fmt.Errorf("create session: unknown kind %q", n.Kind)
	}
	if n.AAL != AAL1 && n.AAL != AAL2 {
		return Session{}, "", fmt.Errorf("create session: unknown assurance level %q", n.AAL)
	}
	id, err := m.newID()
	if err != nil {
		return Session{}, "", err
	}
	token, tokenHash, err := m.newToken()
	if err != nil {
		return Session{}, "", err
	}
	csrf, _, err := m.newToken()
	if err != nil {
		return Session{}, "", err
	}
	now := m.clock()
	s := Session{
		ID: id, UserID: userID, Kind: n.Kind, AAL: n.AAL, CSRFToken: csrf,
		CreatedAt: now, LastSeenAt: now, AbsoluteExpiresAt: now.Add(m.absoluteTTL),
		IP: clean(n.IP, maxIPBytes), UserAgent: clean(n.UserAgent, maxUserAgentBytes),
	}
	s.IdleExpiresAt = m.idleExpiry(s, now)

	var first *RefreshToken
	if n.Kind == KindToken {
		var rt RefreshToken
		if token, rt, err = m.newRefresh(s, now); err != nil {
			return Session{}, "", err
		}
		first = &rt
	}
	if err := m.store.Create(ctx, s, tokenHash, first); err != nil {
		return Session{}, "", fmt.Errorf("create session: %w", err)
	}
	return s, token, nil
}

// Authenticate checks a cookie session token: ErrNotFound (also for malformed tokens and for
// tokens of token sessions, which are never handed out), ErrRevoked or ErrExpired, otherwise
// the session, touched if TouchInterval has passed since the last touch.
func (m *Manager) Authenticate(ctx context.Context, token string) (Session, error) {
	if !wellFormedToken(token) {
		return Session{}, ErrNotFound
	}
	s, err := m.store.ByTokenHash(ctx, hashToken(token))
	if err != nil {
		return Session{}, fmt.Errorf("authenticate session: %w", err)
	}
	if s.Kind != KindCookie {
		return Session{}, ErrNotFound
	}
	return m.admit(ctx, s)
}

// Validate checks the session a verified JWT names (its sid claim), with the same answers as
// Authenticate. It is the per-request check for bearer tokens, so it costs one primary-key
// read, plus a write at most once per TouchInterval. Caching belongs to the Store: a cache
// decorator (internal/authcache) must invalidate exactly, across replicas too (SEC-12); the
// expiry checks here run on every call whatever the store answers from.
func (m *Manager) Validate(ctx context.Context, sid string) (Session, error) {
	id, ok := canonicalID(sid)
	if !ok {
		return Session{}, ErrNotFound
	}
	s, err := m.store.ByID(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("validate session: %w", err)
	}
	return m.admit(ctx, s)
}

// admit refuses revoked and expired sessions and records activity, throttled.
func (m *Manager) admit(ctx context.Context, s Session) (Session, error) {
	now := m.clock()
	if err := s.Check(now); err != nil {
		return Session{}, err
	}
	if now.Sub(s.LastSeenAt) < m.touchInterval {
		return s, nil
	}
	idle := m.idleExpiry(s, now)
	if err := m.store.Touch(ctx, s.ID, now, idle); err != nil {
		return Session{}, fmt.Errorf("touch session %s: %w", s.ID, err)
	}
	s.LastSeenAt, s.IdleExpiresAt = now, idle
	return s, nil
}

// Get returns a session by ID whatever its state, for listings and admin views.
func (m *Manager) Get(ctx context.Context, sid string) (Session, error) {
	id, ok := canonicalID(sid)
	if !ok {
		return Session{}, ErrNotFound
	}
	s, err := m.store.ByID(ctx, id)
	if err != nil {
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	return s, nil
}

// Rotate gives a live session a new credential after step-up or a privilege change (SEC-10),
// keeping its ID, so JWTs and listings still name it. newAAL is the new assurance level ("" keeps
// the current one). The CSRF token is replaced too; the new one is in the returned session.
//
// For a cookie session the returned token is the new cookie value and the old one stops
// working at once. For a token session it is a new refresh token: every unused refresh token
// of the family is marked spent, so presenting one later counts as reuse. Access tokens already
// issued keep their old aal claim until they expire; Validate returns the current AAL.
// Rotate does not extend the absolute expiry.
func (m *Manager) Rotate(ctx context.Context, sid, newAAL string) (Session, string, error) {
	s, err := m.live(ctx, sid)
	if err != nil {
		return Session{}, "", fmt.Errorf("rotate session: %w", err)
	}
	if newAAL == "" {
		newAAL = s.AAL
	}
	if newAAL != AAL1 && newAAL != AAL2 {
		return Session{}, "", fmt.Errorf("rotate session: unknown assurance level %q", newAAL)
	}
	csrf, _, err := m.newToken()
	if err != nil {
		return Session{}, "", err
	}
	now := m.clock()
	r := Rotation{CSRFToken: csrf, AAL: newAAL, LastSeenAt: now, IdleExpiresAt: m.idleExpiry(s, now)}
	var token string
	if s.Kind == KindToken {
		var rt RefreshToken
		if token, rt, err = m.newRefresh(s, now); err != nil {
			return Session{}, "", err
		}
		r.Refresh = &rt
	} else if token, r.TokenHash, err = m.newToken(); err != nil {
		return Session{}, "", err
	}
	if err := m.store.Rotate(ctx, s.ID, r); err != nil {
		return Session{}, "", fmt.Errorf("rotate session %s: %w", s.ID, err)
	}
	s.CSRFToken, s.AAL, s.LastSeenAt, s.IdleExpiresAt = csrf, newAAL, now, r.IdleExpiresAt
	return s, token, nil
}

// live returns the session if it exists and authenticates now.
func (m *Manager) live(ctx context.Context, sid string) (Session, error) {
	id, ok := canonicalID(sid)
	if !ok {
		return Session{}, ErrNotFound
	}
	s, err := m.store.ByID(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if err := s.Check(m.clock()); err != nil {
		return Session{}, err
	}
	return s, nil
}

// Revoke ends a session server-side (logout, admin or user revocation; SEC-12): the next
// Authenticate, Validate or Refresh for it fails. Revoking a revoked session is a no-op that
// keeps the first reason; ErrNotFound when there is no such session.
func (m *Manager) Revoke(ctx context.Context, sid, reason string) error {
	id, ok := canonicalID(sid)
	if !ok {
		return ErrNotFound
	}
	if err := m.store.Revoke(ctx, id, m.clock(), reasonOr(reason)); err != nil {
		return fmt.Errorf("revoke session %s: %w", id, err)
	}
	return nil
}

// RevokeAllForUser revokes every live session of a user except exceptSID ("" for none), for
// password change, MFA reset or an admin's "sign out everywhere", and returns how many
// sessions it revoked (sessions that had expired without being revoked are counted too).
func (m *Manager) RevokeAllForUser(ctx context.Context, userID, exceptSID, reason string) (int, error) {
	uid, ok := canonicalID(userID)
	if !ok {
		return 0, nil
	}
	except, ok := canonicalID(exceptSID)
	if !ok {
		except = "" // a malformed ID matches no session, so there is nothing to spare
	}
	n, err := m.store.RevokeAllForUser(ctx, uid, except, m.clock(), reasonOr(reason))
	if err != nil {
		return 0, fmt.Errorf("revoke sessions of user %s: %w", uid, err)
	}
	return n, nil
}

// ListForUser returns a user's sessions, newest first (SEC-17). Without includeRevoked only
// sessions that authenticate now are listed (neither revoked nor expired); with it, all.
func (m *Manager) ListForUser(ctx context.Context, userID string, includeRevoked bool) ([]Session, error) {
	uid, ok := canonicalID(userID)
	if !ok {
		return []Session{}, nil
	}
	list, err := m.store.ListForUser(ctx, uid, includeRevoked)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %s: %w", uid, err)
	}
	if includeRevoked {
		return list, nil
	}
	now := m.clock()
	live := list[:0]
	for _, s := range list {
		if s.Check(now) == nil {
			live = append(live, s)
		}
	}
	return live, nil
}

func reasonOr(reason string) string {
	if reason == "" {
		return reasonDefault
	}
	return clean(reason, maxReasonBytes)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
