package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"gatehouse/shared/api"
)

// middleware returns the chain every request (404s and 405s included) runs through:
//
//  1. requestID: first, so every later step, log line and error response carries the ID.
//  2. accessLog: outside recovery and the body limit, so it sees their final status.
//  3. metrics: likewise; measures what the client experiences.
//  4. securityHeaders: before anything can write, so even 404/413/500 answers carry them.
//  5. recoverPanic: inside the observers, so a panic is logged and counted as a 500.
//  6. limitBody: last, so an early 413 is still logged, counted and given security headers.
func (s *Server) middleware() []gin.HandlerFunc {
	chain := []gin.HandlerFunc{s.requestID, s.accessLog}
	if s.metrics != nil {
		chain = append(chain, s.metrics.observe)
	}
	return append(chain, s.securityHeaders, s.recoverPanic, s.limitBody)
}

// maxRequestIDLen bounds an accepted incoming X-Request-ID.
const maxRequestIDLen = 128

// validRequestID accepts 1..128 characters of [A-Za-z0-9._:-]: enough for UUIDs and trace IDs,
// nothing that could forge log lines or headers.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		case b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// requestID adopts a well-formed incoming X-Request-ID (so a proxy's ID follows the request)
// or makes a new one, echoes it, and stores the request state in the request context.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(api.HeaderRequestID)
	if !validRequestID(id) {
		id = uuid.NewString()
	}
	c.Header(api.HeaderRequestID, id)
	c.Request = c.Request.WithContext(withState(c.Request.Context(), &requestState{id: id, srv: s}))
	c.Next()
}

// opsRoutes log their successes at debug level: probes and scrapes every few seconds would
// otherwise drown the access log. Their failures log at the usual levels.
var opsRoutes = map[string]bool{"/livez": true, "/readyz": true, "/metrics": true}

// Bounds on logged request strings, so one request cannot write a megabyte of log.
const (
	maxLoggedPath      = 512
	maxLoggedUserAgent = 256
	maxLoggedMethod    = 32
)

// accessLog writes one line per request. It logs the path WITHOUT the query string (queries may
// carry tokens, SEC-18) and never bodies, cookies or Authorization. It runs in a defer so a
// request aborted with http.ErrAbortHandler is still logged.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	defer func() {
		status := c.Writer.Status()
		route := routeLabel(c)
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		case opsRoutes[route]:
			level = slog.LevelDebug
		}
		ctx := c.Request.Context()
		if !s.log.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{
			slog.String("method", truncate(c.Request.Method, maxLoggedMethod)),
			slog.String("route", route),
			slog.String("path", truncate(c.Request.URL.Path, maxLoggedPath)),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", max(c.Writer.Size(), 0)),
			slog.String("request_id", RequestID(ctx)),
			slog.String("client_ip", c.ClientIP()),
			slog.String("user_agent", truncate(c.Request.UserAgent(), maxLoggedUserAgent)),
		}
		if st := stateFrom(ctx); st != nil && st.aborted {
			attrs = append(attrs, slog.Bool("aborted", true))
		}
		s.log.LogAttrs(ctx, level, "http request", attrs...)
	}()
	c.Next()
}

// routeLabel is the route template ("/api/v1/users/:id"), or "unmatched" for 404s and 405s so
// logs and metric labels never carry raw paths (IDs, tokens) and cardinality stays bounded.
func routeLabel(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// Security header values (SEC-52). The API only serves JSON, so the CSP forbids everything.
const (
	hstsValue = "max-age=63072000; includeSubDomains"
	cspValue  = "default-src 'none'; frame-ancestors 'none'"
)

// securityHeaders sets SEC-52's headers on every response before the handler runs.
func (s *Server) securityHeaders(c *gin.Context) {
	s.setSecurityHeaders(c)
	c.Next()
}

func (s *Server) setSecurityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", cspValue)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if p := c.Request.URL.Path; p == "/api" || strings.HasPrefix(p, "/api/") {
		// Auth responses carry tokens and personal data: no shared or browser cache may keep them.
		h.Set("Cache-Control", "no-store")
	}
	if s.tls || c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", hstsValue)
	}
}

// recoverPanic turns a handler panic into a 500 envelope and keeps the server serving.
// http.ErrAbortHandler is re-panicked: net/http treats it as "abort this response silently".
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		rec := recover()
		if rec == nil {
			return
		}
		ctx := c.Request.Context()
		if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			if st := stateFrom(ctx); st != nil {
				st.aborted = true
			}
			c.Abort()
			panic(rec)
		}
		// The panic value may hold request data (a password, a token): log its type, and the
		// message only for runtime errors, whose text comes from the runtime, not from data.
		attrs := []slog.Attr{
			slog.String("request_id", RequestID(ctx)),
			slog.String("panic_type", fmt.Sprintf("%T", rec)),
			slog.String("stack", string(debug.Stack())),
		}
		if re, ok := rec.(runtime.Error); ok {
			attrs = append(attrs, slog.String("panic", re.Error()))
		}
		s.log.LogAttrs(ctx, slog.LevelError, "panic recovered", attrs...)

		if c.Writer.Written() {
			c.Abort() // the status line is gone; the client sees a truncated body
			return
		}
		// Drop whatever the handler had set (a Set-Cookie from a half-done login, say) and
		// answer with only our own headers.
		h := c.Writer.Header()
		for k := range h {
			delete(h, k)
		}
		s.setSecurityHeaders(c)
		c.Header(api.HeaderRequestID, RequestID(ctx))
		writeAPIError(c, internalError())
	}()
	c.Next()
}

// limitBody refuses a declared Content-Length over the limit before reading anything, and caps
// every other body (chunked, or lying about its length) with http.MaxBytesReader.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.maxBody {
		writeAPIError(c, payloadTooLarge(s.maxBody))
		return
	}
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.maxBody)
	}
	c.Next()
}
