package pending_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/mfa/pending"
)

type memStore struct {
	mu   sync.Mutex
	rows map[string]pending.Login // by token hash
}

func (m *memStore) CreatePending(_ context.Context, l pending.Login, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[hash] = l
	return nil
}

func (m *memStore) PendingByTokenHash(_ context.Context, hash string) (pending.Login, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.rows[hash]
	if !ok {
		return pending.Login{}, pending.ErrInvalid
	}
	return l, nil
}

func (m *memStore) update(id string, f func(*pending.Login) bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, l := range m.rows {
		if l.ID == id {
			changed := f(&l)
			m.rows[h] = l
			return changed
		}
	}
	return false
}

func (m *memStore) FailPending(_ context.Context, id string, limit int) (int, error) {
	n := 0
	m.update(id, func(l *pending.Login) bool {
		if l.Failures < limit {
			l.Failures++
		}
		n = l.Failures
		return true
	})
	return n, nil
}

func (m *memStore) UsePending(_ context.Context, id string, at time.Time) (bool, error) {
	return m.update(id, func(l *pending.Login) bool {
		if l.UsedAt != nil {
			return false
		}
		l.UsedAt = &at
		return true
	}), nil
}

// SEC-23: a pending login lives minutes, is spent once, and dies after too many failures.
func TestPendingLifecycle_SEC23(t *testing.T) {
	ctx := context.Background()
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	m := pending.New(&memStore{rows: map[string]pending.Login{}}, pending.Options{Now: clock.Now})

	l, tok, err := m.Create(ctx, "u1", pending.KindCookie, "127.0.0.1", "test\x00agent")
	if err != nil {
		t.Fatal(err)
	}
	if l.CSRFToken == "" || l.CSRFToken == tok || l.UserAgent != "testagent" || l.ExpiresAt.Sub(l.CreatedAt) != pending.DefaultTTL {
		t.Fatalf("created %+v", l)
	}
	if got, err := m.Lookup(ctx, tok); err != nil || got.ID != l.ID {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	for _, bad := range []string{"", "short", tok + "x"} {
		if _, err := m.Lookup(ctx, bad); !errors.Is(err, pending.ErrInvalid) {
			t.Fatalf("lookup %q: %v", bad, err)
		}
	}
	if ok, _ := m.Use(ctx, l.ID); !ok {
		t.Fatal("first use refused")
	}
	if ok, _ := m.Use(ctx, l.ID); ok {
		t.Fatal("second use accepted")
	}
	if _, err := m.Lookup(ctx, tok); !errors.Is(err, pending.ErrInvalid) {
		t.Fatalf("spent login: %v", err)
	}

	l2, tok2, _ := m.Create(ctx, "u1", pending.KindToken, "", "")
	for i := 1; i < pending.DefaultMaxFailures; i++ {
		if alive, _ := m.Fail(ctx, l2.ID); !alive {
			t.Fatalf("dead after %d failures", i)
		}
	}
	if alive, _ := m.Fail(ctx, l2.ID); alive {
		t.Fatal("alive after the last failure")
	}
	if _, err := m.Lookup(ctx, tok2); !errors.Is(err, pending.ErrInvalid) {
		t.Fatalf("dead login: %v", err)
	}

	_, tok3, _ := m.Create(ctx, "u1", pending.KindCookie, "", "")
	clock.Advance(pending.DefaultTTL)
	if _, err := m.Lookup(ctx, tok3); !errors.Is(err, pending.ErrInvalid) {
		t.Fatalf("expired login: %v", err)
	}
}
