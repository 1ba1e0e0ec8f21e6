package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runLoad runs the command with args and returns its exit status, stdout and stderr.
func runLoad(t *testing.T, p *program, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runLoadContext(t.Context(), p, args...)
}

func runLoadContext(ctx context.Context, p *program, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	p.stdout, p.stderr = &out, &errOut
	code = p.main(ctx, args)
	return code, out.String(), errOut.String()
}

// decodeResult parses -json output, failing the test if it is not one JSON object.
func decodeResult(t *testing.T, stdout string) (*result, map[string]any) {
	t.Helper()
	var r result
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("-json output does not parse: %v\n%s", err, stdout)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(stdout), &m); err != nil {
		t.Fatal(err)
	}
	return &r, m
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestLoadCountsRatesAndDuration(t *testing.T) {
	var hits, conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, strings.Repeat("x", 1000))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	const clients = 4
	began := time.Now()
	code, stdout, stderr := runLoad(t, &program{}, "-c", strconv.Itoa(clients), "-d", "200ms", "-warmup", "50ms",
		"-json", "-label", "counts", srv.URL+"/a", srv.URL+"/b")
	elapsed := time.Since(began)
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	if elapsed < 250*time.Millisecond || elapsed > 1500*time.Millisecond {
		t.Errorf("run took %v, want about 250ms (200ms + 50ms warm-up)", elapsed)
	}

	r, m := decodeResult(t, stdout)
	for _, key := range []string{"label", "clients", "duration_s", "requests", "requests_per_second",
		"p50_ms", "p90_ms", "p99_ms", "max_ms", "errors", "error_rate", "error_kinds", "urls"} {
		if _, ok := m[key]; !ok {
			t.Errorf("-json output has no %q", key)
		}
	}
	if r.Label != "counts" || r.Clients != clients || r.DurationS != 0.2 || r.WarmupS != 0.05 {
		t.Errorf("label/clients/duration/warmup = %q/%d/%v/%v", r.Label, r.Clients, r.DurationS, r.WarmupS)
	}
	if r.Requests < 10 {
		t.Fatalf("only %d requests in 200ms", r.Requests)
	}
	if h := hits.Load(); r.Requests > h {
		t.Errorf("counted %d requests but the server saw %d", r.Requests, h)
	}
	if want := float64(r.Requests) / 0.2; r.RequestsPerSecond != want {
		t.Errorf("requests/s = %v, want %v", r.RequestsPerSecond, want)
	}
	if r.Errors != 0 || len(r.ErrorKinds) != 0 {
		t.Errorf("errors = %d %v, want none", r.Errors, r.ErrorKinds)
	}
	if !(r.MinMS > 0 && r.MinMS <= r.P50MS && r.P50MS <= r.P90MS && r.P90MS <= r.P99MS && r.P99MS <= r.MaxMS) {
		t.Errorf("latencies out of order: min %v p50 %v p90 %v p99 %v max %v", r.MinMS, r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
	}
	if len(r.URLs) != 2 || r.URLs[0].Requests+r.URLs[1].Requests != r.Requests {
		t.Fatalf("per-URL counts %+v do not add up to %d", r.URLs, r.Requests)
	}
	// Round-robin: the two URLs get the same share, give or take the cut-offs at each end.
	if d := r.URLs[0].Requests - r.URLs[1].Requests; d < -2*clients || d > 2*clients {
		t.Errorf("per-URL counts %d and %d are not round-robin", r.URLs[0].Requests, r.URLs[1].Requests)
	}
	// Keep-alive: about one connection per client, reused. (The transport may dial a spare
	// while a finished request hands its connection back, so allow some slack.)
	if n := conns.Load(); n > 2*clients {
		t.Errorf("%d connections opened for %d clients", n, clients)
	}
}

func TestLoadErrorKinds(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	refused := "http://" + closedPort(t) + "/refused"
	urls := []string{srv.URL + "/ok", srv.URL + "/unavailable", srv.URL + "/redirect", srv.URL + "/slow", refused}

	code, stdout, stderr := runLoad(t, &program{}, append([]string{"-c", "5", "-d", "400ms", "-warmup", "0",
		"-timeout", "150ms", "-json"}, urls...)...)
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	r, _ := decodeResult(t, stdout)
	byURL := map[string]urlResult{}
	for _, u := range r.URLs {
		byURL[u.URL] = u
		if u.Requests == 0 {
			t.Errorf("%s: no requests", u.URL)
		}
	}
	kinds := map[string]string{
		srv.URL + "/unavailable": "status_503",
		srv.URL + "/redirect":    "status_302",
		srv.URL + "/slow":        kindTimeout,
		refused:                  kindTransport,
	}
	// Each failing URL fails every time, with its own kind. (Under a loaded test machine any
	// request may also time out, so kinds are checked for presence, not exact counts.)
	var wantErrors, kindTotal int64
	for u, kind := range kinds {
		got := byURL[u]
		if got.Errors != got.Requests {
			t.Errorf("%s: %d errors in %d requests, want all", u, got.Errors, got.Requests)
		}
		if r.ErrorKinds[kind] == 0 {
			t.Errorf("no errors of kind %s (%s)", kind, u)
		}
		wantErrors += got.Errors
		kindTotal += r.ErrorKinds[kind]
	}
	if kindTotal != r.Errors {
		t.Errorf("error kinds %v add up to %d, want %d", r.ErrorKinds, kindTotal, r.Errors)
	}
	if ok := byURL[srv.URL+"/ok"]; ok.Errors != 0 {
		t.Errorf("/ok: %d errors", ok.Errors)
	}
	if r.Errors != wantErrors || len(r.ErrorKinds) != len(kinds) {
		t.Errorf("errors = %d %v, want %d in %d kinds", r.Errors, r.ErrorKinds, wantErrors, len(kinds))
	}

	// -ok-status makes 503 and 302 successes.
	code, stdout, stderr = runLoad(t, &program{}, "-c", "2", "-d", "100ms", "-warmup", "0", "-json",
		"-ok-status", "2xx,302,503", srv.URL+"/unavailable", srv.URL+"/redirect")
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	if r, _ := decodeResult(t, stdout); r.Requests == 0 || r.Errors != 0 {
		t.Errorf("with -ok-status: %d errors in %d requests, want none", r.Errors, r.Requests)
	}
}

func TestMaxErrorRate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"errors, default never fails", []string{srv.URL + "/bad"}, exitOK},
		{"errors above the limit", []string{"-max-error-rate", "0.01", srv.URL + "/bad"}, exitErrorRate},
		{"half errors below the limit", []string{"-max-error-rate", "0.6", srv.URL + "/bad", srv.URL + "/good"}, exitOK},
		{"no errors", []string{"-max-error-rate", "0", srv.URL + "/good"}, exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-c", "2", "-d", "100ms", "-warmup", "0"}, tt.args...)
			code, _, stderr := runLoad(t, &program{}, args...)
			if code != tt.want {
				t.Errorf("exit status %d, want %d; stderr: %s", code, tt.want, stderr)
			}
			if tt.want == exitErrorRate && !strings.Contains(stderr, "above -max-error-rate") {
				t.Errorf("stderr = %q", stderr)
			}
		})
	}
}

// TestDurationCutsOffSlowRequests checks that a hanging server cannot stretch the run: requests
// in flight at the end are cancelled and not counted.
func TestDurationCutsOffSlowRequests(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	began := time.Now()
	code, stdout, stderr := runLoad(t, &program{}, "-c", "3", "-d", "200ms", "-warmup", "0", "-timeout", "10s",
		"-json", srv.URL)
	if elapsed := time.Since(began); elapsed > time.Second {
		t.Errorf("run took %v, want about 200ms", elapsed)
	}
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	if r, _ := decodeResult(t, stdout); r.Requests != 0 || r.Errors != 0 {
		t.Errorf("requests/errors = %d/%d, want 0/0", r.Requests, r.Errors)
	}
}

func TestInterrupt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(150*time.Millisecond, cancel)
	began := time.Now()
	code, stdout, stderr := runLoadContext(ctx, &program{}, "-c", "2", "-d", "5m", "-warmup", "50ms", "-json", srv.URL)
	if elapsed := time.Since(began); elapsed > time.Second {
		t.Errorf("run took %v after an interrupt at 150ms", elapsed)
	}
	if code != exitOK || !strings.Contains(stderr, "interrupted") {
		t.Errorf("exit status %d, stderr %q", code, stderr)
	}
	r, _ := decodeResult(t, stdout)
	if !r.Interrupted || r.DurationS < 0.05 || r.DurationS > 0.5 || r.Requests == 0 {
		t.Errorf("interrupted=%v duration=%vs requests=%d, want true, about 0.1s, some",
			r.Interrupted, r.DurationS, r.Requests)
	}
}

func TestRequestShape(t *testing.T) {
	type seen struct {
		method, host, header, ctype, body string
	}
	var (
		mu   sync.Mutex
		got  seen
		once sync.Once
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			got = seen{r.Method, r.Host, r.Header.Get("X-Bench"), r.Header.Get("Content-Type"), string(b)}
		})
	}))
	defer srv.Close()
	bodyFile := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(bodyFile, []byte(`{"email":"a@example.com"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runLoad(t, &program{}, "-c", "1", "-d", "50ms", "-warmup", "0", "-method", "POST",
		"-H", "X-Bench: yes", "-H", "Content-Type: application/json", "-H", "Host: gatehouse.test",
		"-body", "@"+bodyFile, srv.URL)
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	want := seen{"POST", "gatehouse.test", "yes", "application/json", `{"email":"a@example.com"}`}
	if got != want {
		t.Errorf("server saw %+v, want %+v", got, want)
	}
}

func TestTextOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	urlsFile := filepath.Join(t.TempDir(), "urls")
	content := "# targets\n" + srv.URL + "/livez\n\n" + srv.URL + "/readyz\n"
	if err := os.WriteFile(urlsFile, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runLoad(t, &program{}, "-c", "2", "-d", "100ms", "-warmup", "0",
		"-label", "sqlite /livez", "-urls", urlsFile)
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	for _, want := range []string{"sqlite /livez\n", "clients    2", "duration   100ms", "req/s)", "p50 ", " ms",
		"p90 ", "p99 ", "max ", "errors     0", "/livez\n", "/readyz\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestFlags(t *testing.T) {
	code, stdout, _ := runLoad(t, &program{}, "-h")
	if code != exitOK || !strings.HasPrefix(stdout, "Usage: load") || !strings.Contains(stdout, "-allow-non-loopback") {
		t.Errorf("-h: exit %d, stdout %q", code, stdout)
	}

	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no URLs", nil, "no URLs"},
		{"unknown flag", []string{"-x", "http://127.0.0.1/"}, "flag provided but not defined"},
		{"duration above 5m", []string{"-d", "6m", "http://127.0.0.1/"}, "-d: 6m0s"},
		{"zero clients", []string{"-c", "0", "http://127.0.0.1/"}, "-c: 0"},
		{"bad scheme", []string{"ftp://127.0.0.1/"}, "scheme must be http"},
		{"bad header", []string{"-H", "nocolon", "http://127.0.0.1/"}, "'Name: value'"},
		{"bad status set", []string{"-ok-status", "abc", "http://127.0.0.1/"}, "-ok-status"},
		{"bad error rate", []string{"-max-error-rate", "2", "http://127.0.0.1/"}, "-max-error-rate"},
		{"missing body file", []string{"-body", "@/nonexistent/body", "http://127.0.0.1/"}, "-body"},
		{"summary without files", []string{"-summary"}, "-summary needs"},
		{"json file in a missing directory", []string{"-json-file", "/nonexistent/r.json", "http://127.0.0.1/"}, "-json-file"},
		{"several problems at once", []string{"-c", "0", "-d", "0s"}, "-c: 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runLoad(t, &program{}, tt.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Usage: load") {
				t.Errorf("stderr lacks %q or the usage:\n%s", tt.want, stderr)
			}
		})
	}
	_, _, stderr := runLoad(t, &program{}, "-c", "0", "-d", "0s")
	for _, want := range []string{"-c: 0", "-d: 0s", "no URLs"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("all problems should be reported at once; %q missing from:\n%s", want, stderr)
		}
	}
}

func TestSummary(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r result) string {
		t.Helper()
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	a := write("a.json", result{Label: "sqlite /livez", RequestsPerSecond: 41234.56, P50MS: 0.712, P99MS: 3.4567, Requests: 412345})
	b := write("b.json", result{Label: "postgres /readyz", RequestsPerSecond: 9876.5, P50MS: 2.5, P99MS: 12.26,
		Requests: 98765, Errors: 12, ErrorRate: 12.0 / 98765})
	c := write("c.json", result{Label: "cut short", RequestsPerSecond: 10, Interrupted: true, DurationS: 1.5})

	code, stdout, stderr := runLoad(t, &program{}, "-summary", a, b, c)
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	want := "" +
		"label               req/s       p50      p99      errors\n" +
		"sqlite /livez     41234.6  0.712 ms  3.46 ms           0\n" +
		"postgres /readyz   9876.5   2.50 ms  12.3 ms  12 (0.01%)\n" +
		"cut short *          10.0      0 ms     0 ms           0\n" +
		"* cut short: interrupted after 1.5s\n"
	if stdout != want {
		t.Errorf("summary:\n%s\nwant:\n%s", stdout, want)
	}

	// A file that is not a result fails with exit status 2 and names the file.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runLoad(t, &program{}, "-summary", a, bad)
	if code != exitSetupError || !strings.Contains(stderr, "bad.json") {
		t.Errorf("bad file: exit %d, stderr %q", code, stderr)
	}

	// The real round trip: -json-file output (next to the text on stdout) feeds -summary.
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	live := filepath.Join(dir, "live.json")
	code, stdout, stderr = runLoad(t, &program{}, "-c", "1", "-d", "50ms", "-warmup", "0", "-label", "live",
		"-json-file", live, srv.URL)
	if code != exitOK || !strings.HasPrefix(stdout, "live\n  clients") {
		t.Fatalf("-json-file: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, _ := runLoad(t, &program{}, "-summary", live); code != exitOK || !strings.Contains(stdout, "\nlive ") {
		t.Errorf("round trip: exit %d:\n%s", code, stdout)
	}
}

func TestFreePort(t *testing.T) {
	code, stdout, stderr := runLoad(t, &program{}, "-free-port")
	if code != exitOK {
		t.Fatalf("exit status %d; stderr: %s", code, stderr)
	}
	port, err := strconv.Atoi(strings.TrimSpace(stdout))
	if err != nil || port < 1 || port > 65535 {
		t.Fatalf("-free-port printed %q", stdout)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}
