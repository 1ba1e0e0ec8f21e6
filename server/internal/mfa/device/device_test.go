package device_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/mfa/device"
)

type memStore struct {
	mu   sync.Mutex
	rows map[string]device.Device // by token hash
}

func (m *memStore) CreateDevice(_ context.Context, d device.Device, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[hash] = d
	return nil
}

func (m *memStore) DeviceByTokenHash(_ context.Context, hash string) (device.Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.rows[hash]
	if !ok {
		return device.Device{}, device.ErrNotFound
	}
	return d, nil
}

func (m *memStore) TouchDevice(_ context.Context, id string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, d := range m.rows {
		if d.ID == id {
			d.LastUsedAt = at
			m.rows[h] = d
		}
	}
	return nil
}

func (m *memStore) ListDevices(_ context.Context, userID string, now time.Time) ([]device.Device, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []device.Device
	for _, d := range m.rows {
		if d.UserID == userID && d.RevokedAt == nil && now.Before(d.ExpiresAt) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

func (m *memStore) RevokeDevice(_ context.Context, userID, id string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, d := range m.rows {
		if d.ID == id && d.UserID == userID && d.RevokedAt == nil {
			d.RevokedAt = &at
			m.rows[h] = d
			return true, nil
		}
	}
	return false, nil
}

func (m *memStore) RevokeDevices(_ context.Context, userID string, at time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for h, d := range m.rows {
		if d.UserID == userID && d.RevokedAt == nil {
			d.RevokedAt = &at
			m.rows[h] = d
			n++
		}
	}
	return n, nil
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// SEC-24: bound to its user, expiring, listed, revocable.
func TestTrustedDevice_SEC24(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	m := device.New(&memStore{rows: map[string]device.Device{}}, device.Options{Now: clock.Now})

	d, tok, err := m.Trust(ctx, "alice", "203.0.113.7", firefox)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "Firefox 128 on Linux" || d.ExpiresAt.Sub(d.CreatedAt) != device.DefaultTTL {
		t.Fatalf("device %+v", d)
	}
	if _, ok, _ := m.Check(ctx, "alice", tok); !ok {
		t.Fatal("own device refused")
	}
	if _, ok, _ := m.Check(ctx, "mallory", tok); ok {
		t.Fatal("another user's device accepted")
	}
	if _, ok, _ := m.Check(ctx, "alice", "not-a-token"); ok {
		t.Fatal("malformed token accepted")
	}
	clock.Advance(time.Hour)
	got, ok, _ := m.Check(ctx, "alice", tok)
	if !ok || !got.LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("last use not recorded: %+v", got)
	}
	if list, _ := m.List(ctx, "alice"); len(list) != 1 {
		t.Fatalf("list %+v", list)
	}
	if err := m.Revoke(ctx, "mallory", d.ID); !errors.Is(err, device.ErrNotFound) {
		t.Fatalf("revoke someone else's device: %v", err)
	}
	if err := m.Revoke(ctx, "alice", d.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Check(ctx, "alice", tok); ok {
		t.Fatal("revoked device accepted")
	}

	_, tok2, _ := m.Trust(ctx, "alice", "", "")
	clock.Advance(device.DefaultTTL)
	if _, ok, _ := m.Check(ctx, "alice", tok2); ok {
		t.Fatal("expired device accepted")
	}
	if n, _ := m.RevokeAll(ctx, "alice"); n != 1 {
		t.Fatalf("revoke all: %d", n)
	}
}

func TestNameFallsBack(t *testing.T) {
	if got := device.Name(""); got != "Unknown browser" {
		t.Fatalf("empty user agent: %q", got)
	}
}
