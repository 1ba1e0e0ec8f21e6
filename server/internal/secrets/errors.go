package secrets

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/shared/api"
)

// BackendError is a failure of the backend holding a secret. It names the backend (never the
// value) and travels to clients as backend_unavailable (503), backend_read_only (409) or
// backend_error (502): errors.As(err, **api.Error) yields that form, while errors.Is still
// reaches the backend's own sentinel (ErrUnavailable, ErrReadOnly, ...) and the cause, which
// the HTTP layer logs for 5xx answers.
type BackendError struct {
	Backend string
	Err     error
}

func (e *BackendError) Error() string { return fmt.Sprintf("secret backend %q: %v", e.Backend, e.Err) }

// Unwrap returns the cause.
func (e *BackendError) Unwrap() error { return e.Err }

// As gives the HTTP layer the client-safe form.
func (e *BackendError) As(target any) bool {
	t, ok := target.(**api.Error)
	if !ok {
		return false
	}
	*t = e.APIError()
	return true
}

// APIError is the client-safe form: a fixed message naming the backend.
func (e *BackendError) APIError() *api.Error {
	details := map[string]any{"backend": e.Backend}
	switch {
	case errors.Is(e.Err, ErrReadOnly):
		return &api.Error{Code: api.CodeBackendReadOnly, Message: fmt.Sprintf("secret backend %q is read-only: its values are managed outside Gatehouse", e.Backend), Details: details}
	case errors.Is(e.Err, ErrUnavailable), errors.Is(e.Err, context.DeadlineExceeded):
		return &api.Error{Code: api.CodeBackendUnavailable, Message: fmt.Sprintf("secret backend %q is unavailable; try again later", e.Backend), Details: details}
	case errors.Is(e.Err, ErrDenied):
		return &api.Error{Code: api.CodeBackendError, Message: fmt.Sprintf("secret backend %q refused Gatehouse's credentials", e.Backend), Details: details}
	case errors.Is(e.Err, ErrNotFound), errors.Is(e.Err, ErrVersionNotFound):
		return &api.Error{Code: api.CodeBackendError, Message: fmt.Sprintf("secret backend %q no longer holds this version", e.Backend), Details: details}
	default:
		return &api.Error{Code: api.CodeBackendError, Message: fmt.Sprintf("secret backend %q answered with an error", e.Backend), Details: details}
	}
}

func backendErr(kind string, err error) error {
	if err == nil {
		return nil
	}
	return &BackendError{Backend: kind, Err: err}
}

// reason is the audit trail's short word for why an action failed or was refused.
func reason(err error) string {
	if err == nil {
		return ""
	}
	var be *BackendError
	if errors.As(err, &be) {
		return string(be.APIError().Code)
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return string(ae.Code)
	}
	for _, k := range []struct {
		err  error
		word string
	}{
		{ErrForbidden, "forbidden"},
		{ErrInvalidName, "invalid_secret_name"},
		{ErrSecretNotFound, "not_found"},
		{ErrVersionNotFound, "version_not_found"},
		{ErrSecretExists, "conflict"},
		{ErrValueTooLarge, "secret_too_large"},
		{ErrUnknownBackend, "unknown_backend"},
		{ErrNotDeleted, "conflict"},
		{ErrRotationOff, "rotation_unavailable"},
		{ErrNoRotation, "no_rotation_policy"},
		{ErrRotationFailed, "rotation_failed"},
		{context.Canceled, "canceled"},
	} {
		if errors.Is(err, k.err) {
			return k.word
		}
	}
	return "internal"
}

func outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeSuccess
	case errors.Is(err, ErrForbidden):
		return OutcomeDenied
	default:
		return OutcomeFailure
	}
}
