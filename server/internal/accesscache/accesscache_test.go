package accesscache

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/txhook"
)

// counter is a "database row" whose loads are counted.
type counter struct {
	value atomic.Int64
	loads atomic.Int64
}

func (c *counter) load(context.Context) (any, error) {
	c.loads.Add(1)
	return c.value.Load(), nil
}

func fetch(t *testing.T, c *Cache, group, key string, src *counter) int64 {
	t.Helper()
	v, err := c.Fetch(context.Background(), "test", group, key, src.load)
	if err != nil {
		t.Fatal(err)
	}
	return v.(int64)
}

func TestHitsInvalidationAndMaxAge(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := New(Options{MaxAge: 2 * time.Second, Now: clock.Now})
	var a, b counter
	a.value.Store(1)
	b.value.Store(10)
	for range 3 {
		if got := fetch(t, c, "g:a", "k:a", &a); got != 1 {
			t.Fatalf("a = %d", got)
		}
		fetch(t, c, "g:b", "k:b", &b)
	}
	if a.loads.Load() != 1 || b.loads.Load() != 1 {
		t.Fatalf("loads: a %d, b %d; want 1 each (then hits)", a.loads.Load(), b.loads.Load())
	}

	// A write to a's group is seen at the next lookup; b's entry is untouched.
	a.value.Store(2)
	if err := c.Invalidate(context.Background(), "g:a"); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, c, "g:a", "k:a", &a); got != 2 {
		t.Fatalf("after invalidation a = %d, want 2", got)
	}
	fetch(t, c, "g:b", "k:b", &b)
	if a.loads.Load() != 2 || b.loads.Load() != 1 {
		t.Fatalf("loads: a %d (want 2), b %d (want 1)", a.loads.Load(), b.loads.Load())
	}

	// A write the cache cannot see (another process) is seen once the entry reaches MaxAge.
	b.value.Store(11)
	clock.Advance(1999 * time.Millisecond)
	if got := fetch(t, c, "g:b", "k:b", &b); got != 10 {
		t.Fatalf("before max age b = %d, want the cached 10", got)
	}
	clock.Advance(time.Millisecond)
	if got := fetch(t, c, "g:b", "k:b", &b); got != 11 {
		t.Fatalf("at max age b = %d, want 11", got)
	}

	// Errors are never kept.
	boom := errors.New("database down")
	for range 2 {
		if _, err := c.Fetch(context.Background(), "test", "g:c", "k:c", func(context.Context) (any, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if _, ok := c.Get(context.Background(), "test", "k:c"); ok {
		t.Fatal("a failed load was cached")
	}
}

// A load that overlapped an invalidation returns its value but does not keep it: the value
// may predate the write.
func TestLoadOverlappingInvalidationIsNotKept(t *testing.T) {
	c := New(Options{})
	ctx := context.Background()
	v, err := c.Store(ctx, "g", "k", func(context.Context) (any, error) {
		if err := c.Invalidate(ctx, "other-group"); err != nil { // any invalidation fails loads in flight
			t.Fatal(err)
		}
		return "old", nil
	})
	if err != nil || v != "old" {
		t.Fatalf("Store = %v, %v", v, err)
	}
	if _, ok := c.Get(ctx, "test", "k"); ok {
		t.Fatal("a load that overlapped an invalidation was kept")
	}
	if _, err := c.Store(ctx, "g", "k", func(context.Context) (any, error) { return "new", nil }); err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Get(ctx, "test", "k"); !ok || v != "new" {
		t.Fatalf("Get = %v, %v", v, ok)
	}
}

func TestUpdateAndEviction(t *testing.T) {
	c := New(Options{MaxEntries: 3})
	ctx := context.Background()
	for i := range 10 {
		if _, err := c.Store(ctx, "g", fmt.Sprint("k", i), func(context.Context) (any, error) { return i, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if c.Len() != 3 {
		t.Fatalf("Len = %d, want the bound 3", c.Len())
	}
	if _, err := c.Store(ctx, "g", "u", func(context.Context) (any, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	c.Update("u", func(v any) any { return v.(int) + 1 })
	c.Update("absent", func(any) any { t.Fatal("Update called f for an absent key"); return nil })
	if v, ok := c.Get(ctx, "test", "u"); !ok || v != 2 {
		t.Fatalf("after Update: %v, %v", v, ok)
	}
	if err := c.Invalidate(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 0 {
		t.Fatalf("Len after invalidating the only group = %d", c.Len())
	}
}

func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	r := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// Two replicas sharing Redis: a write invalidated on one is seen by the other at its very
// next lookup, although the other held the entry; a Redis that cannot be read is a miss
// (the database answers), and one that cannot be written fails the write.
func TestReplicasShareGenerations(t *testing.T) {
	mr := miniredis.RunT(t)
	ctx := context.Background()
	a := New(Options{Redis: redisClient(t, mr.Addr()), MaxAge: time.Hour})
	b := New(Options{Redis: redisClient(t, mr.Addr()), MaxAge: time.Hour})
	var row counter
	row.value.Store(1)
	for range 3 {
		fetch(t, a, "service_account:1", "k", &row)
		fetch(t, b, "service_account:1", "k", &row)
	}
	if row.loads.Load() != 2 {
		t.Fatalf("loads = %d, want one per replica", row.loads.Load())
	}
	for i := range 5 {
		writer, other := a, b
		if i%2 == 1 {
			writer, other = b, a
		}
		row.value.Store(int64(100 + i))
		if err := writer.Invalidate(ctx, "service_account:1"); err != nil {
			t.Fatal(err)
		}
		if got := fetch(t, other, "service_account:1", "k", &row); got != int64(100+i) {
			t.Fatalf("round %d: the other replica answered %d after the write, want %d", i, got, 100+i)
		}
		fetch(t, writer, "service_account:1", "k", &row)
	}
	if ttl := mr.TTL(DefaultPrefix + "service_account:1"); ttl < time.Hour {
		t.Fatalf("generation key TTL = %v, want at least an hour", ttl)
	}

	// Redis down: hits become misses, writes fail (and still drop the local entries).
	loads := row.loads.Load()
	mr.Close()
	fetch(t, a, "service_account:1", "k", &row)
	if row.loads.Load() != loads+1 {
		t.Fatal("an entry was used although its generation could not be read")
	}
	fetch(t, a, "service_account:1", "k", &row)
	if row.loads.Load() != loads+2 {
		t.Fatal("a value loaded while Redis was down was kept")
	}
	if err := a.Invalidate(ctx, "service_account:1"); err == nil {
		t.Fatal("Invalidate succeeded with Redis down")
	}
}

// Inside a transaction (txhook.Begin, as store.DB.InTx does) an invalidation waits for the
// commit: until then the cached entry is still served, so a reader cannot refill the cache
// from the old row before the new one is visible. A rolled-back transaction never runs it.
func TestInvalidationWaitsForTheCommit(t *testing.T) {
	c := New(Options{})
	var row counter
	row.value.Store(1)
	fetch(t, c, "g", "k", &row)

	txCtx, commit := txhook.Begin(context.Background())
	row.value.Store(2) // the write, not yet visible to other readers
	if err := c.Invalidate(txCtx, "g"); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, c, "g", "k", &row); got != 1 || row.loads.Load() != 1 {
		t.Fatalf("before the commit: %d after %d loads; want the cached 1 and no new load", got, row.loads.Load())
	}
	if err := commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, c, "g", "k", &row); got != 2 {
		t.Fatalf("after the commit: %d, want 2", got)
	}

	rolledBack, _ := txhook.Begin(context.Background())
	if err := c.Invalidate(rolledBack, "g"); err != nil {
		t.Fatal(err)
	}
	loads := row.loads.Load()
	fetch(t, c, "g", "k", &row)
	if row.loads.Load() != loads {
		t.Fatal("an invalidation of a rolled-back transaction ran")
	}
}
