// Package accesscache keeps what every secrets request reads to decide access — the
// service-account token behind a bearer token (internal/serviceaccount) and the secret access
// policies of its subject (internal/secrets) — in process memory, without weakening immediate
// revocation: a revoked or deleted token or service account, or a created or deleted policy,
// is refused or applied on the very next request, on every replica sharing Redis.
//
// The design is internal/authcache's. Entries belong to a group (a service account, a role),
// and every write that changes what a group's entries say invalidates the group after it has
// committed and before it is reported done.
//
// Within the process, Invalidate drops the group's entries, and a load that overlapped any
// invalidation is not stored (an epoch counter, read before the load and checked before the
// store), so a stale row can never be put back.
//
// Across replicas (Redis configured) each group has a generation counter in Redis
// (<prefix><group>, by default gatehouse:authgen:<group>). Invalidate increments it; every
// hit costs one Redis GET and is used only if the generation still equals the one read before
// the entry was loaded. A writer commits then increments; a loader reads the generation before
// the rows it stores; so an entry is never newer in generation than in content, and a request
// that starts after a write has returned misses. A failed Redis read is a miss (the database
// answers), a failed increment fails the write.
//
// Without Redis, invalidation is exact only within the process. Entries are therefore used at
// most MaxAge (default 2 s) after they were loaded: that bounds how long another replica on
// the same PostgreSQL database without Redis (or another process, such as an administrator's
// SQL) can go unseen. Expiry is never cached: callers check token expiry against the clock on
// every hit.
package accesscache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/txhook"
)

// Defaults for Options.
const (
	DefaultMaxEntries = 10000
	DefaultMaxAge     = 2 * time.Second
	DefaultPrefix     = "gatehouse:authgen:"
)

// Options tune a Cache. Zero values take the defaults.
type Options struct {
	// MaxEntries bounds the number of entries; beyond it an arbitrary entry is evicted.
	MaxEntries int
	// MaxAge is the longest an entry is used without reading the database again.
	MaxAge time.Duration
	// Redis, when set, carries the per-group generations shared by replicas.
	Redis redis.Cmdable
	// Prefix of the generation keys in Redis.
	Prefix string
	// Now is the clock (for MaxAge). Default time.Now.
	Now func() time.Time
}

type entry struct {
	group  string
	value  any
	gen    string // the group's Redis generation read before the load
	loaded time.Time
}

// Cache is safe for concurrent use.
type Cache struct {
	maxEntries int
	maxAge     time.Duration
	rdb        redis.Cmdable
	prefix     string
	keyTTL     time.Duration
	now        func() time.Time

	mu      sync.Mutex
	epoch   uint64
	entries map[string]*entry
	byGroup map[string]map[string]struct{}

	lookups       *prometheus.CounterVec
	invalidations prometheus.Counter
	redisErrors   prometheus.Counter
}

// New returns an empty cache.
func New(o Options) *Cache {
	c := &Cache{maxEntries: o.MaxEntries, maxAge: o.MaxAge, rdb: o.Redis, prefix: o.Prefix, now: o.Now,
		entries: map[string]*entry{}, byGroup: map[string]map[string]struct{}{}}
	if c.maxEntries <= 0 {
		c.maxEntries = DefaultMaxEntries
	}
	if c.maxAge <= 0 {
		c.maxAge = DefaultMaxAge
	}
	if c.prefix == "" {
		c.prefix = DefaultPrefix
	}
	if c.now == nil {
		c.now = time.Now
	}
	// A generation key must outlive every entry that recorded it: were it to expire, an
	// entry loaded before the key existed (generation "") would match again.
	c.keyTTL = max(time.Hour, 4*c.maxAge)
	c.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_accesscache_lookups_total",
		Help: "Service-account token and secret policy lookups through the access cache, by kind and result (hit or miss).",
	}, []string{"kind", "result"})
	c.invalidations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_accesscache_invalidations_total",
		Help: "Writes that dropped a service account's or role's cached tokens and policies.",
	})
	c.redisErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_accesscache_redis_errors_total",
		Help: "Failed Redis generation reads or increments of the access cache (a failed read is a miss).",
	})
	return c
}

// Register adds the cache's metrics to r.
func (c *Cache) Register(r prometheus.Registerer) error {
	for _, col := range []prometheus.Collector{c.lookups, c.invalidations, c.redisErrors} {
		if err := r.Register(col); err != nil {
			return fmt.Errorf("register access cache metrics: %w", err)
		}
	}
	return nil
}

// Len is the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Get returns the value under key if it may be used now. kind labels the metrics.
func (c *Cache) Get(ctx context.Context, kind, key string) (any, bool) {
	c.mu.Lock()
	e := c.entries[key]
	if e != nil && c.now().Sub(e.loaded) >= c.maxAge {
		c.removeLocked(key)
		e = nil
	}
	c.mu.Unlock()
	if e != nil && c.rdb != nil {
		g, err := c.generation(ctx, e.group)
		if err != nil || g != e.gen {
			e = nil
		}
	}
	result := "hit"
	if e == nil {
		result = "miss"
	}
	c.lookups.WithLabelValues(kind, result).Inc()
	if e == nil {
		return nil, false
	}
	return e.value, true
}

// Store loads a value of group and keeps it under key, unless an invalidation overlapped the
// load or the group's generation could not be read (then it is returned but not kept). The
// load must read the database after Store is called: its epoch and generation are taken first.
// Errors are returned and never kept.
func (c *Cache) Store(ctx context.Context, group, key string, load func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	epoch := c.epoch
	c.mu.Unlock()
	gen, cacheable := "", true
	if c.rdb != nil {
		var err error
		if gen, err = c.generation(ctx, group); err != nil {
			cacheable = false
		}
	}
	v, err := load(ctx)
	if err != nil || !cacheable {
		return v, err
	}
	c.put(key, &entry{group: group, value: v, gen: gen, loaded: c.now()}, epoch)
	return v, nil
}

// Fetch returns the value under key, or loads and keeps it (Store). kind labels the metrics.
func (c *Cache) Fetch(ctx context.Context, kind, group, key string, load func(context.Context) (any, error)) (any, error) {
	if v, ok := c.Get(ctx, kind, key); ok {
		return v, nil
	}
	return c.Store(ctx, group, key, load)
}

// Update replaces the value under key, if any, with f's result, in this process only: for
// fields no other replica needs exactly (a token's last use). Loads in flight are not
// affected.
func (c *Cache) Update(key string, f func(any) any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		c.entries[key] = &entry{group: e.group, value: f(e.value), gen: e.gen, loaded: e.loaded}
	}
}

func (c *Cache) put(key string, e *entry, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if _, ok := c.entries[key]; !ok {
		for len(c.entries) >= c.maxEntries {
			for k := range c.entries { // map order is arbitrary: a random victim
				c.removeLocked(k)
				break
			}
		}
	}
	c.removeLocked(key)
	c.entries[key] = e
	keys := c.byGroup[e.group]
	if keys == nil {
		keys = map[string]struct{}{}
		c.byGroup[e.group] = keys
	}
	keys[key] = struct{}{}
}

func (c *Cache) removeLocked(key string) {
	e := c.entries[key]
	if e == nil {
		return
	}
	delete(c.entries, key)
	if keys := c.byGroup[e.group]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(c.byGroup, e.group)
		}
	}
}

// dropLocal removes the group's entries and fails loads in flight.
func (c *Cache) dropLocal(group string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.invalidations.Inc()
	for key := range c.byGroup[group] {
		delete(c.entries, key)
	}
	delete(c.byGroup, group)
}

// Invalidate drops the group's entries here and, with Redis, on every replica. Call it after
// the write (or after a failed one that may have happened: any error but "not found"), and
// report the write done only if it returns nil. Inside a longer transaction (store.DB.InTx)
// it waits for the commit, so that no reader refills the cache from the old row in between.
func (c *Cache) Invalidate(ctx context.Context, group string) error {
	return txhook.Defer(ctx, func(ctx context.Context) error { return c.invalidateNow(ctx, group) })
}

func (c *Cache) invalidateNow(ctx context.Context, group string) error {
	c.dropLocal(group)
	if c.rdb == nil {
		return nil
	}
	key := c.prefix + group
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, key)
		p.Expire(ctx, key, c.keyTTL)
		return nil
	})
	if err != nil {
		c.redisErrors.Inc()
		return fmt.Errorf("access cache: publish invalidation: %w", err)
	}
	return nil
}

// generation reads the group's generation ("" when there is none yet).
func (c *Cache) generation(ctx context.Context, group string) (string, error) {
	g, err := c.rdb.Get(ctx, c.prefix+group).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		c.redisErrors.Inc()
		return "", fmt.Errorf("access cache: read generation: %w", err)
	}
	return g, nil
}
