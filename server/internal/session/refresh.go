package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RefreshToken is one member of a token session's refresh family, as stored: the hash only.
// A family has at most one current member (unused); every other one is spent.
type RefreshToken struct {
	Hash      string // hex SHA-256 of the token
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // spent: used for a refresh, or superseded by Rotate/IssueRefresh
}

// Rotation is what Store.Rotate changes on a session. Empty strings keep the current value.
type Rotation struct {
	TokenHash     string // new session token hash
	CSRFToken     string
	AAL           string
	LastSeenAt    time.Time
	IdleExpiresAt time.Time
	// Refresh, when set, becomes the family's current member: every unused refresh token of the
	// session is marked used at LastSeenAt, then this one is stored.
	Refresh *RefreshToken
}

// RefreshUse is one refresh: spend Hash at At, store Next, extend the session's idle expiry.
type RefreshUse struct {
	Hash          string
	At            time.Time
	IdleExpiresAt time.Time
	Next          RefreshToken
}

// IssueRefresh starts a new current member of a live token session's refresh family and
// returns it; any unused member is marked spent (so presenting it later counts as reuse).
// ErrWrongKind for cookie sessions. Create already returns the first refresh token of a token
// session, so this is for callers that need a fresh one without changing anything else.
func (m *Manager) IssueRefresh(ctx context.Context, sid string) (string, error) {
	s, err := m.live(ctx, sid)
	if err != nil {
		return "", fmt.Errorf("issue refresh token: %w", err)
	}
	if s.Kind != KindToken {
		return "", ErrWrongKind
	}
	now := m.clock()
	token, rt, err := m.newRefresh(s, now)
	if err != nil {
		return "", err
	}
	if err := m.store.Rotate(ctx, s.ID, Rotation{LastSeenAt: now, IdleExpiresAt: m.idleExpiry(s, now), Refresh: &rt}); err != nil {
		return "", fmt.Errorf("issue refresh token for session %s: %w", s.ID, err)
	}
	return token, nil
}

// Refresh spends a refresh token and returns its session (idle expiry extended) with the next
// token of the family (SEC-16). The presented token must be current: unused, unexpired, and
// its session live (ErrNotFound, ErrExpired, ErrRevoked otherwise).
//
// A spent token is a replay: the session is revoked with ReasonRefreshReuse and the error is a
// *ReuseError naming the session and user, for the caller's security event. That includes the
// loser of two concurrent refreshes with the same token: the token had been spent when it got
// there, and a client cannot tell a racing thief from itself, so the whole family goes. (Should
// legitimate clients race in practice, a short reuse grace period is the known remedy; we
// choose not to have one.)
func (m *Manager) Refresh(ctx context.Context, refreshToken string) (Session, string, error) {
	if !wellFormedToken(refreshToken) {
		return Session{}, "", ErrNotFound
	}
	hash := hashToken(refreshToken)
	rt, s, err := m.store.RefreshByHash(ctx, hash)
	if err != nil {
		return Session{}, "", fmt.Errorf("refresh: %w", err)
	}
	now := m.clock()
	if rt.UsedAt != nil {
		return Session{}, "", m.reused(ctx, s, now)
	}
	if !now.Before(rt.ExpiresAt) {
		return Session{}, "", ErrExpired
	}
	if err := s.Check(now); err != nil {
		return Session{}, "", err
	}
	token, next, err := m.newRefresh(s, now)
	if err != nil {
		return Session{}, "", err
	}
	idle := m.idleExpiry(s, now)
	err = m.store.ConsumeRefresh(ctx, RefreshUse{Hash: hash, At: now, IdleExpiresAt: idle, Next: next})
	if errors.Is(err, ErrRefreshReused) {
		return Session{}, "", m.reused(ctx, s, now)
	}
	if err != nil {
		return Session{}, "", fmt.Errorf("refresh session %s: %w", s.ID, err)
	}
	s.LastSeenAt, s.IdleExpiresAt = now, idle
	return s, token, nil
}

// reused revokes the family's session and reports the replay. If the revocation itself fails
// the caller still gets the *ReuseError (joined with the failure), so the event is recorded.
func (m *Manager) reused(ctx context.Context, s Session, now time.Time) error {
	reuse := &ReuseError{SessionID: s.ID, UserID: s.UserID}
	if err := m.store.Revoke(ctx, s.ID, now, ReasonRefreshReuse); err != nil && !errors.Is(err, ErrNotFound) {
		return errors.Join(reuse, fmt.Errorf("revoke session %s after refresh token reuse: %w", s.ID, err))
	}
	return reuse
}

// RevokeRefresh revokes the session a refresh token belongs to, for RFC 7009 revocation: the
// whole family and every access token naming the session stop working. Spent tokens revoke too
// (the client holding one is logging out either way). It returns the session, for the caller's
// event; ErrNotFound for an unknown token, which RFC 7009 asks the endpoint to answer with
// success anyway.
func (m *Manager) RevokeRefresh(ctx context.Context, refreshToken string) (Session, error) {
	if !wellFormedToken(refreshToken) {
		return Session{}, ErrNotFound
	}
	_, s, err := m.store.RefreshByHash(ctx, hashToken(refreshToken))
	if err != nil {
		return Session{}, fmt.Errorf("revoke refresh token: %w", err)
	}
	now := m.clock()
	if err := m.store.Revoke(ctx, s.ID, now, ReasonRefreshRevoked); err != nil {
		return Session{}, fmt.Errorf("revoke session %s: %w", s.ID, err)
	}
	if s.RevokedAt == nil {
		s.RevokedAt, s.RevokeReason = &now, ReasonRefreshRevoked
	}
	return s, nil
}

// newRefresh makes a refresh token for s. It expires after RefreshTTL, and never after the
// session's absolute expiry.
func (m *Manager) newRefresh(s Session, now time.Time) (string, RefreshToken, error) {
	token, hash, err := m.newToken()
	if err != nil {
		return "", RefreshToken{}, err
	}
	return token, RefreshToken{Hash: hash, SessionID: s.ID, CreatedAt: now, ExpiresAt: minTime(now.Add(m.refreshTTL), s.AbsoluteExpiresAt)}, nil
}
