package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/server/internal/mfa/device"
	"gatehouse/server/internal/mfa/oob"

	"gatehouse/server/internal/mfa/totp"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// TOTPEnroller is the enrollment side of the TOTP factor (internal/mfa/totp).
type TOTPEnroller interface {
	Begin(ctx context.Context, userID, accountName, issuer string) (totp.Enrollment, error)
	Confirm(ctx context.Context, userID, code string) error
	Disable(ctx context.Context, userID string) error
	Status(ctx context.Context, userID string) (enrolled bool, confirmedAt time.Time, err error)
}

// OOBEnroller is the enrollment side of the SMS and email factors (internal/mfa/oob).
type OOBEnroller interface {
	BeginEnroll(ctx context.Context, userID, address string) (masked string, err error)
	ConfirmEnroll(ctx context.Context, userID, code string) error
	Disable(ctx context.Context, userID string) error
	Status(ctx context.Context, userID string) (masked string, confirmedAt *time.Time, err error)
}

// RecoveryCodes is the recovery-code factor's management side (internal/mfa/recovery).
type RecoveryCodes interface {
	Generate(ctx context.Context, userID string) ([]string, error)
	Remaining(ctx context.Context, userID string) (int, error)
	Delete(ctx context.Context, userID string) error
}

// Enrollment holds the management side of each offered factor; nil members are not offered.
type Enrollment struct {
	TOTP     TOTPEnroller
	SMS      OOBEnroller
	Email    OOBEnroller
	Recovery RecoveryCodes
	Issuer   string // shown by authenticator apps
	// Cleanup removes what a reset must remove beyond the factors (pending logins).
	Cleanup func(ctx context.Context, userID string) error
}

// MaxResetReason bounds the audited reason of an MFA reset.
const MaxResetReason = 500

// MFAStatus is a user's second-factor state (GET /me/mfa, and for support on the user).
func (s *Service) MFAStatus(ctx context.Context, userID string) (api.MFAStatus, error) {
	st := api.MFAStatus{Available: []string{}, Factors: []api.MFAFactor{}}
	if !s.mfa.on() {
		return st, nil
	}
	st.Available = append(st.Available, s.mfa.Order...)
	e := s.mfa.Enroll
	if e.TOTP != nil {
		ok, at, err := e.TOTP.Status(ctx, userID)
		if err != nil {
			return st, fmt.Errorf("totp status: %w", err)
		}
		f := api.MFAFactor{Factor: api.FactorTOTP, Enrolled: ok}
		if ok {
			f.EnrolledAt = &at
		}
		st.Factors = append(st.Factors, f)
	}
	for _, ch := range []struct {
		name string
		e    OOBEnroller
	}{{api.FactorSMS, e.SMS}, {api.FactorEmail, e.Email}} {
		if ch.e == nil {
			continue
		}
		f := api.MFAFactor{Factor: ch.name}
		masked, at, err := ch.e.Status(ctx, userID)
		switch {
		case errors.Is(err, oob.ErrNotEnrolled):
		case err != nil:
			return st, fmt.Errorf("%s status: %w", ch.name, err)
		default:
			f.Address, f.EnrolledAt, f.Enrolled, f.Pending = masked, at, at != nil, at == nil
		}
		st.Factors = append(st.Factors, f)
	}
	if e.Recovery != nil {
		n, err := e.Recovery.Remaining(ctx, userID)
		if err != nil {
			return st, fmt.Errorf("recovery codes: %w", err)
		}
		st.RecoveryCodesRemaining = n
		st.Factors = append(st.Factors, api.MFAFactor{Factor: api.FactorRecoveryCode, Enrolled: n > 0})
	}
	if s.mfa.Devices != nil {
		list, err := s.mfa.Devices.List(ctx, userID)
		if err != nil {
			return st, err
		}
		st.TrustedDevices = len(list)
	}
	u, err := s.users.Get(ctx, userID)
	if err != nil {
		return st, err
	}
	if s.requiresMFA(u.Roles) {
		st.Required = true
		end := s.graceEnds(u)
		st.GraceEndsAt = &end
	}
	return st, nil
}

// MyMFA is the caller's MFAStatus.
func (s *Service) MyMFA(ctx context.Context, p Principal) (api.MFAStatus, error) {
	if p.UserID == "" {
		return api.MFAStatus{}, ErrForbidden
	}
	return s.MFAStatus(ctx, p.UserID)
}

// factorAdded records and announces a new factor.
func (s *Service) factorAdded(ctx context.Context, u users.User, name string, meta Meta) error {
	if err := s.record(ctx, api.EventMFAFactorAdded, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"factor": name}); err != nil {
		return err
	}
	s.notify(ctx, u, Notice{Kind: NoticeFactorAdded, Factor: name, IP: meta.IP})
	return nil
}

// BeginTOTP starts TOTP enrollment. Once the user has any factor, adding one needs aal2.
func (s *Service) BeginTOTP(ctx context.Context, p Principal, meta Meta) (api.TOTPEnrollment, error) {
	u, err := s.enrollee(ctx, p, s.mfa.Enroll.TOTP != nil)
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	en, err := s.mfa.Enroll.TOTP.Begin(ctx, u.ID, u.Email, s.mfa.Enroll.Issuer)
	if errors.Is(err, totp.ErrAlreadyEnrolled) {
		return api.TOTPEnrollment{}, ErrFactorEnrolled
	}
	if err != nil {
		return api.TOTPEnrollment{}, err
	}
	return api.TOTPEnrollment{URI: en.URI, QRPNG: base64.StdEncoding.EncodeToString(en.QRPNG), Secret: en.Secret}, nil
}

// ConfirmTOTP activates the pending TOTP secret with a first code.
func (s *Service) ConfirmTOTP(ctx context.Context, p Principal, code string, meta Meta) error {
	u, err := s.enrollee(ctx, p, s.mfa.Enroll.TOTP != nil)
	if err != nil {
		return err
	}
	if code == "" {
		return invalid("code", "code is required")
	}
	err = s.mfa.Enroll.TOTP.Confirm(ctx, u.ID, code)
	switch {
	case errors.Is(err, totp.ErrAlreadyEnrolled):
		return ErrFactorEnrolled
	case errors.Is(err, totp.ErrNotEnrolled):
		return invalid("code", "no TOTP enrollment is pending: start one first")
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrReplay):
		_ = s.record(ctx, api.EventMFAFactorAdded, api.OutcomeFailure, u.ID, u.ID, meta, map[string]any{"factor": api.FactorTOTP, "reason": "invalid_code"})
		return ErrFactorRejected
	case err != nil:
		return err
	}
	return s.factorAdded(ctx, u, api.FactorTOTP, meta)
}

// BeginOOB starts SMS or email enrollment: the address gets a code (SEC-25: aal2 once the
// user has a factor). A delivery failure leaves nothing enrolled and is recorded.
func (s *Service) BeginOOB(ctx context.Context, p Principal, name, address string, meta Meta) (string, error) {
	en := s.oobEnroller(name)
	u, err := s.enrollee(ctx, p, en != nil)
	if err != nil {
		return "", err
	}
	if name == api.FactorEmail && address == "" {
		address = u.Email
	}
	masked, err := en.BeginEnroll(ctx, u.ID, address)
	switch {
	case errors.Is(err, oob.ErrInvalidAddress):
		field := "phone"
		if name == api.FactorEmail {
			field = "email"
		}
		return "", invalid(field, err.Error())
	case errors.Is(err, oob.ErrAlreadyEnrolled):
		return "", ErrFactorEnrolled
	case errors.Is(err, ErrDeliveryFailed):
		if rerr := s.record(ctx, api.EventMFAFactorAdded, api.OutcomeFailure, u.ID, u.ID, meta, map[string]any{"factor": name, "reason": "delivery_failed"}); rerr != nil {
			return "", errors.Join(err, rerr)
		}
		return "", err
	case err != nil:
		return "", err
	}
	return masked, nil
}

// ConfirmOOB activates the pending SMS or email address with the code sent to it.
func (s *Service) ConfirmOOB(ctx context.Context, p Principal, name, code string, meta Meta) error {
	en := s.oobEnroller(name)
	u, err := s.enrollee(ctx, p, en != nil)
	if err != nil {
		return err
	}
	if code == "" {
		return invalid("code", "code is required")
	}
	err = en.ConfirmEnroll(ctx, u.ID, code)
	switch {
	case errors.Is(err, oob.ErrAlreadyEnrolled):
		return ErrFactorEnrolled
	case errors.Is(err, ErrFactorRejected):
		_ = s.record(ctx, api.EventMFAFactorAdded, api.OutcomeFailure, u.ID, u.ID, meta, map[string]any{"factor": name, "reason": "invalid_code"})
		return ErrFactorRejected
	case err != nil:
		return err
	}
	return s.factorAdded(ctx, u, name, meta)
}

// RemoveFactor disables one factor; always at aal2 (SEC-25), and the user is told.
func (s *Service) RemoveFactor(ctx context.Context, p Principal, name string, meta Meta) error {
	if p.UserID == "" {
		return ErrForbidden
	}
	if p.Session.AAL != api.AAL2 {
		return ErrStepUpRequired
	}
	var err error
	e := s.mfa.Enroll
	switch {
	case name == api.FactorTOTP && e.TOTP != nil:
		err = e.TOTP.Disable(ctx, p.UserID)
	case name == api.FactorSMS && e.SMS != nil:
		err = e.SMS.Disable(ctx, p.UserID)
	case name == api.FactorEmail && e.Email != nil:
		err = e.Email.Disable(ctx, p.UserID)
	default:
		return ErrFactorUnavailable
	}
	if errors.Is(err, totp.ErrNotEnrolled) || errors.Is(err, oob.ErrNotEnrolled) {
		return ErrFactorUnavailable
	}
	if err != nil {
		return err
	}
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	if err := s.record(ctx, api.EventMFAFactorRemoved, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"factor": name}); err != nil {
		return err
	}
	s.notify(ctx, u, Notice{Kind: NoticeFactorRemoved, Factor: name, IP: meta.IP})
	return nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes (aal2 once the user has a
// factor, SEC-22/25). The codes are returned once and never again.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal, meta Meta) ([]string, error) {
	u, err := s.enrollee(ctx, p, s.mfa.Enroll.Recovery != nil)
	if err != nil {
		return nil, err
	}
	codes, err := s.mfa.Enroll.Recovery.Generate(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if err := s.record(ctx, api.EventMFARecoveryRenewed, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"count": len(codes)}); err != nil {
		return nil, err
	}
	s.notify(ctx, u, Notice{Kind: NoticeFactorAdded, Factor: api.FactorRecoveryCode, IP: meta.IP})
	return codes, nil
}

// enrollee loads the caller for a factor change: the factor must be offered, and once the
// user has any factor the session must be aal2 (SEC-25).
func (s *Service) enrollee(ctx context.Context, p Principal, offered bool) (users.User, error) {
	if p.UserID == "" {
		return users.User{}, ErrForbidden
	}
	if !s.mfa.on() || !offered {
		return users.User{}, ErrFactorUnavailable
	}
	if err := s.requireAAL2IfEnrolled(ctx, p); err != nil {
		return users.User{}, err
	}
	return s.Me(ctx, p)
}

func (s *Service) oobEnroller(name string) OOBEnroller {
	if !s.mfa.on() {
		return nil
	}
	switch name {
	case api.FactorSMS:
		return s.mfa.Enroll.SMS
	case api.FactorEmail:
		return s.mfa.Enroll.Email
	}
	return nil
}

func (s *Service) devices(ctx context.Context, userID, currentToken string) ([]api.Device, error) {
	if !s.mfa.on() || s.mfa.Devices == nil {
		return []api.Device{}, nil
	}
	list, err := s.mfa.Devices.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	current := ""
	if currentToken != "" {
		if d, ok, err := s.mfa.Devices.Check(ctx, userID, currentToken); err == nil && ok {
			current = d.ID
		}
	}
	out := make([]api.Device, len(list))
	for i, d := range list {
		out[i] = api.Device{ID: d.ID, Name: d.Name, IP: d.IP, Current: d.ID == current, CreatedAt: d.CreatedAt,
			LastUsedAt: d.LastUsedAt, ExpiresAt: d.ExpiresAt}
	}
	return out, nil
}

// MyDevices lists the caller's trusted devices (SEC-17, SEC-24).
func (s *Service) MyDevices(ctx context.Context, p Principal, currentToken string) ([]api.Device, error) {
	if p.UserID == "" {
		return nil, ErrForbidden
	}
	return s.devices(ctx, p.UserID, currentToken)
}

// RevokeMyDevice ends trust in one of the caller's devices; another user's ID is not found.
func (s *Service) RevokeMyDevice(ctx context.Context, p Principal, id string, meta Meta) error {
	if p.UserID == "" {
		return ErrForbidden
	}
	return s.revokeDevice(ctx, p.UserID, p.UserID, id, meta)
}

func (s *Service) revokeDevice(ctx context.Context, actorID, userID, id string, meta Meta) error {
	if !s.mfa.on() || s.mfa.Devices == nil {
		return ErrDeviceNotFound
	}
	err := s.mfa.Devices.Revoke(ctx, userID, id)
	if errors.Is(err, device.ErrNotFound) {
		return ErrDeviceNotFound
	}
	if err != nil {
		return err
	}
	return s.record(ctx, api.EventDeviceRevoked, api.OutcomeSuccess, actorID, userID, meta, map[string]any{"device_id": id})
}

// UserDevices lists a user's trusted devices for admins and support.
func (s *Service) UserDevices(ctx context.Context, id string) ([]api.Device, error) {
	if _, err := s.users.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.devices(ctx, id, "")
}

// RevokeUserDevice ends trust in one device of a user (admin, or support on a non-admin).
func (s *Service) RevokeUserDevice(ctx context.Context, p Principal, id, did string, meta Meta) error {
	u, err := s.target(ctx, p, id, meta)
	if err != nil {
		return err
	}
	return s.revokeDevice(ctx, p.UserID, u.ID, did, meta)
}

// RevokeUserDevices ends trust in every device of a user.
func (s *Service) RevokeUserDevices(ctx context.Context, p Principal, id string, meta Meta) (int, error) {
	u, err := s.target(ctx, p, id, meta)
	if err != nil {
		return 0, err
	}
	return s.revokeAllDevices(ctx, p.UserID, u.ID, "admin", meta)
}

func (s *Service) revokeAllDevices(ctx context.Context, actorID, userID, reason string, meta Meta) (int, error) {
	if !s.mfa.on() || s.mfa.Devices == nil {
		return 0, nil
	}
	n, err := s.mfa.Devices.RevokeAll(ctx, userID)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		if err := s.record(ctx, api.EventDeviceRevoked, api.OutcomeSuccess, actorID, userID, meta, map[string]any{"count": n, "reason": reason}); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// ResetMFA is support's way back in for a user who lost their factors (SEC-26): support or
// admin at aal2 (the route's gate), a reason, never support on an admin. Every factor,
// recovery code and trusted device goes, the user's sessions are revoked, the user is told
// and the reason is audited.
func (s *Service) ResetMFA(ctx context.Context, p Principal, id, reason string, meta Meta) error {
	reason = strings.TrimSpace(reason)
	if reason == "" || utf8.RuneCountInString(reason) > MaxResetReason {
		return invalid("reason", fmt.Sprintf("a reason is required (at most %d characters)", MaxResetReason))
	}
	if p.Session.AAL != api.AAL2 {
		return ErrStepUpRequired
	}
	u, err := s.target(ctx, p, id, meta)
	if err != nil {
		return err
	}
	if !s.mfa.on() {
		return ErrFactorUnavailable
	}
	e := s.mfa.Enroll
	var removed []string
	if e.TOTP != nil {
		switch err := e.TOTP.Disable(ctx, u.ID); {
		case err == nil:
			removed = append(removed, api.FactorTOTP)
		case !errors.Is(err, totp.ErrNotEnrolled):
			return err
		}
	}
	for _, ch := range []struct {
		name string
		e    OOBEnroller
	}{{api.FactorSMS, e.SMS}, {api.FactorEmail, e.Email}} {
		if ch.e == nil {
			continue
		}
		switch err := ch.e.Disable(ctx, u.ID); {
		case err == nil:
			removed = append(removed, ch.name)
		case !errors.Is(err, oob.ErrNotEnrolled):
			return err
		}
	}
	if e.Recovery != nil {
		if err := e.Recovery.Delete(ctx, u.ID); err != nil {
			return err
		}
	}
	if e.Cleanup != nil {
		if err := e.Cleanup(ctx, u.ID); err != nil {
			return err
		}
	}
	devices, err := s.revokeAllDevices(ctx, p.UserID, u.ID, "mfa_reset", meta)
	if err != nil {
		return err
	}
	sessions, err := s.sessions.RevokeAllForUser(ctx, u.ID, "", "mfa_reset")
	if err != nil {
		return fmt.Errorf("revoke sessions: %w", err)
	}
	if err := s.record(ctx, api.EventMFAReset, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"reason": reason,
		"factors_removed": removed, "devices_revoked": devices, "sessions_revoked": sessions}); err != nil {
		return err
	}
	s.notify(ctx, u, Notice{Kind: NoticeMFAReset, Reason: reason, IP: meta.IP})
	return nil
}
