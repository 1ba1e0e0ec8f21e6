package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve answers HTTP on ln until ctx is cancelled; then, after the shutdown delay (not ready,
// still serving), it stops accepting, lets in-flight requests finish within the shutdown
// timeout, and returns.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	h := a.Config.HTTP
	srv := &http.Server{
		Handler:           a.Handler,
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout:       h.ReadTimeout,
		WriteTimeout:      h.WriteTimeout,
		IdleTimeout:       h.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		// net/http reports TLS handshake and connection errors here: keep them structured.
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	if a.HTTP != nil {
		srv.RegisterOnShutdown(a.HTTP.BeginShutdown)
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if a.Config.TLS() {
			err = srv.ServeTLS(ln, h.TLSCertFile, h.TLSKeyFile)
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	a.Logger.Info("listening", "addr", ln.Addr().String(), "tls", a.Config.TLS())
	go a.reloadKeys(ctx, KeyReloadInterval)
	defer a.startJobs(ctx)() // stops the leader-only jobs (releasing their locks) on return

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if h.ShutdownDelay > 0 {
		// Closing the listener at once would reset the connections the kernel has already
		// accepted for it, which a load balancer that has not yet noticed the stop goes on
		// opening. So first /readyz answers 503 and responses close their connections, while
		// whatever still arrives is served.
		a.Logger.Info("shutting down: serving while load balancers stop sending", "delay", h.ShutdownDelay.String())
		if a.HTTP != nil {
			a.HTTP.BeginShutdown()
		}
		srv.SetKeepAlivesEnabled(false)
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-time.After(h.ShutdownDelay):
		}
	}
	a.Logger.Info("shutting down: draining in-flight requests", "timeout", h.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), h.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("graceful shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	a.Logger.Info("stopped", "drain_ms", time.Since(start).Milliseconds())
	return nil
}

// KeyReloadInterval is how often a running server re-reads signing and keyring keys, so a
// rotation made by `gatehouse keys rotate` or another replica reaches every replica.
const KeyReloadInterval = time.Minute

func (a *App) reloadKeys(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if a.Tokens != nil {
				if err := a.Tokens.Reload(ctx); err != nil && ctx.Err() == nil {
					a.Logger.Error("reload signing keys", "error", err.Error())
				}
			}
			if err := a.Keyring.Reload(ctx); err != nil && ctx.Err() == nil {
				a.Logger.Error("reload keyring", "error", err.Error())
			}
		}
	}
}
