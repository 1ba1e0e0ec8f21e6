package httpapi

import (
	"context"
	"log/slog"
)

// requestState is what the middleware chain learns about a request and hands to the error
// writer, the decoder and services. One value per request, stored in the request context.
type requestState struct {
	id  string
	srv *Server
	// aborted is set when a handler panics with http.ErrAbortHandler, so the access log can say
	// why the status it reports was never sent.
	aborted bool
}

type stateKey struct{}

func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *requestState {
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(stateKey{}).(*requestState)
	return st
}

// RequestID returns the request ID of the request ctx belongs to, or "" outside a request.
// ctx may be the request's context or the *gin.Context itself.
func RequestID(ctx context.Context) string {
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// Logger returns the server's logger with the request's request_id attached, so a service's
// log lines can be matched with the access log. Outside a request it returns slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	st := stateFrom(ctx)
	if st == nil {
		return slog.Default()
	}
	return st.srv.log.With(slog.String("request_id", st.id))
}

// maxBodyBytes is the body limit in force for the request (the server's, or the default).
func maxBodyBytes(ctx context.Context) int64 {
	if st := stateFrom(ctx); st != nil {
		return st.srv.maxBody
	}
	return DefaultMaxBodyBytes
}
