package state_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

func TestCapsMirrorTheRoleTable(t *testing.T) {
	a, s, u := state.CapsFor([]string{api.RoleAdmin}), state.CapsFor([]string{api.RoleSupport}), state.CapsFor([]string{api.RoleUser})
	if !a.EditRoles || !a.ViewEvents || !a.ViewPool || !a.CreateUsers {
		t.Fatalf("admin %+v", a)
	}
	if s.EditRoles || s.ViewEvents || s.ViewPool || s.CreateUsers || s.EditProfiles {
		t.Fatalf("support may not see roles, events or the pool: %+v", s)
	}
	if !s.ViewUsers || !s.LockUsers || !s.RevokeSessions || !s.RevokeDevices || !s.ResetMFA {
		t.Fatalf("support helps people: %+v", s)
	}
	if u.Console() {
		t.Fatalf("plain users have nothing to do here: %+v", u)
	}
	adminUser := api.User{Roles: []string{api.RoleAdmin}}
	if s.CanManage(adminUser) || !a.CanManage(adminUser) || !s.CanManage(api.User{Roles: []string{api.RoleUser}}) {
		t.Fatal("only admins manage admins")
	}
}

func manyUsers(f *fakeapi.API, n int) {
	for i := range n {
		f.AddUser(fmt.Sprintf("person%02d@example.com", i), fmt.Sprintf("Person %02d", i), "long enough password", api.RoleUser)
	}
}

func TestUsersSearchAndPaging(t *testing.T) {
	f := newFake()
	manyUsers(f, 60)
	signedIn(t, f, adminEmail, adminPass)
	u := state.NewUsers(f)
	ctx := context.Background()
	if err := u.Search(ctx, "  person ", "", ""); err != nil {
		t.Fatal(err)
	}
	if p := u.Page(); p.Total != 60 || p.Pages() != 3 || p.HasPrev() || !p.HasNext() || len(u.Rows()) != 25 {
		t.Fatalf("page %+v rows %d", p, len(u.Rows()))
	}
	if got := u.Page().String(); got != "Page 1 of 3 · 60 results" {
		t.Fatalf("caption %q", got)
	}
	for range 3 { // the last Next is a no-op
		if err := u.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if p := u.Page(); p.Page != 3 || p.HasNext() || len(u.Rows()) != 10 {
		t.Fatalf("last page %+v", p)
	}
	if !f.Called("ListUsers", "person", "", "", "3") || f.Called("ListUsers", "person", "", "", "4") {
		t.Fatalf("calls %v", f.Methods())
	}
	if err := u.Prev(ctx); err != nil || u.Page().Page != 2 {
		t.Fatal(err)
	}
	// A new search starts again at page 1 and keeps the filter.
	if err := u.Search(ctx, "person0", api.UserActive, api.RoleUser); err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Page != 1 || q.Status != api.UserActive || q.Role != api.RoleUser || u.Page().Total != 10 {
		t.Fatalf("query %+v total %d", q, u.Page().Total)
	}
}

func TestUsersCreateValidatesAndReloads(t *testing.T) {
	f := newFake()
	signedIn(t, f, adminEmail, adminPass)
	u := state.NewUsers(f)
	ctx := context.Background()
	if _, err := u.Create(ctx, api.CreateUserRequest{Email: "nobody", Password: "long enough password"}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatal(err)
	}
	if _, err := u.Create(ctx, api.CreateUserRequest{Email: "new@example.com", Password: "short"}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatal(err)
	}
	created, err := u.Create(ctx, api.CreateUserRequest{Email: " new@example.com ", Password: "a long enough secret"})
	if err != nil || created.Email != "new@example.com" {
		t.Fatalf("%+v %v", created, err)
	}
	if !f.Called("CreateUser", "new@example.com", "user") || u.Page().Total != 3 {
		t.Fatalf("calls %v total %d", f.Calls(), u.Page().Total)
	}
	if _, err := u.Create(ctx, api.CreateUserRequest{Email: "new@example.com", Password: "a long enough secret"}); state.Describe(err).Code != string(api.CodeConflict) {
		t.Fatalf("duplicate: %v", err)
	}
}

func TestUserCells(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	last := now.Add(-5 * time.Minute)
	got := state.UserCells(api.User{Email: "a@example.com", Roles: []string{"admin", "support"}, Status: "locked", LastLoginAt: &last}, now)
	want := [6]string{"a@example.com", "—", "admin, support", "Locked", "—", "5 min ago"}
	if got != want {
		t.Fatalf("got %q", got)
	}
	withMFA := api.User{MFA: &api.MFAStatus{Factors: []api.MFAFactor{{Factor: state.FactorTOTP, Enrolled: true}, {Factor: state.FactorSMS}}}}
	if c := state.UserCells(withMFA, now); c[5] != "never" || c[4] != "TOTP" {
		t.Fatalf("got %q", c)
	}
	if c := state.UserCells(api.User{MFA: &api.MFAStatus{Required: true}}, now); c[4] != "Off (required)" {
		t.Fatalf("got %q", c)
	}
}

func TestAgo(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		10 * time.Second: "just now", 3 * time.Hour: "3 h ago", 50 * time.Hour: "2 days ago",
	} {
		if got := state.Ago(now.Add(-d), now); got != want {
			t.Errorf("%v: %q", d, got)
		}
	}
	if got := state.Ago(time.Time{}, now); got != "never" {
		t.Error(got)
	}
	if got := state.Ago(now.Add(-30*24*time.Hour), now); !strings.HasPrefix(got, "2026-01-") {
		t.Error(got)
	}
}

func openDetail(t *testing.T, f *fakeapi.API, s *state.Session, email string) *state.UserDetail {
	t.Helper()
	d := state.NewUserDetail(f, f, s.Caps())
	u, _ := f.User(email)
	if err := d.Open(context.Background(), u.ID); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDetailLoadsEverything(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	f.AddSession(alice.ID, "s1", "192.0.2.1")
	f.AddSession(alice.ID, "s2", "192.0.2.2")
	f.AddDevice(alice.ID, "d1", "Firefox on Linux")
	f.SetMFA(alice.ID, api.MFAStatus{Factors: []api.MFAFactor{{Factor: state.FactorTOTP, Enrolled: true}}, RecoveryCodesRemaining: 8})
	s := signedIn(t, f, adminEmail, adminPass)
	d := openDetail(t, f, s, alice.Email)
	sessions, ss := d.Sessions()
	devices, ds := d.Devices()
	mfa, ms := d.MFA()
	if len(sessions) != 2 || ss != state.SectionReady || len(devices) != 1 || ds != state.SectionReady || !state.MFAEnabled(mfa) || mfa.TrustedDevices != 1 || ms != state.SectionReady {
		t.Fatalf("sessions %v devices %v mfa %+v", sessions, devices, mfa)
	}
	a := d.Actions()
	if !a.EditRoles || !a.Lock || a.Unlock || !a.RevokeSessions || !a.RevokeDevices || !a.ResetMFA {
		t.Fatalf("admin actions %+v", a)
	}
}

func TestDetailWithoutMFAEndpointsMarksSectionsUnavailable(t *testing.T) {
	f := newFake()
	f.NoMFA = true
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	s := signedIn(t, f, supportEmail, supportPass)
	d := openDetail(t, f, s, alice.Email)
	if _, st := d.Devices(); st != state.SectionUnavailable {
		t.Fatalf("devices %v", st)
	}
	if _, st := d.MFA(); st != state.SectionUnavailable {
		t.Fatalf("mfa %v", st)
	}
	if a := d.Actions(); a.ResetMFA || a.RevokeDevices || !a.Lock {
		t.Fatalf("actions %+v", a)
	}
}

func TestDetailSectionFailureIsReported(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	s := signedIn(t, f, adminEmail, adminPass)
	f.FailNext("UserDevices", &api.Error{Code: api.CodeInternal, Message: "boom", RequestID: "r9"})
	d := state.NewUserDetail(f, f, s.Caps())
	err := d.Open(context.Background(), alice.ID)
	if p := state.Describe(err); p.Code != string(api.CodeInternal) || p.RequestID != "r9" {
		t.Fatalf("problem %+v", p)
	}
	if _, st := d.Devices(); st != state.SectionFailed {
		t.Fatalf("devices %v", st)
	}
	if _, st := d.Sessions(); st != state.SectionReady {
		t.Fatal("other sections still load")
	}
}

func TestSupportCannotTouchAdmins(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, supportEmail, supportPass)
	d := openDetail(t, f, s, adminEmail)
	if a := d.Actions(); a.Lock || a.RevokeSessions || a.ResetMFA || a.EditRoles {
		t.Fatalf("support on an admin: %+v", a)
	}
	before := len(f.Calls())
	if err := d.Lock(context.Background()); !errors.Is(err, state.ErrNotAllowed) {
		t.Fatalf("lock: %v", err)
	}
	if err := d.ResetMFA(context.Background(), "lost phone, verified by video call"); !errors.Is(err, state.ErrNotAllowed) {
		t.Fatalf("reset: %v", err)
	}
	if len(f.Calls()) != before {
		t.Fatalf("nothing may be sent: %v", f.Calls()[before:])
	}
}

func TestLockUnlockRevoke(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	f.AddSession(alice.ID, "s1", "192.0.2.1")
	f.AddSession(alice.ID, "s2", "192.0.2.2")
	f.AddDevice(alice.ID, "d1", "Firefox")
	f.AddDevice(alice.ID, "d2", "Chrome")
	s := signedIn(t, f, supportEmail, supportPass)
	d := openDetail(t, f, s, alice.Email)
	ctx := context.Background()

	if err := d.RevokeSession(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Sessions(); len(list) != 1 || list[0].ID != "s2" || !f.Called("RevokeUserSession", alice.ID, "s1") {
		t.Fatalf("sessions %v", list)
	}
	if err := d.RevokeDevice(ctx, "d2"); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Devices(); len(list) != 1 || list[0].ID != "d1" || !f.Called("RevokeUserDevice", alice.ID, "d2") {
		t.Fatalf("devices %v", list)
	}
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	u, _ := d.User()
	if list, _ := d.Sessions(); u.Status != api.UserLocked || len(list) != 0 {
		t.Fatalf("locked %+v sessions %v", u, list)
	}
	if a := d.Actions(); a.Lock || !a.Unlock {
		t.Fatalf("actions %+v", a)
	}
	if err := d.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	f.AddSession(alice.ID, "s3", "192.0.2.3")
	if err := d.RevokeAllSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Sessions(); len(list) != 0 || !f.Called("RevokeUserSessions", alice.ID) {
		t.Fatalf("sessions %v", list)
	}
	// Support may not change roles: hidden, and guarded.
	if err := d.SetRoles(ctx, []string{api.RoleAdmin}); !errors.Is(err, state.ErrNotAllowed) {
		t.Fatalf("roles: %v", err)
	}
}

func TestSetRolesAndName(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	s := signedIn(t, f, adminEmail, adminPass)
	d := openDetail(t, f, s, alice.Email)
	ctx := context.Background()
	if err := d.SetRoles(ctx, nil); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatal(err)
	}
	if err := d.SetRoles(ctx, []string{api.RoleUser, api.RoleSupport}); err != nil {
		t.Fatal(err)
	}
	if !f.Called("UpdateUser", alice.ID, "roles=support+user") {
		t.Fatalf("calls %v", f.Calls())
	}
	if err := d.SetDisplayName(ctx, "  Alice Liddell "); err != nil {
		t.Fatal(err)
	}
	if u, _ := d.User(); u.DisplayName != "Alice Liddell" || len(u.Roles) != 2 {
		t.Fatalf("%+v", u)
	}
}

func TestResetMFA(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice Liddell", "long enough password", api.RoleUser)
	f.AddSession(alice.ID, "s1", "192.0.2.1")
	f.AddDevice(alice.ID, "d1", "Firefox")
	f.SetMFA(alice.ID, api.MFAStatus{Factors: []api.MFAFactor{{Factor: state.FactorSMS, Enrolled: true, Address: "+44 •••• 123"}}})
	s := signedIn(t, f, supportEmail, supportPass)
	d := openDetail(t, f, s, alice.Email)
	ctx := context.Background()

	if q := d.ResetConfirmation(); !strings.Contains(q, "Alice Liddell <alice@example.com>") {
		t.Fatalf("the confirmation names the user: %q", q)
	}
	if err := d.ResetMFA(ctx, " lost it "); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("short reason: %v", err)
	}
	if f.Called("ResetMFA", alice.ID, "lost it") {
		t.Fatal("nothing sent without a reason")
	}
	if err := d.ResetMFA(ctx, "Lost phone; identity checked on a video call"); err != nil {
		t.Fatal(err)
	}
	mfa, _ := d.MFA()
	devices, _ := d.Devices()
	sessions, _ := d.Sessions()
	if state.MFAEnabled(mfa) || len(devices) != 0 || len(sessions) != 0 || !f.Called("ResetMFA", alice.ID, "Lost phone; identity checked on a video call") {
		t.Fatalf("after reset: %+v %v %v", mfa, devices, sessions)
	}
}

func TestStepUpRequiredIsRecognised(t *testing.T) {
	f := newFake()
	f.RequireStepUp = true
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	s := signedIn(t, f, supportEmail, supportPass)
	d := openDetail(t, f, s, alice.Email)
	err := d.Lock(context.Background())
	if !state.IsStepUpRequired(err) || state.IsUnauthorized(err) {
		t.Fatalf("lock: %v", err)
	}
	if err := s.StepUp(context.Background(), state.FactorTOTP, "123456"); err != nil {
		t.Fatal(err)
	}
	if err := d.Lock(context.Background()); err != nil {
		t.Fatalf("after step-up: %v", err)
	}
}

func TestRevokeAllDevices(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	f.AddDevice(alice.ID, "d1", "Firefox")
	f.AddDevice(alice.ID, "d2", "Chrome")
	s := signedIn(t, f, supportEmail, supportPass)
	d := openDetail(t, f, s, alice.Email)
	if err := d.RevokeAllDevices(context.Background()); err != nil {
		t.Fatal(err)
	}
	if list, _ := d.Devices(); len(list) != 0 || !f.Called("RevokeUserDevices", alice.ID) {
		t.Fatalf("devices %v", list)
	}
}

// The list carries each account's MFA summary: no per-user look-up, and a row keeps its
// summary when the detail pane's answers (lock, unlock) come without one.
func TestUserListShowsMFAWithoutPerUserCalls(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	f.SetMFA(alice.ID, api.MFAStatus{Factors: []api.MFAFactor{{Factor: state.FactorTOTP, Enrolled: true}, {Factor: state.FactorRecovery, Enrolled: true}}})
	bob := f.AddUser("bob@example.com", "Bob", "long enough password", api.RoleUser)
	f.SetMFA(bob.ID, api.MFAStatus{Factors: []api.MFAFactor{{Factor: state.FactorRecovery, Enrolled: true}}, Required: true})
	signedIn(t, f, adminEmail, adminPass)
	u := state.NewUsers(f)
	ctx := context.Background()
	if err := u.Search(ctx, "", "", ""); err != nil {
		t.Fatal(err)
	}
	columns := func() map[string]string {
		cols := map[string]string{}
		for _, r := range u.Rows() {
			cols[r.Email] = state.UserCells(r, t0)[4]
		}
		return cols
	}
	want := map[string]string{"alice@example.com": "TOTP, Recovery", "bob@example.com": "Off (required)", adminEmail: "Off", supportEmail: "Off"}
	for email, w := range want {
		if got := columns()[email]; got != w {
			t.Fatalf("%s: %q, want %q (all %v)", email, got, w, columns())
		}
	}
	for _, m := range f.Methods() {
		if m == "GetUser" {
			t.Fatalf("per-user look-ups: %v", f.Methods())
		}
	}
	d := state.NewUserDetail(f, f, state.CapsFor([]string{api.RoleAdmin}))
	if err := d.Open(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _ := d.User()
	u.Update(cur)
	if got := columns()["alice@example.com"]; got != "TOTP, Recovery" {
		t.Fatalf("after lock: %q", got)
	}
	// A server whose list carries no MFA shows a dash, not a guess.
	if got := state.UserCells(api.User{Email: "x@example.com"}, t0)[4]; got != "—" {
		t.Fatalf("no summary: %q", got)
	}
}
