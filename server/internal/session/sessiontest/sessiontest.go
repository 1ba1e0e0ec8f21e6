// Package sessiontest checks session.Store implementations by driving a session.Manager over
// them: the same security behaviours (SEC-10, 12, 13, 16, 17) are proven on the in-memory fake
// and on the database store, SQLite and PostgreSQL alike.
package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"gatehouse/server/internal/session"

	"gatehouse/server/internal/clocktest"
)

// Harness is one empty store and what the suite needs around it.
type Harness struct {
	// Store must be empty.
	Store session.Store
	// NewUser creates a user the store will accept sessions for and returns its ID.
	NewUser func(t *testing.T) string
	// Stored reads what the store really keeps for a session, bypassing the Store interface:
	// the session token's hash and the hashes of its refresh tokens.
	Stored func(t *testing.T, sid string) (tokenHash string, refreshHashes []string)
}

// Clock is the settable clock injected as Options.Now.
type Clock = clocktest.Clock

// NewClock starts at a fixed instant.
func NewClock() *Clock { return clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// countingStore counts touches, to prove the throttle (SEC-13).
type countingStore struct {
	session.Store
	touches atomic.Int64
}

func (c *countingStore) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	c.touches.Add(1)
	return c.Store.Touch(ctx, id, lastSeen, idleExpires)
}

// env is one Manager over a fresh harness.
type env struct {
	h     Harness
	store *countingStore
	m     *session.Manager
	clock *Clock
}

// The lifetimes the suite runs with (short absolute lifetime so expiry tests stay readable).
const (
	idleTTL       = 30 * time.Minute
	absoluteTTL   = 2 * time.Hour
	touchInterval = time.Minute
)

var ctx = context.Background()

// Exercise runs the suite; newHarness must return an empty store on every call.
func Exercise(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	setup := func(t *testing.T, o session.Options) env {
		t.Helper()
		h := newHarness(t)
		c := NewClock()
		cs := &countingStore{Store: h.Store}
		if o.IdleTTL == 0 {
			o.IdleTTL = idleTTL
		}
		if o.AbsoluteTTL == 0 {
			o.AbsoluteTTL = absoluteTTL
		}
		if o.TouchInterval == 0 {
			o.TouchInterval = touchInterval
		}
		o.Now = c.Now
		return env{h: h, store: cs, m: session.New(cs, o), clock: c}
	}

	t.Run("create and authenticate a cookie session", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		s, token := e.create(t, uid, session.KindCookie)
		if s.UserID != uid || s.Kind != session.KindCookie || s.AAL != session.AAL1 || s.IP != "192.0.2.1" || s.UserAgent != "sessiontest/1.0" {
			t.Fatalf("created session = %+v", s)
		}
		if id, err := uuid.Parse(s.ID); err != nil || id.Version() != 4 {
			t.Fatalf("session ID %q is not a UUID v4 (%v)", s.ID, err)
		}
		now := e.clock.Now()
		if !s.CreatedAt.Equal(now) || !s.LastSeenAt.Equal(now) || !s.IdleExpiresAt.Equal(now.Add(idleTTL)) || !s.AbsoluteExpiresAt.Equal(now.Add(absoluteTTL)) {
			t.Fatalf("created session times = %+v (now %v)", s, now)
		}
		got, err := e.m.Authenticate(ctx, token)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		sameSession(t, got, s)
		if got, err = e.m.Validate(ctx, s.ID); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		sameSession(t, got, s)
		if got, err = e.m.Get(ctx, strings.ToUpper(s.ID)); err != nil {
			t.Fatalf("Get by upper-case ID: %v", err)
		}
		sameSession(t, got, s)
	})

	t.Run("SEC-10 tokens have 256 bits and only their SHA-256 is stored", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		a, tokenA := e.create(t, uid, session.KindCookie)
		b, tokenB := e.create(t, uid, session.KindCookie)
		for _, tok := range []string{tokenA, tokenB, a.CSRFToken, b.CSRFToken} {
			raw, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil || len(raw) != 32 {
				t.Fatalf("token %d chars decodes to %d bytes (%v); want 32 bytes of base64url", len(tok), len(raw), err)
			}
		}
		if tokenA == tokenB || a.ID == b.ID || a.CSRFToken == b.CSRFToken || tokenA == a.CSRFToken {
			t.Fatal("two sessions share a token, ID or CSRF token")
		}
		stored, _ := e.h.Stored(t, a.ID)
		if stored == tokenA || strings.Contains(stored, tokenA) {
			t.Fatal("the session token is stored as is")
		}
		if stored != sha256Hex(tokenA) {
			t.Fatalf("stored token hash %q is not the SHA-256 of the token", stored)
		}

		ts, refresh := e.create(t, uid, session.KindToken)
		stored, refreshHashes := e.h.Stored(t, ts.ID)
		if stored == "" || stored == sha256Hex(refresh) {
			t.Fatal("a token session needs its own (undisclosed) session token hash")
		}
		if !slices.Equal(refreshHashes, []string{sha256Hex(refresh)}) {
			t.Fatalf("stored refresh hashes = %v, want only the SHA-256 of the refresh token", refreshHashes)
		}
		if _, err := e.m.Authenticate(ctx, refresh); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("a refresh token used as a cookie: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("SEC-10 rotate replaces the cookie token and kills the old one", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, old := e.create(t, e.h.NewUser(t), session.KindCookie)
		e.clock.Advance(5 * time.Second)
		r, token, err := e.m.Rotate(ctx, s.ID, session.AAL2)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		if token == old || r.ID != s.ID || r.AAL != session.AAL2 || r.CSRFToken == s.CSRFToken || !r.AbsoluteExpiresAt.Equal(s.AbsoluteExpiresAt) {
			t.Fatalf("rotated session = %+v (was %+v)", r, s)
		}
		if _, err := e.m.Authenticate(ctx, old); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("old token after rotate: err = %v, want ErrNotFound", err)
		}
		got, err := e.m.Authenticate(ctx, token)
		if err != nil {
			t.Fatalf("new token after rotate: %v", err)
		}
		sameSession(t, got, r)
		if stored, _ := e.h.Stored(t, s.ID); stored != sha256Hex(token) {
			t.Fatal("stored hash is not the new token's")
		}
		// Empty AAL keeps the level.
		if r2, _, err := e.m.Rotate(ctx, s.ID, ""); err != nil || r2.AAL != session.AAL2 {
			t.Fatalf("Rotate keeping the level = %+v, %v", r2, err)
		}
		if _, _, err := e.m.Rotate(ctx, s.ID, "aal9"); err == nil {
			t.Fatal("Rotate to an unknown level succeeded")
		}
		if err := e.m.Revoke(ctx, s.ID, "logout"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.m.Rotate(ctx, s.ID, session.AAL2); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Rotate a revoked session: err = %v, want ErrRevoked", err)
		}
	})

	t.Run("SEC-10 rotate a token session supersedes its refresh token", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, old := e.create(t, e.h.NewUser(t), session.KindToken)
		r, refresh, err := e.m.Rotate(ctx, s.ID, session.AAL2)
		if err != nil || r.AAL != session.AAL2 || refresh == old {
			t.Fatalf("Rotate token session = %+v, %v", r, err)
		}
		got, next, err := e.m.Refresh(ctx, refresh)
		if err != nil || got.AAL != session.AAL2 || next == "" {
			t.Fatalf("Refresh with the rotated token = %+v, %v", got, err)
		}
		// The pre-step-up token is spent: presenting it is reuse.
		if _, _, err := e.m.Refresh(ctx, old); !errors.Is(err, session.ErrRefreshReused) {
			t.Fatalf("Refresh with the superseded token: err = %v, want ErrRefreshReused", err)
		}
		if _, err := e.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Validate after reuse: err = %v, want ErrRevoked", err)
		}
	})

	t.Run("SEC-12 revoke refuses the next request", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		s, token := e.create(t, uid, session.KindCookie)
		ts, refresh := e.create(t, uid, session.KindToken)
		for _, id := range []string{s.ID, ts.ID} {
			if err := e.m.Revoke(ctx, id, "logout"); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
		}
		if _, err := e.m.Authenticate(ctx, token); !errors.Is(err, session.ErrRevoked) || !errors.Is(err, session.ErrInvalid) {
			t.Fatalf("Authenticate after revoke: err = %v, want ErrRevoked", err)
		}
		if _, err := e.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Validate after revoke: err = %v, want ErrRevoked", err)
		}
		if _, _, err := e.m.Refresh(ctx, refresh); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Refresh after revoke: err = %v, want ErrRevoked", err)
		}
		if _, err := e.m.IssueRefresh(ctx, ts.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("IssueRefresh after revoke: err = %v, want ErrRevoked", err)
		}
		e.clock.Advance(time.Second)
		if err := e.m.Revoke(ctx, s.ID, "admin"); err != nil {
			t.Fatalf("second Revoke: %v", err)
		}
		got, err := e.m.Get(ctx, s.ID)
		if err != nil || got.RevokedAt == nil || got.RevokeReason != "logout" || !got.RevokedAt.Before(e.clock.Now()) {
			t.Fatalf("revoked session = %+v, %v; want the first revocation kept", got, err)
		}
		if err := e.m.Revoke(ctx, uuid.NewString(), "logout"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("Revoke unknown session: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("SEC-12 revoke all of a user's sessions except the current one", func(t *testing.T) {
		e := setup(t, session.Options{})
		alice, bob := e.h.NewUser(t), e.h.NewUser(t)
		current, currentToken := e.create(t, alice, session.KindCookie)
		other, otherToken := e.create(t, alice, session.KindCookie)
		api, refresh := e.create(t, alice, session.KindToken)
		bobs, _ := e.create(t, bob, session.KindCookie)
		if err := e.m.Revoke(ctx, other.ID, "logout"); err != nil {
			t.Fatal(err)
		}
		n, err := e.m.RevokeAllForUser(ctx, alice, current.ID, "password_change")
		if err != nil || n != 1 {
			t.Fatalf("RevokeAllForUser = %d, %v; want 1 (the token session; the other was revoked already)", n, err)
		}
		if _, err := e.m.Authenticate(ctx, currentToken); err != nil {
			t.Fatalf("the current session was revoked: %v", err)
		}
		if _, err := e.m.Authenticate(ctx, otherToken); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("other session: err = %v, want ErrRevoked", err)
		}
		if _, _, err := e.m.Refresh(ctx, refresh); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("refresh of a revoked token session: err = %v, want ErrRevoked", err)
		}
		if got, _ := e.m.Get(ctx, api.ID); got.RevokeReason != "password_change" {
			t.Fatalf("reason = %q", got.RevokeReason)
		}
		if _, err := e.m.Validate(ctx, bobs.ID); err != nil {
			t.Fatalf("another user's session was revoked: %v", err)
		}
		if n, err := e.m.RevokeAllForUser(ctx, alice, "", "admin"); err != nil || n != 1 {
			t.Fatalf("RevokeAllForUser without exception = %d, %v; want 1", n, err)
		}
		if _, err := e.m.Validate(ctx, current.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("current session after revoke-all: err = %v, want ErrRevoked", err)
		}
	})

	t.Run("SEC-13 idle expiry", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, token := e.create(t, e.h.NewUser(t), session.KindCookie)
		e.clock.Advance(idleTTL - time.Second)
		if _, err := e.m.Authenticate(ctx, token); err != nil {
			t.Fatalf("just before idle expiry: %v", err)
		}
		// That request was activity: the idle deadline moved.
		e.clock.Advance(idleTTL - time.Second)
		if _, err := e.m.Validate(ctx, s.ID); err != nil {
			t.Fatalf("after activity: %v", err)
		}
		e.clock.Advance(idleTTL)
		if _, err := e.m.Authenticate(ctx, token); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("at idle expiry: err = %v, want ErrExpired", err)
		}
		if _, err := e.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Validate at idle expiry: err = %v, want ErrExpired", err)
		}
		if _, _, err := e.m.Rotate(ctx, s.ID, session.AAL2); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Rotate an expired session: err = %v, want ErrExpired", err)
		}
	})

	t.Run("SEC-13 absolute expiry despite activity", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, token := e.create(t, e.h.NewUser(t), session.KindCookie)
		for e.clock.Now().Add(20 * time.Minute).Before(s.AbsoluteExpiresAt) {
			e.clock.Advance(20 * time.Minute)
			got, err := e.m.Authenticate(ctx, token)
			if err != nil {
				t.Fatalf("active session at %v: %v", e.clock.Now().Sub(s.CreatedAt), err)
			}
			if got.IdleExpiresAt.After(s.AbsoluteExpiresAt) {
				t.Fatalf("idle expiry %v beyond absolute %v", got.IdleExpiresAt, s.AbsoluteExpiresAt)
			}
		}
		e.clock.Advance(s.AbsoluteExpiresAt.Sub(e.clock.Now()))
		if _, err := e.m.Authenticate(ctx, token); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("at absolute expiry: err = %v, want ErrExpired", err)
		}
	})

	t.Run("SEC-13 touch is throttled to one write per interval", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, token := e.create(t, e.h.NewUser(t), session.KindCookie)
		e.clock.Advance(10 * time.Second)
		if _, err := e.m.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Validate(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if n := e.store.touches.Load(); n != 0 {
			t.Fatalf("%d touches within the first interval, want 0", n)
		}
		e.clock.Advance(touchInterval)
		touched := e.clock.Now()
		got, err := e.m.Validate(ctx, s.ID)
		if err != nil || !got.LastSeenAt.Equal(touched) || !got.IdleExpiresAt.Equal(touched.Add(idleTTL)) {
			t.Fatalf("Validate after the interval = %+v, %v", got, err)
		}
		e.clock.Advance(touchInterval / 2)
		if _, err := e.m.Authenticate(ctx, token); err != nil {
			t.Fatal(err)
		}
		if n := e.store.touches.Load(); n != 1 {
			t.Fatalf("two calls within one interval wrote %d times, want once", n)
		}
		stored, err := e.m.Get(ctx, s.ID)
		if err != nil || !stored.LastSeenAt.Equal(touched) || !stored.IdleExpiresAt.Equal(touched.Add(idleTTL)) {
			t.Fatalf("stored after touch = %+v, %v; want last seen %v", stored, err, touched)
		}
	})

	t.Run("SEC-16 refresh rotates on every use and extends the idle expiry", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, rt1 := e.create(t, e.h.NewUser(t), session.KindToken)
		e.clock.Advance(20 * time.Minute)
		got, rt2, err := e.m.Refresh(ctx, rt1)
		if err != nil || got.ID != s.ID || rt2 == rt1 || !got.IdleExpiresAt.Equal(e.clock.Now().Add(idleTTL)) {
			t.Fatalf("Refresh = %+v, %v", got, err)
		}
		e.clock.Advance(20 * time.Minute) // 40 min after login: alive only because refresh extended it
		got, rt3, err := e.m.Refresh(ctx, rt2)
		if err != nil || rt3 == rt2 || rt3 == rt1 {
			t.Fatalf("second Refresh = %+v, %v", got, err)
		}
		if _, err := e.m.Validate(ctx, s.ID); err != nil {
			t.Fatalf("Validate after refresh: %v", err)
		}
		stored, err := e.m.Get(ctx, s.ID)
		if err != nil || !stored.LastSeenAt.Equal(e.clock.Now()) {
			t.Fatalf("stored after refresh = %+v, %v", stored, err)
		}
		_, hashes := e.h.Stored(t, s.ID)
		if len(hashes) != 3 || !slices.Contains(hashes, sha256Hex(rt3)) {
			t.Fatalf("family = %d hashes, want 3 including the current one", len(hashes))
		}
	})

	t.Run("SEC-16 replay of a used refresh token revokes the family", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		s, rt1 := e.create(t, uid, session.KindToken)
		_, rt2, err := e.m.Refresh(ctx, rt1)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.m.Refresh(ctx, rt1)
		var reuse *session.ReuseError
		if !errors.As(err, &reuse) || !errors.Is(err, session.ErrRefreshReused) || !errors.Is(err, session.ErrInvalid) {
			t.Fatalf("replay: err = %v, want a *ReuseError", err)
		}
		if reuse.SessionID != s.ID || reuse.UserID != uid {
			t.Fatalf("ReuseError = %+v, want session %s user %s", reuse, s.ID, uid)
		}
		noToken(t, err, rt1, rt2)
		got, err := e.m.Get(ctx, s.ID)
		if err != nil || got.RevokedAt == nil || got.RevokeReason != session.ReasonRefreshReuse {
			t.Fatalf("session after replay = %+v, %v", got, err)
		}
		if _, _, err := e.m.Refresh(ctx, rt2); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("the family's current token after replay: err = %v, want ErrRevoked", err)
		}
		if _, err := e.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("access tokens of the family after replay: err = %v, want ErrRevoked", err)
		}
		// Replaying again still reports reuse (another event), and keeps the first reason.
		if _, _, err := e.m.Refresh(ctx, rt1); !errors.Is(err, session.ErrRefreshReused) {
			t.Fatalf("second replay: err = %v", err)
		}
	})

	t.Run("SEC-16 concurrent refreshes with one token: exactly one succeeds", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		for round := range 3 {
			s, rt := e.create(t, uid, session.KindToken)
			const n = 8
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			for i := range n {
				wg.Go(func() {
					<-start
					_, _, errs[i] = e.m.Refresh(ctx, rt)
				})
			}
			close(start)
			wg.Wait()
			ok, reused := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, session.ErrRefreshReused):
					reused++
				case errors.Is(err, session.ErrRevoked):
					// Lost the race after another loser had already revoked the family.
				default:
					t.Fatalf("round %d: unexpected error %v", round, err)
				}
			}
			if ok != 1 || reused == 0 {
				t.Fatalf("round %d: %d succeeded, %d saw reuse; want exactly 1 success", round, ok, reused)
			}
			if got, _ := e.m.Get(ctx, s.ID); got.RevokeReason != session.ReasonRefreshReuse {
				t.Fatalf("round %d: session after a racing replay = %+v, want revoked for reuse", round, got)
			}
		}
	})

	t.Run("SEC-16 rotate and refresh racing neither deadlock nor share the family", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		for round := range 5 {
			s, rt := e.create(t, uid, session.KindToken)
			var wg sync.WaitGroup
			start := make(chan struct{})
			var refreshErr, rotateErr error
			var next, rotated string
			wg.Go(func() { <-start; _, next, refreshErr = e.m.Refresh(ctx, rt) })
			wg.Go(func() { <-start; _, rotated, rotateErr = e.m.Rotate(ctx, s.ID, session.AAL2) })
			close(start)
			wg.Wait()
			if rotateErr != nil {
				t.Fatalf("round %d: Rotate: %v", round, rotateErr)
			}
			if refreshErr != nil && !errors.Is(refreshErr, session.ErrRefreshReused) {
				t.Fatalf("round %d: Refresh: %v", round, refreshErr)
			}
			if refreshErr == nil {
				// Refresh went first; Rotate then superseded its result, so only the rotated
				// token may continue the family.
				if _, _, err := e.m.Refresh(ctx, rotated); err != nil {
					t.Fatalf("round %d: the rotated token: %v", round, err)
				}
				if _, _, err := e.m.Refresh(ctx, next); !errors.Is(err, session.ErrRefreshReused) {
					t.Fatalf("round %d: the superseded token: err = %v, want ErrRefreshReused", round, err)
				}
			}
		}
	})

	t.Run("SEC-16 refresh token expiry", func(t *testing.T) {
		e := setup(t, session.Options{RefreshTTL: 10 * time.Minute})
		s, rt := e.create(t, e.h.NewUser(t), session.KindToken)
		e.clock.Advance(9 * time.Minute)
		if _, err := e.m.Validate(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		if _, _, err := e.m.Refresh(ctx, rt); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("expired refresh token: err = %v, want ErrExpired", err)
		}
		// Default: a refresh token lives as long as its session can.
		e = setup(t, session.Options{})
		s, rt = e.create(t, e.h.NewUser(t), session.KindToken)
		for e.clock.Now().Add(20 * time.Minute).Before(s.AbsoluteExpiresAt) {
			e.clock.Advance(20 * time.Minute)
			var err error
			if _, rt, err = e.m.Refresh(ctx, rt); err != nil {
				t.Fatalf("refresh at %v: %v", e.clock.Now().Sub(s.CreatedAt), err)
			}
		}
		e.clock.Advance(s.AbsoluteExpiresAt.Sub(e.clock.Now()))
		if _, _, err := e.m.Refresh(ctx, rt); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("refresh at the session's absolute expiry: err = %v, want ErrExpired", err)
		}
	})

	t.Run("SEC-16 issue refresh supersedes the current token", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		s, first := e.create(t, uid, session.KindToken)
		second, err := e.m.IssueRefresh(ctx, s.ID)
		if err != nil || second == first {
			t.Fatalf("IssueRefresh: %v", err)
		}
		if _, _, err := e.m.Refresh(ctx, second); err != nil {
			t.Fatalf("Refresh with the issued token: %v", err)
		}
		cookie, _ := e.create(t, uid, session.KindCookie)
		if _, err := e.m.IssueRefresh(ctx, cookie.ID); !errors.Is(err, session.ErrWrongKind) {
			t.Fatalf("IssueRefresh for a cookie session: err = %v, want ErrWrongKind", err)
		}
	})

	t.Run("SEC-16 revoke by refresh token (RFC 7009)", func(t *testing.T) {
		e := setup(t, session.Options{})
		s, rt := e.create(t, e.h.NewUser(t), session.KindToken)
		got, err := e.m.RevokeRefresh(ctx, rt)
		if err != nil || got.ID != s.ID || got.RevokedAt == nil {
			t.Fatalf("RevokeRefresh = %+v, %v", got, err)
		}
		if _, err := e.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Validate after RevokeRefresh: err = %v, want ErrRevoked", err)
		}
		if _, _, err := e.m.Refresh(ctx, rt); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Refresh after RevokeRefresh: err = %v, want ErrRevoked", err)
		}
		if stored, _ := e.m.Get(ctx, s.ID); stored.RevokeReason != session.ReasonRefreshRevoked {
			t.Fatalf("reason = %q", stored.RevokeReason)
		}
		if _, err := e.m.RevokeRefresh(ctx, randomToken(t)); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("RevokeRefresh unknown token: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("SEC-17 a user lists their own sessions, newest first", func(t *testing.T) {
		e := setup(t, session.Options{})
		alice, bob := e.h.NewUser(t), e.h.NewUser(t)
		var mine []session.Session
		for _, kind := range []string{session.KindCookie, session.KindToken, session.KindCookie, session.KindCookie} {
			s, _ := e.create(t, alice, kind)
			mine = append(mine, s)
			e.clock.Advance(time.Second)
		}
		theirs, _ := e.create(t, bob, session.KindCookie)
		if err := e.m.Revoke(ctx, mine[2].ID, "logout"); err != nil {
			t.Fatal(err)
		}
		list, err := e.m.ListForUser(ctx, alice, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(list), []string{mine[3].ID, mine[1].ID, mine[0].ID}; !slices.Equal(got, want) {
			t.Fatalf("live sessions = %v, want %v (newest first, revoked left out)", got, want)
		}
		all, err := e.m.ListForUser(ctx, alice, true)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := ids(all), []string{mine[3].ID, mine[2].ID, mine[1].ID, mine[0].ID}; !slices.Equal(got, want) {
			t.Fatalf("all sessions = %v, want %v", got, want)
		}
		if slices.Contains(ids(all), theirs.ID) {
			t.Fatal("another user's session is in the list")
		}
		if all[1].RevokedAt == nil || all[1].RevokeReason != "logout" {
			t.Fatalf("revoked session in the list = %+v", all[1])
		}
		// Expired sessions are not live either.
		e.clock.Advance(idleTTL)
		if list, err := e.m.ListForUser(ctx, alice, false); err != nil || len(list) != 0 {
			t.Fatalf("live sessions after idle expiry = %v, %v; want none", ids(list), err)
		}
		if list, err := e.m.ListForUser(ctx, e.h.NewUser(t), true); err != nil || list == nil || len(list) != 0 {
			t.Fatalf("user without sessions = %#v, %v; want an empty list", list, err)
		}
	})

	t.Run("malformed and unknown input is refused without errors", func(t *testing.T) {
		e := setup(t, session.Options{})
		uid := e.h.NewUser(t)
		for _, tok := range []string{"", "x", strings.Repeat("A", 42), strings.Repeat("A", 44), strings.Repeat("é", 22), strings.Repeat("A", 1<<20), randomToken(t)[:42] + "=", randomToken(t)} {
			if _, err := e.m.Authenticate(ctx, tok); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Authenticate(%d chars): err = %v, want ErrNotFound", len(tok), err)
			}
			if _, _, err := e.m.Refresh(ctx, tok); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Refresh(%d chars): err = %v, want ErrNotFound", len(tok), err)
			}
		}
		for _, id := range []string{"", "not-a-uuid", "' OR 1=1 --", uuid.NewString(), "{" + uuid.NewString() + "}", strings.Repeat("z", 36)} {
			if _, err := e.m.Validate(ctx, id); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Validate(%q): err = %v, want ErrNotFound", id, err)
			}
			if _, err := e.m.Get(ctx, id); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Get(%q): err = %v, want ErrNotFound", id, err)
			}
			if _, _, err := e.m.Rotate(ctx, id, session.AAL2); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Rotate(%q): err = %v, want ErrNotFound", id, err)
			}
			if err := e.m.Revoke(ctx, id, "x"); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("Revoke(%q): err = %v, want ErrNotFound", id, err)
			}
			if list, err := e.m.ListForUser(ctx, id, true); err != nil || len(list) != 0 {
				t.Fatalf("ListForUser(%q) = %v, %v", id, list, err)
			}
			if n, err := e.m.RevokeAllForUser(ctx, id, id, "x"); err != nil || n != 0 {
				t.Fatalf("RevokeAllForUser(%q) = %d, %v", id, n, err)
			}
		}
		s, token := e.create(t, uid, session.KindCookie)
		if n, err := e.m.RevokeAllForUser(ctx, uid, "not-a-uuid", ""); err != nil || n != 1 {
			t.Fatalf("RevokeAllForUser with a malformed exception = %d, %v; want 1", n, err)
		}
		if got, _ := e.m.Get(ctx, s.ID); got.RevokeReason == "" {
			t.Fatal("an empty reason was stored as empty")
		}
		if _, err := e.m.Authenticate(ctx, token); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Authenticate after revoke-all: err = %v", err)
		}
		for _, n := range []session.NewSession{
			{UserID: uid, Kind: "bearer", AAL: session.AAL1},
			{UserID: uid, Kind: session.KindCookie, AAL: "aal3"},
			{UserID: "nobody", Kind: session.KindCookie, AAL: session.AAL1},
		} {
			if _, _, err := e.m.Create(ctx, n); err == nil {
				t.Fatalf("Create(%+v) succeeded", n)
			}
		}
	})

	t.Run("client text is stored safely", func(t *testing.T) {
		e := setup(t, session.Options{})
		ua := "bad\xff\x00" + strings.Repeat("é", 400)
		s, _, err := e.m.Create(ctx, session.NewSession{UserID: e.h.NewUser(t), Kind: session.KindCookie, AAL: session.AAL1, IP: "2001:db8::1", UserAgent: ua})
		if err != nil {
			t.Fatalf("Create with a hostile user agent: %v", err)
		}
		got, err := e.m.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.UserAgent != s.UserAgent || !utf8.ValidString(got.UserAgent) || strings.ContainsRune(got.UserAgent, 0) || len(got.UserAgent) > 512 || !strings.HasPrefix(got.UserAgent, "bad\uFFFDéé") {
			t.Fatalf("stored user agent %q (%d bytes)", got.UserAgent, len(got.UserAgent))
		}
		if got.IP != "2001:db8::1" {
			t.Fatalf("IP = %q", got.IP)
		}
	})
}

func (e env) create(t *testing.T, userID, kind string) (session.Session, string) {
	t.Helper()
	s, token, err := e.m.Create(ctx, session.NewSession{UserID: userID, Kind: kind, AAL: session.AAL1, IP: "192.0.2.1", UserAgent: "sessiontest/1.0"})
	if err != nil {
		t.Fatalf("Create %s session: %v", kind, err)
	}
	if token == "" {
		t.Fatal("Create returned no token")
	}
	return s, token
}

// sameSession compares what a store gave back with what the Manager returned.
func sameSession(t *testing.T, got, want session.Session) {
	t.Helper()
	ok := got.ID == want.ID && got.UserID == want.UserID && got.Kind == want.Kind && got.AAL == want.AAL &&
		got.CSRFToken == want.CSRFToken && got.IP == want.IP && got.UserAgent == want.UserAgent &&
		got.RevokeReason == want.RevokeReason && (got.RevokedAt == nil) == (want.RevokedAt == nil) &&
		got.CreatedAt.Equal(want.CreatedAt) && got.LastSeenAt.Equal(want.LastSeenAt) &&
		got.IdleExpiresAt.Equal(want.IdleExpiresAt) && got.AbsoluteExpiresAt.Equal(want.AbsoluteExpiresAt)
	if !ok {
		t.Fatalf("session = %+v\nwant      %+v", got, want)
	}
}

// noToken fails if an error message carries token material (SEC-18).
func noToken(t *testing.T, err error, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), sha256Hex(tok)) {
			t.Fatalf("error %q carries a token or its hash", err)
		}
	}
}

func ids(list []session.Session) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// randomToken is well-formed but matches nothing.
func randomToken(t *testing.T) string {
	t.Helper()
	return base64.RawURLEncoding.EncodeToString([]byte(uuid.NewString())[:32])
}
