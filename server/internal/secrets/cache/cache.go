// Package cache keeps recently read secret values in each replica's memory, so a hot secret is
// not fetched from its backend (and, for the db backend, decrypted) on every read.
//
// Guarantees:
//
//   - An entry lives at most TTL (default 5 min), counted from when its load started, so a
//     replica that misses an invalidation serves a stale value for at most TTL.
//   - Concurrent misses of one key share one load (single-flight).
//   - Errors are never cached: every failed load is retried by the next read.
//   - Invalidate(name) drops every cached variant of name here and, when Redis is configured,
//     publishes the name so every other replica drops it too.
//   - A load that was in flight when its name was invalidated (or the cache cleared) returns its
//     value to the readers that were waiting for it but does not cache it: the value may
//     predate the write that caused the invalidation. Each load snapshots a sequence number;
//     each invalidation records the sequence number at which it happened; a load stores its
//     result only if no invalidation of its name (and no clear) happened after its snapshot.
//   - With Redis configured, the cache only stores values while its subscription is confirmed.
//     When the subscription breaks (Redis restarts, network) the cache is cleared and stops
//     storing; when the subscription is confirmed again it is cleared once more (loads that
//     started while it was down may predate invalidations it never heard) and resumes.
//     Invalidations published while a replica was disconnected are therefore never lost on
//     it: it held nothing they could apply to. Without Redis, TTL alone bounds staleness.
//
// Values are secrets. The cache never logs them or puts them in errors; it cannot wipe them
// from memory (Go may have copied them, and the garbage collector frees them when it likes),
// and does not pretend to.
package cache

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Defaults for zero Options fields.
const (
	DefaultTTL         = 5 * time.Minute
	DefaultMaxEntries  = 10_000
	DefaultLoadTimeout = 30 * time.Second
	DefaultChannel     = "gatehouse:secrets:invalidate"
	DefaultPingEvery   = 15 * time.Second
)

// ErrPublish means the local entries were dropped but other replicas could not be told; they
// drop theirs when the TTL ends.
var ErrPublish = errors.New("cache: publishing the invalidation to other replicas failed")

// Options configures a Cache.
type Options[V any] struct {
	// TTL bounds an entry's life; 0 means DefaultTTL.
	TTL time.Duration
	// MaxEntries bounds the number of entries (least recently used go first); 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// MaxBytes, with Size, bounds the summed size of entries; 0 means no byte bound. A value
	// larger than MaxBytes is never cached.
	MaxBytes int64
	// Size reports an entry's size in bytes for MaxBytes.
	Size func(V) int
	// LoadTimeout bounds a load. A load runs detached from the cancellation of the reader that
	// started it, since other readers may be waiting for it; 0 means DefaultLoadTimeout.
	LoadTimeout time.Duration

	// Redis carries invalidations between replicas; nil keeps them local.
	Redis *redis.Client
	// Channel is the pub/sub channel; empty means DefaultChannel. Replicas sharing secrets
	// must use the same channel (pub/sub ignores the Redis database number).
	Channel string
	// PingEvery is how often an idle subscription is checked; 0 means DefaultPingEvery. A ping
	// unanswered for another PingEvery counts as a broken subscription.
	PingEvery time.Duration

	// Registerer receives the metrics; nil leaves them unregistered.
	Registerer prometheus.Registerer
	// Logger reports subscription trouble (never values); nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type key struct{ name, variant string }

type entry[V any] struct {
	key     key
	value   V
	size    int
	expires time.Time
	elem    *list.Element
}

// Cache is a TTL + LRU cache of secret values keyed by secret name and a variant chosen by the
// caller (for example "" for the current version and "v7" for version 7). It is safe for
// concurrent use.
type Cache[V any] struct {
	ttl, loadTimeout, pingEvery time.Duration
	maxEntries                  int
	maxBytes                    int64
	size                        func(V) int
	rdb                         *redis.Client
	channel                     string
	origin                      string
	log                         *slog.Logger
	now                         func() time.Time
	m                           *metrics
	group                       singleflight.Group

	mu        sync.Mutex
	entries   map[key]*entry[V]
	byName    map[string]map[key]*entry[V]
	lru       *list.List // front: most recently used; values are *entry[V]
	bytes     int64
	seq       uint64            // bumped by every invalidation and clear
	clearedAt uint64            // seq of the last clear
	dropped   map[string]uint64 // name → seq of its last invalidation, while loads are in flight
	pending   map[uint64]int    // snapshot seq → loads in flight that took it
	cacheable bool              // false while a configured subscription is down
}

// New builds a cache. With Redis configured it stores nothing until Run has confirmed the
// subscription, so Run must be started.
func New[V any](opts Options[V]) (*Cache[V], error) {
	switch {
	case opts.TTL < 0, opts.MaxEntries < 0, opts.MaxBytes < 0, opts.LoadTimeout < 0, opts.PingEvery < 0:
		return nil, errors.New("cache: negative option")
	case opts.MaxBytes > 0 && opts.Size == nil:
		return nil, errors.New("cache: MaxBytes needs Size")
	}
	c := &Cache[V]{
		ttl:         cmpOr(opts.TTL, DefaultTTL),
		loadTimeout: cmpOr(opts.LoadTimeout, DefaultLoadTimeout),
		pingEvery:   cmpOr(opts.PingEvery, DefaultPingEvery),
		maxEntries:  cmpOr(opts.MaxEntries, DefaultMaxEntries),
		maxBytes:    opts.MaxBytes,
		size:        opts.Size,
		rdb:         opts.Redis,
		channel:     cmpOr(opts.Channel, DefaultChannel),
		log:         opts.Logger,
		now:         opts.Now,
		m:           newMetrics(),
		entries:     make(map[key]*entry[V]),
		byName:      make(map[string]map[key]*entry[V]),
		lru:         list.New(),
		dropped:     make(map[string]uint64),
		pending:     make(map[uint64]int),
		cacheable:   opts.Redis == nil,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("cache: origin id: %w", err)
	}
	c.origin = hex.EncodeToString(id[:])
	if opts.Registerer != nil {
		if err := c.m.register(opts.Registerer); err != nil {
			return nil, err
		}
	}
	if opts.Redis == nil {
		c.m.subscribed.Set(1) // nothing to subscribe to: the TTL is the whole story
	}
	return c, nil
}

func cmpOr[T int | int64 | time.Duration | string](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Fetch returns the cached value of (name, variant) or loads it. Concurrent misses of one key
// share one call of load; its error is returned to all of them and cached for none. ctx only
// bounds this caller's wait.
func (c *Cache[V]) Fetch(ctx context.Context, name, variant string, load func(context.Context) (V, error)) (V, error) {
	k := key{name, variant}
	now := c.now()
	c.mu.Lock()
	if e := c.entries[k]; e != nil {
		if now.Before(e.expires) {
			c.lru.MoveToFront(e.elem)
			v := e.value
			c.mu.Unlock()
			c.m.hits.Inc()
			return v, nil
		}
		c.removeLocked(e)
		c.m.evictions.WithLabelValues("expired").Inc()
	}
	// Readers after an invalidation must not join a load that started before it.
	flight := fmt.Sprintf("%d\x00%d\x00%s\x00%s", c.clearedAt, c.dropped[name], name, variant)
	c.mu.Unlock()
	c.m.misses.Inc()

	ch := c.group.DoChan(flight, func() (any, error) { return c.load(ctx, k, load) })
	select {
	case r := <-ch:
		if r.Err != nil {
			var zero V
			return zero, r.Err
		}
		v, _ := r.Val.(V) // load returns a V (a nil interface V fails the assertion: zero is right)
		return v, nil
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// load runs one shared load and caches its result if nothing invalidated it meanwhile.
func (c *Cache[V]) load(ctx context.Context, k key, load func(context.Context) (V, error)) (V, error) {
	c.mu.Lock()
	snap := c.seq
	c.pending[snap]++
	c.mu.Unlock()

	start := c.now()
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.loadTimeout)
	v, err := load(lctx)
	cancel()

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending[snap]--; c.pending[snap] == 0 {
		delete(c.pending, snap)
	}
	if err == nil && c.cacheable && c.clearedAt <= snap && c.dropped[k.name] <= snap {
		c.storeLocked(k, v, start.Add(c.ttl))
	}
	c.pruneDroppedLocked()
	return v, err
}

func (c *Cache[V]) storeLocked(k key, v V, expires time.Time) {
	size := 0
	if c.size != nil {
		size = c.size(v)
		if c.maxBytes > 0 && int64(size) > c.maxBytes {
			return
		}
	}
	if old := c.entries[k]; old != nil {
		c.removeLocked(old)
	}
	e := &entry[V]{key: k, value: v, size: size, expires: expires}
	e.elem = c.lru.PushFront(e)
	c.entries[k] = e
	if c.byName[k.name] == nil {
		c.byName[k.name] = make(map[key]*entry[V])
	}
	c.byName[k.name][k] = e
	c.bytes += int64(size)
	for len(c.entries) > c.maxEntries || (c.maxBytes > 0 && c.bytes > c.maxBytes) {
		oldest, _ := c.lru.Back().Value.(*entry[V])
		c.removeLocked(oldest)
		c.m.evictions.WithLabelValues("size").Inc()
	}
	c.m.entries.Set(float64(len(c.entries)))
}

func (c *Cache[V]) removeLocked(e *entry[V]) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	if m := c.byName[e.key.name]; m != nil {
		delete(m, e.key)
		if len(m) == 0 {
			delete(c.byName, e.key.name)
		}
	}
	c.bytes -= int64(e.size)
	var zero V
	e.value = zero // drop the reference early; see the package note on wiping
	c.m.entries.Set(float64(len(c.entries)))
}

// pruneDroppedLocked forgets invalidations that no load in flight can be older than: a load
// whose snapshot is at or after an invalidation may store, so the record no longer matters.
func (c *Cache[V]) pruneDroppedLocked() {
	if len(c.pending) == 0 {
		clear(c.dropped)
		return
	}
	if len(c.dropped) < 256 {
		return
	}
	oldest := ^uint64(0)
	for s := range c.pending {
		oldest = min(oldest, s)
	}
	for name, at := range c.dropped {
		if at <= oldest {
			delete(c.dropped, name)
		}
	}
}

// dropLocal removes every variant of name and blocks loads in flight for it from storing.
func (c *Cache[V]) dropLocal(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	if len(c.pending) > 0 {
		c.dropped[name] = c.seq
	}
	for _, e := range c.byName[name] {
		c.removeLocked(e)
		c.m.evictions.WithLabelValues("invalidated").Inc()
	}
}

// clearLocal drops everything and blocks every load in flight from storing.
func (c *Cache[V]) clearLocal() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
}

func (c *Cache[V]) clearLocked() {
	c.seq++
	c.clearedAt = c.seq
	n := len(c.entries)
	clear(c.entries)
	clear(c.byName)
	c.lru.Init()
	c.bytes = 0
	c.m.evictions.WithLabelValues("cleared").Add(float64(n))
	c.m.entries.Set(0)
}

// Invalidate drops every cached variant of name on this replica, then tells the others. The
// local drop always happens; an error (wrapping ErrPublish) means other replicas keep their
// copies until the TTL ends.
func (c *Cache[V]) Invalidate(ctx context.Context, name string) error {
	c.dropLocal(name)
	c.m.invalidations.WithLabelValues("local").Inc()
	return c.publish(ctx, message{Origin: c.origin, Name: name})
}

// Clear drops everything on this replica and tells the others (after a master key change, or
// by an operator).
func (c *Cache[V]) Clear(ctx context.Context) error {
	c.clearLocal()
	c.m.invalidations.WithLabelValues("local").Inc()
	return c.publish(ctx, message{Origin: c.origin, All: true})
}

// Subscribed reports whether the cache is storing values: always without Redis, with Redis
// only while the invalidation subscription is confirmed.
func (c *Cache[V]) Subscribed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cacheable
}

// Len is the number of entries, expired ones included until they are next touched.
func (c *Cache[V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// message is what travels on the channel: names of secrets, never values.
type message struct {
	Origin string `json:"origin"`
	Name   string `json:"name,omitempty"`
	All    bool   `json:"all,omitempty"`
}

func (c *Cache[V]) publish(ctx context.Context, m message) error {
	if c.rdb == nil {
		return nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	if err := c.rdb.Publish(ctx, c.channel, raw).Err(); err != nil {
		c.m.publishErrors.Inc()
		return fmt.Errorf("%w: %w", ErrPublish, err)
	}
	return nil
}

// Run keeps the cross-replica subscription alive until ctx ends. Without Redis it returns at
// once. Start it in its own goroutine right after New.
func (c *Cache[V]) Run(ctx context.Context) {
	if c.rdb == nil {
		return
	}
	const minBackoff, maxBackoff = 100 * time.Millisecond, 5 * time.Second
	backoff := minBackoff
	for ctx.Err() == nil {
		upFor := c.subscribe(ctx)
		c.setDown()
		if ctx.Err() != nil {
			return
		}
		if upFor > time.Minute {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// subscribe runs one subscription until it breaks and reports how long it was confirmed.
func (c *Cache[V]) subscribe(ctx context.Context) time.Duration {
	ps := c.rdb.Subscribe(ctx, c.channel)
	defer ps.Close()
	// go-redis does not end a blocked read when ctx ends (a graceful stop waited for the ping
	// period or longer): closing the subscription does.
	defer context.AfterFunc(ctx, func() { _ = ps.Close() })()
	var (
		upSince      time.Time
		awaitingPong bool
	)
	upFor := func() time.Duration {
		if upSince.IsZero() {
			return 0
		}
		return time.Since(upSince)
	}
	for {
		msg, err := ps.ReceiveTimeout(ctx, c.pingEvery)
		if err != nil {
			if ctx.Err() != nil {
				return upFor()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !awaitingPong {
				if err := ps.Ping(ctx); err == nil {
					awaitingPong = true
					continue
				}
			}
			// Redis errors name addresses, never the password.
			c.log.Warn("secret cache: invalidation subscription lost; caching paused until it is back", "error", err.Error())
			return upFor()
		}
		awaitingPong = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" && m.Channel == c.channel {
				c.setUp()
				upSince = time.Now()
			}
		case *redis.Message:
			c.receive(m.Payload)
		}
	}
}

func (c *Cache[V]) receive(payload string) {
	var m message
	if err := json.Unmarshal([]byte(payload), &m); err != nil || (m.Name == "" && !m.All) {
		c.log.Warn("secret cache: ignored a malformed invalidation message")
		return
	}
	if m.Origin == c.origin {
		return // dropped locally before publishing
	}
	if m.All {
		c.clearLocal()
	} else {
		c.dropLocal(m.Name)
	}
	c.m.invalidations.WithLabelValues("remote").Inc()
}

// setUp starts caching after a confirmed (re)subscription. It clears first: loads that began
// while the subscription was down may predate invalidations this replica never received.
func (c *Cache[V]) setUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearLocked()
	c.cacheable = true
	c.m.subscribed.Set(1)
}

// setDown clears the cache and stops storing until the next confirmed subscription.
func (c *Cache[V]) setDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cacheable {
		c.m.subscriptionLosses.Inc()
	}
	c.clearLocked()
	c.cacheable = false
	c.m.subscribed.Set(0)
}

type metrics struct {
	hits, misses       prometheus.Counter
	evictions          *prometheus.CounterVec
	invalidations      *prometheus.CounterVec
	publishErrors      prometheus.Counter
	subscriptionLosses prometheus.Counter
	entries            prometheus.Gauge
	subscribed         prometheus.Gauge
}

func newMetrics() *metrics {
	return &metrics{
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_secrets_cache_hits_total", Help: "Secret reads answered from this replica's cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_secrets_cache_misses_total", Help: "Secret reads that had to load from the backend (or join a load in flight).",
		}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_secrets_cache_evictions_total",
			Help: "Entries removed, by reason: expired (TTL), size (bound), invalidated (write/rotate/delete), cleared (subscription change or Clear).",
		}, []string{"reason"}),
		invalidations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_secrets_cache_invalidations_total", Help: "Invalidations applied, by origin: local or remote (another replica, via Redis).",
		}, []string{"origin"}),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_secrets_cache_publish_errors_total", Help: "Invalidations that could not be published to other replicas (they expire by TTL).",
		}),
		subscriptionLosses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_secrets_cache_subscription_losses_total", Help: "Times the Redis invalidation subscription broke (the cache was cleared each time).",
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_secrets_cache_entries", Help: "Entries held in this replica's secret cache.",
		}),
		subscribed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_secrets_cache_subscribed", Help: "1 when cross-replica invalidation is live (or Redis is not configured), 0 while caching is paused.",
		}),
	}
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, col := range []prometheus.Collector{m.hits, m.misses, m.evictions, m.invalidations, m.publishErrors,
		m.subscriptionLosses, m.entries, m.subscribed} {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("cache: register metrics: %w", err)
		}
	}
	return nil
}
