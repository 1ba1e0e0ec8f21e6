package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"gatehouse/shared/api"
)

// MFARequired is returned by TokenWithPassword (as the error) when the account has a second
// factor: finish with TokenWithMFA.
type MFARequired struct {
	*api.Error
	MFAToken string
	Factors  []string
}

// AsMFARequired reads the mfa_token and factors from a 401 mfa_required answer.
func AsMFARequired(err error) (*MFARequired, bool) {
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodeMFARequired {
		return nil, false
	}
	m := &MFARequired{Error: e}
	m.MFAToken, _ = e.Details[api.DetailMFAToken].(string)
	if fs, ok := e.Details[api.DetailFactors].([]any); ok {
		for _, f := range fs {
			if s, ok := f.(string); ok {
				m.Factors = append(m.Factors, s)
			}
		}
	}
	return m, m.MFAToken != ""
}

// TokenWithMFA finishes a password grant that answered mfa_required and switches the client to
// the new access token.
func (c *Client) TokenWithMFA(ctx context.Context, mfaToken, factor, code string) (*api.TokenResponse, error) {
	return c.grant(ctx, api.TokenRequest{GrantType: api.GrantMFA, MFAToken: mfaToken, Factor: factor, Code: code})
}

// MFAChallenge asks the server to send an SMS or email code for the pending login (the
// pending cookie from Login, or mfaToken from a password grant).
func (c *Client) MFAChallenge(ctx context.Context, factor, mfaToken string) (*api.MFAChallengeResponse, error) {
	var res api.MFAChallengeResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/mfa/challenge", api.MFAChallengeRequest{Factor: factor, MFAToken: mfaToken}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// MFAVerify finishes a cookie login that answered mfa_required.
func (c *Client) MFAVerify(ctx context.Context, req api.MFAVerifyRequest) (*api.LoginResponse, error) {
	var res api.LoginResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/mfa/verify", req, &res); err != nil {
		return nil, err
	}
	c.SetCSRFToken(res.CSRFToken)
	return &res, nil
}

// StepUpChallenge sends an SMS or email code to step the current session up.
func (c *Client) StepUpChallenge(ctx context.Context, factor string) (*api.MFAChallengeResponse, error) {
	var res api.MFAChallengeResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/step-up/challenge", api.StepUpChallengeRequest{Factor: factor}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// StepUp raises the current session to aal2 and adopts its new credential (CSRF token in
// cookie mode, access token in bearer mode).
func (c *Client) StepUp(ctx context.Context, factor, code string) (*api.StepUpResponse, error) {
	var res api.StepUpResponse
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/auth/step-up", api.StepUpRequest{Factor: factor, Code: code}, &res); err != nil {
		return nil, err
	}
	if res.AccessToken != "" {
		c.SetBearerToken(res.AccessToken)
	}
	if res.CSRFToken != "" {
		c.SetCSRFToken(res.CSRFToken)
	}
	return &res, nil
}

// MyMFA returns the caller's second-factor state.
func (c *Client) MyMFA(ctx context.Context) (*api.MFAStatus, error) {
	var res api.MFAStatus
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/me/mfa", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// EnrollTOTP starts TOTP enrollment.
func (c *Client) EnrollTOTP(ctx context.Context) (*api.TOTPEnrollment, error) {
	var res api.TOTPEnrollment
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/me/mfa/totp", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ConfirmTOTP activates TOTP with a first code.
func (c *Client) ConfirmTOTP(ctx context.Context, code string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/me/mfa/totp/confirm", api.CodeRequest{Code: code}, nil)
	return err
}

// EnrollSMS sends a confirmation code to phone.
func (c *Client) EnrollSMS(ctx context.Context, phone string) (*api.EnrollmentStarted, error) {
	var res api.EnrollmentStarted
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/me/mfa/sms", api.PhoneEnrollRequest{Phone: phone}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// EnrollEmail sends a confirmation code to email ("" for the account's address).
func (c *Client) EnrollEmail(ctx context.Context, email string) (*api.EnrollmentStarted, error) {
	var res api.EnrollmentStarted
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/me/mfa/email", api.EmailEnrollRequest{Email: email}, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// ConfirmFactor confirms an SMS or email enrollment with the code that was sent.
func (c *Client) ConfirmFactor(ctx context.Context, factor, code string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/me/mfa/"+url.PathEscape(factor)+"/confirm", api.CodeRequest{Code: code}, nil)
	return err
}

// RemoveFactor removes the caller's totp, sms or email factor (aal2).
func (c *Client) RemoveFactor(ctx context.Context, factor string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/me/mfa/"+url.PathEscape(factor), nil, nil)
	return err
}

// RegenerateRecoveryCodes replaces the caller's recovery codes; the new ones are shown once.
func (c *Client) RegenerateRecoveryCodes(ctx context.Context) ([]string, error) {
	var res api.RecoveryCodes
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/me/mfa/recovery-codes", nil, &res); err != nil {
		return nil, err
	}
	return res.Codes, nil
}

// MyDevices lists the caller's trusted devices.
func (c *Client) MyDevices(ctx context.Context) ([]api.Device, error) {
	var res api.DeviceList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/me/devices", nil, &res); err != nil {
		return nil, err
	}
	return res.Devices, nil
}

// RevokeMyDevice ends trust in one of the caller's devices.
func (c *Client) RevokeMyDevice(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/me/devices/"+url.PathEscape(id), nil, nil)
	return err
}

// UserDevices lists a user's trusted devices (admin, support).
func (c *Client) UserDevices(ctx context.Context, userID string) ([]api.Device, error) {
	var res api.DeviceList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/users/"+url.PathEscape(userID)+"/devices", nil, &res); err != nil {
		return nil, err
	}
	return res.Devices, nil
}

// RevokeUserDevice ends trust in one device of a user (admin, support).
func (c *Client) RevokeUserDevice(ctx context.Context, userID, deviceID string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/users/"+url.PathEscape(userID)+"/devices/"+url.PathEscape(deviceID), nil, nil)
	return err
}

// RevokeUserDevices ends trust in every device of a user (admin, support).
func (c *Client) RevokeUserDevices(ctx context.Context, userID string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/users/"+url.PathEscape(userID)+"/devices", nil, nil)
	return err
}

// ResetMFA removes every second factor, recovery code and trusted device of a user and ends
// their sessions (support or admin at aal2; the reason is audited).
func (c *Client) ResetMFA(ctx context.Context, userID, reason string) error {
	_, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/users/"+url.PathEscape(userID)+"/mfa/reset", api.MFAResetRequest{Reason: reason}, nil)
	return err
}

// SendEmailVerification mails the signed-in user a code for their address.
func (c *Client) SendEmailVerification(ctx context.Context) (*api.EnrollmentStarted, error) {
	var res api.EnrollmentStarted
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/me/email/verification", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// VerifyEmail marks the signed-in user's address verified with the mailed code.
func (c *Client) VerifyEmail(ctx context.Context, code string) (*api.User, error) {
	var u api.User
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/me/email/verify", api.CodeRequest{Code: code}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}
