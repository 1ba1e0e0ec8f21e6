package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/server/internal/secrets/cache"
)

// TestRunStopsPromptly: Run returns soon after its context ends, although the subscription is
// blocked reading Redis (the server waits for it on SIGTERM; it used to wait out the ping
// period or longer, which the cluster test's rolling restart caught).
func TestRunStopsPromptly(t *testing.T) {
	id := randomID(t)
	rdb := redisClient(t, "cache-test-stop-"+id)
	c := newCache(t, cache.Options[string]{Redis: rdb, Channel: "gatehouse-test:cache:" + id, Registerer: prometheus.NewPedanticRegistry()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	waitFor(t, c.Subscribed)
	time.Sleep(100 * time.Millisecond) // the subscription is now blocked in its read
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of its context ending")
	}
}
