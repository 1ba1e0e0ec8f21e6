package state

import (
	"context"
	"errors"
	"net"
	"net/url"

	"gatehouse/shared/api"
)

// Codes for problems that do not come from the server. Server problems keep the server's code.
const (
	CodeInvalidInput  = "invalid_input"  // the form is incomplete; nothing was sent
	CodeUnreachable   = "unreachable"    // no answer from the server
	CodeTimeout       = "timeout"        // the server did not answer in time
	CodeNotSupported  = "not_supported"  // the server does not offer this yet
	CodeConsoleFailed = "console_failed" // anything else: a bug in the console, never shown raw
)

// InputError reports a form problem found before anything is sent.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

func invalid(field, message string) error { return &InputError{Field: field, Message: message} }

// Problem is an error as the console shows it: one sentence for people, a stable code, and the
// request ID support staff quote when they ask for the server's logs.
type Problem struct {
	Code      string
	Message   string
	RequestID string
}

// Describe turns any error into a Problem. The server's message and code are kept; transport
// and console errors get a fixed, readable message instead of Go's wording.
func Describe(err error) Problem {
	if err == nil {
		return Problem{}
	}
	var apiErr *api.Error
	if errors.As(err, &apiErr) {
		msg := apiErr.Message
		if msg == "" {
			msg = "The server refused the request."
		}
		return Problem{Code: string(apiErr.Code), Message: msg, RequestID: apiErr.RequestID}
	}
	var in *InputError
	if errors.As(err, &in) {
		return Problem{Code: CodeInvalidInput, Message: in.Message}
	}
	if errors.Is(err, ErrNotSupported) {
		return Problem{Code: CodeNotSupported, Message: "This server does not offer that yet."}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Problem{Code: CodeTimeout, Message: "The server did not answer in time. Try again."}
	}
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) {
		if netErr != nil && netErr.Timeout() {
			return Problem{Code: CodeTimeout, Message: "The server did not answer in time. Try again."}
		}
		return Problem{Code: CodeUnreachable, Message: "Cannot reach the server. Check the address and that it is running."}
	}
	return Problem{Code: CodeConsoleFailed, Message: "The console could not complete this request."}
}

// IsUnauthorized reports a missing or ended session: the console returns to sign-in.
func IsUnauthorized(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == api.CodeUnauthorized
}

// IsStepUpRequired reports an action that needs a second factor first (aal2).
func IsStepUpRequired(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == api.CodeStepUpRequired
}

// IsLoginExpired reports a pending sign-in that timed out or was used up: the password step
// starts again.
func IsLoginExpired(err error) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == api.CodeMFALoginExpired
}
