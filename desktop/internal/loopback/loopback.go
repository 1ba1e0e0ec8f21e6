// Package loopback receives the end of a browser sign-in on 127.0.0.1 (RFC 8252, section
// 7.3): the console listens on a port the system picks, sends the browser to the provider with
// http://127.0.0.1:PORT/callback as the redirect, and the server redirects there with a
// one-time code (or an error code). No widgets here: the console's state layer drives it.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// CallbackPath is where the browser lands.
const CallbackPath = "/callback"

// ErrNoCode is a callback with neither a code nor an error.
var ErrNoCode = errors.New("the browser came back without a sign-in code")

// Listener waits for one callback.
type Listener struct {
	ln   net.Listener
	srv  *http.Server
	once sync.Once
	done chan result
}

type result struct {
	code string
	err  error
}

// Listen opens 127.0.0.1 on a free port. Close it when done (Wait does not).
func Listen() (*Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("loopback listener: %w", err)
	}
	l := &Listener{ln: ln, done: make(chan result, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+CallbackPath, l.callback)
	l.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = l.srv.Serve(ln) }() // ends with Close (http.ErrServerClosed)
	return l, nil
}

// RedirectURL is the redirect to give the server: http://127.0.0.1:PORT/callback.
func (l *Listener) RedirectURL() string {
	return "http://" + l.ln.Addr().String() + CallbackPath
}

// Wait returns the one-time code of the first callback, the flow's error (an *api.Error with
// the server's code), or ctx's error.
func (l *Listener) Wait(ctx context.Context) (string, error) {
	select {
	case r := <-l.done:
		return r.code, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Close stops listening.
func (l *Listener) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("close loopback listener: %w", err)
	}
	return nil
}

// callback answers the browser with a page to close and hands the result over, once: a
// second visit (a reload, another tab) changes nothing.
func (l *Listener) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	res := result{code: q.Get(api.OAuthCodeParam)}
	if e := q.Get(api.OAuthErrorParam); e != "" {
		res = result{err: flowError(api.Code(e))}
	} else if res.code == "" {
		res.err = ErrNoCode
	}
	first := false
	l.once.Do(func() {
		first = true
		l.done <- res
	})
	page := pageData{Title: "Signed in", Text: "You are signed in to the Gatehouse Console. You can close this window."}
	status := http.StatusOK
	switch {
	case !first:
		page = pageData{Title: "Already done", Text: "This sign-in was already handled. You can close this window."}
	case res.err != nil:
		status = http.StatusBadRequest
		page = pageData{Title: "Sign-in failed", Text: "The console could not sign you in: " + message(res.err) + " You can close this window and try again."}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, page)
}

func flowError(code api.Code) error {
	return &api.Error{Code: code, Message: "the provider sign-in failed (" + string(code) + ")", HTTPStatus: code.Status()}
}

func message(err error) string {
	var e *api.Error
	if errors.As(err, &e) {
		return e.Message + "."
	}
	return err.Error() + "."
}

type pageData struct{ Title, Text string }

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} · Gatehouse</title>
<style>body{font-family:system-ui,sans-serif;margin:15vh auto;max-width:32rem;padding:0 1rem;color:#1f2933}
h1{font-size:1.4rem}</style></head>
<body><h1>{{.Title}}</h1><p>{{.Text}}</p></body></html>
`))
