//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"net/http/cookiejar"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// Job names as internal/app registers them.
const (
	rotationJob = "secrets-rotation"
	cleanupJob  = "cleanup"
	jobInterval = time.Second // GATEHOUSE_JOBS_ROTATION_INTERVAL and _CLEANUP_INTERVAL in newCluster
)

// TestCluster is the scale-out test of issue 8: three gatehouse processes on one PostgreSQL
// schema and Redis behind a round-robin proxy. Subtests share the cluster and run in order.
func TestCluster(t *testing.T) {
	requiredEnv(t, testenv.EnvPostgresURL)
	redisURL := requiredEnv(t, testenv.EnvRedisURL)
	bin := buildBinary(t)
	c := newCluster(t, bin, 3, map[string]string{
		"GATEHOUSE_REDIS_URL": redisURL,
		// Long on purpose: a replica serving the new value sooner than this can only have
		// heard the invalidation.
		"GATEHOUSE_SECRETS_CACHE_TTL": "10m",
	})
	p := newProxy(t, c.replicas)
	admin := adminClient(t, p.url())
	var summary []string
	note := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		summary = append(summary, s)
		t.Log(s)
	}

	t.Run("sessions and tokens are shared", func(t *testing.T) { sessionsShared(t, c) })
	t.Run("login throttling is shared", func(t *testing.T) { throttlingShared(t, c, p, admin) })
	t.Run("secret writes invalidate every replica", func(t *testing.T) {
		stale, fresh := invalidation(t, c, 10*time.Minute)
		note("cache invalidation over Redis (cache TTL 10m): last stale read began %s after the write, every replica answered the new value within %s",
			stale.Round(time.Millisecond), fresh.Round(time.Millisecond))
	})
	t.Run("leader jobs run once per slot, also after the leader is killed", func(t *testing.T) {
		note("%s", leaderJobs(t, c, admin))
	})
	t.Run("SIGKILL under load", func(t *testing.T) { note("%s", killUnderLoad(t, c, p, admin)) })
	t.Run("rolling restart under load", func(t *testing.T) { note("%s", rollingRestart(t, c, p, admin)) })

	t.Run("without Redis the cache TTL bounds staleness", func(t *testing.T) {
		c2 := newCluster(t, bin, 2, map[string]string{"GATEHOUSE_SECRETS_CACHE_TTL": "2s"})
		stale, fresh := invalidation(t, c2, 2*time.Second)
		note("without Redis (cache TTL 2s): last stale read began %s after the write, every replica answered the new value within %s",
			stale.Round(time.Millisecond), fresh.Round(time.Millisecond))
		sessionsShared(t, c2)
	})
	t.Logf("CLUSTER SUMMARY: proxy requests %d, proxy failures %d, refused-connect retries %d\n  %s",
		p.requests.Load(), p.failures.Load(), p.refusedRetries.Load(), strings.Join(summary, "\n  "))
}

// sessionsShared: a cookie session and a bearer token made on one replica work on the others;
// logout or revocation on one is refused by all at the next request.
func sessionsShared(t *testing.T, c *cluster) {
	ctx := context.Background()
	rs := c.replicas
	at := func(i int) *replica { return rs[i%len(rs)] }

	// Cookie session: one jar (cookies ignore the port), a client per replica.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cookie := make([]*client.Client, len(rs))
	for i, r := range rs {
		cookie[i] = r.client(client.WithCookieJar(jar))
	}
	res, err := cookie[0].Login(ctx, userEmail, userPass)
	if err != nil {
		t.Fatalf("cookie login on replica 0: %v", err)
	}
	for i, cl := range cookie {
		cl.SetCSRFToken(res.CSRFToken)
		if _, err := cl.Me(ctx); err != nil {
			t.Fatalf("cookie session made on replica 0, refused by replica %d: %v", i, err)
		}
	}
	// An unsafe request (CSRF checked) on another replica.
	if _, err := cookie[1].UpdateMe(ctx, api.UpdateMeRequest{DisplayName: ptr("Cluster User")}); err != nil {
		t.Fatalf("cookie session update on replica 1: %v", err)
	}
	if err := cookie[len(rs)-1].Logout(ctx); err != nil {
		t.Fatalf("logout on the last replica: %v", err)
	}
	for i, cl := range cookie {
		if _, err := cl.Me(ctx); !isCode(err, api.CodeUnauthorized) {
			t.Fatalf("replica %d still accepts the logged-out cookie session: %v", i, err)
		}
	}

	// Bearer token: issued on one replica, used, refreshed and revoked on others.
	issuer := at(1).client()
	tok, err := issuer.TokenWithPassword(ctx, userEmail, userPass)
	if err != nil {
		t.Fatalf("token on replica 1: %v", err)
	}
	for i, r := range rs {
		if _, err := r.client(client.WithBearerToken(tok.AccessToken)).Me(ctx); err != nil {
			t.Fatalf("access token from replica 1 refused by replica %d: %v", i, err)
		}
	}
	refreshed, err := at(2).client().Refresh(ctx, tok.RefreshToken)
	if err != nil {
		t.Fatalf("refresh on replica 2 of a token issued on replica 1: %v", err)
	}
	// The used refresh token is refused everywhere (reuse detection revokes the session).
	if _, err := at(0).client().Refresh(ctx, tok.RefreshToken); err == nil {
		t.Fatal("a used refresh token was accepted on another replica")
	}
	for i, r := range rs {
		if _, err := r.client(client.WithBearerToken(refreshed.AccessToken)).Me(ctx); !isCode(err, api.CodeUnauthorized) {
			t.Fatalf("replica %d accepts a token of a session revoked by refresh-token reuse: %v", i, err)
		}
	}

	// A fresh session, logged out (bearer) on one replica: refused by all at the next request.
	tok, err = at(0).client().TokenWithPassword(ctx, userEmail, userPass)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs { // warm every replica's session cache first
		if _, err := r.client(client.WithBearerToken(tok.AccessToken)).Me(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := at(1).client(client.WithBearerToken(tok.AccessToken)).Logout(ctx); err != nil {
		t.Fatalf("bearer logout on replica 1: %v", err)
	}
	for i, r := range rs {
		if _, err := r.client(client.WithBearerToken(tok.AccessToken)).Me(ctx); !isCode(err, api.CodeUnauthorized) {
			t.Fatalf("replica %d accepts a token whose session was logged out on replica 1: %v", i, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// throttlingShared: wrong passwords spread over the replicas lock the account (the lockout
// counts live in Redis). Five failures of one (account, IP) pair lock it (internal/ratelimit
// DefaultLockoutPolicy); spread over three replicas no replica saw more than two.
func throttlingShared(t *testing.T, c *cluster, p *proxy, admin *client.Client) {
	ctx := context.Background()
	const threshold = 5
	for i := range threshold {
		r := c.replicas[i%len(c.replicas)]
		_, err := r.client().Login(ctx, lockEmail, "not-the-password-"+fmt.Sprint(i))
		if !isCode(err, api.CodeInvalidCredentials) {
			t.Fatalf("wrong password %d on replica %d: %v", i+1, r.idx, err)
		}
	}
	for _, r := range c.replicas {
		_, err := r.client().Login(ctx, lockEmail, lockPass)
		if !isCode(err, api.CodeRateLimited) {
			t.Fatalf("replica %d let the right password through after %d failures spread over the replicas: %v", r.idx, threshold, err)
		}
	}
	// Through the proxy too.
	if _, err := newClient(t, p.url()).Login(ctx, lockEmail, lockPass); !isCode(err, api.CodeRateLimited) {
		t.Fatalf("the proxy let the locked account sign in: %v", err)
	}
	// The replica that saw the fifth failure recorded the lock, once.
	list, err := admin.ListEvents(ctx, client.EventQuery{Type: api.EventAccountLocked, PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	locks := 0
	for _, e := range list.Events {
		if e.Details["email"] == lockEmail {
			locks++
		}
	}
	if locks != 1 {
		t.Fatalf("%d account.locked events for the account, want 1", locks)
	}
}

// invalidation writes a secret through one replica after every replica cached it, and
// measures how long after the write each other replica still served the old value (the start
// of its last stale read). With Redis that must be far below the cache TTL (pub/sub
// invalidation); without, at most the TTL (the entry's life counts from its load, which came
// before the write). Once a replica served the new value it must never serve the old one
// again. It returns the worst staleness seen (0: no read after the write saw the old value)
// and the slowest time from the write to a replica's first answer with the new value.
func invalidation(t *testing.T, c *cluster, ttl time.Duration) (stale, fresh time.Duration) {
	ctx := context.Background()
	clients := make([]*client.Client, len(c.replicas))
	for i, r := range c.replicas {
		clients[i] = adminClient(t, r.url())
	}
	name := fmt.Sprintf("cluster/cache-%d", time.Now().UnixNano())
	v0 := "value-0"
	if _, err := clients[0].CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: &v0}); err != nil {
		t.Fatal(err)
	}
	bound, rounds := ttl+100*time.Millisecond, 2 // without Redis: the TTL
	if ttl > time.Minute {
		bound, rounds = 2*time.Second, 6 // with Redis: delivery of one pub/sub message
	}
	var worst, slowest time.Duration
	prev := v0
	for round := 1; round <= rounds; round++ {
		for i, cl := range clients { // every replica caches the current value
			got, err := cl.SecretValue(ctx, name, 0)
			if err != nil || got.Value != prev {
				t.Fatalf("round %d: replica %d reads %+v (%v), want %q", round, i, got, err, prev)
			}
		}
		writer := round % len(clients)
		next := fmt.Sprintf("value-%d", round)
		if _, err := clients[writer].PutSecretValue(ctx, name, next); err != nil {
			t.Fatal(err)
		}
		wrote := time.Now()
		for i, cl := range clients {
			fresh := false
			for {
				sent := time.Since(wrote)
				got, err := cl.SecretValue(ctx, name, 0)
				if err != nil {
					t.Fatal(err)
				}
				switch got.Value {
				case next:
					if !fresh {
						slowest = max(slowest, time.Since(wrote))
					}
					fresh = true
				case prev:
					if fresh {
						t.Fatalf("replica %d served the old value again after the new one", i)
					}
					if i == writer {
						t.Fatalf("the writing replica %d served its old value after the write", i)
					}
					worst = max(worst, sent)
					if sent > bound {
						t.Fatalf("replica %d served the old value to a read sent %s after the write (bound %s)", i, sent, bound)
					}
				default:
					t.Fatalf("replica %d served %q", i, got.Value)
				}
				if fresh && time.Since(wrote) > 100*time.Millisecond {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		prev = next
	}
	return worst, slowest
}

// jobStats scrapes the leader gauge and the run counter of a job on the given replicas.
func jobStats(t *testing.T, rs []*replica, job string) (leaders []int, runs float64) {
	t.Helper()
	for _, r := range rs {
		m, err := r.metrics()
		if err != nil {
			t.Fatalf("metrics of replica %d: %v", r.idx, err)
		}
		if m[fmt.Sprintf(`gatehouse_leader{job=%q}`, job)] == 1 {
			leaders = append(leaders, r.idx)
		}
		for _, o := range []string{"ok", "error", "lost"} {
			runs += m[fmt.Sprintf(`gatehouse_leader_job_runs_total{job=%q,outcome=%q}`, job, o)]
		}
	}
	return leaders, runs
}

// oncePerSlot watches the replicas for a while and checks that, summed over them, the job ran
// at most once per slot (and did run).
func oncePerSlot(t *testing.T, rs []*replica, job string, window time.Duration) string {
	t.Helper()
	leaders, r0 := jobStats(t, rs, job)
	t0 := time.Now()
	if len(leaders) != 1 {
		t.Fatalf("%s: leaders %v, want exactly one", job, leaders)
	}
	time.Sleep(window)
	leaders, r1 := jobStats(t, rs, job)
	t1 := time.Now()
	if len(leaders) != 1 {
		t.Fatalf("%s: leaders %v, want exactly one", job, leaders)
	}
	slots := int(t1.UnixNano()/int64(jobInterval) - t0.UnixNano()/int64(jobInterval))
	runs := int(r1 - r0)
	if runs > slots+1 || runs < slots/2 {
		t.Fatalf("%s: %d runs over the replicas in %d slots, want one per slot", job, runs, slots)
	}
	return fmt.Sprintf("%s %d runs/%d slots (leader replica %d)", job, runs, slots, leaders[0])
}

func (c *cluster) running() []*replica {
	var out []*replica
	for _, r := range c.replicas {
		if r.running() {
			out = append(out, r)
		}
	}
	return out
}

// leaderJobs: scheduled rotation and the clean-up run once per slot on one replica; when that
// replica is SIGKILLed another takes the lock over and they go on once per slot.
func leaderJobs(t *testing.T, c *cluster, admin *client.Client) string {
	ctx := context.Background()
	// The clean-up deleted the sessions the earlier subtests logged out (retention 0).
	deadline := time.Now().Add(15 * time.Second)
	for {
		var dead int
		if err := c.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL").Scan(&dead); err != nil {
			t.Fatal(err)
		}
		if dead == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d revoked sessions still stored: the clean-up job did not run", dead)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var deleted float64
	for _, r := range c.running() {
		m, err := r.metrics()
		if err != nil {
			t.Fatal(err)
		}
		deleted += m[`gatehouse_cleanup_deleted_rows_total{table="sessions"}`]
	}
	if deleted < 1 {
		t.Fatal("no replica reports deleted sessions in gatehouse_cleanup_deleted_rows_total")
	}

	// A secret with an hourly rotation policy (the shortest allowed), made due by hand.
	name := "cluster/rotated"
	v := "initial"
	policy := &api.RotationPolicy{IntervalSeconds: 3600, Generator: api.GeneratorSpec{Type: "password", Length: 24}}
	if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: &v, Rotation: policy}); err != nil {
		t.Fatal(err)
	}
	version := 1
	rotateOnce := func(label string) {
		t.Helper()
		if _, err := c.db.ExecContext(ctx, "UPDATE secrets SET next_rotation_at = $1 WHERE name = $2", time.Now().Add(-time.Minute).UTC(), name); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			s, err := admin.GetSecret(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if s.CurrentVersion == version+1 {
				break
			}
			if s.CurrentVersion > version+1 || time.Now().After(deadline) {
				t.Fatalf("%s: version %d, want %d", label, s.CurrentVersion, version+1)
			}
			time.Sleep(50 * time.Millisecond)
		}
		version++
		time.Sleep(3 * jobInterval) // three more slots: no second rotation
		vs, err := admin.SecretVersions(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != version {
			t.Fatalf("%s: %d versions after the rotation, want %d (rotated more than once)", label, len(vs), version)
		}
	}
	rotateOnce("first scheduled rotation")
	before := []string{oncePerSlot(t, c.running(), rotationJob, 5*time.Second), oncePerSlot(t, c.running(), cleanupJob, 5*time.Second)}

	// SIGKILL the replica leading the rotation job; every job it led must move.
	leaders, _ := jobStats(t, c.running(), rotationJob)
	victim := c.replicas[leaders[0]]
	var led []string
	for _, job := range []string{rotationJob, cleanupJob} {
		if ls, _ := jobStats(t, []*replica{victim}, job); len(ls) == 1 {
			led = append(led, job)
		}
	}
	victim.signal(syscall.SIGKILL)
	killed := time.Now()
	if code := victim.wait(t, 10*time.Second); code != -1 {
		t.Fatalf("SIGKILLed replica exited with %d", code)
	}
	var takeover time.Duration
	for _, job := range led {
		for {
			if ls, _ := jobStats(t, c.running(), job); len(ls) == 1 {
				takeover = max(takeover, time.Since(killed))
				break
			}
			if time.Since(killed) > 10*time.Second {
				t.Fatalf("%s: no replica took the lock over within 10s of the leader's SIGKILL", job)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	rotateOnce("rotation after the take-over")
	after := []string{oncePerSlot(t, c.running(), rotationJob, 5*time.Second), oncePerSlot(t, c.running(), cleanupJob, 5*time.Second)}

	victim.start(t)
	victim.waitReady(t, 60*time.Second)
	// With the old leader back there is still one leader per job.
	for _, job := range []string{rotationJob, cleanupJob} {
		if ls, _ := jobStats(t, c.replicas, job); len(ls) != 1 {
			t.Fatalf("%s after the restart: leaders %v", job, ls)
		}
	}
	return fmt.Sprintf("leader jobs: before the kill %s; SIGKILL of replica %d (leading %v): lock taken over in %s (lock_check 200ms); after %s; %d rotations, one per due time; clean-up deleted %.0f sessions",
		strings.Join(before, ", "), victim.idx, led, takeover.Round(time.Millisecond), strings.Join(after, ", "), version-1, deleted)
}

// killUnderLoad: SIGKILL one replica under load; no committed write or security event is
// lost, the others keep answering, and the only failures are requests in flight on the killed
// replica.
func killUnderLoad(t *testing.T, c *cluster, p *proxy, admin *client.Client) string {
	failedBefore := p.failureCount()
	l := startLoad(t, p.url(), "kill", admin)
	time.Sleep(3 * time.Second)
	victim := c.replicas[1]
	inflight := p.backends[victim.idx].inflight.Load()
	victim.signal(syscall.SIGKILL)
	if code := victim.wait(t, 10*time.Second); code != -1 {
		t.Fatalf("SIGKILLed replica exited with %d", code)
	}
	// kill(2) returns before the process is gone: a request that starts before the process
	// is reaped may still reach it. From here on, none may fail.
	killed := time.Now()
	defer func() { // back for the next subtest, also when this one failed
		victim.start(t)
		victim.waitReady(t, 60*time.Second)
	}()
	servedAfter := make([]int64, len(p.backends))
	for i, b := range p.backends {
		servedAfter[i] = b.served.Load()
	}
	time.Sleep(3 * time.Second)
	for _, r := range c.replicas {
		if r == victim {
			continue
		}
		if n := p.backends[r.idx].served.Load() - servedAfter[r.idx]; n == 0 {
			t.Fatalf("replica %d answered nothing after the kill", r.idx)
		}
	}
	l.finish()

	failures := p.failuresSince(failedBefore)
	for _, f := range failures {
		if f.backend != victim.idx || f.start.After(killed) {
			t.Fatalf("a request failed that was not in flight on the killed replica: %+v (killed at %s)", f, killed.Format(time.RFC3339Nano))
		}
	}
	requests, writes, logins, loadFailures := l.counts()
	if loadFailures != len(failures) {
		t.Fatalf("clients saw %d failures, the proxy %d: %+v", loadFailures, len(failures), l.failureList())
	}
	l.verify(t, admin)
	return fmt.Sprintf("SIGKILL under load (%d clients): %d requests (%d committed writes, %d sign-ins), %d failed (all in flight on the killed replica; %d were in flight just before the kill), 0 writes or events lost",
		loadWorkers, requests, writes, logins, len(failures), inflight)
}

// rollingRestart: SIGTERM each replica in turn under load, wait for it to exit 0, restart it,
// wait for /readyz; no request fails.
func rollingRestart(t *testing.T, c *cluster, p *proxy, admin *client.Client) string {
	failedBefore := p.failureCount()
	l := startLoad(t, p.url(), "rolling", admin)
	time.Sleep(2 * time.Second)
	var drained []int64
	var downtime []string
	for _, r := range c.replicas {
		b := p.backends[r.idx]
		// What a rollout does: the replica leaves the balancer's rotation and is sent SIGTERM
		// at the same moment; requests already on it are the server's to drain.
		b.drained.Store(true)
		drained = append(drained, b.inflight.Load())
		stopped := time.Now()
		r.signal(syscall.SIGTERM)
		if code := r.wait(t, 30*time.Second); code != 0 {
			t.Fatalf("replica %d exited %d after SIGTERM, want 0:\n%s", r.idx, code, tail(r.log.Name(), 20))
		}
		exited := time.Since(stopped)
		r.start(t)
		ready := r.waitReady(t, 60*time.Second)
		b.drained.Store(false)
		downtime = append(downtime, fmt.Sprintf("replica %d: exit 0 after %s, ready %s after start", r.idx, exited.Round(time.Millisecond), ready.Round(time.Millisecond)))
		time.Sleep(time.Second)
	}
	l.finish()
	requests, writes, logins, loadFailures := l.counts()
	if pf := p.failuresSince(failedBefore); len(pf) != 0 || loadFailures != 0 {
		t.Fatalf("rolling restart: %d proxy failures %+v, %d client failures: %+v", len(pf), pf, loadFailures, l.failureList())
	}
	l.verify(t, admin)
	return fmt.Sprintf("rolling restart under load (%d clients): %d requests (%d committed writes, %d sign-ins), 0 failed; in flight on each replica at its SIGTERM %v; %s",
		loadWorkers, requests, writes, logins, drained, strings.Join(downtime, "; "))
}
