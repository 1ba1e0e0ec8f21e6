//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// load is a bounded load through the proxy: workers each write new versions of their own
// secret and, every fourth request, sign in with a password (an argon2id hash and a
// security event per sign-in).
type load struct {
	t       *testing.T
	base    string
	stop    chan struct{}
	wg      sync.WaitGroup
	started time.Time

	mu       sync.Mutex
	writes   []committedWrite
	logins   []string // request IDs of 2xx sign-ins
	failures []loadFailure

	requests atomic.Int64
}

type committedWrite struct {
	name    string
	version int
	value   string
}

type loadFailure struct {
	at  time.Time
	err string
}

// loadWorkers is the concurrency of the load.
const loadWorkers = 8

// startLoad creates one secret per worker (as admin) and starts the workers.
func startLoad(t *testing.T, base, tag string, admin *client.Client) *load {
	t.Helper()
	l := &load{t: t, base: base, stop: make(chan struct{}), started: time.Now()}
	ctx := context.Background()
	for w := range loadWorkers {
		name := fmt.Sprintf("load/%s/w%d", tag, w)
		v := "initial"
		if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: &v}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		l.wg.Go(func() { l.worker(admin, name, w) })
	}
	return l
}

func (l *load) worker(admin *client.Client, name string, w int) {
	ctx := context.Background()
	signIn := newClient(l.t, l.base)
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		l.requests.Add(1)
		start := time.Now()
		if i%4 == 3 {
			var res api.TokenResponse
			resp, err := signIn.Do(ctx, http.MethodPost, "/api/v1/auth/token",
				api.TokenRequest{GrantType: api.GrantPassword, Email: loadEmail, Password: loadPass}, &res)
			if err != nil {
				l.fail(start, fmt.Errorf("sign-in: %w", err))
			} else {
				l.mu.Lock()
				l.logins = append(l.logins, resp.RequestID)
				l.mu.Unlock()
			}
		} else {
			value := fmt.Sprintf("w%d-%d-%d", w, i, time.Now().UnixNano())
			s, err := admin.PutSecretValue(ctx, name, value)
			if err != nil {
				l.fail(start, fmt.Errorf("write %s: %w", name, err))
			} else {
				l.mu.Lock()
				l.writes = append(l.writes, committedWrite{name: name, version: s.CurrentVersion, value: value})
				l.mu.Unlock()
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) fail(start time.Time, err error) {
	l.mu.Lock()
	l.failures = append(l.failures, loadFailure{at: start, err: err.Error()})
	l.mu.Unlock()
}

// finish stops the workers and waits for them.
func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

// verify checks, after the load, that every 2xx write is readable with the value written and
// that every 2xx sign-in left its login.succeeded security event.
func (l *load) verify(t *testing.T, admin *client.Client) {
	t.Helper()
	ctx := context.Background()
	l.mu.Lock()
	writes, logins := append([]committedWrite(nil), l.writes...), append([]string(nil), l.logins...)
	l.mu.Unlock()
	for _, w := range writes {
		got, err := admin.SecretValue(ctx, w.name, w.version)
		if err != nil {
			t.Fatalf("committed write %s v%d not readable: %v", w.name, w.version, err)
		}
		if got.Value != w.value {
			t.Fatalf("committed write %s v%d: read %q, wrote %q", w.name, w.version, got.Value, w.value)
		}
	}
	seen := map[string]bool{}
	since := l.started.Add(-time.Second)
	for page := 1; ; page++ {
		list, err := admin.ListEvents(ctx, client.EventQuery{Type: api.EventLoginSucceeded, Since: since, Page: page, PerPage: 200})
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		for _, e := range list.Events {
			seen[e.RequestID] = true
		}
		if len(list.Events) < 200 {
			break
		}
	}
	for _, id := range logins {
		if id == "" {
			t.Fatal("a 2xx sign-in came back without a request ID")
		}
		if !seen[id] {
			t.Fatalf("sign-in %s answered 2xx but its login.succeeded event is missing", id)
		}
	}
	t.Logf("verified %d committed writes and %d sign-in events", len(writes), len(logins))
}

func (l *load) counts() (requests, writes, logins, failures int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(l.requests.Load()), len(l.writes), len(l.logins), len(l.failures)
}

// failureList returns the failed requests so far.
func (l *load) failureList() []loadFailure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loadFailure(nil), l.failures...)
}
