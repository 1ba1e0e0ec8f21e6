package cache_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/secrets/cache"
)

// loader counts calls and returns a fixed value.
type loader struct {
	calls atomic.Int32
	value atomic.Value // string
	err   error
}

func newLoader(v string) *loader {
	l := &loader{}
	l.value.Store(v)
	return l
}

func (l *loader) load(context.Context) (string, error) {
	l.calls.Add(1)
	if l.err != nil {
		return "", l.err
	}
	v, _ := l.value.Load().(string)
	return v, nil
}

func newCache(t *testing.T, opts cache.Options[string]) *cache.Cache[string] {
	t.Helper()
	c, err := cache.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustGet(t *testing.T, c *cache.Cache[string], name, variant string, load func(context.Context) (string, error)) string {
	t.Helper()
	v, err := c.Fetch(context.Background(), name, variant, load)
	if err != nil {
		t.Fatalf("Get %s/%s: %v", name, variant, err)
	}
	return v
}

func TestHitMissAndTTL(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	reg := prometheus.NewPedanticRegistry()
	c := newCache(t, cache.Options[string]{Now: clock.Now, Registerer: reg})
	l := newLoader("v1")

	for range 3 {
		if v := mustGet(t, c, "app/db", "", l.load); v != "v1" {
			t.Fatalf("got %q", v)
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Fatalf("loader called %d times, want 1", n)
	}
	clock.Advance(cache.DefaultTTL - time.Second)
	mustGet(t, c, "app/db", "", l.load)
	if n := l.calls.Load(); n != 1 {
		t.Fatalf("loader called %d times before the TTL, want 1", n)
	}
	clock.Advance(time.Second) // exactly TTL after the load started: expired
	l.value.Store("v2")
	if v := mustGet(t, c, "app/db", "", l.load); v != "v2" {
		t.Fatalf("after the TTL got %q, want v2", v)
	}
	assertCounter(t, reg, "gatehouse_secrets_cache_hits_total", nil, 3)
	assertCounter(t, reg, "gatehouse_secrets_cache_misses_total", nil, 2)
	assertCounter(t, reg, "gatehouse_secrets_cache_evictions_total", map[string]string{"reason": "expired"}, 1)
	assertCounter(t, reg, "gatehouse_secrets_cache_entries", nil, 1)
	assertCounter(t, reg, "gatehouse_secrets_cache_subscribed", nil, 1)
}

// TestTTLCountsFromLoadStart: a slow load does not buy its value extra life.
func TestTTLCountsFromLoadStart(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	c := newCache(t, cache.Options[string]{Now: clock.Now, TTL: time.Minute})
	calls := 0
	slow := func(context.Context) (string, error) {
		calls++
		clock.Advance(50 * time.Second)
		return "v", nil
	}
	mustGet(t, c, "s", "", slow)
	clock.Advance(10 * time.Second)
	mustGet(t, c, "s", "", slow)
	if calls != 2 {
		t.Fatalf("loader called %d times, want 2: the entry must expire a minute after its load began", calls)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	boom := errors.New("backend unavailable")
	l := newLoader("")
	l.err = boom
	for range 3 {
		if _, err := c.Fetch(context.Background(), "s", "", l.load); !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
	}
	if n := l.calls.Load(); n != 3 {
		t.Fatalf("loader called %d times, want 3 (errors must not be cached)", n)
	}
	if c.Len() != 0 {
		t.Fatalf("%d entries after errors", c.Len())
	}
}

func TestInvalidateDropsEveryVariant(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := newCache(t, cache.Options[string]{Registerer: reg})
	cur, v3, other := newLoader("cur"), newLoader("v3"), newLoader("other")
	mustGet(t, c, "app/db", "", cur.load)
	mustGet(t, c, "app/db", "3", v3.load)
	mustGet(t, c, "app/dbx", "", other.load)
	if err := c.Invalidate(context.Background(), "app/db"); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, "app/db", "", cur.load)
	mustGet(t, c, "app/db", "3", v3.load)
	mustGet(t, c, "app/dbx", "", other.load)
	if cur.calls.Load() != 2 || v3.calls.Load() != 2 || other.calls.Load() != 1 {
		t.Fatalf("calls cur=%d v3=%d other=%d, want 2 2 1", cur.calls.Load(), v3.calls.Load(), other.calls.Load())
	}
	assertCounter(t, reg, "gatehouse_secrets_cache_evictions_total", map[string]string{"reason": "invalidated"}, 2)
	assertCounter(t, reg, "gatehouse_secrets_cache_invalidations_total", map[string]string{"origin": "local"}, 1)
}

func TestSingleFlight(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	release := make(chan struct{})
	var calls atomic.Int32
	load := func(context.Context) (string, error) {
		calls.Add(1)
		<-release
		return "v", nil
	}
	const readers = 50
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	for range readers {
		wg.Go(func() {
			v, err := c.Fetch(context.Background(), "s", "", load)
			if err == nil && v != "v" {
				err = fmt.Errorf("got %q", v)
			}
			errs <- err
		})
	}
	waitFor(t, func() bool { return calls.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // give every reader time to join the flight
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("loader called %d times for %d concurrent misses, want 1", n, readers)
	}
}

// blockingLoad starts a load that reports when it began and returns value when released.
type blockingLoad struct {
	started chan struct{}
	release chan struct{}
	value   string
}

func newBlockingLoad(v string) *blockingLoad {
	return &blockingLoad{started: make(chan struct{}), release: make(chan struct{}), value: v}
}

func (b *blockingLoad) load(context.Context) (string, error) {
	close(b.started)
	<-b.release
	return b.value, nil
}

// TestInvalidationRacingALoad: a load that began before an invalidation answers its waiting
// readers but must not be cached; a reader arriving after the invalidation must not join it.
func TestInvalidationRacingALoad(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	stale := newBlockingLoad("old")
	got := make(chan string, 1)
	go func() {
		v, _ := c.Fetch(context.Background(), "s", "", stale.load)
		got <- v
	}()
	<-stale.started
	if err := c.Invalidate(context.Background(), "s"); err != nil { // the write happened here
		t.Fatal(err)
	}

	fresh := newLoader("new")
	after := make(chan string, 1)
	go func() {
		v, _ := c.Fetch(context.Background(), "s", "", fresh.load)
		after <- v
	}()
	if v := <-after; v != "new" {
		t.Fatalf("a read after the invalidation got %q: it joined the stale load", v)
	}
	close(stale.release)
	if v := <-got; v != "old" {
		t.Fatalf("the reader that started before the invalidation got %q", v)
	}
	// The stale result did not overwrite the fresh entry, and is not cached.
	if v := mustGet(t, c, "s", "", newLoader("unexpected").load); v != "new" {
		t.Fatalf("cached %q, want new", v)
	}
}

func TestInvalidationRacingALoadNothingElseCached(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	stale := newBlockingLoad("old")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Fetch(context.Background(), "s", "", stale.load)
	}()
	<-stale.started
	if err := c.Invalidate(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	close(stale.release)
	<-done
	if c.Len() != 0 {
		t.Fatal("the load that raced the invalidation was cached")
	}
	l := newLoader("new")
	if v := mustGet(t, c, "s", "", l.load); v != "new" || l.calls.Load() != 1 {
		t.Fatalf("got %q after %d loads", v, l.calls.Load())
	}
}

func TestClearRacingALoad(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	stale := newBlockingLoad("old")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Fetch(context.Background(), "other", "", stale.load)
	}()
	<-stale.started
	if err := c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stale.release)
	<-done
	if c.Len() != 0 {
		t.Fatal("a load that raced Clear was cached")
	}
}

// An invalidation of another name does not stop a load from being cached.
func TestInvalidationOfAnotherNameDoesNotBlock(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	b := newBlockingLoad("v")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Fetch(context.Background(), "a", "", b.load)
	}()
	<-b.started
	if err := c.Invalidate(context.Background(), "b"); err != nil {
		t.Fatal(err)
	}
	close(b.release)
	<-done
	if c.Len() != 1 {
		t.Fatalf("%d entries, want 1", c.Len())
	}
}

func TestCallerCancelDoesNotCancelSharedLoad(t *testing.T) {
	c := newCache(t, cache.Options[string]{})
	b := newBlockingLoad("v")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Fetch(ctx, "s", "", b.load)
		errc <- err
	}()
	<-b.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(b.release)
	waitFor(t, func() bool { return c.Len() == 1 })
}

func TestSizeBounds(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := newCache(t, cache.Options[string]{MaxEntries: 3, Registerer: reg})
	loads := map[string]*loader{}
	get := func(name string) {
		if loads[name] == nil {
			loads[name] = newLoader(name)
		}
		mustGet(t, c, name, "", loads[name].load)
	}
	get("a")
	get("b")
	get("c")
	get("a") // a is now the most recently used; b the least
	get("d") // evicts b
	if c.Len() != 3 {
		t.Fatalf("%d entries, want 3", c.Len())
	}
	get("a")
	get("c")
	get("d")
	get("b")
	if loads["a"].calls.Load() != 1 || loads["c"].calls.Load() != 1 || loads["d"].calls.Load() != 1 || loads["b"].calls.Load() != 2 {
		t.Fatal("the least recently used entry was not the one evicted")
	}
	assertCounter(t, reg, "gatehouse_secrets_cache_evictions_total", map[string]string{"reason": "size"}, 2)

	bc := newCache(t, cache.Options[string]{MaxBytes: 10, Size: func(s string) int { return len(s) }})
	mustGet(t, bc, "x", "", newLoader("123456").load)
	mustGet(t, bc, "y", "", newLoader("123456").load) // 12 bytes > 10: x goes
	if bc.Len() != 1 {
		t.Fatalf("%d entries under a 10-byte bound, want 1", bc.Len())
	}
	big := newLoader(strings.Repeat("z", 11))
	mustGet(t, bc, "big", "", big.load)
	mustGet(t, bc, "big", "", big.load)
	if big.calls.Load() != 2 {
		t.Fatal("a value larger than MaxBytes was cached")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []cache.Options[string]{
		{TTL: -1}, {MaxEntries: -1}, {MaxBytes: 10}, {LoadTimeout: -1},
	} {
		if _, err := cache.New(o); err == nil {
			t.Fatalf("New(%+v) accepted", o)
		}
	}
	reg := prometheus.NewPedanticRegistry()
	newCache(t, cache.Options[string]{Registerer: reg})
	if _, err := cache.New(cache.Options[string]{Registerer: reg}); err == nil {
		t.Fatal("registering the metrics twice on one registry was accepted")
	}
}

// TestRedisDownMeansNoCaching: with Redis configured but unreachable, nothing is stored (TTL
// alone could not bound the staleness of missed invalidations), and Invalidate still drops
// locally while reporting that the others were not told.
func TestRedisDownMeansNoCaching(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	reg := prometheus.NewPedanticRegistry()
	c := newCache(t, cache.Options[string]{Redis: rdb, Channel: "t:" + t.Name(), Registerer: reg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	l := newLoader("v")
	mustGet(t, c, "s", "", l.load)
	mustGet(t, c, "s", "", l.load)
	if l.calls.Load() != 2 || c.Subscribed() {
		t.Fatalf("loads %d, subscribed %v: nothing may be cached without the subscription", l.calls.Load(), c.Subscribed())
	}
	assertCounter(t, reg, "gatehouse_secrets_cache_subscribed", nil, 0)
	if err := c.Invalidate(context.Background(), "s"); !errors.Is(err, cache.ErrPublish) {
		t.Fatalf("Invalidate = %v, want ErrPublish", err)
	}
	assertCounter(t, reg, "gatehouse_secrets_cache_publish_errors_total", nil, 1)
}

func assertCounter(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			var got float64
			if m.GetCounter() != nil {
				got = m.GetCounter().GetValue()
			} else {
				got = m.GetGauge().GetValue()
			}
			if got != want {
				t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
			}
			return
		}
	}
	if want != 0 {
		t.Fatalf("%s%v not found", name, labels)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
