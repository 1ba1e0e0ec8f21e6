package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/throttled/throttled/v2"
)

// NewMemory returns a Limiter that keeps its state in this process, for a
// single replica or when Redis is not configured. It holds at most maxKeys
// keys (DefaultMaxKeys when maxKeys <= 0), evicting the least recently used.
//
// The GCRA itself is throttled/v2's. Its own memstore is not used: it needs
// hashicorp/golang-lru v0.5, which is not among our dependencies, ignores
// expiry (idle keys stay until evicted) and reads time.Now directly, which
// would make tests sleep.
func NewMemory(maxKeys int, opts ...MemoryOption) Limiter {
	cfg := newMemoryConfig(opts)
	return &memoryLimiter{
		store: &gcraStore{kv: newMemKV(maxKeys, cfg.now)},
		seed:  maphash.MakeSeed(),
	}
}

// stripes is the number of key-striped mutexes. Serialising requests for the
// same key means throttled's compare-and-swap never loses a race, so it never
// gives up with its "failed after N attempts" error under a burst of
// concurrent requests for one key (a common attack shape); different keys
// rarely share a stripe.
const stripes = 64

type memoryLimiter struct {
	store *gcraStore
	seed  maphash.Seed
	locks [stripes]sync.Mutex
}

func (m *memoryLimiter) lock(key string) *sync.Mutex {
	return &m.locks[maphash.String(m.seed, key)%stripes]
}

func (m *memoryLimiter) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	if err := l.validate(); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("ratelimit: allow: %w", err)
	}
	// Limiters are cheap structs; building one per call keeps no state per
	// Limit and lets every call choose its own.
	gcra, err := throttled.NewGCRARateLimiterCtx(m.store, throttled.RateQuota{
		MaxRate: throttled.PerDuration(l.Rate, l.Period),
		// throttled admits MaxBurst+1 requests at once; redis_rate admits Burst.
		MaxBurst: l.Burst - 1,
	})
	if err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrInvalidLimit, err)
	}
	mu := m.lock(key)
	mu.Lock()
	limited, r, err := gcra.RateLimitCtx(ctx, key, 1)
	mu.Unlock()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: allow: %w", err)
	}
	res := Result{Allowed: !limited, Remaining: max(r.Remaining, 0), ResetAfter: max(r.ResetAfter, 0)}
	if limited {
		res.RetryAfter = max(r.RetryAfter, 0)
	}
	return res, nil
}

func (m *memoryLimiter) Reset(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ratelimit: reset: %w", err)
	}
	mu := m.lock(key)
	mu.Lock()
	defer mu.Unlock()
	m.store.kv.mu.Lock()
	defer m.store.kv.mu.Unlock()
	m.store.kv.deleteLocked(key)
	return nil
}

// gcraStore adapts memKV to throttled's GCRAStoreCtx: one theoretical arrival
// time (nanoseconds) per key, expiring when it no longer limits anything.
type gcraStore struct {
	kv *memKV
}

var _ throttled.GCRAStoreCtx = (*gcraStore)(nil)

func (g *gcraStore) GetWithTime(_ context.Context, key string) (int64, time.Time, error) {
	g.kv.mu.Lock()
	defer g.kv.mu.Unlock()
	now := g.kv.now()
	if e, ok := g.kv.getLocked(key, now); ok {
		return e.val, now, nil
	}
	return -1, now, nil
}

func (g *gcraStore) SetIfNotExistsWithTTL(_ context.Context, key string, value int64, ttl time.Duration) (bool, error) {
	g.kv.mu.Lock()
	defer g.kv.mu.Unlock()
	now := g.kv.now()
	if _, ok := g.kv.getLocked(key, now); ok {
		return false, nil
	}
	g.storeLocked(key, value, ttl, now)
	return true, nil
}

func (g *gcraStore) CompareAndSwapWithTTL(_ context.Context, key string, old, value int64, ttl time.Duration) (bool, error) {
	g.kv.mu.Lock()
	defer g.kv.mu.Unlock()
	now := g.kv.now()
	e, ok := g.kv.getLocked(key, now)
	if !ok || e.val != old {
		return false, nil
	}
	g.storeLocked(key, value, ttl, now)
	return true, nil
}

// storeLocked keeps value for ttl. A state that expires now is the same as no
// state (a fresh key), so it is not kept at all.
func (g *gcraStore) storeLocked(key string, value int64, ttl time.Duration, now time.Time) {
	if ttl <= 0 {
		g.kv.deleteLocked(key)
		return
	}
	g.kv.setLocked(key, value, now.Add(ttl))
}
