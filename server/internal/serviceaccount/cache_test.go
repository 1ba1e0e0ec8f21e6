package serviceaccount_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/accesscache"
	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/serviceaccount"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// countingStore counts the per-request reads and writes of authentication.
type countingStore struct {
	serviceaccount.Store
	reads, touches atomic.Int64
}

func (c *countingStore) TokenByHash(ctx context.Context, hash string) (serviceaccount.Token, serviceaccount.Account, error) {
	c.reads.Add(1)
	return c.Store.TokenByHash(ctx, hash)
}

func (c *countingStore) TouchToken(ctx context.Context, id string, at, staleBefore time.Time) error {
	c.touches.Add(1)
	return c.Store.TouchToken(ctx, id, at, staleBefore)
}

func cachedService(t *testing.T, db *store.DB, clock *clocktest.Clock, rdb redis.Cmdable) (*serviceaccount.Service, *countingStore) {
	t.Helper()
	cs := &countingStore{Store: db.ServiceAccounts()}
	// A max age far beyond the test: only invalidation can make the cache read again.
	c := accesscache.New(accesscache.Options{MaxAge: 24 * time.Hour, Now: clock.Now, Redis: rdb})
	return serviceaccount.New(cs, uuid.NewString, clock.Now, serviceaccount.WithCache(c)), cs
}

func mustAuth(t *testing.T, svc *serviceaccount.Service, token, wantAccount string) {
	t.Helper()
	a, err := svc.Authenticate(context.Background(), token)
	if err != nil || a.ID != wantAccount {
		t.Fatalf("authenticate: %+v, %v; want account %s", a, err, wantAccount)
	}
}

func refused(t *testing.T, svc *serviceaccount.Service, token, what string) {
	t.Helper()
	if _, err := svc.Authenticate(context.Background(), token); !errors.Is(err, serviceaccount.ErrInvalidToken) {
		t.Fatalf("%s: err = %v, want ErrInvalidToken", what, err)
	}
}

// With the cache, authentication reads the database once per token, yet expiry is exact to
// the clock, and a revoked token or a deleted account is refused at the very next request.
func TestCachedAuthenticationStaysExact(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		_, clock, db := newService(t, dialect)
		svc, cs := cachedService(t, db, clock, nil)
		ctx := context.Background()
		acc, err := svc.Create(ctx, "cached-app", "", "user:x")
		if err != nil {
			t.Fatal(err)
		}
		tok, expiring, err := svc.CreateToken(ctx, acc.ID, "expiring", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		_, revoked, _ := svc.CreateToken(ctx, acc.ID, "to-revoke", 0)
		_, kept, _ := svc.CreateToken(ctx, acc.ID, "kept", 0)

		for range 5 {
			mustAuth(t, svc, expiring, acc.ID)
		}
		if n := cs.reads.Load(); n != 2 {
			t.Fatalf("TokenByHash read %d times for 5 authentications, want 2 (the miss reads twice)", n)
		}
		if n := cs.touches.Load(); n != 1 {
			t.Fatalf("last use written %d times, want once", n)
		}

		// Expiry, from the cached entry, to the microsecond.
		clock.Advance(time.Hour - time.Microsecond)
		mustAuth(t, svc, expiring, acc.ID)
		clock.Advance(time.Microsecond)
		refused(t, svc, expiring, "expired cached token")
		if n := cs.reads.Load(); n != 2 {
			t.Fatalf("expiry needed a database read (%d reads)", n)
		}

		// Revocation: the next request is refused; the account's other tokens still work.
		mustAuth(t, svc, revoked, acc.ID)
		mustAuth(t, svc, kept, acc.ID)
		list, _ := svc.ListTokens(ctx, acc.ID)
		for _, lt := range list {
			if lt.Name == "to-revoke" {
				if err := svc.RevokeToken(ctx, acc.ID, lt.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		refused(t, svc, revoked, "revoked cached token")
		refused(t, svc, revoked, "revoked token, again (cached as revoked)")
		mustAuth(t, svc, kept, acc.ID)
		// Revoking a token the account does not have changes nothing.
		if err := svc.RevokeToken(ctx, acc.ID, tok.ID+"x"); !errors.Is(err, serviceaccount.ErrTokenNotFound) {
			t.Fatalf("revoke unknown: %v", err)
		}

		// Deleting the account: its cached tokens are refused next.
		if err := svc.Delete(ctx, acc.ID); err != nil {
			t.Fatal(err)
		}
		refused(t, svc, kept, "token of a deleted account")
		if err := svc.Delete(ctx, acc.ID); !errors.Is(err, serviceaccount.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

// last_used_at is still written once a minute per token when authentication is cached.
func TestCachedLastUsedIsThrottled(t *testing.T) {
	_, clock, db := newService(t, testenv.SQLite)
	svc, cs := cachedService(t, db, clock, nil)
	ctx := context.Background()
	acc, _ := svc.Create(ctx, "app", "", "")
	_, plain, _ := svc.CreateToken(ctx, acc.ID, "", 0)
	mustAuth(t, svc, plain, acc.ID)
	clock.Advance(30 * time.Second)
	mustAuth(t, svc, plain, acc.ID)
	if n := cs.touches.Load(); n != 1 {
		t.Fatalf("%d writes within the minute", n)
	}
	clock.Advance(31 * time.Second)
	mustAuth(t, svc, plain, acc.ID)
	mustAuth(t, svc, plain, acc.ID)
	if n := cs.touches.Load(); n != 2 {
		t.Fatalf("%d writes after a minute, want 2", n)
	}
	list, _ := svc.ListTokens(ctx, acc.ID)
	if !list[0].LastUsedAt.Equal(clock.Now()) {
		t.Fatalf("last_used_at = %v, want %v", list[0].LastUsedAt, clock.Now())
	}
}

// Two replicas on one database sharing Redis: a revocation or deletion on one is refused by
// the other at its next request, although the other had the token cached.
func TestCachedRevocationAcrossReplicas(t *testing.T) {
	mr := miniredis.RunT(t)
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	open := func() *store.DB {
		db, err := store.Open(context.Background(), store.Options{SQLitePath: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	dbA := open()
	m, err := dbA.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rdb := func() *redis.Client {
		r := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	a, _ := cachedService(t, dbA, clock, rdb())
	b, bs := cachedService(t, open(), clock, rdb())
	ctx := context.Background()
	acc, _ := a.Create(ctx, "replicated", "", "")
	for i := range 6 {
		writer, other := a, b
		if i%2 == 1 {
			writer, other = b, a
		}
		tok, plain, err := writer.CreateToken(ctx, acc.ID, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			mustAuth(t, other, plain, acc.ID)
		}
		if err := writer.RevokeToken(ctx, acc.ID, tok.ID); err != nil {
			t.Fatal(err)
		}
		refused(t, other, plain, "revoked on the other replica")
	}
	_, plain, _ := a.CreateToken(ctx, acc.ID, "", 0)
	mustAuth(t, b, plain, acc.ID)
	reads := bs.reads.Load()
	mustAuth(t, b, plain, acc.ID)
	if bs.reads.Load() != reads {
		t.Fatal("replica b read the database on a cached hit")
	}
	if err := a.Delete(ctx, acc.ID); err != nil {
		t.Fatal(err)
	}
	refused(t, b, plain, "account deleted on the other replica")
}
