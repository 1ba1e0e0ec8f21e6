// Package state holds the console's view models: what each screen shows and the rules for
// changing it, with no widgets. It talks to the server only through the small interfaces below
// (owned here, implemented over shared/client by internal/remote and by internal/fakeapi in
// tests), so every rule is tested without a Fyne driver or a network.
package state

import (
	"context"
	"errors"
	"strings"

	"gatehouse/shared/api"
)

// Factor names on the wire (issue 4, item 11).
const (
	FactorTOTP     = api.FactorTOTP
	FactorSMS      = api.FactorSMS
	FactorEmail    = api.FactorEmail
	FactorRecovery = api.FactorRecoveryCode
)

// AllFactors is what the sign-in step offers when the server did not say which factors the
// account has.
func AllFactors() []string {
	return []string{FactorTOTP, FactorSMS, FactorEmail, FactorRecovery}
}

// FactorSendsCode reports whether the server must send a code before it can be entered.
func FactorSendsCode(f string) bool { return f == FactorSMS || f == FactorEmail }

// FactorLabel is the human name of a factor.
func FactorLabel(f string) string {
	switch f {
	case FactorTOTP:
		return "Authenticator app"
	case FactorSMS:
		return "Text message"
	case FactorEmail:
		return "Email code"
	case FactorRecovery:
		return "Recovery code"
	default:
		return f
	}
}

// ErrNotSupported means the server (or this console's adapter) does not offer an endpoint yet.
// Screens show the section as unavailable instead of reporting an error.
var ErrNotSupported = errors.New("not supported by this server")

// LoginResult is the answer to a password sign-in.
type LoginResult struct {
	Status  string    // api.LoginOK or api.LoginMFARequired
	User    *api.User // set when Status is api.LoginOK
	Factors []string  // the account's factors when Status is api.LoginMFARequired (may be empty)
}

// AuthAPI signs in and out with a cookie session.
type AuthAPI interface {
	Login(ctx context.Context, email, password string) (LoginResult, error)
	Logout(ctx context.Context) error
	Me(ctx context.Context) (*api.User, error)
}

// MFAAPI is the second-factor part of signing in and step-up (issue 4).
type MFAAPI interface {
	// ChallengeMFA asks the server to send a code (SMS, email) for the pending sign-in.
	ChallengeMFA(ctx context.Context, factor string) error
	// ChallengeStepUp asks the server to send a code (SMS, email) for a step-up.
	ChallengeStepUp(ctx context.Context, factor string) error
	// VerifyMFA finishes a pending sign-in.
	VerifyMFA(ctx context.Context, factor, code string, rememberDevice bool) (*api.User, error)
	// StepUp raises the current session to aal2.
	StepUp(ctx context.Context, factor, code string) error
	// MyMFA describes the signed-in account's own factors.
	MyMFA(ctx context.Context) (api.MFAStatus, error)
}

// MFAEnabled reports whether an account has at least one enrolled second factor.
func MFAEnabled(st api.MFAStatus) bool {
	for _, f := range st.Factors {
		if f.Enrolled {
			return true
		}
	}
	return false
}

// FactorShort is a factor's name for a table cell.
func FactorShort(f string) string {
	switch f {
	case FactorTOTP:
		return "TOTP"
	case FactorSMS:
		return "SMS"
	case FactorEmail:
		return "Email"
	case FactorRecovery:
		return "Recovery"
	default:
		return f
	}
}

// MFASummary is a short description for tables: the enrolled factors, or "Off".
func MFASummary(st *api.MFAStatus) string {
	if st == nil {
		return ""
	}
	var names []string
	for _, f := range st.Factors {
		if f.Enrolled {
			names = append(names, FactorShort(f.Factor))
		}
	}
	if len(names) == 0 {
		if st.Required {
			return "Off (required)"
		}
		return "Off"
	}
	return strings.Join(names, ", ")
}

// ServerAPI reads the server's build and health.
type ServerAPI interface {
	Version(ctx context.Context) (*api.Version, error)
	Livez(ctx context.Context) (*api.Health, error)
	// Readyz returns the health document also when the server is not ready (with an error).
	Readyz(ctx context.Context) (*api.Health, error)
}

// UsersAPI is the admin/support account API.
type UsersAPI interface {
	ListUsers(ctx context.Context, q api.UserQuery) (*api.UserList, error)
	GetUser(ctx context.Context, id string) (*api.User, error)
	CreateUser(ctx context.Context, req api.CreateUserRequest) (*api.User, error)
	UpdateUser(ctx context.Context, id string, req api.UpdateUserRequest) (*api.User, error)
	LockUser(ctx context.Context, id string) (*api.User, error)
	UnlockUser(ctx context.Context, id string) (*api.User, error)
	UserSessions(ctx context.Context, id string) ([]api.Session, error)
	RevokeUserSession(ctx context.Context, id, sessionID string) error
	RevokeUserSessions(ctx context.Context, id string) error
	// UserIdentities lists the provider identities linked to the account.
	UserIdentities(ctx context.Context, id string) ([]api.Identity, error)
}

// SupportAPI is what support staff do about an account's second factors (issue 4). An
// account's MFA status comes with GetUser (api.User.MFA).
type SupportAPI interface {
	UserDevices(ctx context.Context, id string) ([]api.Device, error)
	RevokeUserDevice(ctx context.Context, id, deviceID string) error
	RevokeUserDevices(ctx context.Context, id string) error
	ResetMFA(ctx context.Context, id, reason string) error
}

// EventsAPI pages through security events.
type EventsAPI interface {
	ListEvents(ctx context.Context, q api.SecurityEventQuery) (*api.SecurityEventList, error)
}

// PoolAPI follows the database pool.
type PoolAPI interface {
	// PoolStream calls fn with each sample until ctx ends, fn fails or the stream breaks.
	PoolStream(ctx context.Context, fn func(api.PoolStats) error) error
}

// Backend is everything the console needs from one server.
type Backend interface {
	AuthAPI
	MFAAPI
	ServerAPI
	UsersAPI
	SupportAPI
	EventsAPI
	PoolAPI
	SecretsAPI
	SecretOpsAPI
	OAuthAPI
	ProvidersAPI
}

// Dialer returns a Backend for a server's base URL, with its own cookie jar.
type Dialer func(baseURL string) (Backend, error)
