package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"gatehouse/shared/api"
)

// logBuffer collects JSON log lines; safe for the concurrent writes of readiness checks.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines parses every log line, failing the test on a line that is not JSON.
func (l *logBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		out = append(out, m)
	}
	return out
}

// find returns the first line with the given msg and request_id.
func (l *logBuffer) find(t testing.TB, msg, requestID string) map[string]any {
	t.Helper()
	for _, m := range l.lines(t) {
		if m["msg"] == msg && m["request_id"] == requestID {
			return m
		}
	}
	t.Fatalf("no %q log line for request %q in:\n%s", msg, requestID, l.String())
	return nil
}

// echoRequest exercises the decoder: a string, an int, a nested object and a slice.
type echoRequest struct {
	Name     string   `json:"name"`
	Age      int      `json:"age"`
	Password string   `json:"password"`
	Tags     []string `json:"tags"`
	Profile  struct {
		Address struct {
			City string `json:"city"`
		} `json:"address"`
	} `json:"profile"`
}

var errTestNotFound = errors.New("widget not found")

// newTestServer builds a server logging JSON at debug level into the returned buffer, with the
// test routes below registered on its API group.
func newTestServer(t testing.TB, opts Options) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts.ErrorKinds = append(opts.ErrorKinds, ErrorKind{Target: errTestNotFound, Code: api.CodeNotFound, Message: "widget not found"})
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	g := s.API()
	g.POST("/echo", func(c *gin.Context) {
		var req echoRequest
		if err := DecodeJSON(c, &req); err != nil {
			WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, req)
	})
	g.GET("/items/:id", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"id": c.Param("id")})
	})
	g.GET("/whoami", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"gin": RequestID(c), "request": RequestID(c.Request.Context())})
	})
	g.GET("/panic", func(c *gin.Context) {
		c.SetCookie("session", "half-done", 60, "/", "", true, true)
		panic("boom: password=PANICVALUE")
	})
	g.GET("/panic-nil", func(c *gin.Context) {
		var items []string
		_ = items[len(c.Param("none"))+3] // a runtime error: its message is logged
	})
	g.GET("/abort", func(*gin.Context) { panic(http.ErrAbortHandler) })
	g.GET("/fail", func(c *gin.Context) {
		WriteError(c, fmt.Errorf("query users: dial postgres://gatehouse:hunter2@db: %w", io.ErrUnexpectedEOF))
	})
	g.GET("/mapped", func(c *gin.Context) {
		WriteError(c, fmt.Errorf("load widget 7: %w", errTestNotFound))
	})
	g.GET("/conflict", func(c *gin.Context) {
		e := &api.Error{Code: api.CodeConflict, Message: "email taken", Details: map[string]any{"field": "email"}}
		WriteError(c, fmt.Errorf("register: %w", e))
	})
	g.GET("/abandoned", func(c *gin.Context) {
		WriteError(c, fmt.Errorf("lockout: %w", c.Request.Context().Err()))
	})
	g.GET("/canceled", func(c *gin.Context) {
		WriteError(c, fmt.Errorf("a job stopped: %w", context.Canceled))
	})
	g.GET("/unavailable", func(c *gin.Context) {
		WriteError(c, api.NewError(api.CodeUnavailable, "secret backend down"))
	})
	return s, logs
}

// do serves one request through the full handler.
func do(h http.Handler, method, target string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeEnvelope parses an error response, failing when it is not the envelope.
func decodeEnvelope(t testing.TB, rec *httptest.ResponseRecorder) api.Error {
	t.Helper()
	var env api.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Error.Code == "" {
		t.Fatalf("status %d: body is not an error envelope (%v): %q", rec.Code, err, rec.Body.String())
	}
	return env.Error
}

// testContext is a bare gin context, for the exported helpers used outside the chain. It sets
// release mode first, as New does, so gin prints no debug banner.
func testContext(w http.ResponseWriter) (*gin.Context, *gin.Engine) {
	ginModeOnce.Do(func() { gin.SetMode(gin.ReleaseMode) })
	return gin.CreateTestContext(w)
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}
