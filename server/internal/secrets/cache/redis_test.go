package cache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/secrets/cache"
)

// These tests run against a real Redis (GATEHOUSE_TEST_REDIS_URL): pub/sub reconnection is
// exactly what an in-process imitation would get wrong. (testenv names the same variable; it
// is not imported so these tests do not depend on the whole server compiling.)
const envRedisURL = "GATEHOUSE_TEST_REDIS_URL"

func randomID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// redisClient connects to the real test Redis with a client name that identifies its
// connections in CLIENT LIST.
func redisClient(t *testing.T, name string) *redis.Client {
	t.Helper()
	u := os.Getenv(envRedisURL)
	if u == "" {
		t.Fatalf("%s is not set: the cache's pub/sub tests need a real Redis (e.g. redis://127.0.0.1:6379/15)", envRedisURL)
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("parse %s: %v", envRedisURL, err)
	}
	opts.ClientName = name
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v", envRedisURL, err)
	}
	return c
}

// replica is one server's cache, with its own Redis client and metrics.
type replica struct {
	c    *cache.Cache[string]
	rdb  *redis.Client
	reg  *prometheus.Registry
	name string
}

func startReplica(t *testing.T, channel, name string) *replica {
	t.Helper()
	r := &replica{rdb: redisClient(t, name), reg: prometheus.NewPedanticRegistry(), name: name}
	r.c = newCache(t, cache.Options[string]{Redis: r.rdb, Channel: channel, Registerer: r.reg, PingEvery: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, r.c.Subscribed)
	return r
}

func twoReplicas(t *testing.T) (a, b *replica) {
	t.Helper()
	id := randomID(t)
	channel := "gatehouse-test:cache:" + id
	return startReplica(t, channel, "cache-test-a-"+id), startReplica(t, channel, "cache-test-b-"+id)
}

func TestCrossReplicaInvalidation(t *testing.T) {
	a, b := twoReplicas(t)
	la, lb := newLoader("v1"), newLoader("v1")
	mustGet(t, a.c, "billing/db", "", la.load)
	mustGet(t, b.c, "billing/db", "", lb.load)
	mustGet(t, b.c, "billing/db", "2", lb.load)
	mustGet(t, b.c, "billing/other", "", newLoader("x").load)

	// A write on replica A.
	la.value.Store("v2")
	lb.value.Store("v2")
	if err := a.c.Invalidate(context.Background(), "billing/db"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.c.Len() == 1 }) // only billing/other is left
	if v := mustGet(t, b.c, "billing/db", "", lb.load); v != "v2" {
		t.Fatalf("replica B served %q after the invalidation", v)
	}
	if v := mustGet(t, a.c, "billing/db", "", la.load); v != "v2" {
		t.Fatalf("replica A served %q after its own invalidation", v)
	}
	assertCounter(t, b.reg, "gatehouse_secrets_cache_invalidations_total", map[string]string{"origin": "remote"}, 1)
	// A's own message comes back on the channel and is ignored (it dropped locally already).
	time.Sleep(100 * time.Millisecond)
	assertCounter(t, a.reg, "gatehouse_secrets_cache_invalidations_total", map[string]string{"origin": "remote"}, 0)

	// Clear travels too.
	if err := a.c.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.c.Len() == 0 })
}

// TestCrossReplicaInvalidationRacingALoad: replica B is loading when replica A's write
// invalidates the name; B must not cache what it loaded.
func TestCrossReplicaInvalidationRacingALoad(t *testing.T) {
	a, b := twoReplicas(t)
	stale := newBlockingLoad("old")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = b.c.Fetch(context.Background(), "s", "", stale.load)
	}()
	<-stale.started
	if err := a.c.Invalidate(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		mfs, _ := b.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "gatehouse_secrets_cache_invalidations_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "remote" && m.GetCounter().GetValue() == 1 {
						return true
					}
				}
			}
		}
		return false
	})
	close(stale.release)
	<-done
	if b.c.Len() != 0 {
		t.Fatal("replica B cached a value loaded before replica A's invalidation")
	}
}

// TestResubscribeClears kills replica B's subscription connection (as a Redis restart would):
// B clears its cache, stores nothing until it has resubscribed, and then clears again, so an
// invalidation published while it was away cannot leave it serving a stale value.
func TestResubscribeClears(t *testing.T) {
	a, b := twoReplicas(t)
	lb := newLoader("v1")
	mustGet(t, b.c, "s", "", lb.load)
	if b.c.Len() != 1 {
		t.Fatal("not cached")
	}

	killSubscription(t, a.rdb, b.name)
	waitFor(t, func() bool {
		mfs, _ := b.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "gatehouse_secrets_cache_subscription_losses_total" {
				return mf.GetMetric()[0].GetCounter().GetValue() >= 1
			}
		}
		return false
	})
	// A write while B may still be away: B must not serve v1 afterwards.
	lb.value.Store("v2")
	_ = a.c.Invalidate(context.Background(), "s")
	waitFor(t, b.c.Subscribed)
	if v := mustGet(t, b.c, "s", "", lb.load); v != "v2" {
		t.Fatalf("after resubscribing replica B served %q", v)
	}
	if n := lb.calls.Load(); n != 2 {
		t.Fatalf("loader called %d times, want 2: the cache must be empty after resubscribing", n)
	}
	// And invalidation works on the new subscription.
	mustGet(t, b.c, "s", "", lb.load)
	if err := a.c.Invalidate(context.Background(), "s"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.c.Len() == 0 })
}

// killSubscription closes the pub/sub connection of the client named name, server side.
func killSubscription(t *testing.T, admin *redis.Client, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := admin.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.SplitSeq(list, "\n") {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["name"] != name || fields["sub"] == "0" || fields["sub"] == "" {
			continue
		}
		if err := admin.Do(ctx, "CLIENT", "KILL", "ID", fields["id"]).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d subscription connections named %s, want 1", killed, name)
	}
}

// TestOutageWindow puts a replica behind a TCP proxy to hold its Redis connection down for as
// long as the test needs: while down it serves nothing from cache and stores nothing, and a
// load that began while it was down is not cached once the subscription is back (it may
// predate an invalidation the replica never received).
func TestOutageWindow(t *testing.T) {
	a, _ := twoReplicas(t)
	channel := "gatehouse-test:cache:outage:" + randomID(t)
	p := newProxy(t, a.rdb.Options().Addr)
	opts := *a.rdb.Options()
	opts.Addr = p.addr()
	opts.MaxRetries = -1
	rdb := redis.NewClient(&opts)
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewPedanticRegistry()
	c := newCache(t, cache.Options[string]{Redis: rdb, Channel: channel, Registerer: reg, PingEvery: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, c.Subscribed)

	l := newLoader("v1")
	mustGet(t, c, "s", "", l.load)
	p.setDown(true)
	waitFor(t, func() bool { return !c.Subscribed() })
	if c.Len() != 0 {
		t.Fatal("entries survived the loss of the subscription")
	}
	mustGet(t, c, "s", "", l.load)
	mustGet(t, c, "s", "", l.load)
	if n := l.calls.Load(); n != 3 {
		t.Fatalf("loader called %d times, want 3: nothing may be cached while the subscription is down", n)
	}

	stale := newBlockingLoad("old")
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		_, _ = c.Fetch(context.Background(), "t", "", stale.load)
	}()
	<-stale.started
	p.setDown(false)
	waitFor(t, c.Subscribed)
	close(stale.release)
	<-loaded
	if c.Len() != 0 {
		t.Fatal("a load that began during the outage was cached after resubscribing")
	}
	mustGet(t, c, "s", "", l.load)
	if c.Len() != 1 {
		t.Fatal("caching did not resume after resubscribing")
	}
}

// proxy forwards TCP to Redis and can drop every connection and refuse new ones.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { _ = ln.Close(); p.setDown(true) })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = in.Close()
			continue
		}
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
		go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
	}
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}
