//go:build cluster

package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx": the test reads the cluster's schema directly

	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// Accounts every cluster gets (created with gatehouse admin create before the replicas start).
// The locked account's address is new at every run: lockout counts live in Redis for hours.
const (
	adminEmail = "cluster-admin@example.test"
	adminPass  = "amber-harbor-lantern-71"
	userEmail  = "cluster-user@example.test"
	userPass   = "quiet-meadow-compass-42"
	lockPass   = "silver-canyon-ember-93"
	loadEmail  = "cluster-load@example.test"
	loadPass   = "velvet-orchard-signal-58"
)

var lockEmail = fmt.Sprintf("cluster-lock-%d@example.test", time.Now().UnixNano())

// clientIP is the client address every request of this run claims (X-Forwarded-For, which the
// replicas believe from 127.0.0.1). Rate limits and lockouts are keyed by client IP in Redis,
// which other tests on this machine share: a per-run address keeps their budgets apart.
var clientIP = func() string {
	n := time.Now().UnixNano()
	return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, 1+n&0x7f)
}()

// xff adds the run's X-Forwarded-For to every request.
type xff struct{ next http.RoundTripper }

func (x xff) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", clientIP)
	return x.next.RoundTrip(r)
}

// buildBinary builds the real gatehouse command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "gatehouse/server/cmd/gatehouse")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build gatehouse: %v\n%s", err, out)
	}
	t.Logf("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// requiredEnv fails (never skips) when a service the cluster needs is not configured.
func requiredEnv(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: the cluster test needs a real PostgreSQL and Redis (see make test-cluster)", name)
	}
	return v
}

// cluster is a set of replicas sharing one database schema (and Redis, when given).
type cluster struct {
	t        *testing.T
	bin      string
	dir      string
	env      []string // shared GATEHOUSE_* settings
	dbURL    string
	db       *sql.DB
	replicas []*replica
}

// replica is one gatehouse serve process, restartable on the same port.
type replica struct {
	c    *cluster
	idx  int
	addr string
	log  *os.File

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd exits
	err  error         // cmd.Wait's result
}

// newCluster creates a fresh PostgreSQL schema, migrates it with gatehouse migrate up, creates
// the accounts with gatehouse admin create, and starts n replicas.
func newCluster(t *testing.T, bin string, n int, extra map[string]string) *cluster {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	if err := os.WriteFile(keyFile, []byte("cluster-test-master-key-not-for-production\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := testenv.FreshPostgres(t)
	settings := map[string]string{
		"GATEHOUSE_ENV":             "test",
		"GATEHOUSE_DATABASE_URL":    dbURL,
		"GATEHOUSE_DATA_DIR":        dir,
		"GATEHOUSE_MASTER_KEY_FILE": keyFile,
		"GATEHOUSE_AUTO_MIGRATE":    "false",
		"GATEHOUSE_LOG_LEVEL":       "info",
		"GATEHOUSE_LOG_FORMAT":      "json",
		"GATEHOUSE_METRICS_ENABLED": "true",
		// Every request comes from 127.0.0.1 (the proxy): the per-IP limits must not be what
		// refuses the load. The per-account lockout is what the throttling check proves.
		"GATEHOUSE_LOGIN_RATE_PER_IP":     "60000",
		"GATEHOUSE_MFA_RATE_PER_IP":       "60000",
		"GATEHOUSE_HTTP_SHUTDOWN_TIMEOUT": "20s",
		"GATEHOUSE_HTTP_TRUSTED_PROXIES":  "127.0.0.1",
		// The rolling restart takes a replica out of rotation and stops it at the same moment,
		// as a platform without a preStop wait does: the delay serves the connections the
		// proxy opened just before.
		"GATEHOUSE_HTTP_SHUTDOWN_DELAY": "500ms",
		// PostgreSQL's 100 connections are shared with every other test on the machine.
		"GATEHOUSE_DB_MAX_OPEN_CONNS":      "8",
		"GATEHOUSE_JOBS_LOCK_CHECK":        "200ms",
		"GATEHOUSE_JOBS_ROTATION_INTERVAL": "1s",
		"GATEHOUSE_JOBS_ROTATION_WARNING":  "0s",
		"GATEHOUSE_JOBS_CLEANUP_INTERVAL":  "1s",
		"GATEHOUSE_JOBS_CLEANUP_RETENTION": "0s",
	}
	for k, v := range extra {
		settings[k] = v
	}
	c := &cluster{t: t, bin: bin, dir: dir, dbURL: dbURL}
	for k, v := range settings {
		c.env = append(c.env, k+"="+v)
	}
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { _ = db.Close() })
	c.db = db

	c.run("migrate", "up")
	c.run("admin", "create", "--email", adminEmail, "--password", adminPass, "--role", "admin")
	for _, acct := range [][2]string{{userEmail, userPass}, {lockEmail, lockPass}, {loadEmail, loadPass}} {
		c.run("admin", "create", "--email", acct[0], "--password", acct[1])
	}

	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{c: c, idx: i, addr: addr, log: f}
		c.replicas = append(c.replicas, r)
	}
	t.Cleanup(func() {
		for _, r := range c.replicas {
			r.kill()
			_ = r.log.Close()
		}
		if t.Failed() {
			for _, r := range c.replicas {
				t.Logf("--- replica %d log (tail) ---\n%s", r.idx, tail(r.log.Name(), 60))
			}
		}
	})
	for _, r := range c.replicas {
		r.start(t)
	}
	for _, r := range c.replicas {
		r.waitReady(t, 60*time.Second)
	}
	return c
}

// run runs a gatehouse command against the cluster's database and fails the test on error.
func (c *cluster) run(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args[:min(2, len(args))], " "), err, out)
	}
	return string(out)
}

func (r *replica) url() string { return "http://" + r.addr }

func (r *replica) start(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command(r.c.bin, "serve")
	cmd.Env = append(append([]string{}, r.c.env...), "GATEHOUSE_ADDR="+r.addr)
	cmd.Stdout = r.log
	cmd.Stderr = r.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start replica %d: %v", r.idx, err)
	}
	done := make(chan struct{})
	r.cmd, r.done, r.err = cmd, done, nil
	go func() {
		err := cmd.Wait()
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		close(done)
	}()
}

// running reports whether the process is up.
func (r *replica) running() bool {
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (r *replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// wait waits for the process to exit and returns its exit code. A process that does not
// exit in time is sent SIGQUIT, so its goroutines are in the log the failure shows.
func (r *replica) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	r.mu.Lock()
	done := r.done
	r.mu.Unlock()
	select {
	case <-done:
	case <-time.After(timeout):
		r.signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		t.Fatalf("replica %d did not exit within %s; its log ends:\n%s", r.idx, timeout, tail(r.log.Name(), 400))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case r.err == nil:
		return 0
	case errors.As(r.err, &ee):
		return ee.ExitCode() // -1 when killed by a signal
	default:
		t.Fatalf("replica %d: %v", r.idx, r.err)
		return -2
	}
}

// kill SIGKILLs the process if it runs (test clean-up).
func (r *replica) kill() {
	if r.running() {
		r.signal(syscall.SIGKILL)
		r.mu.Lock()
		done := r.done
		r.mu.Unlock()
		<-done
	}
}

// waitReady polls /readyz until it answers 200.
func (r *replica) waitReady(t *testing.T, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	hc := &http.Client{Timeout: time.Second}
	for time.Since(start) < timeout {
		if !r.running() {
			t.Fatalf("replica %d exited while starting:\n%s", r.idx, tail(r.log.Name(), 40))
		}
		resp, err := hc.Get(r.url() + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("replica %d not ready within %s:\n%s", r.idx, timeout, tail(r.log.Name(), 40))
	return 0
}

// client returns a typed client talking to this replica directly.
func (r *replica) client(opts ...client.Option) *client.Client {
	return newClient(r.c.t, r.url(), opts...)
}

func newClient(t *testing.T, base string, opts ...client.Option) *client.Client {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: xff{next: http.DefaultTransport}}
	c, err := client.New(base, append([]client.Option{client.WithHTTPClient(hc)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// metrics scrapes /metrics of a replica into "name{labels}" → value.
func (r *replica) metrics() (map[string]float64, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	resp, err := hc.Get(r.url() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// adminClient signs the administrator in (bearer) through base.
func adminClient(t *testing.T, base string) *client.Client {
	t.Helper()
	c := newClient(t, base)
	if _, err := c.TokenWithPassword(context.Background(), adminEmail, adminPass); err != nil {
		t.Fatalf("admin sign-in: %v", err)
	}
	return c
}

func isCode(err error, code api.Code) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == code
}

// --- the proxy ---

// proxy is a round-robin reverse proxy over the replicas, as a load balancer in front of a
// Deployment would be. What it does, exactly:
//
//   - It sends each request to the next replica in rotation. A replica is in rotation while
//     its last /readyz probe (every 100 ms) answered 200 and the test has not taken it out
//     (drain: what a Kubernetes endpoint removal does when a pod is told to stop).
//   - It opens a new connection per request (no keep-alive to the replicas), so a replica
//     that closed its listener refuses the connection instead of racing an idle keep-alive
//     connection it is closing.
//   - When connecting to a replica fails (refused: the process is gone or its listener
//     closed), nothing was sent, so it takes the replica out of rotation and sends the request
//     to the next one. That is its only retry: a request that reached a replica and failed
//     (the replica died mid-request) is answered 502 and counted as failed.
//   - It passes the client's X-Forwarded-For on (the replicas trust 127.0.0.1 as a proxy).
type proxy struct {
	backends []*backend
	next     atomic.Uint64
	tr       *http.Transport
	srv      *httptest.Server

	requests, failures, refusedRetries atomic.Int64
	mu                                 sync.Mutex
	failed                             []failure
}

type backend struct {
	idx      int
	url      *url.URL
	healthy  atomic.Bool
	drained  atomic.Bool
	inflight atomic.Int64
	served   atomic.Int64
}

type failure struct {
	backend int
	start   time.Time
	err     string
}

// replicaHeader names, on every proxied response, the replica that answered.
const replicaHeader = "X-Cluster-Replica"

func newProxy(t *testing.T, replicas []*replica) *proxy {
	t.Helper()
	p := &proxy{tr: &http.Transport{
		DisableKeepAlives:     true,
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	for _, r := range replicas {
		u, _ := url.Parse(r.url())
		b := &backend{idx: r.idx, url: u}
		p.backends = append(p.backends, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, b := range p.backends {
		b.healthy.Store(p.probe(ctx, b))
		wg.Go(func() {
			tk := time.NewTicker(100 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
					b.healthy.Store(p.probe(ctx, b))
				}
			}
		})
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "cluster.invalid" // RoundTrip picks the replica
			// The client's address as the client claims it: the test's clients are trusted.
			if v := pr.In.Header.Get("X-Forwarded-For"); v != "" {
				pr.Out.Header.Set("X-Forwarded-For", v)
			}
		},
		Transport: p,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.srv = httptest.NewServer(rp)
	t.Cleanup(func() {
		p.srv.Close()
		cancel()
		wg.Wait()
		p.tr.CloseIdleConnections()
	})
	return p
}

func (p *proxy) url() string { return p.srv.URL }

func (p *proxy) probe(ctx context.Context, b *backend) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url.String()+"/readyz", nil)
	resp, err := p.tr.RoundTrip(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// pick returns the next replica in rotation not yet tried, or nil.
func (p *proxy) pick(tried map[int]bool) *backend {
	n := len(p.backends)
	for range n {
		b := p.backends[int(p.next.Add(1)%uint64(n))]
		if !tried[b.idx] && b.healthy.Load() && !b.drained.Load() {
			return b
		}
	}
	return nil
}

// RoundTrip implements the proxy's balancing and its one retry (see proxy).
func (p *proxy) RoundTrip(req *http.Request) (*http.Response, error) {
	p.requests.Add(1)
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	start := time.Now()
	tried := map[int]bool{}
	for {
		b := p.pick(tried)
		if b == nil {
			p.fail(-1, start, errors.New("no replica in rotation"))
			return nil, errors.New("proxy: no replica in rotation")
		}
		tried[b.idx] = true
		out := req.Clone(req.Context())
		out.URL.Host, out.Host = b.url.Host, ""
		out.Body, out.ContentLength = http.NoBody, 0
		if len(body) > 0 {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		b.inflight.Add(1)
		resp, err := p.tr.RoundTrip(out)
		if err == nil {
			b.served.Add(1)
			resp.Header.Set(replicaHeader, strconv.Itoa(b.idx))
			resp.Body = &doneBody{ReadCloser: resp.Body, done: func() { b.inflight.Add(-1) }}
			return resp, nil
		}
		b.inflight.Add(-1)
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			b.healthy.Store(false) // the probe puts it back once it answers again
			p.refusedRetries.Add(1)
			continue
		}
		p.fail(b.idx, start, err)
		return nil, err
	}
}

func (p *proxy) fail(idx int, start time.Time, err error) {
	p.failures.Add(1)
	p.mu.Lock()
	p.failed = append(p.failed, failure{backend: idx, start: start, err: err.Error()})
	p.mu.Unlock()
}

func (p *proxy) failuresSince(i int) []failure {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]failure(nil), p.failed[i:]...)
}

func (p *proxy) failureCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.failed)
}

type doneBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (d *doneBody) Close() error {
	d.once.Do(d.done)
	return d.ReadCloser.Close()
}
