package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/session"
	"gatehouse/server/internal/session/sessiontest"
)

var ctx = context.Background()

// TestManagerOnFakeStore runs the whole behaviour suite (SEC-10, 12, 13, 16, 17) on the
// in-memory store; the store package runs it on SQLite and PostgreSQL.
func TestManagerOnFakeStore(t *testing.T) {
	sessiontest.Exercise(t, func(t *testing.T) sessiontest.Harness {
		f := newFakeStore()
		return sessiontest.Harness{
			Store:   f,
			NewUser: func(*testing.T) string { return uuid.NewString() },
			Stored:  func(_ *testing.T, sid string) (string, []string) { return f.stored(sid) },
		}
	})
}

func newUser(kind string) session.NewSession {
	return session.NewSession{UserID: uuid.NewString(), Kind: kind, AAL: session.AAL1}
}

// SEC-13: the defaults are 30 min idle and 12 h absolute; refresh tokens live as long as the
// session can.
func TestDefaults(t *testing.T) {
	f := newFakeStore()
	clock := sessiontest.NewClock()
	m := session.New(f, session.Options{Now: clock.Now})
	s, _, err := m.Create(ctx, newUser(session.KindToken))
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	if !s.IdleExpiresAt.Equal(now.Add(30*time.Minute)) || !s.AbsoluteExpiresAt.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("default lifetimes: idle %v, absolute %v", s.IdleExpiresAt.Sub(now), s.AbsoluteExpiresAt.Sub(now))
	}
	for _, rt := range f.refresh {
		if !rt.ExpiresAt.Equal(s.AbsoluteExpiresAt) {
			t.Fatalf("default refresh expiry %v, want the session's absolute expiry", rt.ExpiresAt.Sub(now))
		}
	}
	clock.Advance(59 * time.Second)
	if _, err := m.Validate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, s.ID); !got.LastSeenAt.Equal(now) {
		t.Fatal("touched within the default one-minute interval")
	}
	clock.Advance(time.Second)
	if _, err := m.Validate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Get(ctx, s.ID); !got.LastSeenAt.Equal(clock.Now()) {
		t.Fatal("not touched after the default one-minute interval")
	}
}

// SEC-13: a touch interval as long as the idle lifetime would let active sessions idle out.
func TestTouchIntervalCappedAtHalfTheIdleLifetime(t *testing.T) {
	clock := sessiontest.NewClock()
	m := session.New(newFakeStore(), session.Options{Now: clock.Now, IdleTTL: 2 * time.Minute, TouchInterval: time.Hour})
	s, token, err := m.Create(ctx, newUser(session.KindCookie))
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		clock.Advance(90 * time.Second)
		if _, err := m.Authenticate(ctx, token); err != nil {
			t.Fatalf("active session expired: %v", err)
		}
	}
	if got, _ := m.Get(ctx, s.ID); !got.LastSeenAt.Equal(clock.Now()) {
		t.Fatal("last touch not recorded")
	}
}

func TestCreateFailsCleanlyWithoutRandomness(t *testing.T) {
	f := newFakeStore()
	m := session.New(f, session.Options{Rand: iotest.ErrReader(errors.New("entropy exhausted"))})
	if _, _, err := m.Create(ctx, newUser(session.KindCookie)); err == nil {
		t.Fatal("Create succeeded without randomness")
	}
	if len(f.sessions) != 0 {
		t.Fatal("a session was stored")
	}
}

// SEC-18: store failures surface as errors that carry neither the token nor its hash.
func TestErrorsCarryNoToken(t *testing.T) {
	f := newFakeStore()
	m := session.New(f, session.Options{})
	s, token, err := m.Create(ctx, newUser(session.KindToken))
	if err != nil {
		t.Fatal(err)
	}
	f.failWith = errors.New("database is down")
	checks := map[string]error{}
	_, checks["Authenticate"] = m.Authenticate(ctx, token)
	_, _, checks["Refresh"] = m.Refresh(ctx, token)
	_, checks["RevokeRefresh"] = m.RevokeRefresh(ctx, token)
	_, checks["Validate"] = m.Validate(ctx, s.ID)
	for name, err := range checks {
		if err == nil || errors.Is(err, session.ErrInvalid) {
			t.Fatalf("%s with a failing store: err = %v, want a plain failure", name, err)
		}
		if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), f.firstRefreshHash()) {
			t.Fatalf("%s error %q carries token material", name, err)
		}
	}
}

func (f *fakeStore) firstRefreshHash() string {
	for h := range f.refresh {
		return h
	}
	return "no refresh hash"
}

// failingRevoke lets Refresh find a replay but not revoke it.
type failingRevoke struct{ *fakeStore }

func (failingRevoke) Revoke(context.Context, string, time.Time, string) error {
	return errors.New("database is down")
}

// SEC-16: a replay is reported (for the security event) even when revoking the family fails.
func TestReuseReportedWhenRevocationFails(t *testing.T) {
	f := newFakeStore()
	m := session.New(failingRevoke{f}, session.Options{})
	s, rt, err := m.Create(ctx, newUser(session.KindToken))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Refresh(ctx, rt); err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Refresh(ctx, rt)
	var reuse *session.ReuseError
	if !errors.As(err, &reuse) || reuse.SessionID != s.ID || reuse.UserID != s.UserID {
		t.Fatalf("err = %v, want a *ReuseError", err)
	}
	if !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("err = %v, want the revocation failure too", err)
	}
}

func TestCheck(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	live := session.Session{IdleExpiresAt: now.Add(time.Minute), AbsoluteExpiresAt: now.Add(time.Hour)}
	revoked := live
	revoked.RevokedAt = &now
	tests := []struct {
		name string
		s    session.Session
		at   time.Time
		want error
	}{
		{"live", live, now, nil},
		{"revoked", revoked, now, session.ErrRevoked},
		{"at idle expiry", live, now.Add(time.Minute), session.ErrExpired},
		{"idle extended past absolute", session.Session{IdleExpiresAt: now.Add(2 * time.Hour), AbsoluteExpiresAt: now.Add(time.Hour)}, now.Add(time.Hour), session.ErrExpired},
	}
	for _, tc := range tests {
		if err := tc.s.Check(tc.at); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%s: Check = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// BenchmarkValidate is the Manager's own cost per bearer request (no database): the store
// benchmark adds the real lookup.
func BenchmarkValidate(b *testing.B) {
	m := session.New(newFakeStore(), session.Options{})
	s, _, err := m.Create(ctx, newUser(session.KindToken))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Validate(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// SEC-14: the CSRF token is bound to its session.
func TestValidCSRF(t *testing.T) {
	m := session.New(newFakeStore(), session.Options{})
	a, _, err := m.Create(ctx, newUser(session.KindCookie))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := m.Create(ctx, newUser(session.KindCookie))
	if err != nil {
		t.Fatal(err)
	}
	if !a.ValidCSRF(a.CSRFToken) {
		t.Fatal("the session's own CSRF token refused")
	}
	for _, bad := range []string{"", b.CSRFToken, a.CSRFToken[:42], a.CSRFToken + "x", strings.ToUpper(a.CSRFToken)} {
		if a.ValidCSRF(bad) {
			t.Fatalf("CSRF token %q accepted", bad)
		}
	}
	if (session.Session{}).ValidCSRF("") {
		t.Fatal("an empty token matched a session without one")
	}
}
