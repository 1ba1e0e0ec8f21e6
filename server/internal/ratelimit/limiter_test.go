package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/server/internal/ratelimit"
)

// limiterBackend builds a fresh Limiter with its own state, and a function
// that moves that backend's time forward.
type limiterBackend struct {
	name string
	new  func(t *testing.T) (ratelimit.Limiter, testClock)
	// limit is the one the conformance cases use: a production login limit
	// where the test controls the clock, a faster one where it has to sleep
	// (still slow enough that a loaded machine finishes a burst well within
	// one emission interval).
	limit ratelimit.Limit
	// slack is how much real time may pass between calls: zero for the
	// backends whose clock the test controls.
	slack time.Duration
}

// The emission intervals (6 s, 500 ms) are exact in binary floating point,
// so the Redis script's arithmetic in seconds is exact and Remaining agrees
// with the in-memory backend's integer nanoseconds.
var (
	loginLimit    = ratelimit.Limit{Rate: 10, Period: time.Minute, Burst: 10}
	wallTimeLimit = ratelimit.Limit{Rate: 4, Period: 2 * time.Second, Burst: 4}
)

func limiterBackends() []limiterBackend {
	return []limiterBackend{
		{name: "memory", new: func(t *testing.T) (ratelimit.Limiter, testClock) {
			clock := newFakeClock()
			return ratelimit.NewMemory(1000, ratelimit.WithClock(clock.Now)), clock
		}, limit: loginLimit},
		{name: "miniredis", new: func(t *testing.T) (ratelimit.Limiter, testClock) {
			m := newMiniredis(t)
			c := newClient(t, m.URL())
			return ratelimit.NewRedis(c, uniquePrefix(t, c)), m
		}, limit: loginLimit},
		{name: "redis", limit: wallTimeLimit, slack: 50 * time.Millisecond, new: func(t *testing.T) (ratelimit.Limiter, testClock) {
			url, clock := realRedis(t)
			c := newClient(t, url)
			return ratelimit.NewRedis(c, uniquePrefix(t, c)), clock
		}},
	}
}

func allow(t *testing.T, l ratelimit.Limiter, key string, lim ratelimit.Limit) ratelimit.Result {
	t.Helper()
	r, err := l.Allow(t.Context(), key, lim)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return r
}

// exhaust uses up key's burst.
func exhaust(t *testing.T, l ratelimit.Limiter, key string, lim ratelimit.Limit) {
	t.Helper()
	for i := range lim.Burst {
		if r := allow(t, l, key, lim); !r.Allowed {
			t.Fatalf("request %d of the burst refused: %+v", i+1, r)
		}
	}
}

// TestLimiterConformance_SEC05 runs the same expectations on every backend:
// the in-memory GCRA, redis_rate on miniredis, and redis_rate on the real
// Redis of GATEHOUSE_TEST_REDIS_URL (miniredis on the wall clock when unset).
// SEC-05
func TestLimiterConformance_SEC05(t *testing.T) {
	t.Parallel() // most of its time is spent sleeping on the real-Redis clock
	for _, b := range limiterBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range limiterConformanceCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					l, clock := b.new(t)
					tc.run(t, l, b.limit, clock, b.slack)
				})
			}
		})
	}
}

var limiterConformanceCases = []struct {
	name string
	run  func(t *testing.T, l ratelimit.Limiter, lim ratelimit.Limit, clock testClock, slack time.Duration)
}{
	{"burst then refuse then recover", func(t *testing.T, l ratelimit.Limiter, lim ratelimit.Limit, clock testClock, slack time.Duration) {
		interval := lim.Period / time.Duration(lim.Rate)
		start := clock.Now()
		for i := range lim.Burst {
			r := allow(t, l, "login:ip:192.0.2.1", lim)
			if !r.Allowed || r.Remaining != lim.Burst-1-i || r.RetryAfter != 0 {
				t.Fatalf("request %d: got %+v, want allowed with %d remaining", i+1, r, lim.Burst-1-i)
			}
		}
		r := allow(t, l, "login:ip:192.0.2.1", lim)
		if r.Allowed || r.Remaining != 0 {
			t.Fatalf("request past the burst: got %+v, want refused", r)
		}
		// On a real clock the burst itself took some time, which already
		// counts towards the next request.
		elapsed := clock.Now().Sub(start) + time.Millisecond
		if !within(r.RetryAfter, interval-elapsed, interval+time.Millisecond) {
			t.Fatalf("RetryAfter %s, want about %s (one emission interval)", r.RetryAfter, interval)
		}
		if !within(r.ResetAfter, lim.Period-elapsed, lim.Period+time.Millisecond) {
			t.Fatalf("ResetAfter %s, want about %s", r.ResetAfter, lim.Period)
		}

		clock.Advance(r.RetryAfter + slack/2)
		if r := allow(t, l, "login:ip:192.0.2.1", lim); !r.Allowed || r.Remaining != 0 {
			t.Fatalf("after RetryAfter: got %+v, want one more allowed and none remaining", r)
		}
		if r := allow(t, l, "login:ip:192.0.2.1", lim); r.Allowed {
			t.Fatalf("right after the recovered request: got %+v, want refused", r)
		}

		clock.Advance(lim.Period + slack/2)
		if r := allow(t, l, "login:ip:192.0.2.1", lim); !r.Allowed || r.Remaining != lim.Burst-1 {
			t.Fatalf("after a full period: got %+v, want a full burst again", r)
		}
	}},
	{"keys are independent", func(t *testing.T, l ratelimit.Limiter, lim ratelimit.Limit, _ testClock, _ time.Duration) {
		exhaust(t, l, "login:ip:192.0.2.1", lim)
		if r := allow(t, l, "login:ip:192.0.2.1", lim); r.Allowed {
			t.Fatalf("exhausted key: got %+v", r)
		}
		for _, other := range []string{"login:ip:192.0.2.2", "token:ip:192.0.2.1", ratelimit.KeyAccount("login", "a@example.com")} {
			if r := allow(t, l, other, lim); !r.Allowed || r.Remaining != lim.Burst-1 {
				t.Fatalf("%s: got %+v, want a full burst", other, r)
			}
		}
	}},
	{"refused requests are not counted", func(t *testing.T, l ratelimit.Limiter, lim ratelimit.Limit, clock testClock, slack time.Duration) {
		// A client that keeps hammering must still be let back in at the
		// configured rate, not pushed further out by every refusal.
		exhaust(t, l, "k", lim)
		var last ratelimit.Result
		for range 10 {
			if last = allow(t, l, "k", lim); last.Allowed {
				t.Fatalf("hammering: got %+v, want refused", last)
			}
		}
		clock.Advance(last.RetryAfter + slack/2)
		if r := allow(t, l, "k", lim); !r.Allowed {
			t.Fatalf("after RetryAfter: got %+v, want allowed", r)
		}
	}},
	{"reset", func(t *testing.T, l ratelimit.Limiter, lim ratelimit.Limit, _ testClock, _ time.Duration) {
		exhaust(t, l, "k", lim)
		if err := l.Reset(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		if r := allow(t, l, "k", lim); !r.Allowed || r.Remaining != lim.Burst-1 {
			t.Fatalf("after Reset: got %+v, want a full burst", r)
		}
		if err := l.Reset(t.Context(), "never-used"); err != nil {
			t.Fatalf("Reset of an unknown key: %v", err)
		}
	}},
	{"invalid limits", func(t *testing.T, l ratelimit.Limiter, _ ratelimit.Limit, _ testClock, _ time.Duration) {
		for _, lim := range []ratelimit.Limit{
			{},
			{Rate: 0, Period: time.Minute, Burst: 1},
			{Rate: 1, Period: 0, Burst: 1},
			{Rate: 1, Period: time.Minute, Burst: 0},
			{Rate: -1, Period: time.Minute, Burst: 1},
			{Rate: 2000, Period: time.Second, Burst: 1}, // 0.5 ms interval
		} {
			if r, err := l.Allow(t.Context(), "k", lim); !errors.Is(err, ratelimit.ErrInvalidLimit) || r.Allowed {
				t.Errorf("Allow with %+v: got %+v, %v; want ErrInvalidLimit", lim, r, err)
			}
		}
	}},
	{"cancelled context", func(t *testing.T, l ratelimit.Limiter, lim ratelimit.Limit, _ testClock, _ time.Duration) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if r, err := l.Allow(ctx, "k", lim); !errors.Is(err, context.Canceled) || r.Allowed {
			t.Fatalf("got %+v, %v; want context.Canceled and not allowed", r, err)
		}
	}},
	{"concurrent requests admit exactly the burst", func(t *testing.T, l ratelimit.Limiter, _ ratelimit.Limit, _ testClock, _ time.Duration) {
		lim := ratelimit.Limit{Rate: 10, Period: time.Hour, Burst: 10}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 2 {
					r, err := l.Allow(t.Context(), "login:ip:198.51.100.7", lim)
					if err != nil {
						t.Error(err)
						return
					}
					if r.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != int64(lim.Burst) {
			t.Fatalf("%d of 64 concurrent requests allowed, want exactly %d", got, lim.Burst)
		}
	}},
}

// TestRedisLimiterSharedBetweenReplicas_SEC05: two replicas (two clients, two
// Limiters) over one Redis draw from the same bucket.
// SEC-05
func TestRedisLimiterSharedBetweenReplicas_SEC05(t *testing.T) {
	for name, url := range map[string]func(t *testing.T) string{
		"miniredis": func(t *testing.T) string { return newMiniredis(t).URL() },
		"redis": func(t *testing.T) string {
			u, _ := realRedis(t)
			return u
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := url(t)
			c1, c2 := newClient(t, u), newClient(t, u)
			prefix := uniquePrefix(t, c1)
			replicas := []ratelimit.Limiter{ratelimit.NewRedis(c1, prefix), ratelimit.NewRedis(c2, prefix)}
			lim := ratelimit.Limit{Rate: 6, Period: time.Hour, Burst: 6}
			for i := range lim.Burst {
				r := allow(t, replicas[i%2], "login:ip:203.0.113.9", lim)
				if !r.Allowed || r.Remaining != lim.Burst-1-i {
					t.Fatalf("request %d on replica %d: got %+v", i+1, i%2+1, r)
				}
			}
			for i, l := range replicas {
				if r := allow(t, l, "login:ip:203.0.113.9", lim); r.Allowed {
					t.Fatalf("replica %d after the shared burst: got %+v, want refused", i+1, r)
				}
			}
		})
	}
}

// TestRedisLimiterErrorsAreReturned: an unreachable Redis is an error with a
// refusing zero Result, never a silent "allowed".
func TestRedisLimiterErrorsAreReturned(t *testing.T) {
	l := ratelimit.NewRedis(deadRedis(t), "p:")
	r, err := l.Allow(t.Context(), "k", loginLimit)
	if err == nil || r != (ratelimit.Result{}) {
		t.Fatalf("got %+v, %v; want an error and a zero Result", r, err)
	}
	if err := l.Reset(t.Context(), "k"); err == nil {
		t.Fatal("Reset on a dead Redis: want an error")
	}
}

// TestMemoryLimiterBoundedLRU_SEC05: the in-memory backend never holds more
// than maxKeys keys, and evicts the least recently used one.
// SEC-05
func TestMemoryLimiterBoundedLRU_SEC05(t *testing.T) {
	clock := newFakeClock()
	l := ratelimit.NewMemory(3, ratelimit.WithClock(clock.Now))
	lim := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 1}

	for i := range 1000 {
		allow(t, l, fmt.Sprintf("login:ip:10.0.%d.%d", i/256, i%256), lim)
		if n, limit := ratelimit.MemoryKeys(l); n > 3 || limit != 3 {
			t.Fatalf("after %d keys: %d held, bound %d; want at most 3", i+1, n, limit)
		}
	}

	exhaust(t, l, "a", lim)
	exhaust(t, l, "b", lim)
	exhaust(t, l, "c", lim)
	if r := allow(t, l, "a", lim); r.Allowed { // touches a: b is now the oldest
		t.Fatalf("a: got %+v, want refused", r)
	}
	exhaust(t, l, "d", lim) // evicts b
	if r := allow(t, l, "a", lim); r.Allowed {
		t.Fatalf("recently used a was evicted: got %+v", r)
	}
	if r := allow(t, l, "b", lim); !r.Allowed {
		t.Fatalf("least recently used b was kept: got %+v", r)
	}
}

func TestMemoryLimiterDefaultBoundAndExpiry(t *testing.T) {
	clock := newFakeClock()
	l := ratelimit.NewMemory(0, ratelimit.WithClock(clock.Now))
	if _, limit := ratelimit.MemoryKeys(l); limit != ratelimit.DefaultMaxKeys {
		t.Fatalf("maxKeys 0: bound %d, want DefaultMaxKeys", limit)
	}
	lim := ratelimit.Limit{Rate: 1, Period: time.Minute, Burst: 1}
	exhaust(t, l, "k", lim)
	clock.Advance(time.Minute)
	// The state has expired: the key reads as fresh.
	if r := allow(t, l, "k", lim); !r.Allowed || r.ResetAfter != time.Minute {
		t.Fatalf("after expiry: got %+v", r)
	}
}
