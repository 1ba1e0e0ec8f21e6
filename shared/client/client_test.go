package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"gatehouse/shared/api"
)

type seen struct {
	mu      sync.Mutex
	headers []http.Header
	methods []string
}

func (s *seen) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headers = append(s.headers, r.Header.Clone())
	s.methods = append(s.methods, r.Method)
}

func server(t *testing.T, s *seen, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorEnvelopeBecomesTypedError(t *testing.T) {
	c := server(t, &seen{}, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(api.HeaderRequestID, "req-42")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte(`{"error":{"code":"conflict","message":"email taken","details":{"field":"email"}}}`))
	})
	_, err := c.Do(context.Background(), http.MethodPost, "/x", map[string]string{"a": "b"}, nil)
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *api.Error, got %T %v", err, err)
	}
	if e.Code != api.CodeConflict || e.Message != "email taken" || e.Details["field"] != "email" || e.RequestID != "req-42" || e.HTTPStatus != 409 {
		t.Fatalf("decoded: %+v", e)
	}
	if ErrorCode(err) != api.CodeConflict || ErrorCode(errors.New("plain")) != "" {
		t.Fatal("ErrorCode")
	}
}

func TestNonEnvelopeErrorStillTyped(t *testing.T) {
	for status, want := range map[int]api.Code{502: api.CodeBadGateway, 404: api.CodeNotFound, 418: api.CodeInvalidRequest, 500: api.CodeInternal} {
		c := server(t, &seen{}, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte("<html>proxy error</html>"))
		})
		_, err := c.Do(context.Background(), http.MethodGet, "/", nil, nil)
		if ErrorCode(err) != want {
			t.Errorf("status %d: got %v, want %s", status, err, want)
		}
	}
}

func TestBearerAndCSRFHeaders(t *testing.T) {
	s := &seen{}
	c := server(t, s, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	ctx := context.Background()
	c.SetCSRFToken("csrf-1")
	_, _ = c.Do(ctx, http.MethodGet, "/", nil, nil)
	_, _ = c.Do(ctx, http.MethodPost, "/", struct{}{}, nil)
	c.SetBearerToken("tok")
	_, _ = c.Do(ctx, http.MethodDelete, "/", nil, nil)

	if h := s.headers[0]; h.Get(api.HeaderCSRFToken) != "" {
		t.Error("CSRF token must not be sent on safe methods")
	}
	if h := s.headers[1]; h.Get(api.HeaderCSRFToken) != "csrf-1" || h.Get("Content-Type") != "application/json" {
		t.Errorf("cookie mode unsafe request: %v", h)
	}
	if h := s.headers[2]; h.Get("Authorization") != "Bearer tok" || h.Get(api.HeaderCSRFToken) != "" {
		t.Errorf("bearer mode: %v", h)
	}
}

func TestCookiesAreKept(t *testing.T) {
	s := &seen{}
	c := server(t, s, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			http.SetCookie(w, &http.Cookie{Name: "gatehouse_session", Value: "v", Path: "/", HttpOnly: true})
		}
		_, _ = w.Write([]byte(`{}`))
	})
	ctx := context.Background()
	_, _ = c.Do(ctx, http.MethodPost, "/login", nil, nil)
	_, _ = c.Do(ctx, http.MethodGet, "/me", nil, nil)
	if !strings.Contains(s.headers[1].Get("Cookie"), "gatehouse_session=v") {
		t.Fatalf("cookie not sent back: %v", s.headers[1])
	}
}

func TestReadyzFailureCarriesChecks(t *testing.T) {
	c := server(t, &seen{}, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(503)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"not ready: redis","details":{"checks":{"database":{"status":"ok","duration_ms":1},"redis":{"status":"fail","duration_ms":2,"error":"ping failed"}}}}}`))
	})
	h, err := c.Readyz(context.Background())
	if ErrorCode(err) != api.CodeUnavailable {
		t.Fatalf("err: %v", err)
	}
	if h.Status != api.StatusFail || h.Checks["redis"].Status != api.StatusFail || h.Checks["database"].Status != api.StatusOK {
		t.Fatalf("checks: %+v", h)
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "::nonsense", ""} {
		if _, err := New(u); err == nil {
			t.Errorf("New(%q) should fail", u)
		}
	}
}
