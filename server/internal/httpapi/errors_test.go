package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/shared/api"
)

func TestWriteError(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	tests := []struct {
		name     string
		target   string
		status   int
		code     api.Code
		message  string
		details  map[string]any
		logError string // text expected in an error-level log line; "" means none
	}{
		{"internal error hidden", "/api/v1/fail", 500, api.CodeInternal, "internal error", nil, "postgres://gatehouse:hunter2@db"},
		{"mapped domain error", "/api/v1/mapped", 404, api.CodeNotFound, "widget not found", nil, ""},
		{"wrapped api error", "/api/v1/conflict", 409, api.CodeConflict, "email taken", map[string]any{"field": "email"}, ""},
		{"api error with 5xx code is logged", "/api/v1/unavailable", 503, api.CodeUnavailable, "secret backend down", nil, "secret backend down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(s.Handler(), http.MethodGet, tt.target, nil, nil)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			e := decodeEnvelope(t, rec)
			if e.Code != tt.code || e.Message != tt.message || len(e.Details) != len(tt.details) {
				t.Fatalf("envelope %+v", e)
			}
			for k, v := range tt.details {
				if e.Details[k] != v {
					t.Fatalf("details %v, want %v", e.Details, tt.details)
				}
			}
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), "postgres") {
				t.Fatalf("internal detail leaked: %s", rec.Body)
			}
			id := rec.Header().Get(api.HeaderRequestID)
			var found map[string]any
			for _, line := range logs.lines(t) {
				if line["msg"] == "request failed" && line["request_id"] == id {
					found = line
				}
			}
			switch {
			case tt.logError == "" && found != nil:
				t.Fatalf("a client error was logged as a failure: %v", found)
			case tt.logError != "" && found == nil:
				t.Fatalf("no error line with request_id %s:\n%s", id, logs)
			case tt.logError != "" && (found["level"] != "ERROR" || !strings.Contains(found["error"].(string), tt.logError)):
				t.Fatalf("error line %v", found)
			}
		})
	}
}

func TestWriteErrorOutsideServer(t *testing.T) {
	rec := httptest.NewRecorder()
	c, _ := testContext(rec)
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	WriteError(c, errTestNotFound) // no server table: an unknown error is internal
	if rec.Code != http.StatusInternalServerError || decodeEnvelope(t, rec).Code != api.CodeInternal {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// A client that hangs up mid-request is not a server failure: no error line and no 5xx; the
// access log records 499 (nginx's "client closed request"). A cancellation the client did not
// cause is still an internal error.
func TestClientGoneIsNotAFailure(t *testing.T) {
	s, logs := newTestServer(t, Options{})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/abandoned", nil).WithContext(gone)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != StatusClientClosedRequest {
		t.Fatalf("abandoned request: status %d, want %d", rec.Code, StatusClientClosedRequest)
	}
	var access map[string]any
	for _, line := range logs.lines(t) {
		if line["msg"] == "request failed" {
			t.Fatalf("an abandoned request was logged as a failure: %v", line)
		}
		if line["msg"] == "http request" && line["path"] == "/api/v1/abandoned" {
			access = line
		}
	}
	if access == nil || access["status"] != float64(StatusClientClosedRequest) || access["level"] == "ERROR" {
		t.Fatalf("access log line %v, want status 499 below error level", access)
	}

	rec = do(s.Handler(), http.MethodGet, "/api/v1/canceled", nil, nil)
	if rec.Code != http.StatusInternalServerError || decodeEnvelope(t, rec).Code != api.CodeInternal {
		t.Fatalf("a cancellation with the client still there: %d %s", rec.Code, rec.Body)
	}
}
