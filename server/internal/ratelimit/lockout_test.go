package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/ratelimit"
)

// lockoutBackend builds a Lockout with fresh state under a policy, and a
// function that moves that backend's time forward.
type lockoutBackend struct {
	name string
	// policy is the one the conformance cases run with: the production
	// defaults where the test controls the clock, a millisecond-scale copy
	// where it has to sleep.
	policy ratelimit.LockoutPolicy
	slack  time.Duration
	new    func(t *testing.T, p ratelimit.LockoutPolicy) (*ratelimit.Lockout, func(time.Duration))
}

// realRedisPolicy keeps the real-Redis run short (well under 2 s) while
// keeping the defaults' shape: a doubling that reaches its cap, a quiet period
// longer than the cap, an account threshold above one pair's failures.
var realRedisPolicy = ratelimit.LockoutPolicy{
	PairThreshold:    3,
	PairBaseLock:     150 * time.Millisecond,
	PairMaxLock:      450 * time.Millisecond,
	QuietPeriod:      600 * time.Millisecond,
	AccountThreshold: 20,
	AccountWindow:    10 * time.Second,
	AccountLock:      300 * time.Millisecond,
}

func lockoutBackends() []lockoutBackend {
	return []lockoutBackend{
		{name: "memory", policy: ratelimit.DefaultLockoutPolicy(),
			new: func(t *testing.T, p ratelimit.LockoutPolicy) (*ratelimit.Lockout, func(time.Duration)) {
				clock := newFakeClock()
				lo, err := ratelimit.NewMemoryLockout(10_000, p, ratelimit.WithClock(clock.Now))
				if err != nil {
					t.Fatal(err)
				}
				return lo, clock.Advance
			}},
		{name: "miniredis", policy: ratelimit.DefaultLockoutPolicy(),
			new: func(t *testing.T, p ratelimit.LockoutPolicy) (*ratelimit.Lockout, func(time.Duration)) {
				m := newMiniredis(t)
				c := newClient(t, m.URL())
				lo, err := ratelimit.NewRedisLockout(c, uniquePrefix(t, c), p)
				if err != nil {
					t.Fatal(err)
				}
				return lo, m.Advance
			}},
		{name: "redis", policy: realRedisPolicy, slack: 50 * time.Millisecond,
			new: func(t *testing.T, p ratelimit.LockoutPolicy) (*ratelimit.Lockout, func(time.Duration)) {
				url, clock := realRedis(t)
				c := newClient(t, url)
				lo, err := ratelimit.NewRedisLockout(c, uniquePrefix(t, c), p)
				if err != nil {
					t.Fatal(err)
				}
				return lo, clock.Advance
			}},
	}
}

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
	ip1   = "192.0.2.1"
	ip2   = "198.51.100.2"
)

func failure(t *testing.T, lo *ratelimit.Lockout, account, ip string) (bool, time.Duration) {
	t.Helper()
	lockedNow, retry, err := lo.Failure(t.Context(), account, ip)
	if err != nil {
		t.Fatalf("Failure(%s, %s): %v", account, ip, err)
	}
	return lockedNow, retry
}

func check(t *testing.T, lo *ratelimit.Lockout, account, ip string) (bool, time.Duration) {
	t.Helper()
	locked, retry, err := lo.Check(t.Context(), account, ip)
	if err != nil {
		t.Fatalf("Check(%s, %s): %v", account, ip, err)
	}
	return locked, retry
}

func success(t *testing.T, lo *ratelimit.Lockout, account, ip string) {
	t.Helper()
	if err := lo.Success(t.Context(), account, ip); err != nil {
		t.Fatalf("Success(%s, %s): %v", account, ip, err)
	}
}

// failBelow records n failures that must not lock anything.
func failBelow(t *testing.T, lo *ratelimit.Lockout, account, ip string, n int) {
	t.Helper()
	for i := range n {
		if lockedNow, retry := failure(t, lo, account, ip); lockedNow || retry != 0 {
			t.Fatalf("failure %d of %d: lockedNow=%v retry=%s, want no lock", i+1, n, lockedNow, retry)
		}
	}
}

// lockPair records the failures that lock the pair and returns the lock's
// duration; only the last failure may report lockedNow.
func lockPair(t *testing.T, lo *ratelimit.Lockout, account, ip string) time.Duration {
	t.Helper()
	failBelow(t, lo, account, ip, lo.Policy().PairThreshold-1)
	lockedNow, retry := failure(t, lo, account, ip)
	if !lockedNow || retry <= 0 {
		t.Fatalf("threshold failure: lockedNow=%v retry=%s, want a new lock", lockedNow, retry)
	}
	return retry
}

func wantLocked(t *testing.T, lo *ratelimit.Lockout, account, ip string, hi time.Duration) {
	t.Helper()
	if locked, retry := check(t, lo, account, ip); !locked || retry <= 0 || retry > hi {
		t.Fatalf("Check(%s, %s): locked=%v retry=%s, want locked for at most %s", account, ip, locked, retry, hi)
	}
}

func wantUnlocked(t *testing.T, lo *ratelimit.Lockout, account, ip string) {
	t.Helper()
	if locked, retry := check(t, lo, account, ip); locked || retry != 0 {
		t.Fatalf("Check(%s, %s): locked=%v retry=%s, want unlocked", account, ip, locked, retry)
	}
}

// TestLockoutConformance_SEC05 runs the lockout design on every backend: in
// memory with an injected clock, on miniredis with its clock moved, and on
// the real Redis of GATEHOUSE_TEST_REDIS_URL with millisecond durations.
// SEC-05
func TestLockoutConformance_SEC05(t *testing.T) {
	t.Parallel() // most of its time is spent sleeping on the real-Redis clock
	for _, b := range lockoutBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range lockoutConformanceCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					lo, advance := b.new(t, b.policy)
					tc.run(t, lo, advance, b.slack)
				})
			}
		})
	}
}

var lockoutConformanceCases = []struct {
	name string
	run  func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration)
}{
	{"pair locks double up to the cap", func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration) {
		p := lo.Policy()
		var want, got []time.Duration
		for d := p.PairBaseLock; ; d = min(d*2, p.PairMaxLock) {
			want = append(want, d)
			if len(want) > 1 && d == p.PairMaxLock && want[len(want)-2] == p.PairMaxLock {
				break // the cap, twice
			}
		}
		for range want {
			d := lockPair(t, lo, alice, ip1)
			got = append(got, d)
			wantLocked(t, lo, alice, ip1, d)
			advance(d + slack)
			wantUnlocked(t, lo, alice, ip1)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("lock durations %v, want %v", got, want)
		}
	}},
	{"a lock expires on its own", func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration) {
		p := lo.Policy()
		d := lockPair(t, lo, alice, ip1)
		wantLocked(t, lo, alice, ip1, d)
		advance(d / 2)
		wantLocked(t, lo, alice, ip1, d-d/2)
		advance(d - d/2 + slack)
		wantUnlocked(t, lo, alice, ip1)
		// The count started again from zero when the lock was set.
		failBelow(t, lo, alice, ip1, p.PairThreshold-1)
	}},
	{"failures during a lock neither count nor extend it", func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration) {
		p := lo.Policy()
		d := lockPair(t, lo, alice, ip1)
		for range p.PairThreshold + 1 {
			if lockedNow, retry := failure(t, lo, alice, ip1); lockedNow || retry <= 0 || retry > d {
				t.Fatalf("failure while locked: lockedNow=%v retry=%s, want the running lock (%s)", lockedNow, retry, d)
			}
		}
		advance(d + slack)
		wantUnlocked(t, lo, alice, ip1)
		// Only one step up the progression, however hard the lock was hammered.
		if d2 := lockPair(t, lo, alice, ip1); d2 != min(2*d, p.PairMaxLock) {
			t.Fatalf("next lock %s, want %s", d2, min(2*d, p.PairMaxLock))
		}
	}},
	{"success clears the count and the doubling", func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration) {
		p := lo.Policy()
		failBelow(t, lo, alice, ip1, p.PairThreshold-1)
		success(t, lo, alice, ip1)
		failBelow(t, lo, alice, ip1, p.PairThreshold-1)
		if lockedNow, _ := failure(t, lo, alice, ip1); !lockedNow {
			t.Fatal("threshold reached after the success's reset: want a lock")
		}
		advance(p.PairBaseLock + slack)
		success(t, lo, alice, ip1)
		if d := lockPair(t, lo, alice, ip1); d != p.PairBaseLock {
			t.Fatalf("lock after a success: %s, want the base lock %s again", d, p.PairBaseLock)
		}
	}},
	{"a pair lock spares other IPs and other accounts", func(t *testing.T, lo *ratelimit.Lockout, _ func(time.Duration), _ time.Duration) {
		lockPair(t, lo, alice, ip1)
		wantLocked(t, lo, alice, ip1, lo.Policy().PairMaxLock)
		wantUnlocked(t, lo, alice, ip2) // the real user elsewhere
		wantUnlocked(t, lo, bob, ip1)   // the per-IP limiter, not the lockout, covers one IP's spraying
		failBelow(t, lo, alice, ip2, 1)
	}},
	{"the account-wide threshold locks every IP for a short while", func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration) {
		p := lo.Policy()
		// Spread the failures over addresses, each staying below the pair
		// threshold, as a distributed attacker would.
		perIP := p.PairThreshold - 1
		for i := range p.AccountThreshold {
			lockedNow, retry := failure(t, lo, alice, fmt.Sprintf("203.0.113.%d", i/perIP+1))
			last := i == p.AccountThreshold-1
			if lockedNow != last || (last && retry != p.AccountLock) || (!last && retry != 0) {
				t.Fatalf("failure %d of %d: lockedNow=%v retry=%s", i+1, p.AccountThreshold, lockedNow, retry)
			}
		}
		wantLocked(t, lo, alice, ip1, p.AccountLock) // an address that never failed
		wantLocked(t, lo, alice, "2001:db8::1", p.AccountLock)
		wantUnlocked(t, lo, bob, ip1)
		if lockedNow, retry := failure(t, lo, alice, ip2); lockedNow || retry <= 0 || retry > p.AccountLock {
			t.Fatalf("failure during the account lock: lockedNow=%v retry=%s", lockedNow, retry)
		}
		advance(p.AccountLock + slack)
		wantUnlocked(t, lo, alice, ip1)
		// The account count started again from zero.
		failBelow(t, lo, alice, ip2, min(p.PairThreshold, p.AccountThreshold)-1)
	}},
	{"a quiet period resets the count and the doubling", func(t *testing.T, lo *ratelimit.Lockout, advance func(time.Duration), slack time.Duration) {
		p := lo.Policy()
		failBelow(t, lo, alice, ip1, p.PairThreshold-1)
		advance(p.QuietPeriod + slack)
		failBelow(t, lo, alice, ip1, p.PairThreshold-1)
		if lockedNow, retry := failure(t, lo, alice, ip1); !lockedNow || retry != p.PairBaseLock {
			t.Fatalf("threshold failure: lockedNow=%v retry=%s, want the base lock", lockedNow, retry)
		}
		advance(p.PairBaseLock + p.QuietPeriod + slack)
		if d := lockPair(t, lo, alice, ip1); d != p.PairBaseLock {
			t.Fatalf("lock after a quiet period: %s, want the base lock %s again", d, p.PairBaseLock)
		}
	}},
	{"identifiers are normalised", func(t *testing.T, lo *ratelimit.Lockout, _ func(time.Duration), _ time.Duration) {
		lockPair(t, lo, "  Alice@Example.COM ", "2001:db8:1:2::10")
		maxLock := lo.Policy().PairMaxLock
		wantLocked(t, lo, alice, "2001:db8:1:2:ffff::1", maxLock) // same account, same /64
		wantUnlocked(t, lo, alice, "2001:db8:1:3::1")             // another /64
		lockPair(t, lo, bob, "::ffff:192.0.2.7")
		wantLocked(t, lo, bob, "192.0.2.7", maxLock) // IPv4-mapped is IPv4
	}},
	{"cancelled context fails closed", func(t *testing.T, lo *ratelimit.Lockout, _ func(time.Duration), _ time.Duration) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if locked, _, err := lo.Check(ctx, alice, ip1); !errors.Is(err, context.Canceled) || !locked {
			t.Fatalf("Check: locked=%v err=%v; want locked and context.Canceled", locked, err)
		}
		if _, _, err := lo.Failure(ctx, alice, ip1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Failure: %v", err)
		}
		if err := lo.Success(ctx, alice, ip1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Success: %v", err)
		}
	}},
}

// TestLockoutConcurrentFailuresLockOnce_SEC05: many requests failing at once
// (under -race) produce exactly one lockedNow per lock, so exactly one
// "account.locked" event, on every backend.
// SEC-05
func TestLockoutConcurrentFailuresLockOnce_SEC05(t *testing.T) {
	long := ratelimit.LockoutPolicy{
		PairThreshold: 5, PairBaseLock: time.Minute, PairMaxLock: time.Hour, QuietPeriod: time.Hour,
		AccountThreshold: 20, AccountWindow: time.Hour, AccountLock: time.Minute,
	}
	for _, b := range lockoutBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				ip   func(i int) string
			}{
				{"one pair", func(int) string { return ip1 }},
				{"one account from many IPs", func(i int) string { return fmt.Sprintf("10.1.%d.%d", i/256, i%256) }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					p := long
					if tc.name != "one pair" {
						p.PairThreshold = 1000
					}
					lo, _ := b.new(t, p)
					var lockedNow atomic.Int64
					var wg sync.WaitGroup
					for i := range 32 {
						wg.Go(func() {
							now, _, err := lo.Failure(t.Context(), alice, tc.ip(i))
							if err != nil {
								t.Error(err)
							}
							if now {
								lockedNow.Add(1)
							}
						})
					}
					wg.Wait()
					if got := lockedNow.Load(); got != 1 {
						t.Fatalf("%d of 32 concurrent failures reported lockedNow, want exactly 1", got)
					}
					wantLocked(t, lo, alice, tc.ip(0), time.Hour)
				})
			}
		})
	}
}

// TestRedisLockoutSharedBetweenReplicas_SEC05: two replicas (two clients, two
// Lockouts) over one Redis count the same failures and see the same locks.
// SEC-05
func TestRedisLockoutSharedBetweenReplicas_SEC05(t *testing.T) {
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
			p := ratelimit.DefaultLockoutPolicy()
			var replicas []*ratelimit.Lockout
			for _, c := range []*redis.Client{c1, c2} {
				lo, err := ratelimit.NewRedisLockout(c, prefix, p)
				if err != nil {
					t.Fatal(err)
				}
				replicas = append(replicas, lo)
			}

			// A success on one replica clears failures counted by both.
			for i := range p.PairThreshold - 1 {
				failBelow(t, replicas[i%2], alice, ip1, 1)
			}
			success(t, replicas[1], alice, ip1)

			// Failures alternate between the replicas; the lock comes at the
			// threshold of their sum.
			for i := range p.PairThreshold {
				lockedNow, retry := failure(t, replicas[i%2], alice, ip1)
				last := i == p.PairThreshold-1
				if lockedNow != last || (last && retry != p.PairBaseLock) {
					t.Fatalf("failure %d on replica %d: lockedNow=%v retry=%s", i+1, i%2+1, lockedNow, retry)
				}
			}
			for _, lo := range replicas {
				wantLocked(t, lo, alice, ip1, p.PairBaseLock)
				wantUnlocked(t, lo, alice, ip2)
			}
		})
	}
}

// TestRedisLockoutErrorsFailClosed: an unreachable Redis is an error, and
// Check reports locked.
func TestRedisLockoutErrorsFailClosed(t *testing.T) {
	lo, err := ratelimit.NewRedisLockout(deadRedis(t), "p:", ratelimit.DefaultLockoutPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if locked, _, err := lo.Check(t.Context(), alice, ip1); err == nil || !locked {
		t.Fatalf("Check: locked=%v err=%v; want locked and an error", locked, err)
	}
	if lockedNow, _, err := lo.Failure(t.Context(), alice, ip1); err == nil || lockedNow {
		t.Fatalf("Failure: lockedNow=%v err=%v; want an error", lockedNow, err)
	}
	if err := lo.Success(t.Context(), alice, ip1); err == nil {
		t.Fatal("Success: want an error")
	}
}

// TestDefaultLockoutProgression_SEC05 spells out the default progression:
// 1m, 2m, 4m ... capped at 1h.
// SEC-05
func TestDefaultLockoutProgression_SEC05(t *testing.T) {
	clock := newFakeClock()
	lo, err := ratelimit.NewMemoryLockout(0, ratelimit.DefaultLockoutPolicy(), ratelimit.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{
		time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute,
		32 * time.Minute, time.Hour, time.Hour, time.Hour,
	}
	var got []time.Duration
	for range want {
		d := lockPair(t, lo, alice, ip1)
		got = append(got, d)
		clock.Advance(d)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("default lock durations %v, want %v", got, want)
	}
}

func TestLockoutPolicyValidate(t *testing.T) {
	if err := ratelimit.DefaultLockoutPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	for name, change := range map[string]func(*ratelimit.LockoutPolicy){
		"no pair threshold":    func(p *ratelimit.LockoutPolicy) { p.PairThreshold = 0 },
		"no account threshold": func(p *ratelimit.LockoutPolicy) { p.AccountThreshold = 0 },
		"no base lock":         func(p *ratelimit.LockoutPolicy) { p.PairBaseLock = 0 },
		"sub-ms lock":          func(p *ratelimit.LockoutPolicy) { p.AccountLock = time.Microsecond },
		"no quiet period":      func(p *ratelimit.LockoutPolicy) { p.QuietPeriod = -time.Second },
		"no window":            func(p *ratelimit.LockoutPolicy) { p.AccountWindow = 0 },
		"cap below base":       func(p *ratelimit.LockoutPolicy) { p.PairMaxLock = p.PairBaseLock / 2 },
	} {
		p := ratelimit.DefaultLockoutPolicy()
		change(&p)
		if _, err := ratelimit.NewMemoryLockout(0, p); !errors.Is(err, ratelimit.ErrInvalidPolicy) {
			t.Errorf("%s: NewMemoryLockout: %v, want ErrInvalidPolicy", name, err)
		}
		if _, err := ratelimit.NewRedisLockout(nil, "", p); !errors.Is(err, ratelimit.ErrInvalidPolicy) {
			t.Errorf("%s: NewRedisLockout: %v, want ErrInvalidPolicy", name, err)
		}
	}
}

// TestMemoryLockoutBounded_SEC05: a flood of distinct accounts cannot grow
// the in-memory lockout beyond its bound.
// SEC-05
func TestMemoryLockoutBounded_SEC05(t *testing.T) {
	lo, err := ratelimit.NewMemoryLockout(50, ratelimit.DefaultLockoutPolicy())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		failure(t, lo, fmt.Sprintf("user%d@example.com", i), ip1)
		if n, limit := ratelimit.MemoryKeys(lo); n > 50 || limit != 50 {
			t.Fatalf("after %d accounts: %d keys held, bound %d", i+1, n, limit)
		}
	}
}
