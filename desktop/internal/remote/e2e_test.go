package remote_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TOTP (RFC 6238) is defined over HMAC-SHA1
	"encoding/base32"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/remote"
	"gatehouse/desktop/internal/state"
	"gatehouse/server/testserver"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// The console's state layer against the real server (production wiring, SQLite, loopback):
// sign in with TOTP, find a user, end a session, forget a device, lock and unlock, read and
// export events, follow the pool, step up, reset MFA as support, and return to sign-in when an
// admin ends the session.

const (
	officerEmail = "officer@example.com"
	officerPass  = "nine lives aardvark"
	helperEmail  = "helpdesk@example.com"
	helperPass   = "quiet harbour beacon"
	aliceEmail   = "alice@example.com"
	alicePass    = "violet umbrella 1865"
)

// totp computes an RFC 6238 code (SHA-1, 6 digits, 30 s), as an authenticator app would.
func totp(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		t.Fatalf("totp secret: %v", err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30)) //nolint:gosec // time is positive
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	code := (binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff) % 1_000_000
	return fmt.Sprintf("%06d", code)
}

func newClient(t *testing.T, url string, jar http.CookieJar) *client.Client {
	t.Helper()
	opts := []client.Option{client.WithHTTPClient(&http.Client{Timeout: 20 * time.Second})}
	if jar != nil {
		opts = append(opts, client.WithCookieJar(jar))
	}
	c, err := client.New(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrollTOTP enrolls an authenticator for an account, as its owner would in their settings,
// confirming with the previous time step's code so later steps stay fresh.
func enrollTOTP(t *testing.T, url, email, pass string, now time.Time) string {
	t.Helper()
	ctx := context.Background()
	c := newClient(t, url, nil)
	if _, err := c.Login(ctx, email, pass); err != nil {
		t.Fatalf("login %s: %v", email, err)
	}
	enr, err := c.EnrollTOTP(ctx)
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if err := c.ConfirmTOTP(ctx, totp(t, enr.Secret, now.Add(-30*time.Second))); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return enr.Secret
}

func TestConsoleAgainstRealServer(t *testing.T) {
	srv := testserver.Start(t, testserver.WithLoginRate(600))
	officer := srv.CreateUser(t, officerEmail, officerPass, api.RoleAdmin)
	helper := srv.CreateUser(t, helperEmail, helperPass, api.RoleSupport)
	alice := srv.CreateUser(t, aliceEmail, alicePass, api.RoleUser)
	ctx := context.Background()
	now := time.Now()
	officerSecret := enrollTOTP(t, srv.URL, officerEmail, officerPass, now)
	enrollTOTP(t, srv.URL, aliceEmail, alicePass, now)
	helperSecret := enrollTOTP(t, srv.URL, helperEmail, helperPass, now)

	// Alice is signed in on two other machines (her TOTP confirmation session is a third).
	for range 2 {
		c := newClient(t, srv.URL, nil)
		if res, err := c.Login(ctx, aliceEmail, alicePass); err != nil || res.Status != api.LoginMFARequired {
			t.Fatalf("alice: %+v %v", res, err)
		}
	}

	// The officer signs in with TOTP, remembering the device. One jar stands for the machine.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(base string) (state.Backend, error) { return remote.New(newClient(t, base, jar)), nil }
	s := state.NewSession(dial)
	stage, err := s.SignIn(ctx, srv.URL, officerEmail, officerPass)
	if err != nil || stage != state.NeedSecondFactor || !slices.Contains(s.Factors(), state.FactorTOTP) {
		t.Fatalf("sign in: %v %v %v", stage, err, s.Factors())
	}
	if err := s.Verify(ctx, state.FactorTOTP, "000000", false); state.Describe(err).Code != string(api.CodeMFAInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	if err := s.Verify(ctx, state.FactorTOTP, totp(t, officerSecret, now), true); err != nil {
		t.Fatalf("verify: %v\n%s", err, srv.Logs())
	}
	if s.Stage() != state.SignedIn || s.AAL() != api.AAL2 || !s.Caps().EditRoles || s.User().ID != officer.ID {
		t.Fatalf("signed in: %v %s %+v", s.Stage(), s.AAL(), s.Caps())
	}
	b := s.Backend()

	t.Run("dashboard", func(t *testing.T) {
		d := state.NewDashboard(b, b, b, s.Caps())
		if err := d.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		snap := d.Snapshot()
		if snap.Version.Version == "" || snap.Live.Status != api.StatusOK || snap.Ready.Status != api.StatusOK || len(snap.Latest) == 0 {
			t.Fatalf("%+v", snap)
		}
	})

	t.Run("secrets: create, reveal, new version, rollback, rotate", func(t *testing.T) {
		list := state.NewSecrets(b)
		if _, err := list.Create(ctx, state.SecretDraft{Name: "billing/prod/db-password", Value: "first-pass", Labels: "team=billing", Owner: "billing-team"}); err != nil {
			t.Fatalf("create: %v\n%s", err, srv.Logs())
		}
		if err := list.Filter(ctx, "billing/", "team=billing"); err != nil {
			t.Fatal(err)
		}
		if rows := list.Rows(); len(rows) != 1 || rows[0].Name != "billing/prod/db-password" || rows[0].CurrentVersion != 1 {
			t.Fatalf("rows %+v", rows)
		}
		timers := &fakeapi.Timers{}
		d := state.NewSecretDetail(b, timers.After)
		if err := d.Open(ctx, "billing/prod/db-password"); err != nil {
			t.Fatal(err)
		}
		hidden := false
		if err := d.Reveal(ctx, 0, func() { hidden = true }); err != nil {
			t.Fatal(err)
		}
		if v, ok := d.Revealed(); !ok || v.Value != "first-pass" || v.Version != 1 {
			t.Fatalf("revealed %+v", v)
		}
		if err := d.RefreshAudit(ctx); err != nil {
			t.Fatal(err)
		}
		recs, _, st := d.Audit()
		if st != state.SectionReady || len(recs) == 0 || recs[0].ActorID != officer.ID || recs[0].Action != "read" || recs[0].Version != 1 {
			t.Fatalf("the server audited the reveal: %+v %v", recs, st)
		}
		timers.FireAll()
		if _, ok := d.Revealed(); ok || !hidden {
			t.Fatal("hidden after the exposure time")
		}
		if err := d.NewVersion(ctx, "second-pass"); err != nil {
			t.Fatal(err)
		}
		if vs, _ := d.Versions(); len(vs) != 2 || vs[0].Version != 2 || vs[0].Stage != api.StageCurrent || vs[1].Stage != api.StagePrevious {
			t.Fatalf("versions %+v", vs)
		}
		if err := d.Rollback(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if v, err := d.ValueToCopy(ctx, 0); err != nil || v != "first-pass" {
			t.Fatalf("after rollback %q %v", v, err)
		}
		if sec, _ := d.Secret(); sec.CurrentVersion != 3 {
			t.Fatalf("rollback is a new version: %+v", sec)
		}
		if err := d.Rotate(ctx); state.Describe(err).Code != state.CodeInvalidInput {
			t.Fatalf("no policy yet: %v", err)
		}
		pol, err := state.RotationDraft{Interval: "30d", Window: "7d", Generator: state.NewGenerator("hex", 16)}.Policy()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.SetRotation(ctx, pol); err != nil {
			t.Fatalf("policy: %v\n%s", err, srv.Logs())
		}
		if sec, _ := d.Secret(); sec.Rotation == nil || sec.NextRotationAt == nil || sec.RotationDue {
			t.Fatalf("policy set: %+v", sec)
		}
		if err := d.Rotate(ctx); err != nil {
			t.Fatalf("rotate: %v\n%s", err, srv.Logs())
		}
		v, err := d.ValueToCopy(ctx, 0)
		if err != nil || len(v) != 32 || v == "first-pass" {
			t.Fatalf("rotated value: %d chars, %v", len(v), err)
		}
		if sec, _ := d.Secret(); sec.CurrentVersion != 4 || sec.LastRotatedAt == nil {
			t.Fatalf("rotated: %+v", sec)
		}
		actions := map[string]bool{}
		recs, _, _ = d.Audit()
		for _, r := range recs {
			actions[r.Action] = true
		}
		if len(actions) < 3 {
			t.Fatalf("audit actions %v", actions)
		}

		ops := state.NewSecretOps(b)
		if err := ops.Load(ctx); err != nil {
			t.Fatalf("backends and keys: %v\n%s", err, srv.Logs())
		}
		backends, bst := ops.Backends()
		if bst != state.SectionReady || len(backends) == 0 || !slices.ContainsFunc(backends, func(x api.SecretBackend) bool { return x.Kind == "db" && x.Healthy && x.Default }) {
			t.Fatalf("backends %+v %v", backends, bst)
		}
		if k, kst := ops.Keys(); kst != state.SectionReady || k.CurrentVersion < 1 {
			t.Fatalf("keys %+v %v", k, kst)
		}
	})

	t.Run("delete and restore a secret; the admin-wide audit trail", func(t *testing.T) {
		list := state.NewSecrets(b)
		if _, err := list.Create(ctx, state.SecretDraft{Name: "scratch/temp-token", Value: "short-lived"}); err != nil {
			t.Fatal(err)
		}
		d := state.NewSecretDetail(b, nil)
		if err := d.Open(ctx, "scratch/temp-token"); err != nil {
			t.Fatal(err)
		}
		gone, err := d.Delete(ctx)
		if err != nil || gone.DeletedAt == nil || gone.PurgeAfter == nil || !gone.PurgeAfter.After(time.Now()) {
			t.Fatalf("delete %+v %v\n%s", gone, err, srv.Logs())
		}
		if err := list.Filter(ctx, "scratch/", ""); err != nil || len(list.Rows()) != 0 {
			t.Fatalf("live list %+v %v", list.Rows(), err)
		}
		if err := list.ShowDeleted(ctx, true); err != nil {
			t.Fatal(err)
		}
		if rows := list.Rows(); len(rows) != 1 || rows[0].Name != "scratch/temp-token" || !strings.HasPrefix(state.RecoveryDeadline(rows[0], time.Now()), "until ") {
			t.Fatalf("deleted list %+v", rows)
		}
		if _, err := list.Restore(ctx, "scratch/temp-token"); err != nil || len(list.Rows()) != 0 {
			t.Fatalf("restore %v %+v", err, list.Rows())
		}
		if err := d.Open(ctx, "scratch/temp-token"); err != nil {
			t.Fatalf("restored secret: %v", err)
		}
		a := state.NewSecretAudit(b, b)
		if err := a.Apply(ctx, state.SecretAuditFilter{Actor: officerEmail, Secret: "scratch/temp-token", Since: time.Now().Add(-time.Hour)}); err != nil {
			t.Fatalf("audit: %v\n%s", err, srv.Logs())
		}
		var actions []string
		for _, r := range a.Rows() {
			actions = append(actions, r.Action)
			if a.Actor(r) != officerEmail {
				t.Fatalf("actor %q", a.Actor(r))
			}
		}
		for _, want := range []string{"create", "delete", "restore"} {
			if !slices.Contains(actions, want) {
				t.Fatalf("audit actions %v, want %s", actions, want)
			}
		}
		all, err := a.Export(ctx)
		if err != nil || len(all) != len(a.Rows()) {
			t.Fatalf("export %d %v", len(all), err)
		}
	})

	t.Run("providers: create, edit without the secret, disable, delete", func(t *testing.T) {
		p := state.NewOAuthProviders(b)
		if err := p.Load(ctx); err != nil {
			t.Fatalf("list: %v\n%s", err, srv.Logs())
		}
		d := state.NewProviderDraft(api.ProviderGitHub)
		d.ClientID, d.ClientSecret, d.AllowedDomains = "gh-client", "gh-client-secret", "example.com"
		saved, err := p.Save(ctx, d)
		if err != nil || !saved.HasClientSecret || saved.Slug != "github" || !saved.Enabled {
			t.Fatalf("create %+v %v\n%s", saved, err, srv.Logs())
		}
		public, err := s.Providers(ctx, srv.URL)
		if err != nil || !slices.ContainsFunc(public, func(x api.PublicProvider) bool { return x.Slug == "github" }) {
			t.Fatalf("public providers %+v %v", public, err)
		}
		edit := state.DraftForProvider(saved)
		edit.DisplayName = "GitHub Enterprise"
		if saved, err = p.Save(ctx, edit); err != nil || saved.DisplayName != "GitHub Enterprise" || !saved.HasClientSecret {
			t.Fatalf("edit keeps the secret: %+v %v", saved, err)
		}
		if err := p.SetEnabled(ctx, saved.ID, false); err != nil {
			t.Fatal(err)
		}
		public, _ = s.Providers(ctx, srv.URL)
		if slices.ContainsFunc(public, func(x api.PublicProvider) bool { return x.Slug == "github" }) {
			t.Fatal("a disabled provider has no button")
		}
		if err := p.Delete(ctx, saved.ID); err != nil || len(p.Rows()) != 0 {
			t.Fatalf("delete %v %+v", err, p.Rows())
		}
		ud := state.NewUserDetail(b, b, s.Caps())
		if err := ud.Open(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		if ids, st := ud.Identities(); st != state.SectionReady || len(ids) != 0 {
			t.Fatalf("identities %+v %v", ids, st)
		}
	})

	t.Run("find alice, end a session, lock and unlock", func(t *testing.T) {
		u := state.NewUsers(b)
		if err := u.Search(ctx, "alice", "", ""); err != nil {
			t.Fatal(err)
		}
		if rows := u.Rows(); len(rows) != 1 || rows[0].ID != alice.ID {
			t.Fatalf("rows %+v", rows)
		}
		// The list carries the MFA summary (one batched look-up on the server).
		if got := state.UserCells(u.Rows()[0], now)[4]; got != "TOTP" {
			t.Fatalf("MFA column %q", got)
		}
		d := state.NewUserDetail(b, b, s.Caps())
		if err := d.Open(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		sessions, st := d.Sessions()
		if st != state.SectionReady || len(sessions) != 1 {
			// Pending logins are not sessions: only the enrollment's session is live.
			t.Fatalf("sessions %+v %v", sessions, st)
		}
		if mfa, st := d.MFA(); st != state.SectionReady || !state.MFAEnabled(mfa) {
			t.Fatalf("mfa %+v %v", mfa, st)
		}
		if err := d.RevokeSession(ctx, sessions[0].ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := d.Sessions(); len(list) != 0 {
			t.Fatalf("after revoke %+v", list)
		}
		if err := d.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.User(); got.Status != api.UserLocked {
			t.Fatalf("status %s", got.Status)
		}
		if _, err := newClient(t, srv.URL, nil).Login(ctx, aliceEmail, alicePass); state.Describe(err).Code != string(api.CodeInvalidCredentials) {
			t.Fatalf("a locked account cannot sign in: %v", err)
		}
		if err := d.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("events, filtered by email, exported", func(t *testing.T) {
		e := state.NewEvents(b, b)
		if err := e.Apply(ctx, state.EventFilter{User: aliceEmail}); err != nil {
			t.Fatal(err)
		}
		types := map[string]bool{}
		for _, ev := range e.Rows() {
			types[ev.Type] = true
			if ev.ActorID != alice.ID && ev.SubjectUserID != alice.ID {
				t.Fatalf("an event about someone else: %+v", ev)
			}
		}
		if !types[api.EventUserStatusChanged] || !types[api.EventSessionRevoked] {
			t.Fatalf("types %v", types)
		}
		all, err := e.Export(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := state.WriteEventsCSV(&buf, all, e.Name); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(recs) != len(all)+1 || !slices.Contains(recs[1], aliceEmail) {
			t.Fatalf("csv %d rows %v: %q", len(recs), err, recs[1])
		}
	})

	t.Run("pool stream", func(t *testing.T) {
		p := state.NewPool(b, nil, nil)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err := p.Follow(sctx, func() {
			if len(p.Points()) >= 2 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || len(p.Points()) < 2 {
			t.Fatalf("%v, %d samples", err, len(p.Points()))
		}
		if last, _ := p.Latest(); last.Dialect != "sqlite" || last.MaxOpenConnections == 0 {
			t.Fatalf("%+v", last)
		}
	})

	t.Run("support resets alice's MFA and cannot touch the officer", func(t *testing.T) {
		hs := state.NewSession(remote.Dial)
		if stage, err := hs.SignIn(ctx, srv.URL, helperEmail, helperPass); err != nil || stage != state.NeedSecondFactor {
			t.Fatalf("support signs in: %v %v", stage, err)
		}
		if err := hs.Verify(ctx, state.FactorTOTP, totp(t, helperSecret, now), false); err != nil {
			t.Fatal(err)
		}
		caps := hs.Caps()
		if caps.EditRoles || caps.ViewEvents || !caps.ResetMFA {
			t.Fatalf("caps %+v", caps)
		}
		hb := hs.Backend()
		if _, err := hb.ListEvents(ctx, api.SecurityEventQuery{}); state.Describe(err).Code != string(api.CodeForbidden) {
			t.Fatalf("support reads no events: %v", err)
		}
		d := state.NewUserDetail(hb, hb, caps)
		if err := d.Open(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.ResetMFA(ctx, "Lost phone; identity checked on a video call"); err != nil {
			t.Fatalf("reset: %v\n%s", err, srv.Logs())
		}
		if mfa, _ := d.MFA(); state.MFAEnabled(mfa) {
			t.Fatalf("after reset %+v", mfa)
		}
		od := state.NewUserDetail(hb, hb, caps)
		if err := od.Open(ctx, officer.ID); err != nil {
			t.Fatal(err)
		}
		if err := od.ResetMFA(ctx, "trying to reset an admin"); !errors.Is(err, state.ErrNotAllowed) {
			t.Fatalf("support cannot reset an admin: %v", err)
		}

		// The officer ends the helper's sessions: the helper's next call is a 401.
		ad := state.NewUserDetail(b, b, s.Caps())
		if err := ad.Open(ctx, helper.ID); err != nil {
			t.Fatal(err)
		}
		if err := ad.RevokeAllSessions(ctx); err != nil {
			t.Fatal(err)
		}
		if err := d.Refresh(ctx); !state.IsUnauthorized(err) {
			t.Fatalf("the helper's session ended: %v", err)
		}
		hs.Expire(state.Place{Screen: state.ScreenUsers, UserID: alice.ID})
		if _, err := hs.SignIn(ctx, srv.URL, helperEmail, helperPass); err != nil {
			t.Fatal(err)
		}
		if err := hs.Verify(ctx, state.FactorTOTP, totp(t, helperSecret, now.Add(30*time.Second)), false); err != nil {
			t.Fatal(err)
		}
		if p, ok := hs.Resume(); !ok || p.UserID != alice.ID {
			t.Fatalf("resume %+v %v", p, ok)
		}
	})

	t.Run("a trusted device signs in at aal1; admin work asks for a step-up", func(t *testing.T) {
		// Same machine (jar): the device token from the first sign-in skips the second factor.
		s2 := state.NewSession(dial)
		if stage, err := s2.SignIn(ctx, srv.URL, officerEmail, officerPass); err != nil || stage != state.SignedIn || s2.AAL() != api.AAL1 {
			t.Fatalf("sign in on a trusted device: %v %v %s", stage, err, s2.AAL())
		}
		b2 := s2.Backend()
		u := state.NewUsers(b2)
		err := u.Search(ctx, "", "", "")
		if !state.IsStepUpRequired(err) {
			t.Fatalf("admin work at aal1: %v", err)
		}
		if got := s2.StepUpFactors(ctx); !slices.Contains(got, state.FactorTOTP) {
			t.Fatalf("step-up factors %v", got)
		}
		if err := s2.StepUp(ctx, state.FactorTOTP, totp(t, officerSecret, now.Add(30*time.Second))); err != nil {
			t.Fatalf("step-up: %v\n%s", err, srv.Logs())
		}
		if err := u.Search(ctx, "", "", ""); err != nil || s2.AAL() != api.AAL2 {
			t.Fatalf("after the step-up: %v", err)
		}

		// Forget the device: the next sign-in on this machine asks for the second factor again.
		d := state.NewUserDetail(b2, b2, s2.Caps())
		if err := d.Open(ctx, officer.ID); err != nil {
			t.Fatal(err)
		}
		devices, st := d.Devices()
		if st != state.SectionReady || len(devices) != 1 {
			t.Fatalf("devices %+v %v", devices, st)
		}
		if err := d.RevokeDevice(ctx, devices[0].ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := d.Devices(); len(list) != 0 {
			t.Fatalf("after revoke %+v", list)
		}
		if stage, err := state.NewSession(dial).SignIn(ctx, srv.URL, officerEmail, officerPass); err != nil || stage != state.NeedSecondFactor {
			t.Fatalf("a forgotten device: %v %v", stage, err)
		}
	})
}
