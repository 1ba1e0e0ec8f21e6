package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"gatehouse/shared/api"
)

// ErrorKind maps a domain sentinel error to the API code and user-safe message it travels as,
// e.g. {users.ErrNotFound, api.CodeNotFound, "user not found"}. The server's ErrorKinds are the
// one table for the whole API (build it in one place, not per handler); WriteError picks the
// first entry whose Target matches with errors.Is.
type ErrorKind struct {
	Target  error
	Code    api.Code
	Message string
}

func validateErrorKinds(kinds []ErrorKind) []error {
	var problems []error
	codes := api.Codes()
	for i, k := range kinds {
		if k.Target == nil {
			problems = append(problems, fmt.Errorf("error kind %d: nil Target", i))
		}
		if !slices.Contains(codes, k.Code) {
			problems = append(problems, fmt.Errorf("error kind %d: unknown code %q", i, k.Code))
		}
		if k.Message == "" {
			problems = append(problems, fmt.Errorf("error kind %d: empty message", i))
		}
	}
	return problems
}

// WriteError answers the request with err as an error envelope and aborts the chain:
//   - an *api.Error (or an error wrapping one) travels as-is with its code's status;
//   - an error matching an ErrorKind travels with that kind's code and message;
//   - anything else is logged with the request ID and answered 500 "internal error", so no
//     internal detail ever reaches the client.
//
// Errors answered with a 5xx are logged at error level; the rest are the client's business
// and appear only in the access log's status. An error caused by the client hanging up
// (context.Canceled with the request's context done) is recorded as 499, not as a failure.
func WriteError(c *gin.Context, err error) {
	ctx := c.Request.Context()
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// The client hung up and the work stopped with it: nobody reads this answer, and it is
		// not the server's failure, so it must not count as a 5xx or log as one.
		Logger(ctx).LogAttrs(ctx, slog.LevelDebug, "request abandoned by the client", slog.String("error", err.Error()))
		c.AbortWithStatus(StatusClientClosedRequest)
		return
	}
	e := resolveError(ctx, err)
	var ra retryAfterer
	if errors.As(err, &ra) {
		// 429s tell the client when to come back, rounded up to whole seconds.
		secs := int64((ra.RetryAfterDuration() + time.Second - 1) / time.Second)
		c.Header("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		e = &api.Error{Code: api.CodeRateLimited, Message: "too many attempts; try again later", Details: map[string]any{"retry_after_seconds": max(secs, 1)}}
	}
	if e.Code.Status() >= http.StatusInternalServerError {
		msg := "<nil error>"
		if err != nil {
			msg = err.Error()
		}
		Logger(ctx).LogAttrs(ctx, slog.LevelError, "request failed",
			slog.String("code", string(e.Code)), slog.String("error", msg))
	}
	writeAPIError(c, e)
}

// StatusClientClosedRequest is what the access log and the request metrics record for a
// request whose client went away before the answer (nginx's 499); nobody is left to read it.
const StatusClientClosedRequest = 499

// retryAfterer is an error that says when to retry (a throttling refusal).
type retryAfterer interface {
	error
	RetryAfterDuration() time.Duration
}

// resolveError finds the client-safe form of err.
func resolveError(ctx context.Context, err error) *api.Error {
	var ae *api.Error
	if errors.As(err, &ae) && ae != nil {
		// Copy: the caller's value may be shared (a package-level error, say).
		return &api.Error{Code: ae.Code, Message: ae.Message, Details: ae.Details}
	}
	if st := stateFrom(ctx); st != nil && err != nil {
		for _, k := range st.srv.errorKinds {
			if errors.Is(err, k.Target) {
				return api.NewError(k.Code, k.Message)
			}
		}
	}
	return internalError()
}

// writeAPIError writes the envelope unless a response has already started, and aborts.
func writeAPIError(c *gin.Context, e *api.Error) {
	if c.Writer.Written() {
		c.Abort()
		return
	}
	if e.Message == "" {
		e.Message = http.StatusText(e.Code.Status())
	}
	c.AbortWithStatusJSON(e.Code.Status(), api.ErrorBody{Error: *e})
}

func internalError() *api.Error {
	return api.NewError(api.CodeInternal, "internal error")
}

func payloadTooLarge(limit int64) *api.Error {
	return &api.Error{
		Code:    api.CodePayloadTooLarge,
		Message: fmt.Sprintf("request body exceeds %d bytes", limit),
		Details: map[string]any{"limit_bytes": limit},
	}
}
