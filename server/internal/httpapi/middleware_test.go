package httpapi

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/shared/api"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRequestID(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	long := strings.Repeat("a", 128)
	tests := []struct {
		name     string
		incoming string // "" sends no header
		keep     bool   // the incoming ID is adopted
	}{
		{"generated when absent", "", false},
		{"accepted uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"accepted with all allowed punctuation", "trace.01_ab:cd-EF", true},
		{"accepted at 128 chars", long, true},
		{"replaced when too long", long + "a", false},
		{"replaced with space", "abc def", false},
		{"replaced with newline (log forging)", "abc\nlevel=ERROR", false},
		{"replaced with slash", "a/b", false},
		{"replaced with non-ASCII", "idé", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
			if tt.incoming != "" {
				req.Header.Set(api.HeaderRequestID, tt.incoming)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)

			got := rec.Header().Get(api.HeaderRequestID)
			if tt.keep && got != tt.incoming {
				t.Fatalf("request ID %q not adopted, got %q", tt.incoming, got)
			}
			if !tt.keep && !uuidRE.MatchString(got) {
				t.Fatalf("want a generated uuid v4, got %q", got)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["gin"] != got || body["request"] != got {
				t.Fatalf("RequestID in handler = %v, header %q", body, got)
			}
			if line := logs.find(t, "http request", got); line["request_id"] != got {
				t.Fatalf("access log request_id = %v", line["request_id"])
			}
		})
	}

	t.Run("unique per request", func(t *testing.T) {
		a := do(s.Handler(), http.MethodGet, "/livez", nil, nil).Header().Get(api.HeaderRequestID)
		b := do(s.Handler(), http.MethodGet, "/livez", nil, nil).Header().Get(api.HeaderRequestID)
		if a == b {
			t.Fatalf("two requests got the same ID %q", a)
		}
	})
}

func TestRequestIDOutsideRequest(t *testing.T) {
	if id := RequestID(t.Context()); id != "" {
		t.Fatalf("RequestID outside a request = %q", id)
	}
	if Logger(t.Context()) == nil {
		t.Fatal("Logger outside a request is nil")
	}
}

func TestAccessLog(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	tests := []struct {
		name, method, target string
		route, path, level   string
		status               int
	}{
		{"route template, not raw path", http.MethodGet, "/api/v1/items/42", "/api/v1/items/:id", "/api/v1/items/42", "INFO", 200},
		{"404 is unmatched at warn", http.MethodGet, "/no/such/thing", "unmatched", "/no/such/thing", "WARN", 404},
		{"405 is unmatched at warn", http.MethodDelete, "/livez", "unmatched", "/livez", "WARN", 405},
		{"5xx at error", http.MethodGet, "/api/v1/fail", "/api/v1/fail", "/api/v1/fail", "ERROR", 500},
		{"panic logged as 500", http.MethodGet, "/api/v1/panic", "/api/v1/panic", "/api/v1/panic", "ERROR", 500},
		{"ops success at debug", http.MethodGet, "/livez", "/livez", "/livez", "DEBUG", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(s.Handler(), tt.method, tt.target, nil, map[string]string{"User-Agent": "gatehouse-test/1"})
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			line := logs.find(t, "http request", rec.Header().Get(api.HeaderRequestID))
			want := map[string]any{
				"method": tt.method, "route": tt.route, "path": tt.path, "level": tt.level,
				"status": float64(tt.status), "client_ip": "192.0.2.1", "user_agent": "gatehouse-test/1",
				"bytes": float64(rec.Body.Len()),
			}
			for k, v := range want {
				if line[k] != v {
					t.Errorf("%s = %#v, want %#v (line %v)", k, line[k], v, line)
				}
			}
			if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms = %#v", line["duration_ms"])
			}
		})
	}

	t.Run("ops success hidden at info level", func(t *testing.T) {
		logs := &logBuffer{}
		s, _ := newTestServer(t, Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		do(s.Handler(), http.MethodGet, "/livez", nil, nil)
		do(s.Handler(), http.MethodGet, "/api/v1/version", nil, nil)
		lines := logs.lines(t)
		if len(lines) != 1 || lines[0]["route"] != "/api/v1/version" {
			t.Fatalf("want only the /api/v1/version line, got %v", lines)
		}
	})
}

// TestAccessLogNeverLeaksSecrets_SEC18 sends a password in the body, a bearer token, a session
// cookie and a token in the query string, through a successful request, a rejected one and a
// panicking one, and asserts none of them reaches any log line.
// SEC-18
func TestAccessLogNeverLeaksSecrets_SEC18(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	secrets := []string{"BODYPASSWORD123", "AUTHTOKEN456", "COOKIEVALUE789", "QUERYTOKEN000", "PANICVALUE"}
	hdr := map[string]string{
		"Content-Type":  "application/json",
		"Authorization": "Bearer AUTHTOKEN456",
		"Cookie":        "__Host-session=COOKIEVALUE789",
	}
	requests := []struct {
		method, target, body string
		status               int
	}{
		{http.MethodPost, "/api/v1/echo?token=QUERYTOKEN000", `{"name":"ann","password":"BODYPASSWORD123"}`, 200},
		{http.MethodPost, "/api/v1/echo?token=QUERYTOKEN000", `{"password":"BODYPASSWORD123","extra":1}`, 400},
		{http.MethodPost, "/api/v1/echo?token=QUERYTOKEN000", `{"password":"BODYPASSWORD123"`, 400},
		{http.MethodGet, "/api/v1/panic?token=QUERYTOKEN000", ``, 500},
		{http.MethodGet, "/api/v1/fail?token=QUERYTOKEN000", ``, 500},
		{http.MethodGet, "/nowhere?token=QUERYTOKEN000", ``, 404},
	}
	for _, r := range requests {
		rec := do(s.Handler(), r.method, r.target, strings.NewReader(r.body), hdr)
		if rec.Code != r.status {
			t.Fatalf("%s %s: status %d, want %d", r.method, r.target, rec.Code, r.status)
		}
		line := logs.find(t, "http request", rec.Header().Get(api.HeaderRequestID))
		if p, _ := line["path"].(string); strings.Contains(p, "?") || strings.Contains(p, "token") {
			t.Errorf("logged path %q carries the query", p)
		}
	}
	out := logs.String()
	if out == "" {
		t.Fatal("nothing was logged")
	}
	for _, secret := range secrets {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}

func TestClientIPTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no trusted proxies: X-Forwarded-For ignored", nil, "192.0.2.1"},
		{"peer is a trusted proxy", []string{"192.0.2.0/24"}, "203.0.113.7"},
		{"peer is not a trusted proxy", []string{"10.0.0.1"}, "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, Options{TrustedProxies: tt.proxies})
			rec := do(s.Handler(), http.MethodGet, "/api/v1/version", nil,
				map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"})
			line := logs.find(t, "http request", rec.Header().Get(api.HeaderRequestID))
			if line["client_ip"] != tt.want {
				t.Fatalf("client_ip = %v, want %s", line["client_ip"], tt.want)
			}
		})
	}
}

func TestPanicRecovery(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	for _, target := range []string{"/api/v1/panic", "/api/v1/panic-nil"} {
		t.Run(target, func(t *testing.T) {
			rec := do(s.Handler(), http.MethodGet, target, nil, nil)
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500", rec.Code)
			}
			e := decodeEnvelope(t, rec)
			if e.Code != api.CodeInternal || e.Message != "internal error" || e.Details != nil {
				t.Fatalf("envelope %+v", e)
			}
			id := rec.Header().Get(api.HeaderRequestID)
			if id == "" {
				t.Fatal("no request ID on the 500")
			}
			if rec.Header().Get("Set-Cookie") != "" {
				t.Fatalf("handler's Set-Cookie survived the panic: %q", rec.Header().Get("Set-Cookie"))
			}
			if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("security headers lost on the 500")
			}
			line := logs.find(t, "panic recovered", id)
			if line["level"] != "ERROR" || line["panic_type"] == "" || !strings.Contains(line["stack"].(string), "httpapi") {
				t.Fatalf("panic log line %v", line)
			}
		})
	}
	if strings.Contains(logs.String(), "PANICVALUE") {
		t.Fatal("panic value logged")
	}
	// The runtime error's own text is useful and carries no request data.
	if !strings.Contains(logs.String(), "index out of range [3] with length 0") {
		t.Fatal("runtime error message not logged")
	}
	if rec := do(s.Handler(), http.MethodGet, "/livez", nil, nil); rec.Code != http.StatusOK {
		t.Fatalf("server stopped serving after a panic: %d", rec.Code)
	}
}

func TestPanicRecoveryRealServer(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	for range 3 {
		resp, err := srv.Client().Get(srv.URL + "/api/v1/panic")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	resp, err := srv.Client().Get(srv.URL + "/livez")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("livez after panics: %d", resp.StatusCode)
	}
}

func TestAbortHandlerIsRepanicked(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, logs := newTestServer(t, Options{Registry: reg})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/abort", nil)
	rec := httptest.NewRecorder()
	func() {
		defer func() {
			rec := recover()
			err, ok := rec.(error)
			if !ok || !errors.Is(err, http.ErrAbortHandler) {
				t.Fatalf("want http.ErrAbortHandler re-panicked, got %v", rec)
			}
		}()
		s.Handler().ServeHTTP(rec, req)
	}()
	line := logs.find(t, "http request", rec.Header().Get(api.HeaderRequestID))
	if line["aborted"] != true {
		t.Fatalf("aborted request not flagged: %v", line)
	}
	if strings.Contains(logs.String(), "panic recovered") {
		t.Fatal("an abort is not a crash; it must not be logged as a recovered panic")
	}
	// 1: the scrape itself is in flight; a leak would make it 2.
	if got := scrape(t, s); !strings.Contains(got, "gatehouse_http_requests_in_flight 1\n") {
		t.Fatalf("in-flight gauge leaked:\n%s", got)
	}
}

// TestSecurityHeaders_SEC52 checks the headers on successes, errors, panics and early 413s.
// SEC-52
func TestSecurityHeaders_SEC52(t *testing.T) {
	always := map[string]string{
		"X-Content-Type-Options":     "nosniff",
		"X-Frame-Options":            "DENY",
		"Content-Security-Policy":    "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":            "no-referrer",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	requests := []struct {
		method, target string
		body           string
		noStore        bool
	}{
		{http.MethodGet, "/livez", "", false},
		{http.MethodGet, "/readyz", "", false},
		{http.MethodGet, "/nope", "", false},
		{http.MethodGet, "/api/v1/version", "", true},
		{http.MethodGet, "/api/v1/nope", "", true},
		{http.MethodPut, "/api/v1/version", "", true},
		{http.MethodGet, "/api/v1/panic", "", true},
		{http.MethodGet, "/api/v1/fail", "", true},
		{http.MethodPost, "/api/v1/echo", strings.Repeat("x", 100), true}, // 413 before the handler
	}
	tests := []struct {
		name     string
		tlsOpt   bool
		tlsConn  bool
		wantHSTS bool
	}{
		{"plain HTTP: no HSTS", false, false, false},
		{"TLS option: HSTS", true, false, true},
		{"TLS connection: HSTS", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newTestServer(t, Options{TLS: tt.tlsOpt, MaxBodyBytes: 10})
			for _, r := range requests {
				req := httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
				req.Header.Set("Content-Type", "application/json")
				if tt.tlsConn {
					req.TLS = &tls.ConnectionState{}
				}
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				h := rec.Header()
				for k, v := range always {
					if h.Get(k) != v {
						t.Errorf("%s %s (%d): %s = %q, want %q", r.method, r.target, rec.Code, k, h.Get(k), v)
					}
				}
				if got := h.Get("Cache-Control") == "no-store"; got != r.noStore {
					t.Errorf("%s %s: Cache-Control = %q, want no-store: %v", r.method, r.target, h.Get("Cache-Control"), r.noStore)
				}
				hsts := h.Get("Strict-Transport-Security")
				if tt.wantHSTS && hsts != "max-age=63072000; includeSubDomains" {
					t.Errorf("%s %s: HSTS = %q", r.method, r.target, hsts)
				}
				if !tt.wantHSTS && hsts != "" {
					t.Errorf("%s %s: HSTS sent without TLS: %q", r.method, r.target, hsts)
				}
			}
		})
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	tests := []struct {
		name, method, target string
		status               int
		code                 api.Code
		allow                string
	}{
		{"unknown path", http.MethodGet, "/nope", 404, api.CodeNotFound, ""},
		{"unknown api path", http.MethodGet, "/api/v1/nope/123", 404, api.CodeNotFound, ""},
		{"trailing slash is not redirected", http.MethodGet, "/api/v1/version/", 404, api.CodeNotFound, ""},
		{"wrong method", http.MethodPost, "/api/v1/version", 405, api.CodeMethodNotAllowed, "GET"},
		{"wrong method on echo", http.MethodGet, "/api/v1/echo", 405, api.CodeMethodNotAllowed, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(s.Handler(), tt.method, tt.target, nil, nil)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Fatalf("Content-Type %q", ct)
			}
			if e := decodeEnvelope(t, rec); e.Code != tt.code {
				t.Fatalf("code %q, want %q", e.Code, tt.code)
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Fatalf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	s, _ := newTestServer(t, Options{MaxBodyBytes: 64})
	big := `{"name":"` + strings.Repeat("a", 100) + `"}`
	tests := []struct {
		name          string
		contentLength int64 // -1: chunked, no Content-Length
		target        string
	}{
		{"declared Content-Length over the limit", int64(len(big)), "/api/v1/echo"},
		{"declared Content-Length, route that never reads", int64(len(big)), "/livez"},
		{"chunked body without Content-Length", -1, "/api/v1/echo"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := http.MethodPost
			if tt.target == "/livez" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tt.target, strings.NewReader(big))
			req.Header.Set("Content-Type", "application/json")
			req.ContentLength = tt.contentLength
			if tt.contentLength < 0 {
				req.TransferEncoding = []string{"chunked"}
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %s", rec.Code, rec.Body)
			}
			e := decodeEnvelope(t, rec)
			if e.Code != api.CodePayloadTooLarge || e.Details["limit_bytes"] != float64(64) {
				t.Fatalf("envelope %+v", e)
			}
		})
	}
	t.Run("at the limit is accepted", func(t *testing.T) {
		body := `{"name":"` + strings.Repeat("a", 64-len(`{"name":""}`)) + `"}`
		rec := do(s.Handler(), http.MethodPost, "/api/v1/echo", strings.NewReader(body), jsonHeader)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
