package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// scrape reads /metrics through the full handler.
func scrape(t testing.TB, s *Server) string {
	t.Helper()
	rec := do(s.Handler(), http.MethodGet, "/metrics", nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _ := newTestServer(t, Options{Registry: reg})
	do(s.Handler(), http.MethodGet, "/api/v1/items/42", nil, nil)
	do(s.Handler(), http.MethodGet, "/api/v1/items/43", nil, nil)
	do(s.Handler(), http.MethodGet, "/secret-path/tok_abcdef", nil, nil)
	do(s.Handler(), http.MethodPost, "/api/v1/version", nil, nil)
	do(s.Handler(), "BREW", "/api/v1/items/42", nil, nil)
	do(s.Handler(), http.MethodGet, "/api/v1/panic", nil, nil)

	got := scrape(t, s)
	for _, want := range []string{
		`gatehouse_http_requests_total{method="GET",route="/api/v1/items/:id",status="200"} 2`,
		`gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`gatehouse_http_requests_total{method="POST",route="unmatched",status="405"} 1`,
		`gatehouse_http_requests_total{method="other",route="unmatched",status="405"} 1`,
		`gatehouse_http_requests_total{method="GET",route="/api/v1/panic",status="500"} 1`,
		`gatehouse_http_request_duration_seconds_count{method="GET",route="/api/v1/items/:id",status="200"} 2`,
		`gatehouse_http_request_duration_seconds_bucket{method="GET",route="/api/v1/items/:id",status="200",le="+Inf"} 2`,
		// The scrape itself is in flight while it is gathered.
		`gatehouse_http_requests_in_flight 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s", want)
		}
	}
	for _, raw := range []string{"/api/v1/items/42", "tok_abcdef", "secret-path", "BREW"} {
		if strings.Contains(got, raw) {
			t.Errorf("raw request data %q in a metric label", raw)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
}

func TestNoMetricsWithoutRegistry(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	if rec := do(s.Handler(), http.MethodGet, "/metrics", nil, nil); rec.Code != http.StatusNotFound {
		t.Fatalf("/metrics without a registry: %d", rec.Code)
	}
}
