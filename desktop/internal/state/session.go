package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"gatehouse/shared/api"
)

// Stage is where the sign-in flow is.
type Stage int

// Sign-in stages.
const (
	SignedOut        Stage = iota
	NeedSecondFactor       // password accepted; the server wants a second factor
	SignedIn
)

// Screens the console can return to.
const (
	ScreenDashboard = "dashboard"
	ScreenUsers     = "users"
	ScreenEvents    = "events"
	ScreenSecrets   = "secrets"
	ScreenAudit     = "audit"
	ScreenProviders = "providers"
)

// Place is where the user was when the session ended, so signing in again takes them back.
type Place struct {
	Screen string
	UserID string // the user open in the detail pane, if any
	Secret string // the secret open in the secrets pane, if any
}

// Session is the sign-in flow and the signed-in account.
type Session struct {
	dial Dialer

	mu       sync.Mutex
	backend  Backend
	server   string
	email    string
	stage    Stage
	user     api.User
	factors  []string
	aal      string
	expired  bool
	place    Place
	identity string // server+email of the session that expired
	provider string // the provider of a social sign-in in progress or done ("" password)
}

// NewSession starts signed out.
func NewSession(dial Dialer) *Session { return &Session{dial: dial} }

// NormalizeServerURL accepts what people type ("gatehouse.example.com", "localhost:8080/") and
// returns a base URL. Without a scheme, loopback hosts get http and everything else https.
func NormalizeServerURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", invalid("server", "Enter the server address.")
	}
	if !strings.Contains(s, "://") {
		host := s
		if i := strings.IndexAny(host, ":/"); i >= 0 {
			host = host[:i]
		}
		if host == "localhost" || strings.HasPrefix(host, "127.") || strings.HasPrefix(s, "[::1]") {
			s = "http://" + s
		} else {
			s = "https://" + s
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", invalid("server", "The server address must look like https://gatehouse.example.com.")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// SignIn checks the password. It returns NeedSecondFactor when the server asks for one.
func (s *Session) SignIn(ctx context.Context, server, email, password string) (Stage, error) {
	base, err := NormalizeServerURL(server)
	if err != nil {
		return SignedOut, err
	}
	email = strings.TrimSpace(email)
	if email == "" {
		return SignedOut, invalid("email", "Enter your email address.")
	}
	if password == "" {
		return SignedOut, invalid("password", "Enter your password.")
	}
	b, err := s.backendFor(base)
	if err != nil {
		return SignedOut, err
	}
	res, err := b.Login(ctx, email, password)
	if err != nil {
		return SignedOut, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.email, s.provider = email, ""
	switch res.Status {
	case api.LoginMFARequired:
		s.stage = NeedSecondFactor
		s.factors = res.Factors
		if len(s.factors) == 0 {
			s.factors = AllFactors()
		}
		return s.stage, nil
	case api.LoginOK:
		if res.User == nil {
			return SignedOut, errors.New("login answer without the account")
		}
		s.signedInLocked(*res.User, api.AAL1)
		return s.stage, nil
	default:
		return SignedOut, fmt.Errorf("unknown login status %q", res.Status)
	}
}

func (s *Session) backendFor(base string) (Backend, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backend != nil && s.server == base {
		return s.backend, nil
	}
	b, err := s.dial(base)
	if err != nil {
		return nil, invalid("server", "The server address is not valid.")
	}
	s.backend, s.server = b, base
	return b, nil
}

func (s *Session) signedInLocked(u api.User, aal string) {
	s.user, s.aal, s.stage = u, aal, SignedIn
}

// SendCode asks the server to send the pending sign-in's code by SMS or email.
func (s *Session) SendCode(ctx context.Context, factor string) error {
	if !FactorSendsCode(factor) {
		return invalid("factor", "This factor does not need a code to be sent.")
	}
	s.mu.Lock()
	b, stage := s.backend, s.stage
	s.mu.Unlock()
	if stage != NeedSecondFactor || b == nil {
		return invalid("code", "Sign in with your password first.")
	}
	return b.ChallengeMFA(ctx, factor)
}

// SendStepUpCode asks the server to send a step-up code by SMS or email.
func (s *Session) SendStepUpCode(ctx context.Context, factor string) error {
	if !FactorSendsCode(factor) {
		return invalid("factor", "This factor does not need a code to be sent.")
	}
	b := s.Backend()
	if b == nil || s.Stage() != SignedIn {
		return invalid("code", "Sign in first.")
	}
	return b.ChallengeStepUp(ctx, factor)
}

// Verify finishes a sign-in with a second factor.
func (s *Session) Verify(ctx context.Context, factor, code string, rememberDevice bool) error {
	code, err := cleanCode(factor, code)
	if err != nil {
		return err
	}
	s.mu.Lock()
	b, stage := s.backend, s.stage
	s.mu.Unlock()
	if stage != NeedSecondFactor || b == nil {
		return invalid("code", "Sign in with your password first.")
	}
	u, err := b.VerifyMFA(ctx, factor, code, rememberDevice)
	if IsLoginExpired(err) {
		s.CancelSecondFactor() // the pending sign-in is gone: start again with the password
	}
	if err != nil {
		return err
	}
	if u == nil {
		if u, err = b.Me(ctx); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.signedInLocked(*u, api.AAL2)
	s.mu.Unlock()
	return nil
}

// StepUp raises the session to aal2 with a second factor.
func (s *Session) StepUp(ctx context.Context, factor, code string) error {
	code, err := cleanCode(factor, code)
	if err != nil {
		return err
	}
	b := s.Backend()
	if b == nil {
		return invalid("code", "Sign in first.")
	}
	if err := b.StepUp(ctx, factor, code); err != nil {
		return err
	}
	s.mu.Lock()
	s.aal = api.AAL2
	s.mu.Unlock()
	return nil
}

// StepUpFactors lists the factors to offer in the step-up dialog: the account's own when the
// server says, else the ones from the sign-in, else all of them.
func (s *Session) StepUpFactors(ctx context.Context) []string {
	b := s.Backend()
	if b != nil {
		if st, err := b.MyMFA(ctx); err == nil && MFAEnabled(st) {
			out := make([]string, 0, len(st.Factors)+1)
			for _, f := range st.Factors {
				if f.Enrolled {
					out = appendUnique(out, f.Factor)
				}
			}
			if st.RecoveryCodesRemaining > 0 {
				out = appendUnique(out, FactorRecovery)
			}
			return out
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.factors) > 0 {
		return append([]string(nil), s.factors...)
	}
	return AllFactors()
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// cleanCode drops the spaces and dashes people type or paste; recovery codes keep their dash.
func cleanCode(factor, code string) (string, error) {
	code = strings.TrimSpace(code)
	if factor == "" {
		return "", invalid("factor", "Choose a second factor.")
	}
	if factor != FactorRecovery {
		code = strings.NewReplacer(" ", "", "-", "").Replace(code)
	}
	if code == "" {
		return "", invalid("code", "Enter the code.")
	}
	return code, nil
}

// SignOut ends the session on the server and here. The local sign-out happens even when the
// server cannot be reached; the error is still returned so it can be shown.
func (s *Session) SignOut(ctx context.Context) error {
	b := s.Backend()
	var err error
	if b != nil {
		err = b.Logout(ctx)
	}
	s.mu.Lock()
	s.stage, s.user, s.factors, s.aal, s.expired = SignedOut, api.User{}, nil, "", false
	s.mu.Unlock()
	if IsUnauthorized(err) {
		return nil // already over
	}
	return err
}

// CancelSecondFactor goes back from the second-factor step to the password form.
func (s *Session) CancelSecondFactor() {
	s.mu.Lock()
	if s.stage == NeedSecondFactor {
		s.stage, s.factors = SignedOut, nil
	}
	s.mu.Unlock()
}

// Expire records that the server ended the session (401) while the user was at place.
func (s *Session) Expire(place Place) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stage != SignedIn {
		return
	}
	s.identity = s.server + "\x00" + strings.ToLower(s.email)
	s.stage, s.expired, s.place = SignedOut, true, place
}

// Expired reports whether the last session ended on its own (not by signing out).
func (s *Session) Expired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expired
}

// Resume returns where to go back to after signing in again: only the same account on the same
// server gets its old place (someone else signing in starts fresh).
func (s *Session) Resume() (Place, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.expired || s.stage != SignedIn {
		return Place{}, false
	}
	s.expired = false
	if s.identity != s.server+"\x00"+strings.ToLower(s.email) {
		return Place{}, false
	}
	return s.place, true
}

// Stage is where the sign-in flow is.
func (s *Session) Stage() Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stage
}

// User is the signed-in account.
func (s *Session) User() api.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

// Caps is what the signed-in account may do.
func (s *Session) Caps() Caps {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stage != SignedIn {
		return Caps{}
	}
	return CapsFor(s.user.Roles)
}

// AAL is the session's assurance level as far as the console knows.
func (s *Session) AAL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aal
}

// Factors are the second factors offered in the sign-in step.
func (s *Session) Factors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.factors...)
}

// Server is the base URL of the current (or last) server.
func (s *Session) Server() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.server
}

// Email is the address used to sign in.
func (s *Session) Email() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.email
}

// Backend is the current server's API (nil before the first sign-in attempt).
func (s *Session) Backend() Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.backend
}
