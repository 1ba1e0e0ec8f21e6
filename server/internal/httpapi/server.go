// Package httpapi is Gatehouse's HTTP layer and the only package that imports gin. It owns the
// middleware chain (request ID, access log, metrics, security headers, panic recovery, body
// limit), the single error writer that turns errors into the shared/api envelope, the single
// JSON decoder, and the operational routes (/livez, /readyz, /metrics, /api/v1/version).
// Endpoints plug in through Server.API.
package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/shared/api"
)

// DefaultMaxBodyBytes is the request body limit used when Options.MaxBodyBytes is 0.
const DefaultMaxBodyBytes int64 = 1 << 20

// DefaultReadinessTimeout bounds each readiness check when Options.ReadinessTimeout is 0.
const DefaultReadinessTimeout = 2 * time.Second

// APIPrefix is the path of the versioned API group returned by Server.API.
const APIPrefix = "/api/v1"

// HealthCheck is one component probed by GET /readyz, e.g. "database" or "redis".
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configures New. The zero value is usable: slog.Default, a 1 MiB body limit, no
// trusted proxies, no metrics and no readiness checks.
type Options struct {
	// Logger receives one access-log line per request and internal errors. Nil: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes is the largest request body accepted; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// TrustedProxies are IPs or CIDRs whose X-Forwarded-For is believed. Empty: trust none, so
	// the client IP is always the peer address.
	TrustedProxies []string
	// TLS makes every response carry HSTS. HSTS is also sent on requests that arrived over TLS.
	TLS bool
	// Registry receives the HTTP metrics and is served on GET /metrics. Nil: no metrics.
	Registry *prometheus.Registry
	// ReadinessChecks run concurrently on every GET /readyz.
	ReadinessChecks []HealthCheck
	// ReadinessTimeout bounds each readiness check; 0 means DefaultReadinessTimeout.
	ReadinessTimeout time.Duration
	// ErrorKinds is the one table that maps domain sentinel errors to API codes (see ErrorKind).
	ErrorKinds []ErrorKind
	// Version is served on GET /api/v1/version.
	Version api.Version

	// Accounts serves the auth, me and admin routes; nil leaves them out.
	Accounts Accounts
	// CookieSecure marks the session cookie Secure and names it __Host-gatehouse_session.
	CookieSecure bool
	// JWKS serves GET /.well-known/jwks.json.
	JWKS func() api.JWKS
	// Pool serves GET /api/v1/admin/pool and its SSE stream.
	Pool PoolSampler
	// StreamInterval is the pool stream's period; 0 means one second.
	StreamInterval time.Duration
	// BenchJWT serves GET /api/v1/bench/jwt, make bench's JWT-only baseline (routes_bench.go).
	// Nil, as everywhere but benchmarks, leaves the route out.
	BenchJWT JWTVerifier

	// MFA is the second-factor side of Accounts; nil serves no MFA routes and gates nothing.
	MFA MFA
	// CodeTTL is the lifetime of SMS and email codes, for the answers that mention it.
	CodeTTL time.Duration
	// DeviceTTL is how long a trusted-device cookie lives.
	DeviceTTL time.Duration

	// Secrets serves the secrets API (routes_secrets.go); nil leaves it out. It needs Accounts.
	Secrets Secrets
	// ServiceAccounts authenticates "gsa_" bearer tokens and serves their administration;
	// nil: such tokens are refused like any unknown bearer token.
	ServiceAccounts ServiceAccounts
	// SecretEvents records the secrets administration's security events (policies, service
	// accounts and their tokens); nil records none.
	SecretEvents SecurityEvents

	// Keys serves GET /api/v1/admin/keys (routes_keys.go); nil leaves it out. It needs Accounts.
	Keys KeyStatusReader

	// OAuth serves social login (routes_oauth.go); nil leaves it out. It needs Accounts.
	OAuth OAuth
	// PublicURL is the server's external base URL for OAuth callbacks; empty: each request's
	// own scheme and host (development).
	PublicURL string
	// StepUp gates linking and unlinking identities (aal2 once the user has a factor).
	StepUp StepUpGate
}

// Server is the HTTP layer. Register every route (through API) before serving Handler:
// gin's router is not safe for concurrent registration and serving.
type Server struct {
	engine       *gin.Engine
	api          *gin.RouterGroup
	log          *slog.Logger
	maxBody      int64
	tls          bool
	metrics      *httpMetrics
	checks       []HealthCheck
	checkTimeout time.Duration
	errorKinds   []ErrorKind
	version      api.Version

	accounts       Accounts
	cookieSecure   bool
	jwks           func() api.JWKS
	pool           PoolSampler
	streamInterval time.Duration
	stopping       chan struct{}
	stopOnce       sync.Once

	mfa       MFA
	codeTTL   time.Duration
	deviceTTL time.Duration

	secrets         Secrets
	serviceAccounts ServiceAccounts
	events          SecurityEvents

	oauth      OAuth
	publicURL  string
	stepUpGate StepUpGate
}

// ginModeOnce sets gin's process-wide mode once: release mode prints no debug banner or routes.
var ginModeOnce sync.Once

// New validates opts, reporting every problem at once, and builds the server with its
// middleware chain and operational routes.
func New(opts Options) (*Server, error) {
	ginModeOnce.Do(func() { gin.SetMode(gin.ReleaseMode) })

	var problems []error
	if opts.MaxBodyBytes < 0 {
		problems = append(problems, fmt.Errorf("max body bytes %d: must not be negative", opts.MaxBodyBytes))
	}
	if opts.ReadinessTimeout < 0 {
		problems = append(problems, fmt.Errorf("readiness timeout %s: must not be negative", opts.ReadinessTimeout))
	}
	problems = append(problems, validateChecks(opts.ReadinessChecks)...)
	problems = append(problems, validateErrorKinds(opts.ErrorKinds)...)

	s := &Server{
		log:          opts.Logger,
		maxBody:      opts.MaxBodyBytes,
		tls:          opts.TLS,
		checks:       slices.Clone(opts.ReadinessChecks),
		checkTimeout: opts.ReadinessTimeout,
		errorKinds:   slices.Clone(opts.ErrorKinds),
		version:      opts.Version,

		accounts:       opts.Accounts,
		cookieSecure:   opts.CookieSecure,
		jwks:           opts.JWKS,
		pool:           opts.Pool,
		streamInterval: opts.StreamInterval,
		stopping:       make(chan struct{}),

		mfa:       opts.MFA,
		codeTTL:   opts.CodeTTL,
		deviceTTL: opts.DeviceTTL,
	}
	if s.streamInterval <= 0 {
		s.streamInterval = time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxBody == 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.checkTimeout == 0 {
		s.checkTimeout = DefaultReadinessTimeout
	}

	e := gin.New()
	// Redirects would be answered before any middleware runs (no headers, no log line), and
	// gin builds them from X-Forwarded-Prefix; an API has no use for them.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	// Lets services call RequestID(c) and Logger(c) with the *gin.Context itself.
	e.ContextWithFallback = true
	var proxies []string // nil: gin ignores X-Forwarded-For and X-Real-IP entirely
	if len(opts.TrustedProxies) > 0 {
		proxies = opts.TrustedProxies
	}
	if err := e.SetTrustedProxies(proxies); err != nil {
		problems = append(problems, fmt.Errorf("trusted proxies: %w", err))
	}
	if opts.Registry != nil {
		m, err := newHTTPMetrics(opts.Registry)
		if err != nil {
			problems = append(problems, err)
		}
		s.metrics = m
	}
	if err := errors.Join(problems...); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}

	s.engine = e
	e.Use(s.middleware()...)
	e.NoRoute(func(c *gin.Context) {
		writeAPIError(c, api.NewError(api.CodeNotFound, "route not found"))
	})
	e.NoMethod(func(c *gin.Context) {
		writeAPIError(c, api.NewError(api.CodeMethodNotAllowed, "method not allowed"))
	})
	s.api = e.Group(APIPrefix)
	s.routeOps(opts.Registry)
	s.routeOpenAPI()
	s.routeDocs()
	if s.accounts != nil {
		s.routeAccounts()
	}
	if opts.BenchJWT != nil {
		s.routeBench(opts.BenchJWT)
	}
	if s.accounts != nil && opts.Secrets != nil {
		s.routeSecrets(opts.Secrets, opts.ServiceAccounts, opts.SecretEvents)
	}
	if s.accounts != nil && opts.Keys != nil {
		s.routeKeys(opts.Keys)
	}
	if s.accounts != nil && opts.OAuth != nil {
		if opts.StepUp == nil {
			return nil, errors.New("httpapi: OAuth needs a StepUp gate")
		}
		s.routeOAuth(opts.OAuth, opts.PublicURL, opts.StepUp)
	}
	return s, nil
}

// BeginShutdown ends long-lived responses (event streams), which graceful shutdown would
// otherwise wait on until its timeout, and makes /readyz answer 503. net/http's
// RegisterOnShutdown calls it; app.Serve calls it earlier when a shutdown delay is set.
func (s *Server) BeginShutdown() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

// Handler is the http.Handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

// API is the "/api/v1" group that endpoints add their routes to.
func (s *Server) API() *gin.RouterGroup { return s.api }

func validateChecks(checks []HealthCheck) []error {
	var problems []error
	seen := make(map[string]bool, len(checks))
	for i, hc := range checks {
		switch {
		case hc.Name == "":
			problems = append(problems, fmt.Errorf("readiness check %d: empty name", i))
		case seen[hc.Name]:
			problems = append(problems, fmt.Errorf("readiness check %q: duplicate name", hc.Name))
		}
		if hc.Check == nil {
			problems = append(problems, fmt.Errorf("readiness check %q: nil Check", hc.Name))
		}
		seen[hc.Name] = true
	}
	return problems
}
