package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

func TestOpsEndpoints(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()

		live, err := env.Client.Livez(ctx)
		if err != nil || live.Status != api.StatusOK {
			t.Fatalf("livez: %+v %v", live, err)
		}
		ready, err := env.Client.Readyz(ctx)
		if err != nil || ready.Status != api.StatusOK || ready.Checks["database"].Status != api.StatusOK {
			t.Fatalf("readyz: %+v %v", ready, err)
		}
		if _, ok := ready.Checks["redis"]; ok {
			t.Fatal("redis is not configured, so it must not be checked")
		}
		v, err := env.Client.Version(ctx)
		if err != nil || v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
			t.Fatalf("version: %+v %v", v, err)
		}
		_, err = env.Client.Do(ctx, http.MethodGet, "/api/v1/no-such-route", nil, nil)
		if client.ErrorCode(err) != api.CodeNotFound {
			t.Fatalf("unknown route: %v", err)
		}
		var apiErr *api.Error
		if !errors.As(err, &apiErr) || apiErr.HTTPStatus != 404 || apiErr.RequestID == "" {
			t.Fatalf("error should carry status and request ID: %+v", apiErr)
		}

		metrics := get(t, env.URL+"/metrics")
		for _, want := range []string{
			`gatehouse_http_requests_total{method="GET",route="/livez",status="200"} 1`,
			`gatehouse_http_request_duration_seconds_bucket{method="GET",route="/readyz"`,
			`route="unmatched"`, // 404s are not labelled with raw paths
			`go_sql_max_open_connections{db_name="gatehouse"}`,
			`go_sql_in_use_connections{db_name="gatehouse"}`,
			`gatehouse_db_pool_limit{dialect="` + dialect + `",limit="max_idle_connections"}`,
			`go_goroutines`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
		if strings.Contains(metrics, "no-such-route") {
			t.Error("metrics must not carry raw paths")
		}

		if s := env.App.Pool.Sample(); s.Dialect != dialect || s.MaxOpenConnections != env.App.DB.Limits().MaxOpenConns || s.OpenConnections < 1 {
			t.Errorf("pool sample: %+v", s)
		}
	})
}

func TestReadyzNamesFailingDatabase(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		if err := env.App.DB.Close(); err != nil {
			t.Fatal(err)
		}
		h, err := env.Client.Readyz(context.Background())
		if client.ErrorCode(err) != api.CodeUnavailable || !strings.Contains(err.Error(), "database") {
			t.Fatalf("want unavailable naming the database, got %v", err)
		}
		if h == nil || h.Checks["database"].Status != api.StatusFail {
			t.Fatalf("checks: %+v", h)
		}
		if strings.Contains(err.Error(), "postgres://") || strings.Contains(h.Checks["database"].Error, "postgres://") {
			t.Fatal("the failure must not leak the connection string")
		}
		if _, err := env.Client.Livez(context.Background()); err != nil {
			t.Fatalf("liveness does not depend on the database: %v", err)
		}
	})
}

func TestReadyzChecksRedis(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.WithRedis(t))
	h, err := env.Client.Readyz(context.Background())
	if err != nil || h.Checks["redis"].Status != api.StatusOK {
		t.Fatalf("readyz with redis: %+v %v", h, err)
	}

	down := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) {
		c.Redis.URL = "redis://127.0.0.1:" + closedPort(t) + "/0"
	}))
	h, err = down.Client.Readyz(context.Background())
	if client.ErrorCode(err) != api.CodeUnavailable || !strings.Contains(err.Error(), "redis") {
		t.Fatalf("want unavailable naming redis, got %v", err)
	}
	if h.Checks["redis"].Status != api.StatusFail || h.Checks["database"].Status != api.StatusOK {
		t.Fatalf("checks: %+v", h.Checks)
	}
}

// SEC-18: logs are JSON lines carrying the request ID, and never a body, cookie, bearer token
// or query string.
func TestSEC18LogsCarryRequestIDAndNoCredentials(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	secrets := []string{"bearer-secret-123", "cookie-secret-456", "query-secret-789", "body-password-abc"}
	for _, path := range []string{"/livez?token=query-secret-789", "/api/v1/version?access_token=query-secret-789", "/api/v1/nope?token=query-secret-789"} {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, env.URL+path,
			strings.NewReader(`{"email":"a@example.com","password":"body-password-abc"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer bearer-secret-123")
		req.Header.Set("Cookie", "gatehouse_session=cookie-secret-456")
		req.Header.Set(api.HeaderRequestID, "trace-abc-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.Header.Get(api.HeaderRequestID) != "trace-abc-123" {
			t.Fatalf("request ID not echoed: %q", resp.Header.Get(api.HeaderRequestID))
		}
	}
	logs := env.Logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain %q:\n%s", s, logs)
		}
	}
	withID := 0
	for _, line := range env.Logs.Lines() {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["request_id"] == "trace-abc-123" {
			withID++
		}
	}
	if withID < 3 {
		t.Fatalf("want an access log line with the request ID per request, got %d:\n%s", withID, logs)
	}
}

// SEC-43: a wrong master key fails start-up loudly and changes nothing.
func TestSEC43WrongMasterKeyFailsStart(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		ctx := context.Background()
		a, err := app.New(ctx, cfg, discard())
		if err != nil {
			t.Fatal(err)
		}
		ct, err := a.Keyring.Encrypt([]byte("kept"))
		if err != nil {
			t.Fatal(err)
		}
		_ = a.Close()

		wrong := cfg
		wrong.Keyring.MasterKey = "not-the-key-this-database-knows"
		if _, err := app.New(ctx, wrong, discard()); !errors.Is(err, keyring.ErrWrongMasterKey) || !strings.Contains(err.Error(), "master key") {
			t.Fatalf("want ErrWrongMasterKey with a clear message, got %v", err)
		}
		again, err := app.New(ctx, cfg, discard())
		if err != nil {
			t.Fatalf("the right key must still open the keyring: %v", err)
		}
		defer again.Close()
		if pt, err := again.Keyring.Decrypt(ct); err != nil || string(pt) != "kept" {
			t.Fatalf("data from before the failed start: %q %v", pt, err)
		}
	})
}

func TestSchemaBehindRefusesStart(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		cfg := testenv.Config(t, dialect)
		off := false
		cfg.Database.AutoMigrate = &off
		if _, err := app.New(context.Background(), cfg, discard()); !errors.Is(err, app.ErrSchemaBehind) {
			t.Fatalf("want ErrSchemaBehind, got %v", err)
		}
	})
}

func TestDevelopmentGeneratesMasterKeyOnce(t *testing.T) {
	cfg := testenv.Config(t, testenv.SQLite)
	cfg.Env = config.EnvDevelopment
	cfg.Keyring.MasterKey = ""
	for i := range 2 {
		a, err := app.New(context.Background(), cfg, discard())
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		_ = a.Close()
	}
	fi, err := os.Stat(filepath.Join(cfg.Database.DataDir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v %v", fi, err)
	}

	prod := cfg
	prod.Env = config.EnvProduction
	if _, err := app.New(context.Background(), prod, discard()); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("production without a master key must not start: %v", err)
	}
}

func TestGracefulShutdownDrainsInFlightRequests(t *testing.T) {
	cfg := testenv.Config(t, testenv.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	started := make(chan struct{})
	real := a.Handler
	a.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(started)
			time.Sleep(300 * time.Millisecond)
			_, _ = io.WriteString(w, "finished")
			return
		}
		real.ServeHTTP(w, r)
	})
	addr, done := serve(t, ctx, a)

	body := make(chan string, 1)
	go func() { body <- get(t, "http://"+addr+"/slow") }()
	<-started
	cancel() // SIGTERM arrives while /slow is in flight
	if got := <-body; got != "finished" {
		t.Fatalf("in-flight request cut off: %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	refused(t, addr)
}

// With a shutdown delay, a stopping server first says it is not ready and goes on serving, new
// connections included, with keep-alives off; only after the delay does it close the listener.
func TestShutdownDelayServesBeforeClosing(t *testing.T) {
	cfg := testenv.Config(t, testenv.SQLite)
	const delay = 3 * time.Second
	cfg.HTTP.ShutdownDelay = delay
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	addr, done := serve(t, ctx, a)
	base := "http://" + addr
	if code, _ := status(t, base+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz before the stop: %d", code)
	}
	if _, closes := status(t, base+"/livez"); closes {
		t.Fatal("keep-alives are off before the stop")
	}

	stopped := time.Now()
	cancel() // SIGTERM
	// /readyz turns 503 at once, and the server still answers on new connections meanwhile.
	deadline := time.Now().Add(delay)
	for {
		code, _ := status(t, base+"/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after the stop", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, closes := status(t, base+"/livez")
	if code != http.StatusOK || !closes {
		t.Fatalf("/livez during the delay: %d, connection closed after it %v; want 200 on a closing connection", code, closes)
	}
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if waited := time.Since(stopped); waited < delay {
		t.Fatalf("the listener closed %s after the stop, before the %s delay", waited, delay)
	}
	refused(t, addr)
}

// serve runs a.Serve on a fresh loopback listener until ctx ends; done receives its result.
func serve(t *testing.T, ctx context.Context, a *app.App) (addr string, done <-chan error) {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	go func() { res <- a.Serve(ctx, ln) }()
	return ln.Addr().String(), res
}

// refused fails the test when addr still accepts connections (after shutdown).
func refused(t *testing.T, addr string) {
	t.Helper()
	var d net.Dialer
	if conn, err := d.DialContext(context.Background(), "tcp", addr); err == nil {
		_ = conn.Close()
		t.Fatal("new connections must be refused after shutdown")
	}
}

// status GETs url on a new connection, offering to keep it alive, and returns the status and
// whether the server closes the connection after the response (keep-alives off).
func status(t *testing.T, url string) (int, bool) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Close
}

func get(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Error(err)
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func closedPort(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_ = ln.Close()
	return port
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
