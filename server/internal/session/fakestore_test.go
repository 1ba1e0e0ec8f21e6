package session_test

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"gatehouse/server/internal/session"
)

// fakeStore is an in-memory session.Store with the same contract as the database store; one
// mutex stands in for transactions. failWith, when set, makes every call fail.
type fakeStore struct {
	mu       sync.Mutex
	sessions map[string]session.Session
	hashes   map[string]string // token hash -> session ID
	refresh  map[string]session.RefreshToken
	failWith error
}

var _ session.Store = (*fakeStore)(nil)

func newFakeStore() *fakeStore {
	return &fakeStore{sessions: map[string]session.Session{}, hashes: map[string]string{}, refresh: map[string]session.RefreshToken{}}
}

// copyOf detaches the pointer fields, as a database read would.
func copyOf(s session.Session) session.Session {
	if s.RevokedAt != nil {
		t := *s.RevokedAt
		s.RevokedAt = &t
	}
	return s
}

func (f *fakeStore) Create(_ context.Context, s session.Session, tokenHash string, first *session.RefreshToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	f.sessions[s.ID] = copyOf(s)
	f.hashes[tokenHash] = s.ID
	if first != nil {
		f.refresh[first.Hash] = *first
	}
	return nil
}

func (f *fakeStore) ByID(_ context.Context, id string) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return session.Session{}, f.failWith
	}
	s, ok := f.sessions[id]
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	return copyOf(s), nil
}

func (f *fakeStore) ByTokenHash(ctx context.Context, tokenHash string) (session.Session, error) {
	f.mu.Lock()
	id, ok := f.hashes[tokenHash]
	fail := f.failWith
	f.mu.Unlock()
	if fail != nil {
		return session.Session{}, fail
	}
	if !ok {
		return session.Session{}, session.ErrNotFound
	}
	return f.ByID(ctx, id)
}

func (f *fakeStore) Touch(_ context.Context, id string, lastSeen, idleExpires time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	if s, ok := f.sessions[id]; ok && s.RevokedAt == nil {
		s.LastSeenAt, s.IdleExpiresAt = lastSeen, idleExpires
		f.sessions[id] = s
	}
	return nil
}

func (f *fakeStore) Rotate(_ context.Context, id string, r session.Rotation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	s, ok := f.sessions[id]
	switch {
	case !ok:
		return session.ErrNotFound
	case s.RevokedAt != nil:
		return session.ErrRevoked
	}
	if r.TokenHash != "" {
		for h, sid := range f.hashes {
			if sid == id {
				delete(f.hashes, h)
			}
		}
		f.hashes[r.TokenHash] = id
	}
	s.CSRFToken = cmp.Or(r.CSRFToken, s.CSRFToken)
	s.AAL = cmp.Or(r.AAL, s.AAL)
	s.LastSeenAt, s.IdleExpiresAt = r.LastSeenAt, r.IdleExpiresAt
	f.sessions[id] = s
	if r.Refresh != nil {
		for h, rt := range f.refresh {
			if rt.SessionID == id && rt.UsedAt == nil {
				at := r.LastSeenAt
				rt.UsedAt = &at
				f.refresh[h] = rt
			}
		}
		f.refresh[r.Refresh.Hash] = *r.Refresh
	}
	return nil
}

func (f *fakeStore) Revoke(_ context.Context, id string, at time.Time, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	s, ok := f.sessions[id]
	if !ok {
		return session.ErrNotFound
	}
	if s.RevokedAt == nil {
		s.RevokedAt, s.RevokeReason = &at, reason
		f.sessions[id] = s
	}
	return nil
}

func (f *fakeStore) RevokeAllForUser(_ context.Context, userID, exceptID string, at time.Time, reason string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return 0, f.failWith
	}
	n := 0
	for id, s := range f.sessions {
		if s.UserID == userID && id != exceptID && s.RevokedAt == nil {
			s.RevokedAt, s.RevokeReason = &at, reason
			f.sessions[id] = s
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) ListForUser(_ context.Context, userID string, includeRevoked bool) ([]session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return nil, f.failWith
	}
	out := []session.Session{}
	for _, s := range f.sessions {
		if s.UserID == userID && (includeRevoked || s.RevokedAt == nil) {
			out = append(out, copyOf(s))
		}
	}
	slices.SortFunc(out, func(a, b session.Session) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return out, nil
}

func (f *fakeStore) RefreshByHash(_ context.Context, hash string) (session.RefreshToken, session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return session.RefreshToken{}, session.Session{}, f.failWith
	}
	rt, ok := f.refresh[hash]
	if !ok {
		return session.RefreshToken{}, session.Session{}, session.ErrNotFound
	}
	return rt, copyOf(f.sessions[rt.SessionID]), nil
}

func (f *fakeStore) ConsumeRefresh(_ context.Context, u session.RefreshUse) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != nil {
		return f.failWith
	}
	rt, ok := f.refresh[u.Hash]
	if !ok {
		return session.ErrNotFound
	}
	s := f.sessions[rt.SessionID]
	switch {
	case s.RevokedAt != nil:
		return session.ErrRevoked
	case rt.UsedAt != nil:
		return session.ErrRefreshReused
	}
	at := u.At
	rt.UsedAt = &at
	f.refresh[u.Hash] = rt
	s.LastSeenAt, s.IdleExpiresAt = u.At, u.IdleExpiresAt
	f.sessions[s.ID] = s
	f.refresh[u.Next.Hash] = u.Next
	return nil
}

// stored is the fake's view for sessiontest.Harness.Stored.
func (f *fakeStore) stored(sid string) (string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var tokenHash string
	for h, id := range f.hashes {
		if id == sid {
			tokenHash = h
		}
	}
	var refresh []string
	for h, rt := range f.refresh {
		if rt.SessionID == sid {
			refresh = append(refresh, h)
		}
	}
	return tokenHash, refresh
}
