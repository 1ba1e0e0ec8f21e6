package authcache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/server/internal/session"
)

// Sessions is a session.Store that answers ByID and ByTokenHash from the cache and
// invalidates it on every write.
type Sessions struct {
	inner session.Store
	c     *Cache
}

// Sessions wraps inner.
func (c *Cache) Sessions(inner session.Store) *Sessions { return &Sessions{inner: inner, c: c} }

var _ session.Store = (*Sessions)(nil)

// ByID is the bearer request's lookup.
func (s *Sessions) ByID(ctx context.Context, id string) (session.Session, error) {
	return s.lookup(ctx, "s:"+id, func() (session.Session, error) { return s.inner.ByID(ctx, id) })
}

// ByTokenHash is the cookie request's lookup. After Rotate the old hash's entry is gone with
// the rest of the user's entries, so the old cookie reads the database and is not found.
func (s *Sessions) ByTokenHash(ctx context.Context, tokenHash string) (session.Session, error) {
	return s.lookup(ctx, "h:"+tokenHash, func() (session.Session, error) { return s.inner.ByTokenHash(ctx, tokenHash) })
}

func (s *Sessions) lookup(ctx context.Context, key string, load func() (session.Session, error)) (session.Session, error) {
	if e, ok := s.c.get(ctx, kindSession, key); ok {
		return copySession(e.value.(session.Session)), nil
	}
	epoch := s.c.begin()
	sess, err := load()
	if err != nil {
		return sess, err
	}
	remote := ""
	if s.c.rdb != nil {
		// The user is known only now: read the generation, then the row again, so what is
		// stored is at least as new as the generation recorded with it.
		if remote, err = s.c.generation(ctx, sess.UserID); err != nil {
			return sess, nil //nolint:nilerr // the row is good; only caching it is not
		}
		if sess, err = load(); err != nil {
			return sess, err
		}
	}
	s.c.put(key, &entry{userID: sess.UserID, value: copySession(sess), remote: remote, loaded: s.c.now()}, epoch)
	return sess, nil
}

func copySession(s session.Session) session.Session {
	if s.RevokedAt != nil {
		t := *s.RevokedAt
		s.RevokedAt = &t
	}
	return s
}

// userOf names the user of a session for invalidation: from the cache when it holds the
// session, else from the store (the link never changes). "" when it cannot be told, which
// drops every local entry.
func (s *Sessions) userOf(ctx context.Context, id string) (string, error) {
	s.c.mu.Lock()
	e := s.c.entries["s:"+id]
	s.c.mu.Unlock()
	if e != nil {
		return e.userID, nil
	}
	sess, err := s.inner.ByID(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("auth cache: find the session's user: %w", err)
	}
	return sess.UserID, nil
}

// afterWrite invalidates for a write to session id that has committed (err == nil) or may
// have (any error but ErrNotFound: do not guess). shared says whether other replicas must
// hear of it.
func (s *Sessions) afterWrite(ctx context.Context, id string, shared bool, werr error) error {
	if errors.Is(werr, session.ErrNotFound) {
		return werr
	}
	uid, err := s.userOf(ctx, id)
	if err != nil {
		return errors.Join(werr, err, s.c.dropLocalAfterCommit(ctx, ""))
	}
	if !shared {
		return errors.Join(werr, s.c.dropLocalAfterCommit(ctx, uid))
	}
	return errors.Join(werr, s.c.invalidate(ctx, uid))
}

// Create needs no invalidation: nothing can have cached a session that did not exist (a
// missing row is never cached).
func (s *Sessions) Create(ctx context.Context, sess session.Session, tokenHash string, first *session.RefreshToken) error {
	return s.inner.Create(ctx, sess, tokenHash, first)
}

// Touch only extends the session: local entries go (so this process sees the new idle
// expiry), other replicas keep theirs (see the package comment).
func (s *Sessions) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	return s.afterWrite(ctx, id, false, s.inner.Touch(ctx, id, lastSeen, idleExpires))
}

// Rotate replaces the cookie token, CSRF token and AAL: every replica must drop its copy.
func (s *Sessions) Rotate(ctx context.Context, id string, r session.Rotation) error {
	return s.afterWrite(ctx, id, true, s.inner.Rotate(ctx, id, r))
}

// Revoke ends the session everywhere before it returns (SEC-12).
func (s *Sessions) Revoke(ctx context.Context, id string, at time.Time, reason string) error {
	return s.afterWrite(ctx, id, true, s.inner.Revoke(ctx, id, at, reason))
}

// RevokeAllForUser ends the user's sessions everywhere before it returns (SEC-12).
func (s *Sessions) RevokeAllForUser(ctx context.Context, userID, exceptID string, at time.Time, reason string) (int, error) {
	n, err := s.inner.RevokeAllForUser(ctx, userID, exceptID, at, reason)
	return n, errors.Join(err, s.c.invalidate(ctx, userID))
}

// ListForUser is not cached (listings are rare and must show every field as stored).
func (s *Sessions) ListForUser(ctx context.Context, userID string, includeRevoked bool) ([]session.Session, error) {
	return s.inner.ListForUser(ctx, userID, includeRevoked)
}

// RefreshByHash is not cached: each refresh token is used once.
func (s *Sessions) RefreshByHash(ctx context.Context, hash string) (session.RefreshToken, session.Session, error) {
	return s.inner.RefreshByHash(ctx, hash)
}

// ConsumeRefresh extends the session like Touch. A replayed token revokes the session
// through Revoke, which invalidates everywhere.
func (s *Sessions) ConsumeRefresh(ctx context.Context, u session.RefreshUse) error {
	return s.afterWrite(ctx, u.Next.SessionID, false, s.inner.ConsumeRefresh(ctx, u))
}
