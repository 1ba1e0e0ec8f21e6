package serviceaccount_test

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/serviceaccount"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

func newService(t *testing.T, dialect string) (*serviceaccount.Service, *clocktest.Clock, *store.DB) {
	t.Helper()
	o := store.Options{SQLitePath: filepath.Join(t.TempDir(), "gatehouse.db")}
	if dialect == testenv.Postgres {
		o = store.Options{URL: testenv.FreshPostgres(t)}
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m, err := db.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return serviceaccount.New(db.ServiceAccounts(), uuid.NewString, clock.Now), clock, db
}

func TestTokens(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		svc, clock, _ := newService(t, dialect)
		ctx := context.Background()
		acc, err := svc.Create(ctx, "billing-app", "reads billing secrets", "user:x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Create(ctx, "billing-app", "", "user:x"); !errors.Is(err, serviceaccount.ErrNameTaken) {
			t.Fatalf("duplicate name: %v", err)
		}
		tok, plain, err := svc.CreateToken(ctx, acc.ID, "ci", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		// gsa_ + 256 bits of base64url.
		body, ok := strings.CutPrefix(plain, serviceaccount.TokenPrefix)
		raw, derr := base64.RawURLEncoding.DecodeString(body)
		if !ok || derr != nil || len(raw) != 32 {
			t.Fatalf("token format: %d bytes, %v", len(raw), derr)
		}
		got, err := svc.Authenticate(ctx, plain)
		if err != nil || got.ID != acc.ID {
			t.Fatalf("authenticate: %+v %v", got, err)
		}
		list, err := svc.ListTokens(ctx, acc.ID)
		if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || list[0].ExpiresAt == nil {
			t.Fatalf("tokens: %+v %v", list, err)
		}
		// Tampered, unknown and foreign tokens are all the same refusal.
		for _, bad := range []string{plain[:len(plain)-1] + "A", "gsa_short", "not-a-token", serviceaccount.TokenPrefix + strings.Repeat("A", 43)} {
			if bad == plain {
				continue
			}
			if _, err := svc.Authenticate(ctx, bad); !errors.Is(err, serviceaccount.ErrInvalidToken) {
				t.Fatalf("token %.10q: %v", bad, err)
			}
		}
		// Expiry.
		clock.Advance(time.Hour)
		if _, err := svc.Authenticate(ctx, plain); !errors.Is(err, serviceaccount.ErrInvalidToken) {
			t.Fatalf("expired token: %v", err)
		}
		// Revocation.
		_, plain2, err := svc.CreateToken(ctx, acc.ID, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, plain2); err != nil {
			t.Fatal(err)
		}
		list, _ = svc.ListTokens(ctx, acc.ID)
		if err := svc.RevokeToken(ctx, acc.ID, list[1].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, plain2); !errors.Is(err, serviceaccount.ErrInvalidToken) {
			t.Fatalf("revoked token: %v", err)
		}
		if err := svc.RevokeToken(ctx, acc.ID, tok.ID+"x"); !errors.Is(err, serviceaccount.ErrTokenNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}
		other, _ := svc.Create(ctx, "other", "", "")
		if err := svc.RevokeToken(ctx, other.ID, tok.ID); !errors.Is(err, serviceaccount.ErrTokenNotFound) {
			t.Fatalf("revoke through another account: %v", err)
		}
		// Deleting the account kills its tokens.
		_, plain3, _ := svc.CreateToken(ctx, acc.ID, "", 0)
		if err := svc.Delete(ctx, acc.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, plain3); !errors.Is(err, serviceaccount.ErrInvalidToken) {
			t.Fatalf("token of a deleted account: %v", err)
		}
		if err := svc.Delete(ctx, acc.ID); !errors.Is(err, serviceaccount.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if _, err := svc.Get(ctx, "not-a-uuid"); !errors.Is(err, serviceaccount.ErrNotFound) {
			t.Fatalf("get bad id: %v", err)
		}
	})
}

// last_used_at is written at most once a minute per token, so authentication stays a read.
func TestLastUsedIsThrottled(t *testing.T) {
	svc, clock, _ := newService(t, testenv.SQLite)
	ctx := context.Background()
	acc, _ := svc.Create(ctx, "app", "", "")
	_, plain, _ := svc.CreateToken(ctx, acc.ID, "", 0)
	_, _ = svc.Authenticate(ctx, plain)
	first, _ := svc.ListTokens(ctx, acc.ID)
	clock.Advance(30 * time.Second)
	_, _ = svc.Authenticate(ctx, plain)
	again, _ := svc.ListTokens(ctx, acc.ID)
	if !again[0].LastUsedAt.Equal(*first[0].LastUsedAt) {
		t.Fatal("last_used_at rewritten within the minute")
	}
	clock.Advance(31 * time.Second)
	_, _ = svc.Authenticate(ctx, plain)
	later, _ := svc.ListTokens(ctx, acc.ID)
	if !later[0].LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("last_used_at = %v, want %v", later[0].LastUsedAt, clock.Now())
	}
}

func TestStoredHashOnly(t *testing.T) {
	svc, _, db := newService(t, testenv.SQLite)
	ctx := context.Background()
	acc, _ := svc.Create(ctx, "app", "", "")
	_, plain, _ := svc.CreateToken(ctx, acc.ID, "", 0)
	var n int
	if err := db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM service_account_tokens WHERE token_hash = ? OR name = ?", plain, plain).Scan(&n); err != nil || n != 0 {
		t.Fatalf("plaintext token stored: %d %v", n, err)
	}
}
