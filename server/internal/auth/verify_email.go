package auth

import (
	"context"
	"errors"

	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// EmailVerifier sends a one-time code to an address and checks it (internal/mfa/oob over
// mail). Codes, not links: a link would carry a credential in a URL (SEC-18).
type EmailVerifier interface {
	SendTo(ctx context.Context, userID, address, binding string) (masked string, err error)
	Verify(ctx context.Context, userID, binding, code string) error
}

// ErrEmailVerified: the address is verified already.
var ErrEmailVerified = errors.New("the email address is already verified")

// ErrVerificationUnavailable: the server sends no mail.
var ErrVerificationUnavailable = errors.New("email verification needs mail (smtp.*), which is not configured")

func verifyBinding(email string) string { return "verify_email:" + email }

// SendEmailVerification mails the caller a code that proves they read the account's address.
func (s *Service) SendEmailVerification(ctx context.Context, p Principal, meta Meta) (string, error) {
	if p.UserID == "" {
		return "", ErrForbidden
	}
	if s.mfa == nil || s.mfa.Verifier == nil {
		return "", ErrVerificationUnavailable
	}
	u, err := s.Me(ctx, p)
	if err != nil {
		return "", err
	}
	return s.sendVerification(ctx, u, meta)
}

func (s *Service) sendVerification(ctx context.Context, u users.User, meta Meta) (string, error) {
	if u.EmailVerified {
		return "", ErrEmailVerified
	}
	if err := s.mfa.Throttle.allow(ctx, "verify_send", u.ID, meta.IP); err != nil {
		return "", err
	}
	return s.mfa.Verifier.SendTo(ctx, u.ID, u.Email, verifyBinding(u.Email))
}

// VerifyEmail marks the caller's address verified with the code mailed to it. Wrong codes
// count against the second-factor lockout, like any code.
func (s *Service) VerifyEmail(ctx context.Context, p Principal, code string, meta Meta) (users.User, error) {
	if p.UserID == "" {
		return users.User{}, ErrForbidden
	}
	if s.mfa == nil || s.mfa.Verifier == nil {
		return users.User{}, ErrVerificationUnavailable
	}
	if code == "" || len(code) > 64 {
		return users.User{}, invalid("code", "code is required (at most 64 characters)")
	}
	u, err := s.Me(ctx, p)
	if err != nil {
		return users.User{}, err
	}
	if u.EmailVerified {
		return users.User{}, ErrEmailVerified
	}
	if err := s.mfa.Throttle.before(ctx, "verify", u.ID, meta.IP); err != nil {
		return users.User{}, err
	}
	if err := s.mfa.Verifier.Verify(ctx, u.ID, verifyBinding(u.Email), code); err != nil {
		if !errors.Is(err, ErrFactorRejected) {
			return users.User{}, err
		}
		if _, _, ferr := s.mfa.Throttle.failed(ctx, u.ID, meta.IP); ferr != nil {
			return users.User{}, ferr
		}
		if rerr := s.record(ctx, api.EventEmailVerified, api.OutcomeFailure, u.ID, u.ID, meta, map[string]any{"reason": "invalid_code"}); rerr != nil {
			return users.User{}, rerr
		}
		return users.User{}, ErrFactorRejected
	}
	u.EmailVerified = true
	u.UpdatedAt = s.now()
	if err := s.users.Update(ctx, u); err != nil {
		return users.User{}, err
	}
	if err := s.record(ctx, api.EventEmailVerified, api.OutcomeSuccess, u.ID, u.ID, meta, nil); err != nil {
		return users.User{}, err
	}
	return u, nil
}
