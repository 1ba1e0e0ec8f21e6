package ratelimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/testenv"

	"gatehouse/server/internal/clocktest"
)

// newFakeClock is the injected clock of the in-memory backends.
func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
}

// miniredisClock runs a miniredis whose clock the test moves: SetTime for the
// TIME command (the GCRA script reads it) and FastForward for key expiry.
type miniredisClock struct {
	mu  sync.Mutex
	mr  *miniredis.Miniredis
	now time.Time
}

func newMiniredis(t testing.TB) *miniredisClock {
	t.Helper()
	m := &miniredisClock{mr: miniredis.RunT(t), now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	m.mr.SetTime(m.now)
	return m
}

func (m *miniredisClock) URL() string { return "redis://" + m.mr.Addr() }

func (m *miniredisClock) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

func (m *miniredisClock) Advance(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = m.now.Add(d)
	m.mr.SetTime(m.now)
	m.mr.FastForward(d)
}

// testClock is the time of one backend as a test sees it: Now to measure,
// Advance to let time pass.
type testClock interface {
	Now() time.Time
	Advance(d time.Duration)
}

// wallClock is real time; Advance sleeps. When the backend is a miniredis,
// Advance also fast-forwards its keys, which miniredis expires only when told.
type wallClock struct{ mr *miniredis.Miniredis }

func (wallClock) Now() time.Time { return time.Now() }

func (w wallClock) Advance(d time.Duration) {
	time.Sleep(d)
	if w.mr != nil {
		w.mr.FastForward(d)
	}
}

// realRedis returns the Redis of GATEHOUSE_TEST_REDIS_URL, whose time is the
// wall clock. When the variable is not set, testenv.RedisURL fails the run
// where Redis is required (CI) and otherwise hands out a miniredis; since
// miniredis expires keys only when told to, this backend then runs its own
// miniredis with a wallClock, which behaves like a real Redis.
func realRedis(t testing.TB) (url string, clock testClock) {
	t.Helper()
	if os.Getenv(testenv.EnvRedisURL) != "" {
		return testenv.RedisURL(t), wallClock{}
	}
	_ = testenv.RedisURL(t)
	logOnce.Do(func() {
		t.Logf("%s is not set: the \"redis\" backend runs on a wall-clock miniredis", testenv.EnvRedisURL)
	})
	mr := miniredis.RunT(t)
	return "redis://" + mr.Addr(), wallClock{mr: mr}
}

var logOnce sync.Once

// newClient connects to url and closes the client when the test ends.
func newClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("redis url: %v", err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// uniquePrefix returns a key prefix no other test (or concurrent run against
// the same Redis) uses, and deletes every key carrying it when the test ends.
func uniquePrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	prefix := "gatehouse-test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("scan test keys: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("delete test keys: %v", err)
			}
		}
	})
	return prefix
}

// deadRedis returns a client for a port nothing listens on.
func deadRedis(t testing.TB) *redis.Client {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// within reports whether got lies in [lo, hi].
func within(got, lo, hi time.Duration) bool { return got >= lo && got <= hi }
