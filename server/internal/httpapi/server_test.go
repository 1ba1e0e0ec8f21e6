package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/shared/api"
)

func TestNewValidation(t *testing.T) {
	check := func(context.Context) error { return nil }
	tests := []struct {
		name string
		opts Options
		want []string // every problem is reported at once
	}{
		{"negative body limit and timeout", Options{MaxBodyBytes: -1, ReadinessTimeout: -1}, []string{"max body bytes", "readiness timeout"}},
		{"bad proxy", Options{TrustedProxies: []string{"not-an-ip"}}, []string{"trusted proxies"}},
		{"bad checks", Options{ReadinessChecks: []HealthCheck{{"db", check}, {"db", check}, {"", check}, {"redis", nil}}},
			[]string{`"db": duplicate`, "check 2: empty name", `"redis": nil Check`}},
		{"bad error kinds", Options{ErrorKinds: []ErrorKind{{Target: nil, Code: "nope", Message: ""}}},
			[]string{"nil Target", `unknown code "nope"`, "empty message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	t.Run("metrics registered twice on one registry", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := New(Options{Registry: reg}); err != nil {
			t.Fatal(err)
		}
		var are prometheus.AlreadyRegisteredError
		if _, err := New(Options{Registry: reg}); !errors.As(err, &are) {
			t.Fatalf("want AlreadyRegisteredError, got %v", err)
		}
	})
	t.Run("zero options work", func(t *testing.T) {
		s, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if s.maxBody != DefaultMaxBodyBytes || s.checkTimeout != DefaultReadinessTimeout {
			t.Fatalf("defaults: %d %s", s.maxBody, s.checkTimeout)
		}
	})
}

// TestAPIGroup proves routes added on API() live under /api/v1 and get the whole chain.
func TestAPIGroup(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	if s.API().BasePath() != "/api/v1" {
		t.Fatalf("base path %q", s.API().BasePath())
	}
	rec := do(s.Handler(), http.MethodGet, "/api/v1/items/7", nil, nil)
	if rec.Code != http.StatusOK || rec.Header().Get(api.HeaderRequestID) == "" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
}

func BenchmarkLivez(b *testing.B) {
	s, _ := newTestServer(b, Options{
		Logger:   slog.New(slog.NewJSONHandler(discard{}, nil)), // info: /livez logs at debug
		Registry: prometheus.NewRegistry(),
	})
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/livez", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkVersionLogged is BenchmarkLivez with the access log line actually written.
func BenchmarkVersionLogged(b *testing.B) {
	s, _ := newTestServer(b, Options{
		Logger:   slog.New(slog.NewJSONHandler(discard{}, nil)),
		Registry: prometheus.NewRegistry(),
	})
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/version", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
