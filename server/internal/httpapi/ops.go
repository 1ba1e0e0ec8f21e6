package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/shared/api"
)

// Check error texts shown on /readyz. The real error goes to the log only: it may name hosts,
// users or connection strings.
const (
	checkErrTimeout = "timeout"
	checkErrFailed  = "check failed"
)

// errCheckPanicked stands for a readiness check that panicked.
var errCheckPanicked = errors.New("readiness check panicked")

func (s *Server) routeOps(reg *prometheus.Registry) {
	s.engine.GET("/livez", s.livez)
	s.engine.GET("/readyz", s.readyz)
	if reg != nil {
		s.engine.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
			// One broken collector should not blank the whole scrape.
			ErrorHandling: promhttp.ContinueOnError,
		})))
	}
	s.api.GET("/version", func(c *gin.Context) { c.JSON(http.StatusOK, s.version) })
}

// livez answers as long as the process can serve HTTP at all; it checks no dependency, so a
// database outage never gets the process restarted.
func (s *Server) livez(c *gin.Context) {
	c.JSON(http.StatusOK, api.Health{Status: api.StatusOK})
}

// readyz runs every check concurrently, each under its own timeout, and answers 200 with the
// results, or 503 with the error envelope naming the failing components; details.checks holds
// every component's result (the shape shared/client's Readyz reads back). Once shutdown has
// begun it answers 503 without running the checks.
func (s *Server) readyz(c *gin.Context) {
	select {
	case <-s.stopping:
		// Shutting down: load balancers take the replica out of rotation now, while it still
		// serves what they sent before noticing (http.shutdown_delay).
		writeAPIError(c, &api.Error{Code: api.CodeUnavailable, Message: "not ready: shutting down"})
		return
	default:
	}
	ctx := c.Request.Context()
	results := make([]api.HealthCheck, len(s.checks))
	var wg sync.WaitGroup
	for i, hc := range s.checks {
		wg.Go(func() { results[i] = s.runCheck(ctx, hc) })
	}
	wg.Wait()

	checks := make(map[string]api.HealthCheck, len(results))
	var failing []string
	for i, r := range results {
		checks[s.checks[i].Name] = r
		if r.Status != api.StatusOK {
			failing = append(failing, s.checks[i].Name)
		}
	}
	if len(failing) == 0 {
		h := api.Health{Status: api.StatusOK}
		if len(checks) > 0 {
			h.Checks = checks
		}
		c.JSON(http.StatusOK, h)
		return
	}
	sort.Strings(failing)
	writeAPIError(c, &api.Error{
		Code:    api.CodeUnavailable,
		Message: "not ready: " + strings.Join(failing, ", "),
		Details: map[string]any{"checks": checks},
	})
}

// runCheck runs one check under the per-check timeout. The check runs in its own goroutine so a
// check that ignores its context still cannot hold /readyz past the timeout; a panicking check
// is a failed check, not a crashed process.
func (s *Server) runCheck(parent context.Context, hc HealthCheck) api.HealthCheck {
	ctx, cancel := context.WithTimeout(parent, s.checkTimeout)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1) // buffered: a late check must not block forever
	go func() {
		defer func() {
			if rec := recover(); rec != nil {
				done <- fmt.Errorf("%w (%T)", errCheckPanicked, rec)
			}
		}()
		done <- hc.Check(ctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	r := api.HealthCheck{Status: api.StatusOK, DurationMS: float64(time.Since(start).Microseconds()) / 1000}
	if err == nil {
		return r
	}
	r.Status = api.StatusFail
	r.Error = checkErrFailed
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		r.Error = checkErrTimeout
	}
	Logger(parent).LogAttrs(parent, slog.LevelWarn, "readiness check failed",
		slog.String("check", hc.Name), slog.String("error", err.Error()))
	return r
}
