package app_test

import (
	"context"
	"slices"
	"testing"

	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// The admin user list carries each account's MFA summary (one batched look-up per page), the
// account endpoint the same summary next to the full status, and a reset shows at once.
func TestUserListMFASummary(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		m := newMFAEnv(t, dialect)
		alice := m.CreateUser(t, userEmail, userPass)
		user := m.LoginCookie(t, userEmail, userPass)
		a := enrollTOTP(t, user)
		user = m.loginTOTP(t, userEmail, userPass, a)
		if _, err := user.RegenerateRecoveryCodes(ctx); err != nil {
			t.Fatal(err)
		}
		const bobEmail, bobPass, phone = "bob@example.com", "sturdy-lighthouse-keeper-42", "+14155550199"
		bob := m.CreateUser(t, bobEmail, bobPass)
		bc := m.LoginCookie(t, bobEmail, bobPass)
		if _, err := bc.EnrollSMS(ctx, phone); err != nil {
			t.Fatal(err)
		}
		if err := bc.ConfirmFactor(ctx, api.FactorSMS, m.smsCode(t, phone)); err != nil {
			t.Fatal(err)
		}
		const carolEmail, carolPass = "carol@example.com", "quiet-orchard-lantern-17"
		carol := m.CreateUser(t, carolEmail, carolPass)
		m.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		admin := m.loginTOTP(t, adminEmail, adminPass, enrollTOTP(t, m.LoginCookie(t, adminEmail, adminPass))) // a reset needs aal2

		summaries := func() map[string]*api.MFASummary {
			t.Helper()
			list, err := admin.ListUsers(ctx, api.UserQuery{PerPage: 50})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]*api.MFASummary{}
			for _, u := range list.Users {
				if u.MFASummary == nil {
					t.Fatalf("%s listed without mfa_summary", u.Email)
				}
				if u.MFA != nil {
					t.Fatalf("%s listed with the full status", u.Email)
				}
				out[u.ID] = u.MFASummary
			}
			return out
		}
		got := summaries()
		check := func(id string, enrolled bool, factors ...string) {
			t.Helper()
			s := got[id]
			if s == nil || s.Enrolled != enrolled || !slices.Equal(s.Factors, factors) {
				t.Fatalf("summary of %s: %+v, want enrolled=%v %v", id, s, enrolled, factors)
			}
		}
		check(alice.ID, true, api.FactorTOTP, api.FactorRecoveryCode)
		check(bob.ID, true, api.FactorSMS)
		check(carol.ID, false)

		one, err := admin.GetUser(ctx, alice.ID)
		if err != nil || one.MFA == nil || one.MFASummary == nil {
			t.Fatalf("account endpoint: %+v %v", one, err)
		}
		if !slices.Equal(one.MFASummary.Factors, got[alice.ID].Factors) || one.MFASummary.Enrolled != got[alice.ID].Enrolled {
			t.Fatalf("account endpoint summary %+v, list %+v", one.MFASummary, got[alice.ID])
		}

		if err := admin.ResetMFA(ctx, alice.ID, "lost phone, checked by video call"); err != nil {
			t.Fatal(err)
		}
		got = summaries()
		check(alice.ID, false)
		check(bob.ID, true, api.FactorSMS)

		// Plain users do not list accounts at all.
		if _, err := bc.ListUsers(ctx, api.UserQuery{}); client.ErrorCode(err) != api.CodeForbidden {
			t.Fatalf("user listing: %v", err)
		}
	})
}
