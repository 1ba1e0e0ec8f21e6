package remote

import (
	"context"

	"gatehouse/shared/api"
)

// ChallengeMFA implements state.MFAAPI: the pending login's cookie and CSRF token (kept by
// Login) identify the sign-in.
func (b *Backend) ChallengeMFA(ctx context.Context, factor string) error {
	_, err := b.c.MFAChallenge(ctx, factor, "")
	return err
}

// ChallengeStepUp implements state.MFAAPI.
func (b *Backend) ChallengeStepUp(ctx context.Context, factor string) error {
	_, err := b.c.StepUpChallenge(ctx, factor)
	return err
}

// VerifyMFA implements state.MFAAPI.
func (b *Backend) VerifyMFA(ctx context.Context, factor, code string, rememberDevice bool) (*api.User, error) {
	res, err := b.c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: factor, Code: code, RememberDevice: rememberDevice})
	if err != nil {
		return nil, err
	}
	return res.User, nil
}

// StepUp implements state.MFAAPI (the client adopts the session's new CSRF token).
func (b *Backend) StepUp(ctx context.Context, factor, code string) error {
	_, err := b.c.StepUp(ctx, factor, code)
	return err
}

// MyMFA implements state.MFAAPI.
func (b *Backend) MyMFA(ctx context.Context) (api.MFAStatus, error) {
	st, err := b.c.MyMFA(ctx)
	if err != nil {
		return api.MFAStatus{}, err
	}
	return *st, nil
}

// UserDevices implements state.SupportAPI.
func (b *Backend) UserDevices(ctx context.Context, id string) ([]api.Device, error) {
	return b.c.UserDevices(ctx, id)
}

// RevokeUserDevice implements state.SupportAPI.
func (b *Backend) RevokeUserDevice(ctx context.Context, id, deviceID string) error {
	return b.c.RevokeUserDevice(ctx, id, deviceID)
}

// RevokeUserDevices implements state.SupportAPI.
func (b *Backend) RevokeUserDevices(ctx context.Context, id string) error {
	return b.c.RevokeUserDevices(ctx, id)
}

// ResetMFA implements state.SupportAPI.
func (b *Backend) ResetMFA(ctx context.Context, id, reason string) error {
	return b.c.ResetMFA(ctx, id, reason)
}
