package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

var errPing = errors.New("dial tcp postgres://gatehouse:hunter2@db:5432: connection refused")

func okCheck(context.Context) error   { return nil }
func failCheck(context.Context) error { return errPing }

func TestLivezAndVersion(t *testing.T) {
	v := api.Version{Version: "1.2.3", Commit: "abc123", BuildDate: "2025-01-01", GoVersion: "go1.26.8"}
	s, _ := newTestServer(t, Options{Version: v, ReadinessChecks: []HealthCheck{{"database", failCheck}}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	h, err := cl.Livez(t.Context())
	if err != nil || h.Status != api.StatusOK || h.Checks != nil {
		t.Fatalf("livez = %+v, %v (must not depend on readiness checks)", h, err)
	}
	got, err := cl.Version(t.Context())
	if err != nil || *got != v {
		t.Fatalf("version = %+v, %v", got, err)
	}
}

func TestReadyz(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	ignoresContext := func(context.Context) error { <-block; return nil }
	honoursContext := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	panics := func(context.Context) error { panic("driver bug, password=hunter2") }

	tests := []struct {
		name     string
		checks   []HealthCheck
		status   int
		message  string
		statuses map[string]string // check name → status
		errs     map[string]string // check name → error text
	}{
		{"no checks", nil, 200, "", nil, nil},
		{"all ok", []HealthCheck{{"database", okCheck}, {"redis", okCheck}}, 200, "",
			map[string]string{"database": "ok", "redis": "ok"}, nil},
		{"database down", []HealthCheck{{"database", failCheck}, {"redis", okCheck}}, 503, "not ready: database",
			map[string]string{"database": "fail", "redis": "ok"}, map[string]string{"database": "check failed"}},
		{"two down, sorted", []HealthCheck{{"redis", failCheck}, {"database", failCheck}, {"vault", okCheck}}, 503, "not ready: database, redis",
			map[string]string{"database": "fail", "redis": "fail", "vault": "ok"}, map[string]string{"database": "check failed", "redis": "check failed"}},
		{"timeout, context honoured", []HealthCheck{{"database", honoursContext}}, 503, "not ready: database",
			map[string]string{"database": "fail"}, map[string]string{"database": "timeout"}},
		{"timeout, context ignored", []HealthCheck{{"database", ignoresContext}, {"redis", okCheck}}, 503, "not ready: database",
			map[string]string{"database": "fail", "redis": "ok"}, map[string]string{"database": "timeout"}},
		{"panicking check", []HealthCheck{{"vault", panics}}, 503, "not ready: vault",
			map[string]string{"vault": "fail"}, map[string]string{"vault": "check failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, logs := newTestServer(t, Options{ReadinessChecks: tt.checks, ReadinessTimeout: 50 * time.Millisecond})
			start := time.Now()
			rec := do(s.Handler(), http.MethodGet, "/readyz", nil, nil)
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("readyz took %s; checks must run concurrently under the timeout", elapsed)
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var checks map[string]api.HealthCheck
			if tt.status == http.StatusOK {
				var h api.Health
				if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil || h.Status != api.StatusOK {
					t.Fatalf("body %s: %v", rec.Body, err)
				}
				checks = h.Checks
			} else {
				e := decodeEnvelope(t, rec)
				if e.Code != api.CodeUnavailable || e.Message != tt.message {
					t.Fatalf("envelope %+v, want message %q", e, tt.message)
				}
				raw, _ := json.Marshal(e.Details["checks"])
				if err := json.Unmarshal(raw, &checks); err != nil {
					t.Fatalf("details.checks: %v", err)
				}
			}
			if len(checks) != len(tt.statuses) {
				t.Fatalf("checks %v, want %v", checks, tt.statuses)
			}
			for name, want := range tt.statuses {
				c := checks[name]
				if c.Status != want || c.Error != tt.errs[name] || c.DurationMS < 0 {
					t.Errorf("check %s = %+v, want status %q error %q", name, c, want, tt.errs[name])
				}
			}
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "postgres://") {
				t.Fatalf("check error leaked: %s", rec.Body)
			}
			if tt.status != http.StatusOK && !strings.Contains(logs.String(), "readiness check failed") {
				t.Fatal("a failed check is not logged for operators")
			}
		})
	}
}

// TestReadyzClientRoundTrip proves the 503 shape is the one shared/client reads back.
func TestReadyzClientRoundTrip(t *testing.T) {
	s, _ := newTestServer(t, Options{ReadinessChecks: []HealthCheck{{"database", failCheck}, {"redis", okCheck}}})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cl, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	h, err := cl.Readyz(t.Context())
	if client.ErrorCode(err) != api.CodeUnavailable {
		t.Fatalf("want unavailable, got %v", err)
	}
	var e *api.Error
	if !errors.As(err, &e) || e.RequestID == "" || e.HTTPStatus != http.StatusServiceUnavailable {
		t.Fatalf("error %#v", err)
	}
	if h == nil || h.Status != api.StatusFail || h.Checks["database"].Status != api.StatusFail || h.Checks["redis"].Status != api.StatusOK {
		t.Fatalf("health %+v", h)
	}
}

// Once shutdown has begun, /readyz answers 503 without running the checks, so load balancers
// take the replica out while it still serves; /livez stays 200.
func TestReadyzAfterShutdownBegins(t *testing.T) {
	var ran atomic.Int64
	counted := func(context.Context) error { ran.Add(1); return nil }
	s, _ := newTestServer(t, Options{ReadinessChecks: []HealthCheck{{"database", counted}}})
	if rec := do(s.Handler(), http.MethodGet, "/readyz", nil, nil); rec.Code != http.StatusOK || ran.Load() != 1 {
		t.Fatalf("before: status %d, checks run %d", rec.Code, ran.Load())
	}
	s.BeginShutdown()
	rec := do(s.Handler(), http.MethodGet, "/readyz", nil, nil)
	if e := decodeEnvelope(t, rec); rec.Code != http.StatusServiceUnavailable || e.Code != api.CodeUnavailable || e.Message != "not ready: shutting down" {
		t.Fatalf("after: status %d, %+v", rec.Code, e)
	}
	if ran.Load() != 1 {
		t.Fatalf("checks ran %d times; a stopping server must not run them", ran.Load())
	}
	if rec := do(s.Handler(), http.MethodGet, "/livez", nil, nil); rec.Code != http.StatusOK {
		t.Fatalf("/livez while stopping: %d", rec.Code)
	}
}
