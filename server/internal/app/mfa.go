package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/mfa/device"
	"gatehouse/server/internal/mfa/oob"
	"gatehouse/server/internal/mfa/pending"
	"gatehouse/server/internal/mfa/recovery"
	"gatehouse/server/internal/mfa/totp"
	"gatehouse/server/internal/notify/mail"
	"gatehouse/server/internal/notify/sms"
	"gatehouse/server/internal/ratelimit"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// mfaErrorKinds maps the second-factor errors to API codes.
var mfaErrorKinds = []httpapi.ErrorKind{
	{Target: auth.ErrFactorRejected, Code: api.CodeMFAInvalidCode, Message: "the code is wrong, expired or already used"},
	{Target: auth.ErrFactorUnavailable, Code: api.CodeMFAUnavailable, Message: "that factor is not enrolled for this account (or not offered by this server)"},
	{Target: auth.ErrPendingInvalid, Code: api.CodeMFALoginExpired, Message: "the sign-in expired or was already completed: sign in again"},
	{Target: auth.ErrStepUpRequired, Code: api.CodeStepUpRequired, Message: "this action needs a second factor (step-up to aal2)"},
	{Target: auth.ErrEnrollmentRequired, Code: api.CodeMFAEnrollment, Message: "your role requires a second factor: enroll one under /api/v1/me/mfa"},
	{Target: auth.ErrFactorEnrolled, Code: api.CodeConflict, Message: "that factor is already enrolled; remove it first"},
	{Target: auth.ErrDeliveryFailed, Code: api.CodeDeliveryFailed, Message: "the code could not be delivered; try again later or use another factor"},
	{Target: auth.ErrDeviceNotFound, Code: api.CodeNotFound, Message: "device not found"},
	{Target: auth.ErrEmailVerified, Code: api.CodeConflict, Message: "the email address is already verified"},
	{Target: auth.ErrVerificationUnavailable, Code: api.CodeUnavailable, Message: "this server sends no mail, so it cannot verify addresses"},
}

// mfaParts is what wireMFA builds: the capability for the auth service and what the HTTP
// layer needs to know.
type mfaParts struct {
	mfa  *auth.MFA
	mail *mail.Sender // nil without SMTP
}

// wireMFA enables the configured factors (style.md: factors behind small interfaces, chosen
// from config here). SMS needs Twilio settings and email SMTP settings; without them those
// factors stay off, and the log says so.
func (a *App) wireMFA(limiter ratelimit.Limiter) (mfaParts, error) {
	cfg := a.Config
	var parts mfaParts
	if len(cfg.MFA.Factors) == 0 {
		return parts, nil
	}
	if cfg.DemoDelivery {
		if err := a.startDemoDelivery(&cfg); err != nil {
			return parts, err
		}
	}
	if cfg.SMTP.Host != "" {
		ms, err := mail.New(mail.Options{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, TLS: cfg.SMTP.TLS, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, Timeout: cfg.SMTP.Timeout})
		if err != nil {
			return parts, fmt.Errorf("smtp: %w", err)
		}
		parts.mail = ms
	}
	var smsSender *sms.Sender
	if cfg.Twilio.AccountSID != "" {
		s, err := sms.New(sms.Options{AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken, From: cfg.Twilio.From,
			BaseURL: cfg.Twilio.BaseURL})
		if err != nil {
			return parts, fmt.Errorf("twilio: %w", err)
		}
		smsSender = s
	}

	oobOpts := oob.Options{TTL: cfg.MFA.CodeTTL, Cooldown: cfg.MFA.CodeCooldown, MaxAttempts: cfg.MFA.CodeMaxAttempts}
	m := &auth.MFA{Factors: map[string]auth.Factor{}, RequiredRoles: cfg.MFA.RequiredRoles, Grace: cfg.MFA.Grace,
		Enroll: auth.Enrollment{Issuer: cfg.MFA.Issuer, Cleanup: a.DB.Pending().DeleteForUser}, Index: a.DB}
	var skipped []string
	for _, name := range cfg.MFA.Factors {
		switch name {
		case api.FactorTOTP:
			f := totp.New(a.DB.TOTP(), a.Keyring, totp.Options{})
			m.Factors[name], m.Enroll.TOTP = totpFactor{f}, f
		case api.FactorRecoveryCode:
			c := recovery.New(a.DB.RecoveryCodes(), recovery.Options{})
			m.Factors[name], m.Enroll.Recovery = recoveryFactor{c}, c
		case api.FactorSMS:
			if smsSender == nil {
				skipped = append(skipped, "sms (no twilio.account_sid)")
				continue
			}
			o := oobOpts
			o.Normalize, o.Mask = normalizePhone, maskPhone
			f := oobFactor{oob.New(oob.ChannelSMS, a.DB.OOB(), smsCodes{smsSender}, o)}
			m.Factors[name], m.Enroll.SMS = f, f
		case api.FactorEmail:
			if parts.mail == nil {
				skipped = append(skipped, "email (no smtp.host)")
				continue
			}
			o := oobOpts
			o.Normalize, o.Mask = normalizeEmail, maskEmail
			f := oobFactor{oob.New(oob.ChannelEmail, a.DB.OOB(), mailCodes{parts.mail}, o)}
			m.Factors[name], m.Enroll.Email = f, f
		}
		if _, ok := m.Factors[name]; ok {
			m.Order = append(m.Order, name)
		}
	}
	if len(skipped) > 0 {
		a.Logger.Warn("second factors left off: their transport is not configured", "factors", strings.Join(skipped, ", "))
	}
	a.Logger.Info("second factors enabled", "factors", strings.Join(m.Order, ", "))

	lockout, err := a.newLockout("gatehouse:mfa:")
	if err != nil {
		return parts, err
	}
	// Second-factor attempts and code sends share the password limiter's store: mfa.rate_per_ip
	// a minute per IP (and per user for sends) in bursts of up to 10; the per-binding cooldown
	// spaces sends further.
	rate := cfg.MFA.RatePerIP
	m.Throttle = auth.NewThrottle(limiter, lockout, ratelimit.Limit{Rate: rate, Period: time.Minute, Burst: min(10, rate)})
	m.Pending = pending.New(a.DB.Pending(), pending.Options{TTL: cfg.MFA.PendingTTL, MaxFailures: cfg.MFA.CodeMaxAttempts})
	m.Devices = device.New(a.DB.Devices(), device.Options{TTL: cfg.MFA.DeviceTTL})
	if parts.mail != nil {
		// Email verification uses the code machinery with its own channel name, so its codes
		// never count as (or against) the email factor's.
		m.Verifier = oobFactor{oob.New("verify_email", a.DB.OOB(), verifyCodes{parts.mail}, oobOpts)}
		n := newMailNotifier(parts.mail, a.Logger, 256)
		a.closers = append(a.closers, n.Close)
		m.Notifier = n
	}
	parts.mfa = m
	return parts, nil
}

// newLockout is a progressive lockout in Redis when configured (shared by replicas), else in
// memory.
func (a *App) newLockout(prefix string) (*ratelimit.Lockout, error) {
	policy := ratelimit.DefaultLockoutPolicy()
	if a.Redis != nil {
		lo, err := ratelimit.NewRedisLockout(a.Redis, prefix, policy)
		if err != nil {
			return nil, fmt.Errorf("lockout: %w", err)
		}
		return lo, nil
	}
	lo, err := ratelimit.NewMemoryLockout(100_000, policy)
	if err != nil {
		return nil, fmt.Errorf("lockout: %w", err)
	}
	return lo, nil
}

// rejected marks a factor's refusal for the auth service, keeping the factor's reason.
func rejected(err error) error { return fmt.Errorf("%w: %w", auth.ErrFactorRejected, err) }

type totpFactor struct{ f *totp.Factor }

func (t totpFactor) Enrolled(ctx context.Context, userID string) (bool, error) {
	ok, _, err := t.f.Status(ctx, userID)
	return ok, err
}

func (t totpFactor) Verify(ctx context.Context, userID, _, code string) error {
	err := t.f.Verify(ctx, userID, code)
	switch {
	case errors.Is(err, totp.ErrInvalidCode), errors.Is(err, totp.ErrReplay):
		return rejected(err)
	case errors.Is(err, totp.ErrNotEnrolled):
		return auth.ErrFactorUnavailable
	}
	return err
}

type recoveryFactor struct{ c *recovery.Codes }

func (r recoveryFactor) Enrolled(ctx context.Context, userID string) (bool, error) {
	n, err := r.c.Remaining(ctx, userID)
	return n > 0, err
}

func (r recoveryFactor) Verify(ctx context.Context, userID, _, code string) error {
	err := r.c.Use(ctx, userID, code)
	if errors.Is(err, recovery.ErrInvalidCode) {
		return rejected(err)
	}
	return err
}

// oobFactor adapts an SMS or email factor: the login side (Factor, Challenger) and the
// enrollment side (OOBEnroller), with the package's errors mapped to the service's.
type oobFactor struct{ f *oob.Factor }

func (o oobFactor) Enrolled(ctx context.Context, userID string) (bool, error) {
	return o.f.Enrolled(ctx, userID)
}

func oobError(err error) error {
	var cd *oob.CooldownError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &cd):
		return &auth.ThrottledError{RetryAfter: cd.RetryAfter}
	case errors.Is(err, oob.ErrInvalidCode), errors.Is(err, oob.ErrTooManyAttempts):
		return rejected(err)
	case errors.Is(err, oob.ErrDelivery):
		return fmt.Errorf("%w: %w", auth.ErrDeliveryFailed, err)
	case errors.Is(err, oob.ErrNotEnrolled):
		return fmt.Errorf("%w: %w", auth.ErrFactorUnavailable, err)
	}
	return err
}

func (o oobFactor) Verify(ctx context.Context, userID, binding, code string) error {
	return oobError(o.f.Verify(ctx, userID, binding, code))
}

func (o oobFactor) Challenge(ctx context.Context, userID, binding string) (string, error) {
	sentTo, err := o.f.Challenge(ctx, userID, binding)
	return sentTo, oobError(err)
}

func (o oobFactor) BeginEnroll(ctx context.Context, userID, address string) (string, error) {
	masked, err := o.f.BeginEnroll(ctx, userID, address)
	if errors.Is(err, oob.ErrNotEnrolled) {
		return "", err
	}
	return masked, oobError(err)
}

func (o oobFactor) ConfirmEnroll(ctx context.Context, userID, code string) error {
	return oobError(o.f.ConfirmEnroll(ctx, userID, code))
}

func (o oobFactor) Disable(ctx context.Context, userID string) error { return o.f.Disable(ctx, userID) }

func (o oobFactor) Status(ctx context.Context, userID string) (string, *time.Time, error) {
	return o.f.Status(ctx, userID)
}

type smsCodes struct{ s *sms.Sender }

func (s smsCodes) SendCode(ctx context.Context, to, code string, ttl time.Duration) error {
	body := fmt.Sprintf("Your Gatehouse code is %s. It expires in %d minutes. Never share it.", code, int(ttl.Minutes()))
	_, err := s.s.Send(ctx, to, body)
	return err
}

type mailCodes struct{ s *mail.Sender }

func (m mailCodes) SendCode(ctx context.Context, to, code string, ttl time.Duration) error {
	msg, err := mail.Render(mail.TemplateCode, mail.Data{Code: code, ExpiresIn: ttl})
	if err != nil {
		return err
	}
	msg.To = to
	return m.s.Send(ctx, msg)
}

type verifyCodes struct{ s *mail.Sender }

func (m verifyCodes) SendCode(ctx context.Context, to, code string, ttl time.Duration) error {
	msg, err := mail.Render(mail.TemplateVerifyEmail, mail.Data{Code: code, ExpiresIn: ttl})
	if err != nil {
		return err
	}
	msg.To = to
	return m.s.Send(ctx, msg)
}

func (o oobFactor) SendTo(ctx context.Context, userID, address, binding string) (string, error) {
	masked, err := o.f.SendTo(ctx, userID, address, binding)
	return masked, oobError(err)
}

func normalizePhone(raw string) (string, error) {
	p, err := sms.NormalizePhone(raw, "")
	if err != nil {
		return "", fmt.Errorf("%w: phone must be an E.164 number such as +14155550100", oob.ErrInvalidAddress)
	}
	return p, nil
}

func normalizeEmail(raw string) (string, error) {
	e, err := users.NormalizeEmail(raw)
	if err != nil {
		return "", fmt.Errorf("%w: email is not a valid address", oob.ErrInvalidAddress)
	}
	return e, nil
}

// maskPhone keeps the country code's first digits and the last two: +1 ******** 67.
func maskPhone(p string) string {
	if len(p) < 6 {
		return "****"
	}
	return p[:2] + strings.Repeat("*", len(p)-4) + p[len(p)-2:]
}

// maskEmail keeps the first character of the local part and the domain: a***@example.com.
func maskEmail(e string) string {
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" {
		return "***"
	}
	return local[:1] + "***@" + domain
}

// mailNotifier sends security notifications in the background, so a slow or failing mail
// server never delays or fails the action it reports (the security event is the record).
// The queue is bounded: when full, a notice is dropped and logged.
type mailNotifier struct {
	sender *mail.Sender
	log    *slog.Logger
	queue  chan mail.Message
	wg     sync.WaitGroup
	once   sync.Once
	mu     sync.RWMutex
	closed bool
}

var noticeTemplates = map[string]string{
	auth.NoticeFactorAdded:     mail.TemplateFactorAdded,
	auth.NoticeFactorRemoved:   mail.TemplateFactorRemoved,
	auth.NoticeMFAReset:        mail.TemplateMFAReset,
	auth.NoticeNewDevice:       mail.TemplateNewDevice,
	auth.NoticePasswordChanged: mail.TemplatePasswordChanged,
}

func newMailNotifier(s *mail.Sender, log *slog.Logger, size int) *mailNotifier {
	n := &mailNotifier{sender: s, log: log, queue: make(chan mail.Message, size)}
	n.wg.Add(1)
	go n.run()
	return n
}

func (n *mailNotifier) run() {
	defer n.wg.Done()
	for msg := range n.queue {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := n.sender.Send(ctx, msg); err != nil {
			n.log.Warn("security notification not delivered", "subject", msg.Subject, "error", err.Error())
		}
		cancel()
	}
}

// Notify queues the mail for n's kind; it never blocks.
func (n *mailNotifier) Notify(_ context.Context, u users.User, notice auth.Notice) {
	tmpl, ok := noticeTemplates[notice.Kind]
	if !ok {
		n.log.Error("unknown notice kind", "kind", notice.Kind)
		return
	}
	msg, err := mail.Render(tmpl, mail.Data{DisplayName: u.DisplayName, Factor: notice.Factor, Device: notice.Device,
		IP: notice.IP, Time: notice.Time, Reason: notice.Reason})
	if err != nil {
		n.log.Error("render notification", "kind", notice.Kind, "error", err.Error())
		return
	}
	msg.To = u.Email
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return
	}
	select {
	case n.queue <- msg:
	default:
		n.log.Warn("notification queue full; dropped one", "kind", notice.Kind)
	}
}

// Close delivers what is queued and stops the worker.
func (n *mailNotifier) Close() error {
	n.once.Do(func() {
		n.mu.Lock()
		n.closed = true
		close(n.queue)
		n.mu.Unlock()
		n.wg.Wait()
	})
	return nil
}

// mfaRoutes is the MFA side of the HTTP API, or nil (no routes) when no factor is offered.
func (a *App) mfaRoutes() httpapi.MFA {
	if a.MFA == nil {
		return nil
	}
	return a.Auth
}
