package ratelimit_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"gatehouse/server/internal/ratelimit"
	"gatehouse/server/internal/testenv"
)

// benchLimit is a production login limit; the benchmarks spread requests over
// benchKeys keys, so most are admitted and every one updates state, as on a
// login endpoint under load from many clients.
var benchLimit = loginLimit

const benchKeys = 1024

func benchKeyNames() []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = ratelimit.KeyIP("login", fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	return keys
}

func benchAllow(b *testing.B, l ratelimit.Limiter) {
	keys := benchKeyNames()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := l.Allow(b.Context(), keys[i%benchKeys], benchLimit); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := l.Allow(b.Context(), keys[next.Add(1)%benchKeys], benchLimit); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkMemoryAllow(b *testing.B) {
	benchAllow(b, ratelimit.NewMemory(0))
}

// BenchmarkRedisAllow runs against GATEHOUSE_TEST_REDIS_URL when set (one
// EVALSHA round trip per request), else against miniredis.
func BenchmarkRedisAllow(b *testing.B) {
	if os.Getenv(testenv.EnvRedisURL) == "" {
		b.Logf("%s is not set: benchmarking miniredis", testenv.EnvRedisURL)
	}
	c := newClient(b, testenv.RedisURL(b))
	benchAllow(b, ratelimit.NewRedis(c, uniquePrefix(b, c)))
}

func BenchmarkMemoryLockoutFailure(b *testing.B) {
	lo, err := ratelimit.NewMemoryLockout(0, ratelimit.DefaultLockoutPolicy())
	if err != nil {
		b.Fatal(err)
	}
	benchLockout(b, lo)
}

// BenchmarkRedisLockoutFailure: one failure-script round trip per failure.
func BenchmarkRedisLockoutFailure(b *testing.B) {
	c := newClient(b, testenv.RedisURL(b))
	lo, err := ratelimit.NewRedisLockout(c, uniquePrefix(b, c), ratelimit.DefaultLockoutPolicy())
	if err != nil {
		b.Fatal(err)
	}
	benchLockout(b, lo)
}

func benchLockout(b *testing.B, lo *ratelimit.Lockout) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// Distinct accounts, so every call runs the whole script rather than
		// stopping at a held lock.
		if _, _, err := lo.Failure(b.Context(), fmt.Sprintf("user%d@example.com", i), "192.0.2.1"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
