package state_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

const (
	adminEmail   = "officer@example.com"
	adminPass    = "correct horse battery"
	supportEmail = "helper@example.com"
	supportPass  = "staple gun lighthouse"
)

func newFake() *fakeapi.API {
	f := fakeapi.New()
	f.AddUser(adminEmail, "Olivia Officer", adminPass, api.RoleAdmin)
	f.AddUser(supportEmail, "Hal Helper", supportPass, api.RoleSupport)
	return f
}

func signedIn(t *testing.T, f *fakeapi.API, email, pass string) *state.Session {
	t.Helper()
	s := state.NewSession(f.Dialer())
	stage, err := s.SignIn(context.Background(), "localhost:8080", email, pass)
	if err != nil || stage != state.SignedIn {
		t.Fatalf("sign in: %v %v", stage, err)
	}
	return s
}

func TestNormalizeServerURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"localhost:8080", "http://localhost:8080"},
		{"127.0.0.1:8080/", "http://127.0.0.1:8080"},
		{"gatehouse.example.com", "https://gatehouse.example.com"},
		{" https://g.example.com/base/ ", "https://g.example.com/base"},
		{"http://10.1.2.3:80?x=1", "http://10.1.2.3:80"},
	}
	for _, c := range cases {
		got, err := state.NormalizeServerURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "   ", "ftp://x.example.com", "http://"} {
		if _, err := state.NormalizeServerURL(bad); state.Describe(err).Code != state.CodeInvalidInput {
			t.Errorf("%q: want invalid input, got %v", bad, err)
		}
	}
}

func TestSignInWithPassword(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	if s.User().Email != adminEmail || !s.Caps().EditRoles || s.AAL() != api.AAL1 {
		t.Fatalf("user %+v caps %+v aal %s", s.User(), s.Caps(), s.AAL())
	}
	if s.Server() != "http://localhost:8080" || !f.Called("Dial", "http://localhost:8080") {
		t.Fatalf("server %q calls %v", s.Server(), f.Calls())
	}
}

func TestSignInValidatesBeforeSending(t *testing.T) {
	f := newFake()
	s := state.NewSession(f.Dialer())
	for _, c := range []struct{ server, email, pass, field string }{
		{"", adminEmail, adminPass, "server"},
		{"localhost", "", adminPass, "email"},
		{"localhost", adminEmail, "", "password"},
	} {
		_, err := s.SignIn(context.Background(), c.server, c.email, c.pass)
		var in *state.InputError
		if !errors.As(err, &in) || in.Field != c.field {
			t.Errorf("%+v: %v", c, err)
		}
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("nothing may be sent: %v", f.Calls())
	}
}

func TestSignInWrongPasswordKeepsServerMessage(t *testing.T) {
	f := newFake()
	s := state.NewSession(f.Dialer())
	_, err := s.SignIn(context.Background(), "localhost", adminEmail, "not the password")
	p := state.Describe(err)
	if p.Code != string(api.CodeInvalidCredentials) || p.Message != "wrong email or password" || p.RequestID != "req-fake" {
		t.Fatalf("problem %+v", p)
	}
	if s.Stage() != state.SignedOut {
		t.Fatal("still signed out")
	}
}

func TestSignInWithSecondFactor(t *testing.T) {
	f := newFake()
	f.SecondFactor[adminEmail] = []string{state.FactorTOTP, state.FactorSMS}
	s := state.NewSession(f.Dialer())
	stage, err := s.SignIn(context.Background(), "localhost", adminEmail, adminPass)
	if err != nil || stage != state.NeedSecondFactor {
		t.Fatalf("%v %v", stage, err)
	}
	if !slices.Equal(s.Factors(), []string{state.FactorTOTP, state.FactorSMS}) {
		t.Fatalf("factors %v", s.Factors())
	}
	if s.Caps().ViewUsers {
		t.Fatal("no caps before the second factor")
	}
	ctx := context.Background()
	if err := s.SendCode(ctx, state.FactorTOTP); err == nil {
		t.Fatal("TOTP codes are not sent")
	}
	if err := s.SendCode(ctx, state.FactorSMS); err != nil || !f.Called("ChallengeMFA", "sms") {
		t.Fatalf("send: %v %v", err, f.Calls())
	}
	if err := s.Verify(ctx, state.FactorSMS, "000000", false); state.Describe(err).Code != string(api.CodeMFAInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	// People type codes with spaces.
	if err := s.Verify(ctx, state.FactorSMS, "123 456", true); err != nil {
		t.Fatal(err)
	}
	if !f.Called("VerifyMFA", "sms", "123456", "true") || s.Stage() != state.SignedIn || s.AAL() != api.AAL2 {
		t.Fatalf("calls %v stage %v aal %s", f.Calls(), s.Stage(), s.AAL())
	}
}

func TestSecondFactorWithoutFactorListOffersAll(t *testing.T) {
	f := newFake()
	f.SecondFactor[adminEmail] = nil
	s := state.NewSession(f.Dialer())
	if _, err := s.SignIn(context.Background(), "localhost", adminEmail, adminPass); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Factors(), state.AllFactors()) {
		t.Fatalf("factors %v", s.Factors())
	}
	s.CancelSecondFactor()
	if s.Stage() != state.SignedOut {
		t.Fatal("cancel goes back to the password")
	}
}

func TestVerifyNeedsCodeAndPendingSignIn(t *testing.T) {
	f := newFake()
	s := state.NewSession(f.Dialer())
	if err := s.Verify(context.Background(), state.FactorTOTP, "123456", false); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("verify before password: %v", err)
	}
	f.SecondFactor[adminEmail] = []string{state.FactorTOTP}
	if _, err := s.SignIn(context.Background(), "localhost", adminEmail, adminPass); err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(context.Background(), state.FactorTOTP, "  ", false); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("empty code: %v", err)
	}
	if err := s.Verify(context.Background(), "", "123456", false); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("no factor: %v", err)
	}
}

func TestStepUp(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	u, _ := f.User(adminEmail)
	f.SetMFA(u.ID, api.MFAStatus{Factors: []api.MFAFactor{{Factor: state.FactorTOTP, Enrolled: true}}, RecoveryCodesRemaining: 3})
	if got := s.StepUpFactors(context.Background()); !slices.Equal(got, []string{state.FactorTOTP, state.FactorRecovery}) {
		t.Fatalf("factors %v", got)
	}
	if err := s.StepUp(context.Background(), state.FactorRecovery, "abcde-12345"); state.Describe(err).Code != string(api.CodeMFAInvalidCode) {
		t.Fatalf("wrong code: %v", err)
	}
	if err := s.StepUp(context.Background(), state.FactorTOTP, "123-456"); err != nil || s.AAL() != api.AAL2 {
		t.Fatalf("%v %s", err, s.AAL())
	}
	if !f.Called("StepUp", "totp", "123456") {
		t.Fatalf("calls %v", f.Calls())
	}
}

func TestStepUpFactorsFallBack(t *testing.T) {
	f := newFake()
	f.NoMFA = true
	s := signedIn(t, f, adminEmail, adminPass)
	if got := s.StepUpFactors(context.Background()); !slices.Equal(got, state.AllFactors()) {
		t.Fatalf("factors %v", got)
	}
}

func TestExpireAndResumeSameAccount(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	s.Expire(state.Place{Screen: state.ScreenUsers, UserID: "u002"})
	if s.Stage() != state.SignedOut || !s.Expired() || s.Caps().ViewUsers {
		t.Fatal("expired session is signed out")
	}
	if _, err := s.SignIn(context.Background(), "http://localhost:8080", "OFFICER@example.com", adminPass); err != nil {
		t.Fatal(err)
	}
	p, ok := s.Resume()
	if !ok || p.Screen != state.ScreenUsers || p.UserID != "u002" {
		t.Fatalf("resume %+v %v", p, ok)
	}
	if _, ok := s.Resume(); ok {
		t.Fatal("a place is resumed once")
	}
}

func TestExpireThenOtherAccountStartsFresh(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	s.Expire(state.Place{Screen: state.ScreenEvents})
	if _, err := s.SignIn(context.Background(), "localhost:8080", supportEmail, supportPass); err != nil {
		t.Fatal(err)
	}
	if p, ok := s.Resume(); ok || p != (state.Place{}) {
		t.Fatalf("another account must not get the old place: %+v", p)
	}
}

func TestSignOut(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	if err := s.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.Stage() != state.SignedOut || s.User().ID != "" || !f.Called("Logout") {
		t.Fatalf("stage %v calls %v", s.Stage(), f.Calls())
	}
	// Signing out of a session the server already ended is not an error.
	s = signedIn(t, f, adminEmail, adminPass)
	f.Expire()
	if err := s.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestChangingServerDialsAgain(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	if _, err := s.SignIn(context.Background(), "gatehouse.example.com", adminEmail, adminPass); err != nil {
		t.Fatal(err)
	}
	if !f.Called("Dial", "https://gatehouse.example.com") || s.Server() != "https://gatehouse.example.com" {
		t.Fatalf("calls %v", f.Calls())
	}
}

func TestExpiredPendingSignInGoesBackToThePassword(t *testing.T) {
	f := newFake()
	f.SecondFactor[adminEmail] = []string{state.FactorTOTP}
	s := state.NewSession(f.Dialer())
	if _, err := s.SignIn(context.Background(), "localhost", adminEmail, adminPass); err != nil {
		t.Fatal(err)
	}
	f.FailNext("VerifyMFA", &api.Error{Code: api.CodeMFALoginExpired, Message: "sign in again"})
	err := s.Verify(context.Background(), state.FactorTOTP, "123456", false)
	if !state.IsLoginExpired(err) || s.Stage() != state.SignedOut {
		t.Fatalf("%v %v", err, s.Stage())
	}
}

func TestSendStepUpCode(t *testing.T) {
	f := newFake()
	s := state.NewSession(f.Dialer())
	if err := s.SendStepUpCode(context.Background(), state.FactorEmail); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatal("sign in first")
	}
	s = signedIn(t, f, adminEmail, adminPass)
	if err := s.SendStepUpCode(context.Background(), state.FactorTOTP); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatal("TOTP codes are not sent")
	}
	if err := s.SendStepUpCode(context.Background(), state.FactorEmail); err != nil || !f.Called("ChallengeStepUp", "email") {
		t.Fatalf("%v %v", err, f.Calls())
	}
}
