// Package api holds the wire types shared by the Gatehouse server and its clients: the error
// envelope with its stable codes, and one file of request/response types per resource.
// JSON field names are snake_case everywhere. Standard library only.
package api

import "fmt"

// Code is a stable, machine-readable error code. Codes are part of the public API: clients
// switch on them, so an existing code never changes meaning.
type Code string

// Stable error codes. The HTTP status each one travels with is fixed by Status.
const (
	CodeInvalidRequest       Code = "invalid_request"         // 400: the request is well-formed JSON but its content is invalid
	CodeMalformedJSON        Code = "malformed_json"          // 400: the body is not valid JSON (or has trailing data)
	CodeUnknownField         Code = "unknown_field"           // 400: the body names a field the endpoint does not accept
	CodeInvalidFieldType     Code = "invalid_field_type"      // 400: a field has the wrong JSON type
	CodeUnauthorized         Code = "unauthorized"            // 401: no valid credentials
	CodeInvalidCredentials   Code = "invalid_credentials"     //nolint:gosec // an error code, not a credential. 401: wrong email or password (also unknown, locked, disabled: SEC-04)
	CodeInvalidGrant         Code = "invalid_grant"           // 400: refresh token unknown, spent, expired or revoked
	CodeCSRFFailed           Code = "csrf_failed"             // 403: cookie-authenticated unsafe request without the session's X-CSRF-Token
	CodeMFARequired          Code = "mfa_required"            // 401: a second factor is needed to finish signing in
	CodeForbidden            Code = "forbidden"               // 403: authenticated, but not allowed
	CodeMFAInvalidCode       Code = "mfa_invalid_code"        // 400: the second-factor code is wrong, expired or used
	CodeMFAUnavailable       Code = "mfa_factor_unavailable"  // 400: that factor is not enrolled (or not offered) for the account
	CodeMFALoginExpired      Code = "mfa_login_expired"       // 401: the pending login (cookie or mfa_token) is unknown, expired, spent or dead: sign in again
	CodeMFAEnrollment        Code = "mfa_enrollment_required" // 403: the role requires a second factor and the grace period is over: enroll one
	CodeDeliveryFailed       Code = "delivery_failed"         // 502: the SMS or mail provider did not accept the message
	CodeStepUpRequired       Code = "step_up_required"        // 403: the action needs a higher assurance level (aal2)
	CodeNotFound             Code = "not_found"               // 404
	CodeMethodNotAllowed     Code = "method_not_allowed"      // 405
	CodeConflict             Code = "conflict"                // 409
	CodePayloadTooLarge      Code = "payload_too_large"       // 413
	CodeUnsupportedMediaType Code = "unsupported_media_type"  // 415
	CodeRateLimited          Code = "rate_limited"            // 429, with Retry-After
	CodeInternal             Code = "internal"                // 500: details are logged with the request ID, never returned
	CodeBadGateway           Code = "bad_gateway"             // 502: an upstream (secret backend, provider) answered badly
	CodeUnavailable          Code = "unavailable"             // 503: a dependency is down

	// Secrets manager (issue 6).
	CodeInvalidSecretName   Code = "invalid_secret_name"  // 400: the secret name breaks the naming rules (details.reason says which)
	CodeSecretTooLarge      Code = "secret_too_large"     // 413: the value is over the configured limit (details.limit_bytes)
	CodeUnknownBackend      Code = "unknown_backend"      // 400: no secret backend of that kind is configured
	CodeBackendReadOnly     Code = "backend_read_only"    // 409: the secret's backend cannot store values (env)
	CodeBackendError        Code = "backend_error"        // 502: the secret's backend answered with an error (details.backend)
	CodeBackendUnavailable  Code = "backend_unavailable"  // 503: the secret's backend is down or timed out (details.backend)
	CodeAuditUnavailable    Code = "audit_unavailable"    // 503: the audit record could not be written, so the action was not performed or answered
	CodeRotationUnavailable Code = "rotation_unavailable" // 501: secret rotation is not available in this server yet
	CodeRotationFailed      Code = "rotation_failed"      // 502: a rotation step failed; the current version is unchanged (SEC-44)

	// Social login (issue 5). In a browser flow these also travel as ?error= to the target.
	CodeOAuthStateInvalid    Code = "oauth_state_invalid"    // 400: the flow's state is missing, unknown, expired, already used or from another browser (SEC-30)
	CodeOAuthTokenInvalid    Code = "oauth_token_invalid"    //nolint:gosec // an error code, not a credential. 401: the provider's ID token failed verification (signature, issuer, audience, nonce, expiry: SEC-32)
	CodeOAuthProviderError   Code = "oauth_provider_error"   // 502: the provider refused, answered badly or timed out
	CodeOAuthEmailUnverified Code = "oauth_email_unverified" // 403: the provider asserts no verified email for this account
	CodeOAuthEmailDomain     Code = "oauth_email_domain"     // 403: the email's domain is not allowed for this provider
	CodeOAuthLinkRequired    Code = "oauth_link_required"    // 409: an account with this email exists: sign in to it and link the identity (SEC-33)
	CodeOAuthNoAccount       Code = "oauth_no_account"       // 403: no account for this identity and the provider does not register new ones
	CodeOAuthIdentityTaken   Code = "oauth_identity_taken"   // 409: the identity is linked to another account
	CodeOAuthLastMethod      Code = "oauth_last_method"      // 409: unlinking would leave the account no way to sign in (SEC-34)
	CodeRedirectNotAllowed   Code = "redirect_not_allowed"   // 400: redirect_to is not on the allow-list (SEC-35)
)

var statusByCode = map[Code]int{
	CodeInvalidRequest:       400,
	CodeMalformedJSON:        400,
	CodeUnknownField:         400,
	CodeInvalidFieldType:     400,
	CodeUnauthorized:         401,
	CodeInvalidCredentials:   401,
	CodeInvalidGrant:         400,
	CodeCSRFFailed:           403,
	CodeMFARequired:          401,
	CodeForbidden:            403,
	CodeMFAInvalidCode:       400,
	CodeMFAUnavailable:       400,
	CodeMFALoginExpired:      401,
	CodeMFAEnrollment:        403,
	CodeDeliveryFailed:       502,
	CodeStepUpRequired:       403,
	CodeNotFound:             404,
	CodeMethodNotAllowed:     405,
	CodeConflict:             409,
	CodePayloadTooLarge:      413,
	CodeUnsupportedMediaType: 415,
	CodeRateLimited:          429,
	CodeInternal:             500,
	CodeBadGateway:           502,
	CodeUnavailable:          503,
	CodeInvalidSecretName:    400,
	CodeSecretTooLarge:       413,
	CodeUnknownBackend:       400,
	CodeOAuthStateInvalid:    400,
	CodeOAuthTokenInvalid:    401,
	CodeOAuthProviderError:   502,
	CodeOAuthEmailUnverified: 403,
	CodeOAuthEmailDomain:     403,
	CodeOAuthLinkRequired:    409,
	CodeOAuthNoAccount:       403,
	CodeOAuthIdentityTaken:   409,
	CodeOAuthLastMethod:      409,
	CodeRedirectNotAllowed:   400,
	CodeBackendReadOnly:      409,
	CodeBackendError:         502,
	CodeBackendUnavailable:   503,
	CodeAuditUnavailable:     503,
	CodeRotationUnavailable:  501,
	CodeRotationFailed:       502,
}

// Status is the HTTP status that travels with a code; unknown codes map to 500.
func (c Code) Status() int {
	if s, ok := statusByCode[c]; ok {
		return s
	}
	return 500
}

// Codes lists every stable code, for documentation and exhaustive tests.
func Codes() []Code {
	out := make([]Code, 0, len(statusByCode))
	for c := range statusByCode {
		out = append(out, c)
	}
	return out
}

// ErrorBody is the body of every error response: {"error":{...}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is the content of the error envelope. It is also a Go error, so the client returns it
// as-is and callers use errors.As to switch on Code.
type Error struct {
	Code    Code           `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
	// RequestID is not part of the JSON body: the client fills it from the X-Request-ID header
	// so that an error shown to a person can be matched with the server's log line.
	RequestID string `json:"-"`
	// HTTPStatus is filled by the client from the response status.
	HTTPStatus int `json:"-"`
}

func (e *Error) Error() string {
	if e.RequestID != "" {
		return fmt.Sprintf("%s: %s (request %s)", e.Code, e.Message, e.RequestID)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// NewError builds an error with a code and a user-safe message.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// HeaderRequestID carries the request ID in both directions.
const HeaderRequestID = "X-Request-ID"

// HeaderCSRFToken carries the CSRF token on unsafe cookie-authenticated requests.
const HeaderCSRFToken = "X-CSRF-Token" //nolint:gosec // a header name, not a credential
