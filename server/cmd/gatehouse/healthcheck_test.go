package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/testenv"
)

func TestHealthcheckLocalURL(t *testing.T) {
	for _, tc := range []struct {
		addr string
		tls  bool
		want string
	}{
		{"0.0.0.0:8080", false, "http://127.0.0.1:8080/readyz"},
		{":8080", false, "http://127.0.0.1:8080/readyz"},
		{"[::]:8080", false, "http://[::1]:8080/readyz"},
		{"127.0.0.1:9090", true, "https://127.0.0.1:9090/readyz"},
		{"gatehouse.internal:8443", true, "https://gatehouse.internal:8443/readyz"},
	} {
		got, err := localURL(tc.addr, tc.tls, "/readyz")
		if err != nil || got != tc.want {
			t.Errorf("localURL(%q, %t) = %q, %v; want %q", tc.addr, tc.tls, got, err, tc.want)
		}
	}
	for _, bad := range []string{"127.0.0.1:0", "nonsense", "127.0.0.1:"} {
		if got, err := localURL(bad, false, "/readyz"); err == nil {
			t.Errorf("localURL(%q) = %q, want an error", bad, got)
		}
	}
}

// probeServer answers each path with the status in statuses and records the paths asked for.
type probeServer struct {
	mu    sync.Mutex
	paths []string
}

func (p *probeServer) handler(statuses map[string]int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths = append(p.paths, r.URL.Path)
		p.mu.Unlock()
		switch st := statuses[r.URL.Path]; st {
		case 0:
			http.NotFound(w, r)
		case http.StatusFound:
			http.Redirect(w, r, "/livez", st)
		default:
			w.WriteHeader(st)
			_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"not ready: database"}}`))
		}
	})
}

func (p *probeServer) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.paths) == 0 {
		return ""
	}
	return p.paths[len(p.paths)-1]
}

var testEnv = []string{"GATEHOUSE_ENV=test"}

func TestHealthcheckExitCodes(t *testing.T) {
	ctx := context.Background()
	var ps probeServer
	srv := httptest.NewServer(ps.handler(map[string]int{"/ok": 200, "/down": 503, "/moved": http.StatusFound}))
	t.Cleanup(srv.Close)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"2xx is healthy", []string{"--url", srv.URL + "/ok"}, 0, "ok " + srv.URL + "/ok 200", ""},
		{"503 is unhealthy and says why", []string{"--url", srv.URL + "/down"}, 1, "", "not ready: database"},
		{"a redirect is unhealthy", []string{"--url", srv.URL + "/moved"}, 1, "", "302"},
		{"404 is unhealthy", []string{"--url", srv.URL + "/nope"}, 1, "", "404"},
		{"nothing listening", []string{"--url", closedURL + "/readyz"}, 1, "", "connect"},
		{"a hung server times out", []string{"--url", hang.URL + "/readyz", "--timeout", "200ms"}, 1, "", "deadline"},
		{"not an http URL", []string{"--url", "ftp://127.0.0.1/readyz"}, 1, "", "want an http"},
		{"extra arguments", []string{"--url", srv.URL + "/ok", "extra"}, 2, "", "Usage:"},
		{"bad timeout", []string{"--timeout", "0s"}, 2, "", "Usage:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, errOut := runCmd(t, ctx, testEnv, append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.code || !strings.Contains(out, tc.inStdout) || !strings.Contains(errOut, tc.inStderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("took %s: the timeout does not bound the probe", time.Since(start))
			}
		})
	}
}

// Without --url the probe goes to the configured listen address, a wildcard host becoming
// loopback, and to /readyz unless --live asks for /livez.
func TestHealthcheckDefaultsToConfiguredAddress(t *testing.T) {
	ctx := context.Background()
	var ps probeServer
	srv := httptest.NewServer(ps.handler(map[string]int{"/readyz": 200, "/livez": 200}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := []string{"GATEHOUSE_ENV=test", "GATEHOUSE_ADDR=0.0.0.0:" + port}

	if code, out, errOut := runCmd(t, ctx, env, "healthcheck"); code != 0 || ps.last() != "/readyz" {
		t.Fatalf("default probe: exit %d, path %q\n%s%s", code, ps.last(), out, errOut)
	}
	if code, out, errOut := runCmd(t, ctx, env, "healthcheck", "--live"); code != 0 || ps.last() != "/livez" {
		t.Fatalf("--live probe: exit %d, path %q\n%s%s", code, ps.last(), out, errOut)
	}
	// A configuration problem unrelated to the address does not fail the probe...
	bad := slices.Concat(env, []string{"GATEHOUSE_LOG_LEVEL=loud"})
	if code, _, errOut := runCmd(t, ctx, bad, "healthcheck"); code != 0 {
		t.Fatalf("invalid but addressable configuration: exit %d %s", code, errOut)
	}
	// ...but an address without a port to probe does.
	if code, _, errOut := runCmd(t, ctx, []string{"GATEHOUSE_ADDR=127.0.0.1:0"}, "healthcheck"); code != 1 || !strings.Contains(errOut, "--url") {
		t.Fatalf("port 0: exit %d %s", code, errOut)
	}
}

// With TLS configured the probe speaks HTTPS to loopback and accepts exactly the configured
// certificate, nothing else.
func TestHealthcheckTLSPinsTheConfiguredCertificate(t *testing.T) {
	ctx := context.Background()
	var ps probeServer
	srv := httptest.NewTLSServer(ps.handler(map[string]int{"/readyz": 200}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	dir := t.TempDir()
	writeCert := func(name string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	right := writeCert("right.pem", srv.Certificate().Raw)
	wrong := writeCert("wrong.pem", selfSigned(t))
	env := func(cert string) []string {
		// The key file is the server's business; the probe reads only the certificate.
		return []string{"GATEHOUSE_ENV=test", "GATEHOUSE_ADDR=0.0.0.0:" + port, "GATEHOUSE_TLS_CERT_FILE=" + cert, "GATEHOUSE_TLS_KEY_FILE=" + filepath.Join(dir, "unused.key")}
	}
	if code, out, errOut := runCmd(t, ctx, env(right), "healthcheck"); code != 0 || !strings.HasPrefix(out, "ok https://127.0.0.1:") {
		t.Fatalf("pinned certificate: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCmd(t, ctx, env(wrong), "healthcheck"); code != 1 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("another certificate: exit %d %s", code, errOut)
	}
}

// selfSigned makes a certificate other than httptest's (which every httptest server shares).
func selfSigned(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "not-the-server"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// The probe against the real server: healthy while it serves, unhealthy once it has stopped.
func TestHealthcheckAgainstServe(t *testing.T) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	env := append(dbEnv(t, testenv.SQLite), "GATEHOUSE_ADDR="+addr)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errb testenv.Buffer
	go func() { done <- run(ctx, []string{"serve"}, strings.NewReader(""), &bytes.Buffer{}, &errb, env) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errb.String(), `"msg":"listening"`) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server did not start:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "--live"}} {
		if code, out, errOut := runCmd(t, context.Background(), env, args...); code != 0 || !strings.Contains(out, "200 OK") {
			t.Errorf("%v against a serving server: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d\n%s", code, errb.String())
	}
	if code, _, _ := runCmd(t, context.Background(), env, "healthcheck", "--timeout", "1s"); code != 1 {
		t.Fatalf("healthcheck after stop: exit %d, want 1", code)
	}
}
