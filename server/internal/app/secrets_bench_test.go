package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// Secret read benchmarks (docs/benchmarks.md, "Secret reads"; issue 6 "Measure").
// GET /api/v1/secrets/{name}/value with a service-account token over loopback HTTP to the
// real server (testenv, in this process), by exactly secBenchClients closed-loop clients,
// beside the JWT-only baseline (GET /api/v1/bench/jwt) in the same run:
//
//	value-hit:  the value cache on (the default TTL), so the db backend is read once; the
//	            service account's token and policies come from the access cache
//	            (internal/accesscache, default max age);
//	value-miss: the cache off (Secrets.CacheTTL = 0), so every read unwraps the data key and
//	            decrypts the value from the database;
//	value-hit-redis: value-hit with Redis configured (only when GATEHOUSE_TEST_REDIS_URL is
//	            set), as replicas run: each hit also reads the token's and the policies'
//	            generations from Redis (two GETs) so that revocations are exact across replicas.
//
// Every read is audited with group commit: the value is answered only after its audit row is
// committed. After each run the harness counts the service account's audit rows through
// GET /api/v1/admin/secrets/audit and fails unless the count grew by exactly the number of
// successful reads (nothing lost, nothing answered unaudited). Figures of the final run of each
// sub-benchmark: req/s, p50-ms, p99-ms (nearest rank over every request), errors.
//
//	go test -run '^$' -bench SecretValue -benchtime 10s -count 2 ./internal/app/
//
// PostgreSQL variants run when GATEHOUSE_TEST_POSTGRES_URL is set, value-hit-redis when
// GATEHOUSE_TEST_REDIS_URL is.

const (
	secBenchClients  = 64
	secBenchSecret   = "bench/db/password"
	secBenchPassword = "amber-orchard-compass-58"
)

func BenchmarkSecretValue(b *testing.B) {
	for _, dialect := range testenv.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			hit := newSecBenchFixture(b, dialect, true)
			miss := newSecBenchFixture(b, dialect, false)
			b.Run("jwt-baseline", func(b *testing.B) {
				secClosedLoop(b, hit.http, hit.url+"/api/v1/bench/jwt", "Bearer "+hit.jwt)
			})
			b.Run("value-hit", func(b *testing.B) { hit.run(b) })
			b.Run("value-miss", func(b *testing.B) { miss.run(b) })
			if os.Getenv(testenv.EnvRedisURL) != "" {
				// As replicas run: every hit also reads two generations from Redis.
				hitRedis := newSecBenchFixture(b, dialect, true, testenv.WithRedis(b))
				b.Run("value-hit-redis", func(b *testing.B) { hitRedis.run(b) })
			}
		})
	}
}

type secBenchFixture struct {
	url      string
	http     *http.Client
	admin    *client.Client
	jwt      string // the admin's access token, for the baseline
	saToken  string
	saID     string
	valueURL string
}

func newSecBenchFixture(b *testing.B, dialect string, cache bool, opts ...testenv.Option) *secBenchFixture {
	b.Helper()
	env := testenv.New(b, dialect, append([]testenv.Option{testenv.WithConfig(func(c *config.Config) {
		c.HTTP.BenchEndpoints = true
		c.Log.Level = "warn"
		if !cache {
			c.Secrets.CacheTTL = 0
		}
	})}, opts...)...)
	env.CreateUser(b, "bench-admin@example.com", secBenchPassword, api.RoleAdmin)
	admin, tok := env.LoginBearer(b, "bench-admin@example.com", secBenchPassword)
	ctx := context.Background()
	if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: secBenchSecret, Value: text("correct-horse-battery-staple-0123456789")}); err != nil {
		b.Fatal(err)
	}
	sa, err := admin.CreateServiceAccount(ctx, api.CreateServiceAccountRequest{Name: "bench-reader"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := admin.CreateSecretPolicy(ctx, api.CreateSecretPolicyRequest{SubjectType: "service_account", Subject: sa.ID, Pattern: "bench/**", Actions: []string{"read"}}); err != nil {
		b.Fatal(err)
	}
	st, err := admin.CreateServiceAccountToken(ctx, sa.ID, api.CreateServiceAccountTokenRequest{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	// One keep-alive connection per client, as the load tool does.
	tr := &http.Transport{MaxIdleConns: 2 * secBenchClients, MaxIdleConnsPerHost: 2 * secBenchClients, Proxy: nil}
	b.Cleanup(tr.CloseIdleConnections)
	return &secBenchFixture{url: env.URL, http: &http.Client{Transport: tr}, admin: admin, jwt: tok.AccessToken,
		saToken: st.Token, saID: sa.ID, valueURL: env.URL + "/api/v1/secrets/" + secBenchSecret + "/value"}
}

// auditRows is how many audit rows the service account has (it only reads the value).
func (f *secBenchFixture) auditRows(b *testing.B) int {
	b.Helper()
	l, err := f.admin.SecretsAuditTrail(context.Background(), api.SecretAuditQuery{Actor: f.saID, PerPage: 1})
	if err != nil {
		b.Fatal(err)
	}
	return l.Total
}

func (f *secBenchFixture) run(b *testing.B) {
	before := f.auditRows(b)
	ok := secClosedLoop(b, f.http, f.valueURL, "Bearer "+f.saToken)
	if got := f.auditRows(b) - before; got != ok {
		b.Fatalf("audit rows grew by %d for %d successful reads", got, ok)
	}
	b.ReportMetric(float64(ok), "audited")
}

// secClosedLoop sends b.N GETs from exactly secBenchClients goroutines, each sending its next
// request when the last one is answered, reports the figures and returns how many got 200.
func secClosedLoop(b *testing.B, hc *http.Client, url, authz string) int {
	b.Helper()
	var next, okCount atomic.Int64
	lat := make([][]time.Duration, secBenchClients)
	var mu sync.Mutex
	kinds := map[string]int{}
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range secBenchClients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				status, err := secGet(hc, url, authz)
				lat[w] = append(lat[w], time.Since(t0))
				if err == nil && status == http.StatusOK {
					okCount.Add(1)
					continue
				}
				kind := fmt.Sprint(status)
				if err != nil {
					kind = err.Error()
				}
				mu.Lock()
				kinds[kind]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	errs := b.N - int(okCount.Load())
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(secNearestRank(all, 50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(secNearestRank(all, 99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(errs), "errors")
	if errs > 0 {
		b.Errorf("%s: %d of %d requests failed: %v", url, errs, b.N, kinds)
	}
	return int(okCount.Load())
}

func secGet(hc *http.Client, url, authz string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", authz)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// secNearestRank is the p-th percentile of sorted by the nearest-rank method.
func secNearestRank(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(i, 0)]
}
