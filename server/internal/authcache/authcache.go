// Package authcache keeps the rows every authenticated request reads (its session, and the
// user that cookie authentication and GET /me load) in process memory, as decorators over
// session.Store and users.Store, without weakening SEC-12: a revoked, rotated or changed
// session or user is refused on the very next request, on every replica.
//
// Within the process, every write made through the decorators drops the entries of the user
// it concerns before it returns, and a read that overlapped a write is not stored (an epoch
// counter, read before the load and checked before the store), so a stale row can never be
// put back. Expiry is not cached: the Manager checks idle and absolute expiry against the
// clock on every hit.
//
// Across replicas (Redis configured) each user has a generation counter in Redis. A write
// that changes what another replica may have cached (revocation, rotation, any user update)
// increments it before returning; every hit costs one Redis GET and is used only if the
// generation still equals the one read when the entry was loaded. The order makes this
// exact: a writer commits then increments; a loader reads the generation before the row it
// stores (for sessions, whose user is known only after a first read, the row is read again
// after the generation), so an entry is never newer in generation than in content. Pub/sub
// would be cheaper but asynchronous: another replica could accept a revoked session for the
// few milliseconds the message takes.
//
// Touch and refresh-token consumption only extend a session; they drop the local entries but
// do not increment the generation: another replica's older copy can only expire earlier,
// and it touches the session itself within the touch interval, which reloads it.
//
// Without Redis the cache is exact only within one process, so the composition root turns it
// off for PostgreSQL without Redis. Writes made by another process (the admin CLI on SQLite)
// are seen when an entry reaches MaxAge.
package authcache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/txhook"
)

// Defaults for Options.
const (
	DefaultMaxEntries = 10000
	DefaultMaxAge     = 10 * time.Second
	DefaultPrefix     = "gatehouse:authgen:"
)

// Options tune a Cache. Zero values take the defaults.
type Options struct {
	// MaxEntries bounds the number of cached rows (sessions by ID, sessions by token hash,
	// users); beyond it an arbitrary entry is evicted.
	MaxEntries int
	// MaxAge is the longest an entry is used without reading the database again. It bounds
	// only what the decorators cannot see: writes by another process without Redis.
	MaxAge time.Duration
	// Redis, when set, carries the per-user generations shared by replicas.
	Redis redis.Cmdable
	// Prefix of the generation keys in Redis.
	Prefix string
	// Now is the clock (for MaxAge). Default time.Now.
	Now func() time.Time
}

// Kinds of entry, the "kind" label of the metrics.
const (
	kindSession = "session"
	kindUser    = "user"
)

type entry struct {
	userID string
	value  any // session.Session or users.User
	remote string
	loaded time.Time
}

// Cache is the shared state of the decorators. It is safe for concurrent use.
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
	byUser  map[string]map[string]struct{}

	counts        [4]atomic.Int64 // session hit, miss; user hit, miss
	lookups       *prometheus.CounterVec
	invalidations prometheus.Counter
	redisErrors   prometheus.Counter
}

// New returns an empty cache.
func New(o Options) *Cache {
	c := &Cache{maxEntries: o.MaxEntries, maxAge: o.MaxAge, rdb: o.Redis, prefix: o.Prefix, now: o.Now,
		entries: map[string]*entry{}, byUser: map[string]map[string]struct{}{}}
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
		Name: "gatehouse_authcache_lookups_total",
		Help: "Session and user lookups through the authentication cache, by kind and result (hit or miss).",
	}, []string{"kind", "result"})
	c.invalidations = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_authcache_invalidations_total",
		Help: "Writes that dropped a user's cached session and user entries.",
	})
	c.redisErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "gatehouse_authcache_redis_errors_total",
		Help: "Failed Redis generation reads or increments (a failed read is a miss).",
	})
	for _, k := range []string{kindSession, kindUser} {
		for _, r := range []string{"hit", "miss"} {
			c.lookups.WithLabelValues(k, r)
		}
	}
	return c
}

// Register adds the cache's metrics to r.
func (c *Cache) Register(r prometheus.Registerer) error {
	for _, col := range []prometheus.Collector{c.lookups, c.invalidations, c.redisErrors} {
		if err := r.Register(col); err != nil {
			return fmt.Errorf("register auth cache metrics: %w", err)
		}
	}
	return nil
}

// Stats are the counters, for tests and the benchmark note.
type Stats struct{ SessionHits, SessionMisses, UserHits, UserMisses int }

// Len is the number of cached entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// get returns the entry under key if it may be used now.
func (c *Cache) get(ctx context.Context, kind, key string) (*entry, bool) {
	c.mu.Lock()
	e := c.entries[key]
	if e != nil && c.now().Sub(e.loaded) >= c.maxAge {
		c.removeLocked(key)
		e = nil
	}
	c.mu.Unlock()
	if e != nil && c.rdb != nil {
		g, err := c.generation(ctx, e.userID)
		if err != nil || g != e.remote {
			e = nil
		}
	}
	c.count(kind, e != nil)
	return e, e != nil
}

// begin is called before a load; put stores its result only if nothing was invalidated since.
func (c *Cache) begin() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
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
	keys := c.byUser[e.userID]
	if keys == nil {
		keys = map[string]struct{}{}
		c.byUser[e.userID] = keys
	}
	keys[key] = struct{}{}
}

func (c *Cache) removeLocked(key string) {
	e := c.entries[key]
	if e == nil {
		return
	}
	delete(c.entries, key)
	if keys := c.byUser[e.userID]; keys != nil {
		delete(keys, key)
		if len(keys) == 0 {
			delete(c.byUser, e.userID)
		}
	}
}

// dropLocal removes every entry of the user and fails loads in flight. userID "" drops
// everything (the user could not be determined).
func (c *Cache) dropLocal(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	c.invalidations.Inc()
	if userID == "" {
		clear(c.entries)
		clear(c.byUser)
		return
	}
	for key := range c.byUser[userID] {
		delete(c.entries, key)
	}
	delete(c.byUser, userID)
}

// invalidate drops the user's entries here and, with Redis, on every replica, once the
// database write is visible: at once, or after the commit when the write is part of a longer
// transaction (store.DB.InTx), so that no reader refills the cache from the old row in
// between. It must succeed before the write is reported done.
func (c *Cache) invalidate(ctx context.Context, userID string) error {
	return txhook.Defer(ctx, func(ctx context.Context) error { return c.invalidateNow(ctx, userID) })
}

// dropLocalAfterCommit is dropLocal once the write is visible (see invalidate).
func (c *Cache) dropLocalAfterCommit(ctx context.Context, userID string) error {
	return txhook.Defer(ctx, func(context.Context) error { c.dropLocal(userID); return nil })
}

func (c *Cache) invalidateNow(ctx context.Context, userID string) error {
	c.dropLocal(userID)
	if c.rdb == nil || userID == "" {
		return nil
	}
	key := c.prefix + userID
	_, err := c.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, key)
		p.Expire(ctx, key, c.keyTTL)
		return nil
	})
	if err != nil {
		c.redisErrors.Inc()
		return fmt.Errorf("auth cache: publish invalidation: %w", err)
	}
	return nil
}

// generation reads the user's generation ("" when there is none yet).
func (c *Cache) generation(ctx context.Context, userID string) (string, error) {
	g, err := c.rdb.Get(ctx, c.prefix+userID).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		c.redisErrors.Inc()
		return "", fmt.Errorf("auth cache: read generation: %w", err)
	}
	return g, nil
}

// Stats returns the lookup counters.
func (c *Cache) Stats() Stats {
	return Stats{SessionHits: int(c.counts[0].Load()), SessionMisses: int(c.counts[1].Load()),
		UserHits: int(c.counts[2].Load()), UserMisses: int(c.counts[3].Load())}
}

func (c *Cache) count(kind string, hit bool) {
	i := 0
	if kind == kindUser {
		i = 2
	}
	result := "hit"
	if !hit {
		i++
		result = "miss"
	}
	c.counts[i].Add(1)
	c.lookups.WithLabelValues(kind, result).Inc()
}
