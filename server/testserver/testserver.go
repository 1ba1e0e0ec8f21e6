// Package testserver starts the real Gatehouse server — the production wiring in
// internal/app, the same one `gatehouse serve` runs — on a fresh SQLite database in a temporary
// directory, listening on a loopback port, for the tests of other modules (the desktop
// console's end-to-end tests). Inside this module, use internal/testenv instead.
package testserver

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

// Server is one running server. It stops when the test ends (or on Close).
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:41234.
	URL string

	app    *app.App
	logs   *testenv.Buffer
	cancel context.CancelFunc
	done   chan error

	once     sync.Once
	closeErr error
}

// Option adjusts the server before it starts.
type Option func(*options)

type options struct {
	adminEmail, adminPassword string
	loginRate                 int
}

// WithAdmin creates the bootstrap administrator at start-up, as GATEHOUSE_ADMIN_EMAIL and
// GATEHOUSE_ADMIN_PASSWORD do for the real binary.
func WithAdmin(email, password string) Option {
	return func(o *options) { o.adminEmail, o.adminPassword = email, password }
}

// WithLoginRate admits perMinute password attempts per client IP (GATEHOUSE_LOGIN_RATE_PER_IP):
// tests that sign many people in from 127.0.0.1 would otherwise meet the SEC-05 limit.
func WithLoginRate(perMinute int) Option {
	return func(o *options) { o.loginRate = perMinute }
}

// Start runs a server for the rest of the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg := testenv.Config(t, testenv.SQLite)
	cfg.Admin.Email, cfg.Admin.Password = o.adminEmail, o.adminPassword
	if o.loginRate > 0 {
		cfg.Auth.LoginPerIPPerMin = o.loginRate
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("testserver configuration: %v", err)
	}
	logs := &testenv.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, app.NewLogger(logs, cfg.Log.Level, "json"))
	if err != nil {
		cancel()
		t.Fatalf("testserver: start: %v\nlogs:\n%s", err, logs.String())
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		_ = a.Close()
		t.Fatalf("testserver: listen: %v", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), app: a, logs: logs, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("testserver: %v", err)
		}
	})
	return s
}

// CreateUser makes an account through the same service the admin API uses.
func (s *Server) CreateUser(t testing.TB, email, password string, roles ...string) api.User {
	t.Helper()
	u, err := s.app.Auth.CreateUserLocal(context.Background(), email, password, roles)
	if err != nil {
		t.Fatalf("testserver: create user %s: %v", email, err)
	}
	return u.API()
}

// Logs returns the server's structured log so far (JSON lines), for failure messages.
func (s *Server) Logs() string { return s.logs.String() }

// Close stops the server and closes its database; later calls return the first result.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.cancel()
		serveErr := <-s.done
		s.closeErr = errors.Join(serveErr, s.app.Close())
	})
	return s.closeErr
}
