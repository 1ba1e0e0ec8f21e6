package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"gatehouse/server/internal/mfa/device"
	"gatehouse/server/internal/mfa/pending"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Second-factor errors at the package boundary.
var (
	// ErrFactorRejected: the code is wrong, expired, already used or out of attempts. Factors
	// wrap it so the service can tell a refusal from a failure.
	ErrFactorRejected = errors.New("the code is wrong, expired or already used")
	// ErrFactorUnavailable: the account has no such factor, or it is not offered here.
	ErrFactorUnavailable = errors.New("that factor is not enrolled for this account")
	// ErrPendingInvalid: the pending login is unknown, expired, spent or dead.
	ErrPendingInvalid = errors.New("the sign-in expired or was already completed: sign in again")
	// ErrStepUpRequired: the action needs an aal2 session.
	ErrStepUpRequired = errors.New("this action needs a second factor (step-up)")
	// ErrEnrollmentRequired: the role requires a factor and the grace period is over.
	ErrEnrollmentRequired = errors.New("your role requires a second factor: enroll one")
	// ErrFactorEnrolled: the factor is enrolled already; remove it first.
	ErrFactorEnrolled = errors.New("that factor is already enrolled; remove it first")
	// ErrDeliveryFailed: the SMS or mail provider did not take the code.
	ErrDeliveryFailed = errors.New("the code could not be delivered")
	// ErrDeviceNotFound: no such trusted device for the user.
	ErrDeviceNotFound = errors.New("device not found")
)

// MFARequiredError answers a password grant for an account with a second factor: the client
// finishes with grant_type=mfa and the token.
type MFARequiredError struct {
	Token     string
	Factors   []string
	ExpiresIn time.Duration
}

func (e *MFARequiredError) Error() string { return "a second factor is required" }

// Factor is one second factor (internal/mfa/...), adapted in internal/app.
type Factor interface {
	Enrolled(ctx context.Context, userID string) (bool, error)
	// Verify checks code. binding names what a sent code belongs to (a pending login or a
	// session); factors without sent codes ignore it. Refusals wrap ErrFactorRejected.
	Verify(ctx context.Context, userID, binding, code string) error
}

// Challenger is a factor that must send a code before it can be verified (sms, email).
// Delivery failures wrap ErrDeliveryFailed; a too-early resend is a *ThrottledError.
type Challenger interface {
	Challenge(ctx context.Context, userID, binding string) (sentTo string, err error)
}

// PendingLogins keeps logins waiting for a second factor (internal/mfa/pending).
type PendingLogins interface {
	Create(ctx context.Context, userID, kind, ip, userAgent string) (pending.Login, string, error)
	Lookup(ctx context.Context, tok string) (pending.Login, error)
	Fail(ctx context.Context, id string) (alive bool, err error)
	Use(ctx context.Context, id string) (bool, error)
	TTL() time.Duration
}

// Devices remembers browsers that passed a second factor (internal/mfa/device).
type Devices interface {
	Trust(ctx context.Context, userID, ip, userAgent string) (device.Device, string, error)
	Check(ctx context.Context, userID, tok string) (device.Device, bool, error)
	List(ctx context.Context, userID string) ([]device.Device, error)
	Revoke(ctx context.Context, userID, id string) error
	RevokeAll(ctx context.Context, userID string) (int, error)
	TTL() time.Duration
}

// Notice is a security notification to a user (mail when configured).
type Notice struct {
	Kind   string // NoticeFactorAdded, ...
	Factor string
	Device string
	Reason string
	IP     string
	Time   time.Time
}

// Notice kinds.
const (
	NoticeFactorAdded     = "factor_added"
	NoticeFactorRemoved   = "factor_removed"
	NoticeMFAReset        = "mfa_reset"
	NoticeNewDevice       = "new_device"
	NoticePasswordChanged = "password_changed"
)

// Notifier tells a user about a change to their account. It must not block on delivery or
// fail the action: a notification is best effort, the security event is the record.
type Notifier interface {
	Notify(ctx context.Context, u users.User, n Notice)
}

// MFA is the second-factor capability. The zero value (no factors) turns MFA off.
type MFA struct {
	// Factors by wire name; Order is the order offered to clients.
	Factors map[string]Factor
	Order   []string
	// Enroll holds the enrollment side of the factors.
	Enroll   Enrollment
	Pending  PendingLogins
	Devices  Devices
	Throttle *Throttle // second-factor failures, per user and IP (SEC-27)
	Notifier Notifier
	// Verifier proves that a user reads their account's mailbox (nil without mail).
	Verifier EmailVerifier
	// RequiredRoles must use a factor once Grace after account creation has passed.
	RequiredRoles []string
	Grace         time.Duration
	// Index answers which factors accounts have in one query, for sign-in and listings (nil:
	// one look-up per factor).
	Index FactorIndex
}

// on reports whether any factor is offered.
func (m *MFA) on() bool { return m != nil && len(m.Factors) > 0 }

// confirmedFactors returns the confirmed factors of each of userIDs (absent: none), recovery
// codes included, in no particular order. With an index wired it is one query, which matters
// because sign-in asks on every login; without, one look-up per account and factor.
func (s *Service) confirmedFactors(ctx context.Context, userIDs []string) (map[string][]string, error) {
	if !s.mfa.on() || len(userIDs) == 0 {
		return map[string][]string{}, nil
	}
	if s.mfa.Index != nil {
		return s.mfa.Index.EnrolledFactors(ctx, userIDs)
	}
	found := map[string][]string{}
	for _, id := range userIDs {
		for _, name := range s.mfa.Order {
			ok, err := s.mfa.Factors[name].Enrolled(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("%s status: %w", name, err)
			}
			if ok {
				found[id] = append(found[id], name)
			}
		}
	}
	return found, nil
}

// factorsOf lists the factors the user has confirmed, recovery codes included, in wire order;
// only factors this server offers count.
func (s *Service) factorsOf(ctx context.Context, userID string) ([]string, error) {
	found, err := s.confirmedFactors(ctx, []string{userID})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range orderOf(s.mfa) {
		if slices.Contains(found[userID], name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// enrolledFactors lists the user's usable factors in wire order.
func (s *Service) enrolledFactors(ctx context.Context, userID string) ([]string, error) {
	out, err := s.factorsOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	// Recovery codes alone are a fallback, not a second factor to sign in with every day:
	// without another factor they do not make a login ask for one.
	if len(out) == 1 && out[0] == api.FactorRecoveryCode {
		return nil, nil
	}
	return out, nil
}

// hasFactor reports whether the user has any factor (recovery codes count here: removing
// them or adding to them must be protected like any factor change).
func (s *Service) hasFactor(ctx context.Context, userID string) (bool, error) {
	out, err := s.factorsOf(ctx, userID)
	return len(out) > 0, err
}

// needsSecondFactor decides, after a correct password, whether the login must wait for a
// second factor: the user has one (SEC-23) and the browser is not a trusted device of this
// user (SEC-24).
func (s *Service) needsSecondFactor(ctx context.Context, u users.User, deviceToken string, meta Meta) ([]string, error) {
	factors, err := s.enrolledFactors(ctx, u.ID)
	if err != nil || len(factors) == 0 {
		return nil, err
	}
	if deviceToken != "" && s.mfa.Devices != nil {
		d, ok, err := s.mfa.Devices.Check(ctx, u.ID, deviceToken)
		if err != nil {
			return nil, err
		}
		if ok {
			if err := s.record(ctx, api.EventMFAVerified, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"factor": "trusted_device", "device_id": d.ID}); err != nil {
				return nil, err
			}
			return nil, nil
		}
	}
	return factors, nil
}

// PendingCookieLogin is a login waiting for its second factor, for the browser.
type PendingCookieLogin struct {
	Token     string
	CSRFToken string
	Factors   []string
	ExpiresIn time.Duration
}

// startPending opens a pending login and records that it waits for a factor.
func (s *Service) startPending(ctx context.Context, u users.User, kind string, factors []string, meta Meta) (pending.Login, string, error) {
	l, tok, err := s.mfa.Pending.Create(ctx, u.ID, kind, meta.IP, meta.UserAgent)
	if err != nil {
		return pending.Login{}, "", err
	}
	if err := s.record(ctx, api.EventMFARequired, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"pending_id": l.ID, "kind": kind, "factors": factors}); err != nil {
		return pending.Login{}, "", err
	}
	return l, tok, nil
}

// LookupPending resolves a pending-login token (cookie or mfa_token).
func (s *Service) LookupPending(ctx context.Context, tok string) (pending.Login, error) {
	if !s.mfa.on() || tok == "" {
		return pending.Login{}, ErrPendingInvalid
	}
	l, err := s.mfa.Pending.Lookup(ctx, tok)
	if errors.Is(err, pending.ErrInvalid) {
		return pending.Login{}, ErrPendingInvalid
	}
	if err != nil {
		return pending.Login{}, fmt.Errorf("pending login: %w", err)
	}
	return l, nil
}

// factor returns an offered factor the user has enrolled.
func (s *Service) factor(ctx context.Context, userID, name string) (Factor, error) {
	if !s.mfa.on() {
		return nil, ErrFactorUnavailable
	}
	f, ok := s.mfa.Factors[name]
	if !ok {
		return nil, ErrFactorUnavailable
	}
	enrolled, err := f.Enrolled(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("%s status: %w", name, err)
	}
	if !enrolled {
		return nil, ErrFactorUnavailable
	}
	return f, nil
}

func validFactorName(name string) error {
	if !slices.Contains([]string{api.FactorTOTP, api.FactorSMS, api.FactorEmail, api.FactorRecoveryCode}, name) {
		return invalid("factor", "factor must be one of totp, sms, email, recovery_code")
	}
	return nil
}

// challenge sends a code for binding, throttled per user and per IP (SEC-21) and recorded.
func (s *Service) challenge(ctx context.Context, userID, name, binding, purpose string, meta Meta) (string, error) {
	if err := validFactorName(name); err != nil {
		return "", err
	}
	f, err := s.factor(ctx, userID, name)
	if err != nil {
		return "", err
	}
	ch, ok := f.(Challenger)
	if !ok {
		return "", invalid("factor", "this factor needs no challenge: enter its code")
	}
	if err := s.mfa.Throttle.allow(ctx, "mfa_send", userID, meta.IP); err != nil {
		_ = s.record(ctx, api.EventMFAChallengeSent, api.OutcomeDenied, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose, "reason": "throttled"})
		return "", err
	}
	sentTo, err := ch.Challenge(ctx, userID, binding)
	if err != nil {
		var te *ThrottledError
		reason := "error"
		switch {
		case errors.As(err, &te):
			reason = "cooldown"
		case errors.Is(err, ErrDeliveryFailed):
			reason = "delivery_failed"
		}
		if rerr := s.record(ctx, api.EventMFAChallengeSent, api.OutcomeFailure, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose, "reason": reason}); rerr != nil {
			return "", errors.Join(err, rerr)
		}
		return "", err
	}
	return sentTo, s.record(ctx, api.EventMFAChallengeSent, api.OutcomeSuccess, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose})
}

// ChallengePending sends an SMS or email code for a pending login.
func (s *Service) ChallengePending(ctx context.Context, l pending.Login, name string, meta Meta) (string, error) {
	return s.challenge(ctx, l.UserID, name, "login:"+l.ID, "login", meta)
}

// verifyFactor checks a code with the second-factor lockout (SEC-27) and records the outcome.
func (s *Service) verifyFactor(ctx context.Context, userID, name, binding, code, purpose string, meta Meta) error {
	if err := validFactorName(name); err != nil {
		return err
	}
	if code == "" || len(code) > 64 {
		return invalid("code", "code is required (at most 64 characters)")
	}
	f, err := s.factor(ctx, userID, name)
	if err != nil {
		if errors.Is(err, ErrFactorUnavailable) {
			_ = s.record(ctx, api.EventMFAFailed, api.OutcomeFailure, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose, "reason": "not_enrolled"})
		}
		return err
	}
	if err := s.mfa.Throttle.before(ctx, "mfa", userID, meta.IP); err != nil {
		_ = s.record(ctx, api.EventMFAFailed, api.OutcomeDenied, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose, "reason": "throttled"})
		return err
	}
	verr := f.Verify(ctx, userID, binding, code)
	switch {
	case verr == nil:
		if err := s.mfa.Throttle.succeeded(ctx, userID, meta.IP); err != nil {
			return err
		}
		return s.record(ctx, api.EventMFAVerified, api.OutcomeSuccess, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose})
	case errors.Is(verr, ErrFactorRejected):
		lockedNow, retry, err := s.mfa.Throttle.failed(ctx, userID, meta.IP)
		if err != nil {
			return err
		}
		if err := s.record(ctx, api.EventMFAFailed, api.OutcomeFailure, userID, userID, meta, map[string]any{"factor": name, "purpose": purpose, "reason": verr.Error()}); err != nil {
			return err
		}
		if lockedNow {
			if err := s.record(ctx, api.EventAccountLocked, api.OutcomeFailure, "", userID, meta, map[string]any{"scope": "mfa", "retry_after_seconds": int(retry.Seconds())}); err != nil {
				return err
			}
		}
		return ErrFactorRejected
	default:
		return fmt.Errorf("verify %s: %w", name, verr)
	}
}

// VerifyPendingResult is a finished second-factor login.
type VerifyPendingResult struct {
	Cookie      *CookieLogin
	Tokens      *TokenPair
	DeviceToken string // set when the browser asked to be remembered
}

// VerifyPending finishes a pending login with a second factor: a new aal2 session (cookie or
// tokens, as the login began) and, for browsers that ask, a trusted device (SEC-23, SEC-24).
// A wrong code counts against the pending login, which dies after a few (SEC-21).
func (s *Service) VerifyPending(ctx context.Context, l pending.Login, name, code string, remember bool, meta Meta) (VerifyPendingResult, error) {
	if err := s.verifyFactor(ctx, l.UserID, name, "login:"+l.ID, code, "login", meta); err != nil {
		if errors.Is(err, ErrFactorRejected) {
			alive, ferr := s.mfa.Pending.Fail(ctx, l.ID)
			if ferr != nil {
				return VerifyPendingResult{}, ferr
			}
			if !alive {
				return VerifyPendingResult{}, ErrPendingInvalid
			}
		}
		return VerifyPendingResult{}, err
	}
	used, err := s.mfa.Pending.Use(ctx, l.ID)
	if err != nil {
		return VerifyPendingResult{}, err
	}
	if !used {
		return VerifyPendingResult{}, ErrPendingInvalid
	}
	u, err := s.activeUser(ctx, l.UserID)
	if err != nil {
		return VerifyPendingResult{}, err
	}
	kind := session.KindCookie
	if l.Kind == pending.KindToken {
		kind = session.KindToken
	}
	sess, tok, err := s.sessions.Create(ctx, session.NewSession{UserID: u.ID, Kind: kind, AAL: api.AAL2, IP: meta.IP, UserAgent: meta.UserAgent})
	if err != nil {
		return VerifyPendingResult{}, fmt.Errorf("create session: %w", err)
	}
	if err := s.record(ctx, api.EventLoginSucceeded, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"session_id": sess.ID, "method": "password+" + name, "kind": kind}); err != nil {
		return VerifyPendingResult{}, err
	}
	var res VerifyPendingResult
	if kind == session.KindToken {
		pair, err := s.access(u, sess, tok)
		if err != nil {
			return VerifyPendingResult{}, err
		}
		res.Tokens = &pair
		return res, nil
	}
	res.Cookie = &CookieLogin{User: u, Session: sess, Token: tok}
	if remember && s.mfa.Devices != nil {
		d, dtok, err := s.mfa.Devices.Trust(ctx, u.ID, meta.IP, meta.UserAgent)
		if err != nil {
			return VerifyPendingResult{}, err
		}
		if err := s.record(ctx, api.EventDeviceTrusted, api.OutcomeSuccess, u.ID, u.ID, meta, map[string]any{"device_id": d.ID, "name": d.Name}); err != nil {
			return VerifyPendingResult{}, err
		}
		s.notify(ctx, u, Notice{Kind: NoticeNewDevice, Device: d.Name, IP: meta.IP})
		res.DeviceToken = dtok
	}
	return res, nil
}

// MFAGrant finishes a password grant that answered mfa_required (grant_type=mfa).
func (s *Service) MFAGrant(ctx context.Context, req api.TokenRequest, meta Meta) (TokenPair, error) {
	if req.MFAToken == "" {
		return TokenPair{}, invalid("mfa_token", "mfa_token is required")
	}
	l, err := s.LookupPending(ctx, req.MFAToken)
	if err != nil {
		return TokenPair{}, err
	}
	if l.Kind != pending.KindToken {
		return TokenPair{}, ErrPendingInvalid
	}
	res, err := s.VerifyPending(ctx, l, req.Factor, req.Code, false, meta)
	if err != nil {
		return TokenPair{}, err
	}
	return *res.Tokens, nil
}

// StepUpChallenge sends an SMS or email code to raise the caller's session.
func (s *Service) StepUpChallenge(ctx context.Context, p Principal, name string, meta Meta) (string, error) {
	if p.UserID == "" {
		return "", ErrForbidden
	}
	return s.challenge(ctx, p.UserID, name, "session:"+p.Session.ID, "step_up", meta)
}

// StepUpResult is the stepped-up session's new credential.
type StepUpResult struct {
	Session session.Session
	// Token is the new cookie value (cookie sessions) or refresh token (token sessions).
	Token  string
	Tokens *TokenPair
}

// StepUp raises the caller's session to aal2 with a second factor and gives it a new
// credential (SEC-10, SEC-25).
func (s *Service) StepUp(ctx context.Context, p Principal, req api.StepUpRequest, meta Meta) (StepUpResult, error) {
	if p.UserID == "" {
		return StepUpResult{}, ErrForbidden
	}
	if err := s.verifyFactor(ctx, p.UserID, req.Factor, "session:"+p.Session.ID, req.Code, "step_up", meta); err != nil {
		return StepUpResult{}, err
	}
	sess, tok, err := s.sessions.Rotate(ctx, p.Session.ID, api.AAL2)
	if errors.Is(err, session.ErrInvalid) {
		return StepUpResult{}, ErrUnauthenticated
	}
	if err != nil {
		return StepUpResult{}, err
	}
	if err := s.record(ctx, api.EventMFAStepUp, api.OutcomeSuccess, p.UserID, p.UserID, meta, map[string]any{"session_id": sess.ID, "factor": req.Factor}); err != nil {
		return StepUpResult{}, err
	}
	res := StepUpResult{Session: sess, Token: tok}
	if sess.Kind == session.KindToken {
		u, err := s.activeUser(ctx, p.UserID)
		if err != nil {
			return StepUpResult{}, err
		}
		pair, err := s.access(u, sess, tok)
		if err != nil {
			return StepUpResult{}, err
		}
		res.Tokens = &pair
	}
	return res, nil
}

// requireAAL2IfEnrolled refuses an aal1 session when the user has a factor to step up with;
// a user without any factor may act (there is nothing to step up with: adding the first one).
func (s *Service) requireAAL2IfEnrolled(ctx context.Context, p Principal) error {
	if p.Session.AAL == api.AAL2 {
		return nil
	}
	has, err := s.hasFactor(ctx, p.UserID)
	if err != nil {
		return err
	}
	if has {
		return ErrStepUpRequired
	}
	return nil
}

// requiresMFA reports whether policy requires a factor for these roles.
func (s *Service) requiresMFA(roles []string) bool {
	if !s.mfa.on() {
		return false
	}
	for _, r := range roles {
		if slices.Contains(s.mfa.RequiredRoles, r) {
			return true
		}
	}
	return false
}

// graceEnds is when a user of a required role must have a factor.
func (s *Service) graceEnds(u users.User) time.Time { return u.CreatedAt.Add(s.mfa.Grace) }

// AdminGate guards every admin and support route (SEC-25): aal2 is required; a user without
// any factor may act at aal1 only within the grace period after the account was created
// (then ErrEnrollmentRequired: enrolling is all that is left). Principals without an admin
// or support role pass, for the route's permission check to refuse.
func (s *Service) AdminGate(ctx context.Context, p Principal) error {
	if p.Session.AAL == api.AAL2 || p.UserID == "" || !s.mfa.on() {
		return nil
	}
	if !slices.Contains(p.Roles, api.RoleAdmin) && !slices.Contains(p.Roles, api.RoleSupport) {
		return nil
	}
	has, err := s.hasFactor(ctx, p.UserID)
	if err != nil {
		return err
	}
	if has {
		return ErrStepUpRequired
	}
	if !s.requiresMFA(p.Roles) {
		return ErrStepUpRequired
	}
	u, err := s.Me(ctx, p)
	if err != nil {
		return err
	}
	if s.now().Before(s.graceEnds(u)) {
		return nil
	}
	return ErrEnrollmentRequired
}

func (s *Service) notify(ctx context.Context, u users.User, n Notice) {
	if s.mfa == nil || s.mfa.Notifier == nil {
		return
	}
	if n.Time.IsZero() {
		n.Time = s.now()
	}
	s.mfa.Notifier.Notify(ctx, u, n)
}
