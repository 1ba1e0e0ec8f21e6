// Package pending keeps logins that passed the password check and wait for a second factor
// (SEC-23). A pending login is reached by an opaque token (the browser's pending cookie or an
// API client's mfa_token), lives a few minutes, dies after a few wrong codes and is spent by
// the one verification that succeeds (a conditional update: two concurrent verifications
// cannot both turn it into a session). It grants nothing but the MFA endpoints.
package pending

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/opaque"
)

// Defaults.
const (
	DefaultTTL         = 5 * time.Minute
	DefaultMaxFailures = 5
)

// Kinds: what the verified login turns into.
const (
	KindCookie = "cookie"
	KindToken  = "token"
)

// ErrInvalid: no live pending login matches (unknown, expired, spent or dead).
var ErrInvalid = errors.New("pending: no such pending login")

// Login is one pending login.
type Login struct {
	ID        string
	UserID    string
	Kind      string
	CSRFToken string
	Failures  int
	IP        string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Store persists pending logins.
type Store interface {
	CreatePending(ctx context.Context, l Login, tokenHash string) error
	// PendingByTokenHash returns the login or ErrInvalid.
	PendingByTokenHash(ctx context.Context, hash string) (Login, error)
	// FailPending counts a failure unless max were counted already, and returns the count.
	FailPending(ctx context.Context, id string, max int) (int, error)
	// UsePending spends an unused login; false when it was spent already.
	UsePending(ctx context.Context, id string, at time.Time) (bool, error)
}

// Options tune the Manager.
type Options struct {
	TTL         time.Duration
	MaxFailures int
	Now         func() time.Time
	Rand        io.Reader
}

// Manager creates and checks pending logins.
type Manager struct {
	store Store
	o     Options
}

// New returns a Manager.
func New(store Store, o Options) *Manager {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Manager{store: store, o: o}
}

// TTL is how long a pending login lives.
func (m *Manager) TTL() time.Duration { return m.o.TTL }

// Create starts a pending login and returns its token.
func (m *Manager) Create(ctx context.Context, userID, kind, ip, userAgent string) (Login, string, error) {
	tok, hash, err := opaque.New(m.o.Rand)
	if err != nil {
		return Login{}, "", fmt.Errorf("pending login: %w", err)
	}
	csrf, _, err := opaque.New(m.o.Rand)
	if err != nil {
		return Login{}, "", fmt.Errorf("pending login: %w", err)
	}
	now := m.o.Now().UTC().Truncate(time.Microsecond)
	l := Login{ID: uuid.NewString(), UserID: userID, Kind: kind, CSRFToken: csrf,
		IP: opaque.Clean(ip, 64), UserAgent: opaque.Clean(userAgent, 512), CreatedAt: now, ExpiresAt: now.Add(m.o.TTL)}
	if err := m.store.CreatePending(ctx, l, hash); err != nil {
		return Login{}, "", fmt.Errorf("store pending login: %w", err)
	}
	return l, tok, nil
}

// Lookup returns the live pending login behind tok, or ErrInvalid.
func (m *Manager) Lookup(ctx context.Context, tok string) (Login, error) {
	if !opaque.WellFormed(tok) {
		return Login{}, ErrInvalid
	}
	l, err := m.store.PendingByTokenHash(ctx, opaque.Hash(tok))
	if err != nil {
		return Login{}, err
	}
	if l.UsedAt != nil || l.Failures >= m.o.MaxFailures || !m.o.Now().Before(l.ExpiresAt) {
		return Login{}, ErrInvalid
	}
	return l, nil
}

// Fail counts a wrong second factor; it reports false once the login is dead.
func (m *Manager) Fail(ctx context.Context, id string) (alive bool, err error) {
	failures, err := m.store.FailPending(ctx, id, m.o.MaxFailures)
	if err != nil {
		return false, fmt.Errorf("count pending failure: %w", err)
	}
	return failures < m.o.MaxFailures, nil
}

// Use spends the pending login; false when another verification spent it first.
func (m *Manager) Use(ctx context.Context, id string) (bool, error) {
	ok, err := m.store.UsePending(ctx, id, m.o.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		return false, fmt.Errorf("spend pending login: %w", err)
	}
	return ok, nil
}
