package api

import "time"

// Security event types (SEC-54). A type names what happened, in the past tense, as
// "<subject>.<verb>"; the outcome says whether it worked. Types are part of the public API
// (admins filter on them, alerts match them), so an existing type never changes meaning.
const (
	EventLoginSucceeded     = "login.succeeded"
	EventLoginFailed        = "login.failed"
	EventAccountLocked      = "account.locked"
	EventLogout             = "logout"
	EventPasswordChanged    = "password.changed"
	EventSessionRevoked     = "session.revoked"
	EventTokenIssued        = "token.issued"
	EventTokenRefreshed     = "token.refreshed"
	EventTokenRefreshReused = "token.refresh_reused" // SEC-16: a used refresh token was replayed
	EventUserCreated        = "user.created"
	EventUserUpdated        = "user.updated"
	EventUserRolesChanged   = "user.roles_changed"
	EventUserStatusChanged  = "user.status_changed"
	EventUserRegistered     = "user.registered"
	EventEmailVerified      = "user.email_verified" // the user proved the address with a mailed code (failure: wrong code, or none sent)

	// Second factors (SEC-27).
	EventMFARequired        = "mfa.required"         // a password login now waits for its second factor
	EventMFAChallengeSent   = "mfa.challenge_sent"   // an SMS or email code was sent (failure: delivery failed)
	EventMFAVerified        = "mfa.verified"         // a second factor was accepted (login, step-up)
	EventMFAFailed          = "mfa.failed"           // a second factor was refused (wrong, replayed, expired, throttled)
	EventMFAStepUp          = "mfa.step_up"          // a session was raised to aal2
	EventMFAFactorAdded     = "mfa.factor_added"     // a factor was enrolled (or enrollment failed)
	EventMFAFactorRemoved   = "mfa.factor_removed"   // a factor was removed
	EventMFARecoveryRenewed = "mfa.recovery_renewed" // a new set of recovery codes replaced the old
	EventMFAReset           = "mfa.reset"            // support or an admin removed every factor of a user
	EventDeviceTrusted      = "device.trusted"       // a browser was remembered after a second factor
	EventDeviceRevoked      = "device.revoked"       // trust in one or all devices was ended

	// Secrets administration (SEC-41, SEC-42). Reads and writes of secret values have their own
	// per-secret audit trail; these are the changes to who may do them, and rotation warnings.
	EventSecretPolicyCreated        = "secret_policy.created"         // a secret access policy was added (failure: refused as invalid)
	EventSecretPolicyDeleted        = "secret_policy.deleted"         // a secret access policy was removed (failure: no such policy)
	EventServiceAccountCreated      = "service_account.created"       // a service account was created (failure: invalid or name taken)
	EventServiceAccountDeleted      = "service_account.deleted"       // a service account was deleted with its tokens and policies
	EventServiceAccountTokenIssued  = "service_account.token_issued"  // an API token was issued to a service account (never the token itself)
	EventServiceAccountTokenRevoked = "service_account.token_revoked" // a service account's API token was revoked
	EventSecretRotationDue          = "secret.rotation_due"           // a secret's scheduled rotation falls due within the warning period (once per due time)

	// Social login (SEC-30..35). A social login that succeeds is login.succeeded with method
	// "oauth:<provider>"; a new account made by it is user.registered with the provider.
	EventOAuthFailed          = "oauth.failed"           // a social login or link failed (details.reason: state, token, provider, email_unverified, domain, ...)
	EventIdentityLinked       = "identity.linked"        // a provider identity was linked to an account (by the user, or auto-linked by verified email)
	EventIdentityUnlinked     = "identity.unlinked"      // a provider identity was removed from an account (failure: it was the last way to sign in)
	EventOAuthProviderChanged = "oauth_provider.changed" // an administrator created, changed or deleted a provider (details.action)
)

// EventTypes lists every security event type defined here, for documentation, filters in the
// console and exhaustive tests. Later capabilities (MFA, OAuth, secrets) add theirs.
func EventTypes() []string {
	return []string{
		EventLoginSucceeded, EventLoginFailed, EventAccountLocked, EventLogout,
		EventPasswordChanged, EventSessionRevoked, EventTokenIssued, EventTokenRefreshed,
		EventTokenRefreshReused, EventUserCreated, EventUserUpdated, EventUserRolesChanged,
		EventUserStatusChanged, EventUserRegistered, EventEmailVerified,
		EventMFARequired, EventMFAChallengeSent, EventMFAVerified, EventMFAFailed, EventMFAStepUp,
		EventMFAFactorAdded, EventMFAFactorRemoved, EventMFARecoveryRenewed, EventMFAReset,
		EventDeviceTrusted, EventDeviceRevoked,
		EventSecretPolicyCreated, EventSecretPolicyDeleted, EventServiceAccountCreated, EventServiceAccountDeleted,
		EventServiceAccountTokenIssued, EventServiceAccountTokenRevoked, EventSecretRotationDue,
		EventOAuthFailed, EventIdentityLinked, EventIdentityUnlinked, EventOAuthProviderChanged,
	}
}

// Security event outcomes. "failure" is an attempt that did not succeed (wrong password, a
// replayed token); "denied" is an authenticated actor refused by authorization.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// Outcomes lists every outcome; no other value is ever recorded.
func Outcomes() []string {
	return []string{OutcomeSuccess, OutcomeFailure, OutcomeDenied}
}

// SecurityEvent is one entry of the append-only security event log, as
// GET /api/v1/admin/events shows it. ActorID is who acted (empty for an anonymous attempt or
// the system); SubjectUserID is the account acted upon (the same as ActorID when users act on
// themselves, empty when no account matched). Details never carry passwords, tokens, codes or
// cookies (SEC-18).
type SecurityEvent struct {
	ID            string         `json:"id"`
	Type          string         `json:"type"`
	Outcome       string         `json:"outcome"`
	ActorID       string         `json:"actor_id"`
	SubjectUserID string         `json:"subject_user_id"`
	IP            string         `json:"ip"`
	UserAgent     string         `json:"user_agent"`
	RequestID     string         `json:"request_id"`
	Details       map[string]any `json:"details,omitempty"`
	CreatedAt     time.Time      `json:"created_at"`
}

// SecurityEventList is one page of GET /api/v1/admin/events, newest first.
type SecurityEventList struct {
	Events  []SecurityEvent `json:"events"`
	Page    int             `json:"page"`
	PerPage int             `json:"per_page"`
	Total   int             `json:"total"`
}

// SecurityEventQuery filters GET /api/v1/admin/events. User matches events where the user is
// the actor or the subject. Since is inclusive, Until exclusive; zero times are unbounded.
type SecurityEventQuery struct {
	Type    string
	User    string
	Since   time.Time
	Until   time.Time
	Page    int
	PerPage int
}
