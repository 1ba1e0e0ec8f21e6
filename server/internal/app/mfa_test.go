package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/mfa/totp"
	"gatehouse/server/internal/notify/mail/mailtest"
	"gatehouse/server/internal/notify/sms/smstest"
	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// mfaEnv is a server with every factor on: SMS through a loopback Twilio and email through an
// in-process SMTP server (real SMTP conversations), so codes are read from what was delivered.
type mfaEnv struct {
	*testenv.Env
	mail *mailtest.Server
	sms  *smstest.Server
}

const twilioFrom = "+15005550006"

func newMFAEnv(t *testing.T, dialect string, opts ...testenv.Option) *mfaEnv {
	t.Helper()
	ms := mailtest.Start(t)
	ss := smstest.Start(t)
	all := append([]testenv.Option{testenv.WithConfig(func(c *config.Config) {
		c.SMTP = config.SMTP{Host: ms.Host, Port: ms.Port, TLS: "none", From: "Gatehouse <no-reply@gatehouse.test>", Timeout: 5 * time.Second}
		c.Twilio = config.Twilio{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, From: twilioFrom, BaseURL: ss.URL}
	})}, opts...)
	return &mfaEnv{Env: testenv.New(t, dialect, all...), mail: ms, sms: ss}
}

// jarClient is a client whose cookie jar the test can read and copy.
func (m *mfaEnv) jarClient(t *testing.T) (*client.Client, *cookiejar.Jar) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(m.URL, client.WithCookieJar(jar), client.WithHTTPClient(&http.Client{Timeout: 30 * time.Second, Jar: jar}))
	if err != nil {
		t.Fatal(err)
	}
	return c, jar
}

func (m *mfaEnv) cookie(t *testing.T, jar *cookiejar.Jar, name string) string {
	t.Helper()
	u, _ := url.Parse(m.URL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// mailCode waits for a mail with a code among those after the first `after` and returns
// the code. Notifications (sent in the background) may arrive in between; they carry no code.
func (m *mfaEnv) mailCode(t *testing.T, after int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs := m.mail.Messages()
		for i := after; i < len(msgs); i++ {
			if match := sixDigits.FindStringSubmatch(msgs[i].Text); match != nil && (strings.Contains(strings.ToLower(msgs[i].Subject), "code") || strings.HasPrefix(msgs[i].Subject, "Confirm your email")) {
				return match[1]
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no mail with a code after the first %d", after)
	return ""
}

func (m *mfaEnv) smsCode(t *testing.T, to string) string {
	t.Helper()
	msg, ok := m.sms.LastTo(to)
	if !ok {
		t.Fatalf("no SMS to %s", to)
	}
	match := sixDigits.FindStringSubmatch(msg.Body)
	if match == nil {
		t.Fatalf("no code in SMS %q", msg.Body)
	}
	return match[1]
}

// authenticator is a TOTP app: every code it gives is for a later time step than the last,
// since the server accepts each step once (SEC-20).
type authenticator struct {
	secret string
	last   int64
}

func (a *authenticator) code(t *testing.T) string {
	t.Helper()
	step := max(a.last+1, totp.Step(time.Now())-1)
	for step > totp.Step(time.Now())+1 {
		time.Sleep(time.Second) // the next window opens within 30 s
	}
	a.last = step
	c, err := totp.CodeAt(a.secret, step)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrollTOTP enrolls TOTP for a signed-in client.
func enrollTOTP(t *testing.T, c *client.Client) *authenticator {
	t.Helper()
	ctx := context.Background()
	en, err := c.EnrollTOTP(ctx)
	if err != nil {
		t.Fatalf("enroll totp: %v", err)
	}
	if !strings.HasPrefix(en.URI, "otpauth://totp/") || en.QRPNG == "" {
		t.Fatalf("enrollment %+v", en)
	}
	a := &authenticator{secret: en.Secret}
	if err := c.ConfirmTOTP(ctx, "000000x"); client.ErrorCode(err) != api.CodeMFAInvalidCode {
		t.Fatalf("confirm with a bad code: %v", err)
	}
	if err := c.ConfirmTOTP(ctx, a.code(t)); err != nil {
		t.Fatalf("confirm totp: %v", err)
	}
	return a
}

// loginTOTP signs in with password and TOTP (aal2).
func (m *mfaEnv) loginTOTP(t *testing.T, email, password string, a *authenticator) *client.Client {
	t.Helper()
	ctx := context.Background()
	c := m.NewClient(t)
	res, err := c.Login(ctx, email, password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if res.Status != api.LoginMFARequired {
		t.Fatalf("status %q, want mfa_required", res.Status)
	}
	if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: a.code(t)}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return c
}

func currentAAL(t *testing.T, c *client.Client) string {
	t.Helper()
	list, err := c.MySessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Current {
			return s.AAL
		}
	}
	t.Fatal("no current session")
	return ""
}

// TestSEC20SEC23TOTPLogin: TOTP enrollment, the pending login that reaches nothing but the
// MFA endpoints, verification into an aal2 session, and single use of each code.
func TestSEC20SEC23TOTPLogin(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		user := m.LoginCookie(t, userEmail, userPass)
		a := enrollTOTP(t, user)
		st, err := user.MyMFA(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(st.Factors, func(f api.MFAFactor) bool { return f.Factor == api.FactorTOTP }); i < 0 || !st.Factors[i].Enrolled {
			t.Fatalf("status %+v", st)
		}
		if !slices.Equal(st.Available, []string{"totp", "sms", "email", "recovery_code"}) {
			t.Fatalf("available %v", st.Available)
		}

		c := m.NewClient(t)
		res, err := c.Login(ctx, userEmail, userPass)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != api.LoginMFARequired || !slices.Equal(res.Factors, []string{"totp"}) || res.User != nil || res.ExpiresIn <= 0 {
			t.Fatalf("login answered %+v", res)
		}
		// SEC-23: the pending login is not a session.
		if _, err := c.Me(ctx); client.ErrorCode(err) != api.CodeUnauthorized {
			t.Fatalf("pending login reached /me: %v", err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: "123456"}); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("wrong code: %v", err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorSMS, Code: "123456"}); client.ErrorCode(err) != api.CodeMFAUnavailable {
			t.Fatalf("factor the user lacks: %v", err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: "fingerprint", Code: "123456"}); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("unknown factor: %v", err)
		}
		good := a.code(t)
		done, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: good})
		if err != nil {
			t.Fatal(err)
		}
		if done.Status != api.LoginOK || done.User == nil || done.User.Email != userEmail {
			t.Fatalf("verify answered %+v", done)
		}
		if aal := currentAAL(t, c); aal != api.AAL2 {
			t.Fatalf("session aal %q", aal)
		}
		// The pending login is spent: verifying again is refused.
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: good}); client.ErrorCode(err) != api.CodeMFALoginExpired {
			t.Fatalf("spent pending login: %v", err)
		}
		// SEC-20: the same code on a new login is a replay.
		c2 := m.NewClient(t)
		if _, err := c2.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: good}); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("replayed code: %v", err)
		}
	})
}

// TestSEC20ConcurrentReplay: one TOTP code raced by several pending logins signs in once.
func TestSEC20ConcurrentReplay(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		a := enrollTOTP(t, m.LoginCookie(t, userEmail, userPass))
		const n = 4
		clients := make([]*client.Client, n)
		for i := range clients {
			clients[i] = m.NewClient(t)
			if _, err := clients[i].Login(ctx, userEmail, userPass); err != nil {
				t.Fatal(err)
			}
		}
		code := a.code(t)
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: code})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case client.ErrorCode(err) != api.CodeMFAInvalidCode:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent uses of one code succeeded", ok, n)
		}
	})
}

// TestSEC23TokenGrantNeedsSecondFactor: the password grant of an account with a factor
// answers 401 mfa_required with a single-use mfa_token; grant_type=mfa finishes it.
func TestSEC23TokenGrantNeedsSecondFactor(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		a := enrollTOTP(t, m.LoginCookie(t, userEmail, userPass))

		c := m.NewClient(t)
		_, err := c.TokenWithPassword(ctx, userEmail, userPass)
		req, ok := client.AsMFARequired(err)
		if !ok || req.HTTPStatus != http.StatusUnauthorized || !slices.Equal(req.Factors, []string{"totp"}) {
			t.Fatalf("password grant: %v", err)
		}
		if strings.Contains(req.Message, req.MFAToken) {
			t.Fatal("SEC-18: the mfa_token is in the error message")
		}
		if _, err := c.TokenWithMFA(ctx, req.MFAToken, api.FactorTOTP, "000000"); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("wrong code: %v", err)
		}
		tok, err := c.TokenWithMFA(ctx, req.MFAToken, api.FactorTOTP, a.code(t))
		if err != nil {
			t.Fatal(err)
		}
		admin := m.adminClient(t)
		in, err := admin.Introspect(ctx, tok.AccessToken)
		if err != nil || !in.Active || in.AAL != api.AAL2 {
			t.Fatalf("introspect %+v %v", in, err)
		}
		if _, err := c.TokenWithMFA(ctx, req.MFAToken, api.FactorTOTP, a.code(t)); client.ErrorCode(err) != api.CodeMFALoginExpired {
			t.Fatalf("replayed mfa_token: %v", err)
		}
		if _, err := c.TokenWithMFA(ctx, "not-a-token", api.FactorTOTP, "123456"); client.ErrorCode(err) != api.CodeMFALoginExpired {
			t.Fatalf("bogus mfa_token: %v", err)
		}
		// A cookie-login pending token does not finish a token grant, and vice versa.
		if _, err := c.MFAChallenge(ctx, api.FactorTOTP, req.MFAToken); client.ErrorCode(err) != api.CodeMFALoginExpired {
			t.Fatalf("spent mfa_token reached the challenge: %v", err)
		}
	})
}

const adminTestEmail = "chief@example.com"

// adminClient is an admin with no factor (inside the grace period), for event checks.
func (m *mfaEnv) adminClient(t *testing.T) *client.Client {
	t.Helper()
	if _, err := m.App.Auth.CreateUserLocal(context.Background(), adminTestEmail, adminPass, []string{api.RoleAdmin}); err != nil && !errors.Is(err, users.ErrEmailTaken) {
		t.Fatal(err)
	}
	return m.LoginCookie(t, adminTestEmail, adminPass)
}

// TestSEC21SMSCodes: SMS enrollment and login through the loopback Twilio: E.164 checked,
// delivery failures leave nothing enrolled, codes bound to their login, resend cooldown,
// at most 5 attempts, single use.
func TestSEC21SMSCodes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		u := m.CreateUser(t, userEmail, userPass)
		user := m.LoginCookie(t, userEmail, userPass)
		admin := m.adminClient(t)
		const phone = "+14155550123"

		if _, err := user.EnrollSMS(ctx, "555-0123"); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("invalid phone: %v", err)
		}
		m.sms.FailWith(smstest.Failure{Status: http.StatusInternalServerError, Code: 20500, Message: "Internal Server Error"})
		if _, err := user.EnrollSMS(ctx, phone); client.ErrorCode(err) != api.CodeDeliveryFailed {
			t.Fatalf("twilio down: %v", err)
		}
		m.sms.ClearFailure()
		st, _ := user.MyMFA(ctx)
		for _, f := range st.Factors {
			if f.Factor == api.FactorSMS && (f.Enrolled || f.Pending) {
				t.Fatalf("half-enrolled after a delivery failure: %+v", f)
			}
		}
		if ev := events(t, admin, api.EventMFAFactorAdded, u.ID); len(ev) == 0 || ev[0].Outcome != api.OutcomeFailure {
			t.Fatalf("delivery failure not recorded: %+v", ev)
		}

		started, err := user.EnrollSMS(ctx, phone)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(started.SentTo, "0123") || !strings.HasSuffix(started.SentTo, "23") {
			t.Fatalf("masked number %q", started.SentTo)
		}
		msg, _ := m.sms.LastTo(phone)
		if msg.From != twilioFrom || msg.AccountSID != smstest.AccountSID {
			t.Fatalf("twilio request %+v", msg)
		}
		if err := user.ConfirmFactor(ctx, api.FactorSMS, m.smsCode(t, phone)); err != nil {
			t.Fatal(err)
		}

		// Login with SMS.
		c := m.NewClient(t)
		res, err := c.Login(ctx, userEmail, userPass)
		if err != nil || res.Status != api.LoginMFARequired || !slices.Equal(res.Factors, []string{"sms"}) {
			t.Fatalf("login %+v %v", res, err)
		}
		enrollCode := m.smsCode(t, phone)
		if _, err := c.MFAChallenge(ctx, api.FactorSMS, ""); err != nil {
			t.Fatal(err)
		}
		loginCode := m.smsCode(t, phone)
		// Cooldown: no second SMS within 30 s.
		if _, err := c.MFAChallenge(ctx, api.FactorSMS, ""); client.ErrorCode(err) != api.CodeRateLimited {
			t.Fatalf("resend inside the cooldown: %v", err)
		}
		// A code sent for something else (the enrollment) does not sign in. (Two random codes
		// are equal once in a million draws; then the other binding cannot be told apart by
		// its digits, and the check is the unit test's TestCodeSingleUseBoundAndExpiring_SEC21.)
		if enrollCode != loginCode {
			if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorSMS, Code: enrollCode}); client.ErrorCode(err) != api.CodeMFAInvalidCode {
				t.Fatalf("code of another binding: %v", err)
			}
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorSMS, Code: loginCode}); err != nil {
			t.Fatal(err)
		}

		// At most 5 attempts: the pending login dies with its fifth wrong code.
		c3 := m.NewClient(t)
		if _, err := c3.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		var last error
		for range 5 {
			_, last = c3.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorSMS, Code: "000000"})
		}
		if client.ErrorCode(last) != api.CodeMFALoginExpired {
			t.Fatalf("fifth wrong code: %v", last)
		}
		if ev := events(t, admin, api.EventMFAFailed, u.ID); len(ev) < 5 {
			t.Fatalf("SEC-27: %d mfa.failed events", len(ev))
		}

		// Twilio failing during a login challenge: a clear 502 and an event.
		c4 := m.NewClient(t)
		if _, err := c4.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		m.sms.FailWith(smstest.Failure{Status: http.StatusServiceUnavailable, Code: 20503, Message: "Service Unavailable"})
		if _, err := c4.MFAChallenge(ctx, api.FactorSMS, ""); client.ErrorCode(err) != api.CodeDeliveryFailed {
			t.Fatalf("challenge with twilio down: %v", err)
		}
		m.sms.ClearFailure()
		// The failed send holds no cooldown: a retry goes out.
		if _, err := c4.MFAChallenge(ctx, api.FactorSMS, ""); err != nil {
			t.Fatalf("retry after a failed send: %v", err)
		}
		if strings.Contains(m.Logs.String(), loginCode) {
			t.Fatal("SEC-18: a code appears in the logs")
		}
	})
}

// TestSEC21EmailFactorAndNotifications: the email factor over a real SMTP conversation, and
// the notification of a new factor (SEC-25).
func TestSEC21EmailFactorAndNotifications(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		user := m.LoginCookie(t, userEmail, userPass)
		started, err := user.EnrollEmail(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if started.SentTo != "a***@example.com" {
			t.Fatalf("masked address %q", started.SentTo)
		}
		code := m.mailCode(t, 0)
		if got := m.mail.Last(t).To; !slices.Equal(got, []string{userEmail}) {
			t.Fatalf("code went to %v", got)
		}
		if err := user.ConfirmFactor(ctx, api.FactorEmail, "999999"); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("wrong confirmation: %v", err)
		}
		if err := user.ConfirmFactor(ctx, api.FactorEmail, code); err != nil {
			t.Fatal(err)
		}
		notice := m.mail.Wait(t, 2, 10*time.Second)
		if !strings.Contains(strings.ToLower(notice.Subject+notice.Text), "email") {
			t.Fatalf("factor-added notice: %q / %q", notice.Subject, notice.Text)
		}

		c := m.NewClient(t)
		if _, err := c.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MFAChallenge(ctx, api.FactorTOTP, ""); client.ErrorCode(err) != api.CodeMFAUnavailable {
			t.Fatalf("challenge for a factor the user lacks: %v", err)
		}
		// The mail server refusing the message: a clear 502, and no cooldown held.
		m.mail.FailData(554, "5.7.1 message rejected")
		if _, err := c.MFAChallenge(ctx, api.FactorEmail, ""); client.ErrorCode(err) != api.CodeDeliveryFailed {
			t.Fatalf("challenge with SMTP refusing: %v", err)
		}
		m.mail.Reset()
		if _, err := c.MFAChallenge(ctx, api.FactorEmail, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorEmail, Code: m.mailCode(t, 0)}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSEC22RecoveryCodes: ten codes of 50 bits, shown once, each usable once; regenerating
// (at aal2) replaces the set; the remaining count is visible.
func TestSEC22RecoveryCodes(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		user := m.LoginCookie(t, userEmail, userPass)
		a := enrollTOTP(t, user)
		// The session predates the factor: changing factors now needs a step-up.
		if _, err := user.RegenerateRecoveryCodes(ctx); client.ErrorCode(err) != api.CodeStepUpRequired {
			t.Fatalf("regenerate at aal1: %v", err)
		}
		user = m.loginTOTP(t, userEmail, userPass, a)
		codes, err := user.RegenerateRecoveryCodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		shape := regexp.MustCompile(`^[0-9a-z]{5}-[0-9a-z]{5}$`)
		if len(codes) != 10 || !shape.MatchString(codes[0]) {
			t.Fatalf("codes %v", codes)
		}
		c := m.NewClient(t)
		if _, err := c.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorRecoveryCode, Code: codes[0]}); err != nil {
			t.Fatal(err)
		}
		st, err := c.MyMFA(ctx)
		if err != nil || st.RecoveryCodesRemaining != 9 {
			t.Fatalf("remaining %+v %v", st, err)
		}
		c2 := m.NewClient(t)
		if _, err := c2.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorRecoveryCode, Code: codes[0]}); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("used code again: %v", err)
		}
		fresh, err := user.RegenerateRecoveryCodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c2.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorRecoveryCode, Code: codes[1]}); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("old set after regenerating: %v", err)
		}
		if _, err := c2.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorRecoveryCode, Code: fresh[0]}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSEC24TrustedDevices: a remembered browser skips the second factor for its own user
// only; devices are listed and revocable by the user and support; a password change ends
// them (SEC-07).
func TestSEC24TrustedDevices(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		u := m.CreateUser(t, userEmail, userPass)
		const bobEmail, bobPass = "bob@example.com", "tangerine-submarine-77"
		m.CreateUser(t, bobEmail, bobPass)
		a := enrollTOTP(t, m.LoginCookie(t, userEmail, userPass))
		bobAuth := enrollTOTP(t, m.LoginCookie(t, bobEmail, bobPass))

		c, jar := m.jarClient(t)
		if _, err := c.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: a.code(t), RememberDevice: true}); err != nil {
			t.Fatal(err)
		}
		dev := m.cookie(t, jar, httpapi.DeviceCookiePlain)
		if dev == "" {
			t.Fatal("no device cookie")
		}
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		res, err := c.Login(ctx, userEmail, userPass)
		if err != nil || res.Status != api.LoginOK {
			t.Fatalf("trusted device still asked for a factor: %+v %v", res, err)
		}
		devices, err := c.MyDevices(ctx)
		if err != nil || len(devices) != 1 || !devices[0].Current || devices[0].Name == "" {
			t.Fatalf("devices %+v %v", devices, err)
		}

		// The same cookie in another user's login does nothing.
		other, otherJar := m.jarClient(t)
		mu, _ := url.Parse(m.URL)
		otherJar.SetCookies(mu, []*http.Cookie{{Name: httpapi.DeviceCookiePlain, Value: dev, Path: "/"}})
		if res, err := other.Login(ctx, bobEmail, bobPass); err != nil || res.Status != api.LoginMFARequired {
			t.Fatalf("copied device cookie skipped bob's factor: %+v %v", res, err)
		}
		_ = bobAuth

		// Support revokes it; the next login asks again.
		support := m.supportAAL2(t)
		list, err := support.UserDevices(ctx, u.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("support sees %+v %v", list, err)
		}
		if err := support.RevokeUserDevice(ctx, u.ID, list[0].ID); err != nil {
			t.Fatal(err)
		}
		if err := support.RevokeUserDevice(ctx, u.ID, list[0].ID); client.ErrorCode(err) != api.CodeNotFound {
			t.Fatalf("revoke twice: %v", err)
		}
		c2 := m.NewClient(t)
		mu2, _ := url.Parse(m.URL)
		_ = mu2
		if res, err := c.Login(ctx, userEmail, userPass); err != nil || res.Status != api.LoginMFARequired {
			t.Fatalf("revoked device skipped the factor: %+v %v", res, err)
		}
		_ = c2

		// A password change revokes every device (SEC-07).
		c5, _ := m.jarClient(t)
		if _, err := c5.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c5.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: a.code(t), RememberDevice: true}); err != nil {
			t.Fatal(err)
		}
		if d, _ := c5.MyDevices(ctx); len(d) != 1 {
			t.Fatalf("devices before the password change: %+v", d)
		}
		if err := c5.ChangePassword(ctx, userPass, "brand-new-orbit-9021"); err != nil {
			t.Fatal(err)
		}
		if d, _ := c5.MyDevices(ctx); len(d) != 0 {
			t.Fatalf("devices after the password change: %+v", d)
		}
	})
}

const supportEmail, supportPass = "helpdesk@example.com", "friendly-lighthouse-88"

// supportAAL2 is a support user signed in with TOTP.
func (m *mfaEnv) supportAAL2(t *testing.T) *client.Client {
	t.Helper()
	m.CreateUser(t, supportEmail, supportPass, api.RoleSupport)
	a := enrollTOTP(t, m.LoginCookie(t, supportEmail, supportPass))
	return m.loginTOTP(t, supportEmail, supportPass, a)
}

// TestSEC25StepUp: removing a factor needs aal2; step-up raises the session with a new
// credential (SEC-10: the old cookie dies); bearer sessions step up too.
func TestSEC25StepUp(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		c, jar := m.jarClient(t)
		if _, err := c.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		// A bearer session from before the factor existed.
		bearer, _ := m.LoginBearer(t, userEmail, userPass)
		a := enrollTOTP(t, c)

		if err := c.RemoveFactor(ctx, api.FactorTOTP); client.ErrorCode(err) != api.CodeStepUpRequired {
			t.Fatalf("remove at aal1: %v", err)
		}
		if _, err := c.StepUp(ctx, api.FactorTOTP, "000000"); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("step-up with a wrong code: %v", err)
		}
		oldCookie := m.cookie(t, jar, httpapi.CookieNamePlain)
		up, err := c.StepUp(ctx, api.FactorTOTP, a.code(t))
		if err != nil || up.AAL != api.AAL2 || up.CSRFToken == "" {
			t.Fatalf("step-up %+v %v", up, err)
		}
		if m.cookie(t, jar, httpapi.CookieNamePlain) == oldCookie {
			t.Fatal("SEC-10: step-up kept the session cookie")
		}
		if resp := rawGet(t, m.URL+"/api/v1/me", &http.Cookie{Name: httpapi.CookieNamePlain, Value: oldCookie}); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("old cookie after step-up: %d", resp.StatusCode)
		}
		up2, err := bearer.StepUp(ctx, api.FactorTOTP, a.code(t))
		if err != nil || up2.AccessToken == "" || up2.RefreshToken == "" || up2.AAL != api.AAL2 {
			t.Fatalf("bearer step-up %+v %v", up2, err)
		}
		if _, err := bearer.MyMFA(ctx); err != nil {
			t.Fatalf("new access token: %v", err)
		}
		mailsBefore := len(m.mail.Messages())
		if err := c.RemoveFactor(ctx, api.FactorTOTP); err != nil {
			t.Fatal(err)
		}
		notice := m.mail.Wait(t, mailsBefore+1, 10*time.Second)
		if !strings.Contains(strings.ToLower(notice.Subject+notice.Text), "remov") {
			t.Fatalf("factor-removed notice: %q", notice.Subject)
		}
		if err := c.RemoveFactor(ctx, api.FactorTOTP); client.ErrorCode(err) != api.CodeMFAUnavailable {
			t.Fatalf("remove twice: %v", err)
		}
	})
}

// TestSEC25AdminRoutesNeedAAL2: admin and support routes need aal2; inside the grace period
// a privileged account without a factor may act, after it only enrollment is left.
func TestSEC25AdminRoutesNeedAAL2(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect, testenv.WithConfig(func(c *config.Config) { c.MFA.Grace = 0 }))
		m.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		admin := m.LoginCookie(t, adminEmail, adminPass)
		if _, err := admin.ListUsers(ctx, api.UserQuery{}); client.ErrorCode(err) != api.CodeMFAEnrollment {
			t.Fatalf("admin without a factor after the grace period: %v", err)
		}
		st, err := admin.MyMFA(ctx)
		if err != nil || !st.Required {
			t.Fatalf("mfa status %+v %v", st, err)
		}
		a := enrollTOTP(t, admin)
		if _, err := admin.ListUsers(ctx, api.UserQuery{}); client.ErrorCode(err) != api.CodeStepUpRequired {
			t.Fatalf("admin at aal1 with a factor: %v", err)
		}
		if _, err := admin.StepUp(ctx, api.FactorTOTP, a.code(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ListUsers(ctx, api.UserQuery{}); err != nil {
			t.Fatalf("admin at aal2: %v", err)
		}
		// A plain user still gets 403 forbidden, not a step-up prompt.
		m.CreateUser(t, userEmail, userPass)
		if _, err := m.LoginCookie(t, userEmail, userPass).ListUsers(ctx, api.UserQuery{}); client.ErrorCode(err) != api.CodeForbidden {
			t.Fatalf("plain user on an admin route: %v", err)
		}
	})
}

// TestSEC26SupportMFAReset: support at aal2 with a reason removes everything and ends the
// user's sessions; the user is told; support cannot reset an admin.
func TestSEC26SupportMFAReset(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		u := m.CreateUser(t, userEmail, userPass)
		user := m.LoginCookie(t, userEmail, userPass)
		a := enrollTOTP(t, user)
		user = m.loginTOTP(t, userEmail, userPass, a)
		if _, err := user.RegenerateRecoveryCodes(ctx); err != nil {
			t.Fatal(err)
		}
		admin := m.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)

		m.CreateUser(t, supportEmail, supportPass, api.RoleSupport)
		supportAAL1 := m.LoginCookie(t, supportEmail, supportPass)
		sa := enrollTOTP(t, supportAAL1)
		if err := supportAAL1.ResetMFA(ctx, u.ID, "lost phone"); client.ErrorCode(err) != api.CodeStepUpRequired {
			t.Fatalf("support at aal1: %v", err)
		}
		support := m.loginTOTP(t, supportEmail, supportPass, sa)
		if err := support.ResetMFA(ctx, u.ID, "  "); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("no reason: %v", err)
		}
		if err := support.ResetMFA(ctx, admin.ID, "asked nicely"); client.ErrorCode(err) != api.CodeForbidden {
			t.Fatalf("support resetting an admin: %v", err)
		}
		got, err := support.GetUser(ctx, u.ID)
		if err != nil || got.MFA == nil || got.MFA.RecoveryCodesRemaining != 10 {
			t.Fatalf("support's view of the user %+v %v", got, err)
		}
		mailsBefore := len(m.mail.Messages())
		if err := support.ResetMFA(ctx, u.ID, "lost phone, identity checked by video call #4711"); err != nil {
			t.Fatal(err)
		}
		if _, err := user.Me(ctx); client.ErrorCode(err) != api.CodeUnauthorized {
			t.Fatalf("user's session after the reset: %v", err)
		}
		after, _ := support.GetUser(ctx, u.ID)
		for _, f := range after.MFA.Factors {
			if f.Enrolled {
				t.Fatalf("factor left after reset: %+v", f)
			}
		}
		notice := m.mail.Wait(t, mailsBefore+1, 10*time.Second)
		if !strings.Contains(notice.Text, "video call #4711") {
			t.Fatalf("reset notice: %q", notice.Text)
		}
		ev := events(t, m.adminClient(t), api.EventMFAReset, u.ID)
		if len(ev) != 1 || ev[0].Details["reason"] != "lost phone, identity checked by video call #4711" {
			t.Fatalf("reset event %+v", ev)
		}
		// Signing in needs no factor any more.
		if res, err := m.NewClient(t).Login(ctx, userEmail, userPass); err != nil || res.Status != api.LoginOK {
			t.Fatalf("login after reset: %+v %v", res, err)
		}
	})
}

// TestSEC27SecondFactorFailuresThrottled: wrong codes across logins lock the second factor
// for a while (429), and every failure is an event.
func TestSEC27SecondFactorFailuresThrottled(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		u := m.CreateUser(t, userEmail, userPass)
		a := enrollTOTP(t, m.LoginCookie(t, userEmail, userPass))
		var last error
		for i := range 3 {
			c := m.NewClient(t)
			if _, err := c.Login(ctx, userEmail, userPass); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				_, last = c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: "000000"})
			}
			_ = i
		}
		if client.ErrorCode(last) != api.CodeRateLimited {
			t.Fatalf("sixth wrong code across logins: %v", last)
		}
		// Even the right code waits out the lock.
		c := m.NewClient(t)
		if _, err := c.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		if _, err := c.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: a.code(t)}); client.ErrorCode(err) != api.CodeRateLimited {
			t.Fatalf("right code during the lock: %v", err)
		}
		ev := events(t, m.adminClient(t), api.EventMFAFailed, u.ID)
		if len(ev) < 6 {
			t.Fatalf("%d mfa.failed events", len(ev))
		}
		if locked := events(t, m.adminClient(t), api.EventAccountLocked, u.ID); len(locked) == 0 {
			t.Fatal("no lock event")
		}
	})
}

// TestMFABadInput: CSRF on the pending cookie, challenges for factors without one, and
// routes that a pending login cannot reach.
func TestMFABadInput(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		m.CreateUser(t, userEmail, userPass)
		enrollTOTP(t, m.LoginCookie(t, userEmail, userPass))
		c, jar := m.jarClient(t)
		if _, err := c.Login(ctx, userEmail, userPass); err != nil {
			t.Fatal(err)
		}
		pendingCookie := &http.Cookie{Name: httpapi.PendingCookiePlain, Value: m.cookie(t, jar, httpapi.PendingCookiePlain)}
		// SEC-14: without the CSRF token the pending cookie is refused.
		resp := rawPost(t, m.URL+"/api/v1/auth/mfa/verify", `{"factor":"totp","code":"123456"}`, pendingCookie)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("verify without CSRF: %d", resp.StatusCode)
		}
		if _, err := c.MFAChallenge(ctx, api.FactorTOTP, ""); client.ErrorCode(err) != api.CodeInvalidRequest {
			t.Fatalf("challenge for totp: %v", err)
		}
		if resp := rawPost(t, m.URL+"/api/v1/auth/mfa/verify", `{"factor":"totp","code":"123456","extra":1}`, pendingCookie); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown field: %d", resp.StatusCode)
		}
		if resp := rawGet(t, m.URL+"/api/v1/me/mfa", pendingCookie); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("pending cookie on /me/mfa: %d", resp.StatusCode)
		}
		if _, err := m.NewClient(t).MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: "123456"}); client.ErrorCode(err) != api.CodeMFALoginExpired {
			t.Fatalf("verify without any pending login: %v", err)
		}
	})
}

// Self-registered accounts verify their address with a mailed code (a code, not a link: no
// credential in a URL, SEC-18).
func TestEmailVerification(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		c := m.NewClient(t)
		res, err := c.Register(ctx, api.RegisterRequest{Email: "newbie@example.com", Password: "first-day-on-the-job-77"})
		if err != nil || res.User.EmailVerified {
			t.Fatalf("register %+v %v", res, err)
		}
		msg := m.mail.Wait(t, 1, 10*time.Second)
		if !slices.Equal(msg.To, []string{"newbie@example.com"}) || strings.Contains(msg.Text, "http") {
			t.Fatalf("verification mail to %v: %q", msg.To, msg.Text)
		}
		code := m.mailCode(t, 0)
		if _, err := c.VerifyEmail(ctx, "000000x"); client.ErrorCode(err) != api.CodeMFAInvalidCode {
			t.Fatalf("wrong code: %v", err)
		}
		u, err := c.VerifyEmail(ctx, code)
		if err != nil || !u.EmailVerified {
			t.Fatalf("verify %+v %v", u, err)
		}
		if _, err := c.VerifyEmail(ctx, code); client.ErrorCode(err) != api.CodeConflict {
			t.Fatalf("verify twice: %v", err)
		}
		if _, err := c.SendEmailVerification(ctx); client.ErrorCode(err) != api.CodeConflict {
			t.Fatalf("send after verification: %v", err)
		}
		if me, _ := c.Me(ctx); !me.EmailVerified {
			t.Fatal("not verified in /me")
		}

		// A second account asks for a fresh code after the cooldown-free first one failed.
		c2 := m.NewClient(t)
		if _, err := c2.Register(ctx, api.RegisterRequest{Email: "second@example.com", Password: "another-day-on-the-job-77"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c2.SendEmailVerification(ctx); client.ErrorCode(err) != api.CodeRateLimited {
			t.Fatalf("resend inside the cooldown: %v", err)
		}

		// Without mail the server says so.
		plain := testenv.New(t, dialect)
		pc := plain.NewClient(t)
		if _, err := pc.Register(ctx, api.RegisterRequest{Email: "nomail@example.com", Password: "quiet-server-passphrase"}); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.SendEmailVerification(ctx); client.ErrorCode(err) != api.CodeUnavailable {
			t.Fatalf("verification without mail: %v", err)
		}
	})
}

// `make run`'s demo delivery: the real mail client reaches an in-process SMTP sink and the
// code is printed on the terminal (never in the structured log).
func TestDemoDeliveryPrintsCodes(t *testing.T) {
	cfg := testenv.Config(t, testenv.SQLite)
	cfg.Env = config.EnvDevelopment
	cfg.DemoDelivery = true
	console := &testenv.Buffer{}
	a, err := newWithConsole(t, cfg, console)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	ctx := context.Background()
	if _, err := a.Auth.Register(ctx, api.RegisterRequest{Email: "demo@example.com", Password: "try-it-out-on-a-laptop"}, auth.Meta{IP: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(console.String(), "[demo mail to [demo@example.com]] Confirm your email address for Gatehouse: ") {
		if time.Now().After(deadline) {
			t.Fatalf("console: %q", console.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	prodCfg := cfg
	prodCfg.Env = config.EnvProduction
	if err := prodCfg.Validate(); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_DEMO_DELIVERY") {
		t.Fatalf("production accepted demo delivery: %v", err)
	}
}
