package api

import "time"

// Second factors, exactly as they travel on the wire.
const (
	FactorTOTP         = "totp"
	FactorSMS          = "sms"
	FactorEmail        = "email"
	FactorRecoveryCode = "recovery_code"
)

// Details keys of the 401 mfa_required answer to a password grant.
const (
	DetailMFAToken = "mfa_token"
	DetailFactors  = "factors"
)

// MFAChallengeRequest asks for an SMS or email code for a pending login: the pending cookie
// (with X-CSRF-Token) or MFAToken identifies it.
type MFAChallengeRequest struct {
	Factor   string `json:"factor"`
	MFAToken string `json:"mfa_token,omitempty"`
}

// MFAChallengeResponse says where the code went.
type MFAChallengeResponse struct {
	Factor    string `json:"factor"`
	SentTo    string `json:"sent_to"`
	ExpiresIn int    `json:"expires_in"`
}

// MFAVerifyRequest finishes a pending cookie login with a second factor.
type MFAVerifyRequest struct {
	Factor         string `json:"factor"`
	Code           string `json:"code"`
	RememberDevice bool   `json:"remember_device,omitempty"`
}

// StepUpChallengeRequest asks for an SMS or email code to step the current session up.
type StepUpChallengeRequest struct {
	Factor string `json:"factor"`
}

// StepUpRequest raises the current session to aal2 with a second factor.
type StepUpRequest struct {
	Factor string `json:"factor"`
	Code   string `json:"code"`
}

// StepUpResponse answers a step-up: the session's new credential. Cookie sessions get a new
// cookie and CSRF token; token sessions a new access token and refresh token.
type StepUpResponse struct {
	Status       string `json:"status"`
	AAL          string `json:"aal"`
	CSRFToken    string `json:"csrf_token,omitempty"`
	AccessToken  string `json:"access_token,omitempty"`
	TokenType    string `json:"token_type,omitempty"`
	ExpiresIn    int    `json:"expires_in,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// TOTPEnrollment is shown once to load the secret into an authenticator app.
type TOTPEnrollment struct {
	URI    string `json:"otpauth_uri"`
	QRPNG  string `json:"qr_png_base64"`
	Secret string `json:"secret"`
}

// CodeRequest carries a code (enrollment confirmations).
type CodeRequest struct {
	Code string `json:"code"`
}

// PhoneEnrollRequest starts SMS enrollment.
type PhoneEnrollRequest struct {
	Phone string `json:"phone"`
}

// EnrollmentStarted says where the confirmation code went.
type EnrollmentStarted struct {
	Factor    string `json:"factor"`
	SentTo    string `json:"sent_to"`
	ExpiresIn int    `json:"expires_in"`
}

// RecoveryCodes is a fresh set, shown once.
type RecoveryCodes struct {
	Codes []string `json:"codes"`
}

// MFAFactor is one factor's state for its owner.
type MFAFactor struct {
	Factor     string     `json:"factor"`
	Enrolled   bool       `json:"enrolled"`
	Pending    bool       `json:"pending,omitempty"`
	Address    string     `json:"address,omitempty"` // masked phone or email
	EnrolledAt *time.Time `json:"enrolled_at,omitempty"`
}

// MFAStatus answers GET /api/v1/me/mfa (and is part of a user as support sees it).
type MFAStatus struct {
	Available              []string    `json:"available"`
	Factors                []MFAFactor `json:"factors"`
	RecoveryCodesRemaining int         `json:"recovery_codes_remaining"`
	TrustedDevices         int         `json:"trusted_devices"`
	Required               bool        `json:"required"`
	GraceEndsAt            *time.Time  `json:"grace_ends_at,omitempty"`
}

// Device is a trusted (remembered) browser.
type Device struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	IP         string    `json:"ip"`
	Current    bool      `json:"current"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// DeviceList answers the device listings.
type DeviceList struct {
	Devices []Device `json:"devices"`
}

// MFAResetRequest is support's reset of a user's second factors; the reason is audited.
type MFAResetRequest struct {
	Reason string `json:"reason"`
}

// EmailEnrollRequest starts email-factor enrollment; an empty Email means the account's.
type EmailEnrollRequest struct {
	Email string `json:"email,omitempty"`
}
