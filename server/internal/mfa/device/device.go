// Package device remembers browsers that passed a second factor (SEC-24): a random token in
// its own httpOnly cookie, stored hashed, bound to one user, expiring, listed with a name
// parsed from the user agent, the address and the last use, and revocable. A cookie copied
// to another user's login matches nothing, because the lookup also requires the user.
package device

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/mileusna/useragent"

	"gatehouse/server/internal/opaque"
)

// DefaultTTL is how long a device stays trusted.
const DefaultTTL = 30 * 24 * time.Hour

// ErrNotFound: no such device for this user.
var ErrNotFound = errors.New("device: not found")

// Device is one trusted browser.
type Device struct {
	ID         string
	UserID     string
	Name       string
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

// Store persists devices.
type Store interface {
	CreateDevice(ctx context.Context, d Device, tokenHash string) error
	// DeviceByTokenHash returns the device or ErrNotFound.
	DeviceByTokenHash(ctx context.Context, hash string) (Device, error)
	TouchDevice(ctx context.Context, id string, at time.Time) error
	// ListDevices returns the user's devices that are neither revoked nor expired at now,
	// newest first.
	ListDevices(ctx context.Context, userID string, now time.Time) ([]Device, error)
	// RevokeDevice revokes one of the user's devices; false when there is no such live one.
	RevokeDevice(ctx context.Context, userID, id string, at time.Time) (bool, error)
	// RevokeDevices revokes all of the user's devices and returns how many.
	RevokeDevices(ctx context.Context, userID string, at time.Time) (int, error)
}

// Options tune the Manager.
type Options struct {
	TTL  time.Duration
	Now  func() time.Time
	Rand io.Reader
}

// Manager trusts, checks and revokes devices.
type Manager struct {
	store Store
	o     Options
}

// New returns a Manager.
func New(store Store, o Options) *Manager {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Manager{store: store, o: o}
}

// TTL is how long a device stays trusted.
func (m *Manager) TTL() time.Duration { return m.o.TTL }

func (m *Manager) now() time.Time { return m.o.Now().UTC().Truncate(time.Microsecond) }

// Trust remembers the browser for the user and returns the cookie value.
func (m *Manager) Trust(ctx context.Context, userID, ip, userAgent string) (Device, string, error) {
	tok, hash, err := opaque.New(m.o.Rand)
	if err != nil {
		return Device{}, "", fmt.Errorf("trust device: %w", err)
	}
	now := m.now()
	d := Device{ID: uuid.NewString(), UserID: userID, Name: Name(userAgent), IP: opaque.Clean(ip, 64),
		UserAgent: opaque.Clean(userAgent, 512), CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(m.o.TTL)}
	if err := m.store.CreateDevice(ctx, d, hash); err != nil {
		return Device{}, "", fmt.Errorf("store device: %w", err)
	}
	return d, tok, nil
}

// Check says whether tok is a live device of userID, and records the use.
func (m *Manager) Check(ctx context.Context, userID, tok string) (Device, bool, error) {
	if !opaque.WellFormed(tok) {
		return Device{}, false, nil
	}
	d, err := m.store.DeviceByTokenHash(ctx, opaque.Hash(tok))
	if errors.Is(err, ErrNotFound) {
		return Device{}, false, nil
	}
	if err != nil {
		return Device{}, false, fmt.Errorf("check device: %w", err)
	}
	now := m.now()
	if d.UserID != userID || d.RevokedAt != nil || !now.Before(d.ExpiresAt) {
		return Device{}, false, nil
	}
	if err := m.store.TouchDevice(ctx, d.ID, now); err != nil {
		return Device{}, false, fmt.Errorf("touch device: %w", err)
	}
	d.LastUsedAt = now
	return d, true, nil
}

// List returns the user's live devices.
func (m *Manager) List(ctx context.Context, userID string) ([]Device, error) {
	return m.store.ListDevices(ctx, userID, m.now())
}

// Revoke ends trust in one device; ErrNotFound when the user has no such live device.
func (m *Manager) Revoke(ctx context.Context, userID, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return ErrNotFound
	}
	ok, err := m.store.RevokeDevice(ctx, userID, id, m.now())
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// RevokeAll ends trust in every device of the user.
func (m *Manager) RevokeAll(ctx context.Context, userID string) (int, error) {
	n, err := m.store.RevokeDevices(ctx, userID, m.now())
	if err != nil {
		return 0, fmt.Errorf("revoke devices: %w", err)
	}
	return n, nil
}

// Name describes a browser for listings: "Firefox 128 on Linux".
func Name(userAgent string) string {
	ua := useragent.Parse(userAgent)
	name := ua.Name
	if name == "" {
		name = "Unknown browser"
	}
	if major, _, _ := strings.Cut(ua.Version, "."); major != "" && ua.Name != "" {
		name += " " + major
	}
	if ua.OS != "" {
		name += " on " + ua.OS
	}
	return opaque.Clean(name, 128)
}
