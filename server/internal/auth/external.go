package auth

import (
	"context"

	"gatehouse/server/internal/mfa/pending"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// ExternalLogin opens a cookie session for a user who proved who they are elsewhere (a social
// login: method "oauth:<provider>"), through the same gate as a password login (second factor,
// trusted devices, the previous session revoked). Locked and disabled accounts are refused like
// a wrong password.
func (s *Service) ExternalLogin(ctx context.Context, u users.User, method, previousToken, deviceToken string, meta Meta) (CookieLogin, error) {
	if u.Status != api.UserActive {
		return CookieLogin{}, ErrInvalidCredentials
	}
	return s.finishCookieLogin(ctx, u, method, previousToken, deviceToken, meta)
}

// PendingFactors lists the factors a pending login can finish with, for a browser that
// arrives with only the pending cookie (after a social login's redirect).
func (s *Service) PendingFactors(ctx context.Context, l pending.Login) ([]string, error) {
	return s.enrolledFactors(ctx, l.UserID)
}

// StepUpGate refuses a sensitive self-service action (linking or unlinking a social identity)
// at aal1 when the user has a second factor: they step up first.
func (s *Service) StepUpGate(ctx context.Context, p Principal) error {
	return s.requireAAL2IfEnrolled(ctx, p)
}
