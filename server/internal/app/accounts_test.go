package app_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

const (
	adminEmail = "root@example.com"
	adminPass  = "correct horse battery staple"
	userEmail  = "alice@example.com"
	userPass   = "wonderland-rabbit-hole-42"
)

func code(t *testing.T, err error, want api.Code) {
	t.Helper()
	if got := client.ErrorCode(err); got != want {
		t.Fatalf("want code %q, got %v", want, err)
	}
}

func events(t *testing.T, admin *client.Client, typ, userID string) []api.SecurityEvent {
	t.Helper()
	res, err := admin.ListEvents(context.Background(), client.EventQuery{Type: typ, UserID: userID, PerPage: 200})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return res.Events
}

// TestCookieSessionLifecycle covers login, CSRF, me, logout on both dialects.
func TestCookieSessionLifecycle(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		u := env.CreateUser(t, userEmail, userPass)
		c := env.NewClient(t)

		res, err := c.Login(ctx, "  Alice@Example.com ", userPass)
		if err != nil || res.Status != api.LoginOK || res.User.ID != u.ID || res.CSRFToken == "" {
			t.Fatalf("login: %+v %v", res, err)
		}
		me, err := c.Me(ctx)
		if err != nil || me.Email != userEmail || me.LastLoginAt == nil || !me.HasPassword {
			t.Fatalf("me: %+v %v", me, err)
		}
		name := "Alice Liddell"
		if me, err = c.UpdateMe(ctx, api.UpdateMeRequest{DisplayName: &name}); err != nil || me.DisplayName != name {
			t.Fatalf("update me: %+v %v", me, err)
		}
		if tok, err := c.CSRF(ctx); err != nil || tok != res.CSRFToken {
			t.Fatalf("csrf: %q %v", tok, err)
		}
		sessions, err := c.MySessions(ctx)
		if err != nil || len(sessions) != 1 || !sessions[0].Current || sessions[0].Kind != "cookie" || sessions[0].AAL != api.AAL1 {
			t.Fatalf("sessions: %+v %v", sessions, err)
		}
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		_, err = c.Me(ctx)
		code(t, err, api.CodeUnauthorized)
	})
}

// SEC-11: the session cookie's attributes.
func TestSEC11CookieAttributes(t *testing.T) {
	for _, secure := range []bool{false, true} {
		env := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.Cookie.Secure = &secure }))
		env.CreateUser(t, userEmail, userPass)
		resp := rawPost(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, nil)
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies: %v", cookies)
		}
		ck := cookies[0]
		wantName := "gatehouse_session"
		if secure {
			wantName = "__Host-gatehouse_session"
		}
		if ck.Name != wantName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure != secure || ck.Domain != "" {
			t.Fatalf("secure=%v cookie: %+v", secure, ck)
		}
		// SEC-10: at least 256 bits of randomness (43 base64url characters).
		if len(ck.Value) < 43 {
			t.Fatalf("token too short: %d", len(ck.Value))
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("auth responses must not be cached (SEC-52): %q", cc)
		}
	}
}

// SEC-10: a new token on every login; a pre-login cookie never survives login.
func TestSEC10NewTokenOnLoginNoFixation(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	env.CreateUser(t, userEmail, userPass)
	first := rawPost(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, nil).Cookies()[0]
	// The same browser logs in again, presenting its existing cookie.
	second := rawPost(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, first).Cookies()[0]
	if first.Value == second.Value {
		t.Fatal("login must issue a new token")
	}
	if resp := rawGet(t, env.URL+"/api/v1/me", first); resp.StatusCode != 401 {
		t.Fatalf("the pre-login cookie still works: %d", resp.StatusCode)
	}
	if resp := rawGet(t, env.URL+"/api/v1/me", second); resp.StatusCode != 200 {
		t.Fatalf("the new cookie fails: %d", resp.StatusCode)
	}
	// An attacker-chosen cookie value is never adopted.
	fixed := &http.Cookie{Name: "gatehouse_session", Value: strings.Repeat("A", 43)}
	third := rawPost(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, fixed).Cookies()[0]
	if third.Value == fixed.Value {
		t.Fatal("session fixation: the server adopted the client's cookie value")
	}
}

// SEC-14: unsafe cookie requests need the session's CSRF token; bearer requests do not.
func TestSEC14CSRF(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		env.CreateUser(t, userEmail, userPass)
		c := env.LoginCookie(t, userEmail, userPass)
		name := "New Name"
		body := api.UpdateMeRequest{DisplayName: &name}

		c.SetCSRFToken("")
		_, err := c.UpdateMe(ctx, body)
		code(t, err, api.CodeCSRFFailed)
		c.SetCSRFToken("wrong-token")
		_, err = c.UpdateMe(ctx, body)
		code(t, err, api.CodeCSRFFailed)
		if me, _ := c.CSRF(ctx); me == "" { // GET needs no token and hands it back
			t.Fatal("no csrf token")
		}
		if _, err := c.UpdateMe(ctx, body); err != nil {
			t.Fatalf("with the right token: %v", err)
		}
		// Another session's CSRF token does not work for this one.
		other := env.LoginCookie(t, userEmail, userPass)
		otherTok, _ := other.CSRF(ctx)
		c.SetCSRFToken(otherTok)
		_, err = c.UpdateMe(ctx, body)
		code(t, err, api.CodeCSRFFailed)

		b, _ := env.LoginBearer(t, userEmail, userPass)
		if _, err := b.UpdateMe(ctx, body); err != nil {
			t.Fatalf("bearer requests need no CSRF token: %v", err)
		}
	})
}

// SEC-04: unknown user, wrong password, locked and disabled accounts answer identically.
func TestSEC04UniformLoginFailures(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	admin := env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	_ = admin
	locked := env.CreateUser(t, "locked@example.com", userPass)
	disabled := env.CreateUser(t, "disabled@example.com", userPass)
	env.CreateUser(t, userEmail, userPass)
	ac := env.LoginCookie(t, adminEmail, adminPass)
	if _, err := ac.LockUser(ctx, locked.ID); err != nil {
		t.Fatal(err)
	}
	st := api.UserDisabled
	if _, err := ac.UpdateUser(ctx, disabled.ID, api.UpdateUserRequest{Status: &st}); err != nil {
		t.Fatal(err)
	}
	var first *api.Error
	for i, try := range [][2]string{{"nobody@example.com", userPass}, {userEmail, "wrong-password-entirely"}, {"locked@example.com", userPass}, {"disabled@example.com", userPass}} {
		_, err := env.NewClient(t).Login(ctx, try[0], try[1])
		var e *api.Error
		if !asAPI(err, &e) || e.HTTPStatus != 401 || e.Code != api.CodeInvalidCredentials {
			t.Fatalf("case %d: %v", i, err)
		}
		if first == nil {
			first = e
		} else if e.Message != first.Message || len(e.Details) != len(first.Details) {
			t.Fatalf("case %d answers differently: %+v vs %+v", i, e, first)
		}
		// The token endpoint too.
		_, err = env.NewClient(t).TokenWithPassword(ctx, try[0], try[1])
		code(t, err, api.CodeInvalidCredentials)
	}
	// The reasons are in the security events, not in the answers.
	reasons := map[string]bool{}
	for _, e := range events(t, ac, api.EventLoginFailed, "") {
		reasons[e.Details["reason"].(string)] = true
	}
	for _, r := range []string{"unknown_user", "wrong_password", "account_locked", "account_disabled"} {
		if !reasons[r] {
			t.Errorf("no login.failed event with reason %s: %v", r, reasons)
		}
	}
}

// SEC-05: repeated failures lock the (account, IP) pair with 429 and Retry-After, an account
// is not locked for a user at another address, and the lock is recorded.
func TestSEC05ThrottlingAndLockout(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1"} }))
	env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	u := env.CreateUser(t, userEmail, userPass)
	attacker := &http.Header{"X-Forwarded-For": {"203.0.113.7"}}
	var status []int
	var retryAfter string
	for range 7 {
		resp := rawPostH(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"not-the-password-123"}`, *attacker)
		status = append(status, resp.StatusCode)
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if status[0] != 401 || status[len(status)-1] != 429 || retryAfter == "" {
		t.Fatalf("statuses %v, Retry-After %q", status, retryAfter)
	}
	// Even the right password is refused from the locked address...
	if resp := rawPostH(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, *attacker); resp.StatusCode != 429 {
		t.Fatalf("locked pair accepted a login: %d", resp.StatusCode)
	}
	// ...but the real user at another address still signs in.
	if resp := rawPostH(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, http.Header{"X-Forwarded-For": {"198.51.100.20"}}); resp.StatusCode != 200 {
		t.Fatalf("the user was locked out from another address: %d", resp.StatusCode)
	}
	ac := env.LoginCookie(t, adminEmail, adminPass)
	if locks := events(t, ac, api.EventAccountLocked, u.ID); len(locks) == 0 || locks[0].IP != "203.0.113.7" {
		t.Fatalf("account.locked events: %+v", locks)
	}
}

// SEC-07, SEC-12: a password change needs the current password and ends the other sessions.
func TestSEC07PasswordChange(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		env.CreateUser(t, userEmail, userPass)
		c := env.LoginCookie(t, userEmail, userPass)
		other := env.LoginCookie(t, userEmail, userPass)
		bearer, tok := env.LoginBearer(t, userEmail, userPass)

		code(t, c.ChangePassword(ctx, "not the current one", "a-brand-new-passphrase"), api.CodeInvalidRequest)
		err := c.ChangePassword(ctx, userPass, "short")
		var e *api.Error
		if !asAPI(err, &e) || e.Code != api.CodeInvalidRequest || e.Details["reason"] != "too_short" {
			t.Fatalf("policy: %v", err)
		}
		if _, err := other.Me(ctx); err != nil {
			t.Fatal("failed attempts must not end sessions")
		}
		if err := c.ChangePassword(ctx, userPass, "a-brand-new-passphrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Me(ctx); err != nil {
			t.Fatalf("the session that changed the password continues: %v", err)
		}
		_, err = other.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		_, err = bearer.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		_, err = env.NewClient(t).Refresh(ctx, tok.RefreshToken)
		code(t, err, api.CodeInvalidGrant)
		_, err = env.NewClient(t).Login(ctx, userEmail, userPass)
		code(t, err, api.CodeInvalidCredentials)
		env.LoginCookie(t, userEmail, "a-brand-new-passphrase")
	})
}

// SEC-02, SEC-03: the password policy through the API.
func TestSEC02SEC03PasswordPolicy(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	cases := map[string]string{
		"short":                   "too_short",
		"password1234":            "common",
		strings.Repeat("x", 1025): "",
		"alice-is-my-name-ok":     "contains_email",
	}
	for pw, reason := range cases {
		_, err := env.NewClient(t).Register(ctx, api.RegisterRequest{Email: userEmail, Password: pw})
		var e *api.Error
		if !asAPI(err, &e) || e.Code != api.CodeInvalidRequest || (reason != "" && e.Details["reason"] != reason) {
			t.Errorf("%.20q: want reason %q, got %v", pw, reason, err)
		}
	}
	// Any Unicode, spaces included, up to the cap; nothing truncated.
	long := strings.Repeat("пароль🔑 ", 60) // 60 × 17 bytes = 1020 bytes
	c := env.NewClient(t)
	if _, err := c.Register(ctx, api.RegisterRequest{Email: userEmail, Password: long}); err != nil {
		t.Fatalf("unicode passphrase: %v", err)
	}
	_, err := env.NewClient(t).Login(ctx, userEmail, long[:len(long)-1])
	code(t, err, api.CodeInvalidCredentials)
	env.LoginCookie(t, userEmail, long)
}

// SEC-01: a hash made with older, weaker parameters is upgraded at the next login.
func TestSEC01RehashOnLogin(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	u := env.CreateUser(t, userEmail, userPass)
	weak, err := argon2id.CreateHash(userPass, &argon2id.Params{Memory: 8192, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := env.App.DB.Users().Get(ctx, u.ID)
	stored.PasswordHash = weak
	if err := env.App.DB.Users().Update(ctx, stored); err != nil {
		t.Fatal(err)
	}
	env.LoginCookie(t, userEmail, userPass)
	after, _ := env.App.DB.Users().Get(ctx, u.ID)
	if !strings.HasPrefix(after.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash not upgraded: %s", after.PasswordHash[:30])
	}
	env.LoginCookie(t, userEmail, userPass)
}

// SEC-12, SEC-15, SEC-16: bearer tokens, refresh rotation, reuse detection, revocation.
func TestSEC16BearerTokensAndRefreshRotation(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		u := env.CreateUser(t, userEmail, userPass)
		c, tok := env.LoginBearer(t, userEmail, userPass)
		if tok.TokenType != "Bearer" || tok.ExpiresIn < 890 || tok.ExpiresIn > 900 || tok.RefreshToken == "" {
			t.Fatalf("token response: %+v", tok)
		}
		if me, err := c.Me(ctx); err != nil || me.ID != u.ID {
			t.Fatalf("me with bearer: %v", err)
		}

		// Rotation: the refresh token is spent, a new one works.
		r2, err := env.NewClient(t).Refresh(ctx, tok.RefreshToken)
		if err != nil || r2.RefreshToken == tok.RefreshToken || r2.AccessToken == "" {
			t.Fatalf("refresh: %+v %v", r2, err)
		}
		r3, err := env.NewClient(t).Refresh(ctx, r2.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		// Replay of a spent token revokes the whole family, and is recorded.
		_, err = env.NewClient(t).Refresh(ctx, tok.RefreshToken)
		code(t, err, api.CodeInvalidGrant)
		_, err = env.NewClient(t).Refresh(ctx, r3.RefreshToken)
		code(t, err, api.CodeInvalidGrant)
		c.SetBearerToken(r3.AccessToken)
		_, err = c.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		ac := env.LoginCookie(t, adminEmail, adminPass)
		if got := events(t, ac, api.EventTokenRefreshReused, u.ID); len(got) != 1 {
			t.Fatalf("refresh reuse events: %+v", got)
		}

		// Revocation (RFC 7009): the access token and the refresh token stop working.
		c2, t2 := env.LoginBearer(t, userEmail, userPass)
		if err := env.NewClient(t).RevokeToken(ctx, t2.RefreshToken); err != nil {
			t.Fatal(err)
		}
		_, err = c2.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		if err := env.NewClient(t).RevokeToken(ctx, "never-issued"); err != nil {
			t.Fatalf("unknown tokens revoke quietly: %v", err)
		}
		// Revoking by access token ends the session too.
		c3, t3 := env.LoginBearer(t, userEmail, userPass)
		if err := env.NewClient(t).RevokeToken(ctx, t3.AccessToken); err != nil {
			t.Fatal(err)
		}
		_, err = c3.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		_, err = env.NewClient(t).Refresh(ctx, t3.RefreshToken)
		code(t, err, api.CodeInvalidGrant)
	})
}

// SEC-15 through the API: forged and malformed bearer tokens are refused.
func TestSEC15ForgedTokensRefused(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	env.CreateUser(t, userEmail, userPass)
	_, tok := env.LoginBearer(t, userEmail, userPass)
	parts := strings.Split(tok.AccessToken, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	for name, bad := range map[string]string{
		"alg none":         none,
		"tampered payload": parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","sid":"y"}`)) + "." + parts[2],
		"garbage":          "not.a.jwt",
		"empty signature":  parts[0] + "." + parts[1] + ".",
	} {
		c := env.NewClient(t)
		c.SetBearerToken(bad)
		_, err := c.Me(ctx)
		if client.ErrorCode(err) != api.CodeUnauthorized {
			t.Errorf("%s: %v", name, err)
		}
	}
	resp := rawGetH(t, env.URL+"/api/v1/me", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}})
	if resp.StatusCode != 401 {
		t.Fatalf("basic auth: %d", resp.StatusCode)
	}
}

// Offline verification: an access token verifies with a key from /.well-known/jwks.json.
func TestJWKSVerifiesAccessTokens(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	env.CreateUser(t, userEmail, userPass)
	_, tok := env.LoginBearer(t, userEmail, userPass)
	set, err := env.NewClient(t).JWKS(context.Background())
	if err != nil || len(set.Keys) != 1 || set.Keys[0].Alg != "EdDSA" || set.Keys[0].Crv != "Ed25519" {
		t.Fatalf("jwks: %+v %v", set, err)
	}
	pub, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.AccessToken, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(ed25519.PublicKey(pub), []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the access token does not verify with the published key")
	}
}

// Introspection answers exactly, including revoked sessions; only admins may ask (SEC-51).
func TestIntrospect(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	u := env.CreateUser(t, userEmail, userPass)
	ac, _ := env.LoginBearer(t, adminEmail, adminPass)
	uc, tok := env.LoginBearer(t, userEmail, userPass)
	in, err := ac.Introspect(ctx, tok.AccessToken)
	if err != nil || !in.Active || in.Subject != u.ID || in.AAL != api.AAL1 || !slices.Contains(in.Roles, api.RoleUser) || in.ExpiresAt == 0 {
		t.Fatalf("introspect: %+v %v", in, err)
	}
	_, err = uc.Introspect(ctx, tok.AccessToken)
	code(t, err, api.CodeForbidden)
	if err := uc.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if in, err := ac.Introspect(ctx, tok.AccessToken); err != nil || in.Active {
		t.Fatalf("revoked session still active: %+v %v", in, err)
	}
	if in, err := ac.Introspect(ctx, "junk"); err != nil || in.Active {
		t.Fatalf("junk: %+v %v", in, err)
	}
}

// SEC-17, SEC-51: sessions listed and revoked by their owner and by admins and support, with
// no way to reach another user's session.
func TestSEC17SessionsAndSEC51ObjectLevel(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		env.CreateUser(t, "help@example.com", "support-person-passphrase", api.RoleSupport)
		alice := env.CreateUser(t, userEmail, userPass)
		env.CreateUser(t, "bob@example.com", "builder-of-long-phrases")
		a1 := env.LoginCookie(t, userEmail, userPass)
		a2 := env.LoginCookie(t, userEmail, userPass)
		bob := env.LoginCookie(t, "bob@example.com", "builder-of-long-phrases")

		mine, err := a1.MySessions(ctx)
		if err != nil || len(mine) != 2 {
			t.Fatalf("alice's sessions: %v %v", mine, err)
		}
		var other string
		for _, s := range mine {
			if !s.Current {
				other = s.ID
			}
		}
		// Bob cannot see or revoke Alice's session: not found, not forbidden.
		code(t, bob.RevokeMySession(ctx, other), api.CodeNotFound)
		if _, err := a2.Me(ctx); err != nil {
			t.Fatal("bob's attempt must not have revoked anything")
		}
		if err := a1.RevokeMySession(ctx, other); err != nil {
			t.Fatal(err)
		}
		_, err = a2.Me(ctx)
		code(t, err, api.CodeUnauthorized)

		// Support lists and revokes a user's sessions; the user is signed out at once (SEC-12).
		sup := env.LoginCookie(t, "help@example.com", "support-person-passphrase")
		list, err := sup.UserSessions(ctx, alice.ID)
		if err != nil || len(list) != 1 {
			t.Fatalf("support list: %v %v", list, err)
		}
		if err := sup.RevokeUserSession(ctx, alice.ID, list[0].ID); err != nil {
			t.Fatal(err)
		}
		_, err = a1.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		a3 := env.LoginCookie(t, userEmail, userPass)
		ac := env.LoginCookie(t, adminEmail, adminPass)
		if err := ac.RevokeUserSessions(ctx, alice.ID); err != nil {
			t.Fatal(err)
		}
		_, err = a3.Me(ctx)
		code(t, err, api.CodeUnauthorized)
		// A session ID of another user under this user's path is not found.
		bobSessions, _ := bob.MySessions(ctx)
		code(t, ac.RevokeUserSession(ctx, alice.ID, bobSessions[0].ID), api.CodeNotFound)
	})
}

// SEC-51: every admin and support route refuses a plain user; support cannot change roles or
// touch an admin; the last admin cannot be demoted.
func TestSEC51RoleChecks(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	admin := env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	env.CreateUser(t, "help@example.com", "support-person-passphrase", api.RoleSupport)
	alice := env.CreateUser(t, userEmail, userPass)
	uc := env.LoginCookie(t, userEmail, userPass)
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/admin/users"}, {"POST", "/api/v1/admin/users"}, {"GET", "/api/v1/admin/users/" + admin.ID},
		{"PATCH", "/api/v1/admin/users/" + admin.ID}, {"POST", "/api/v1/admin/users/" + admin.ID + "/lock"},
		{"POST", "/api/v1/admin/users/" + admin.ID + "/unlock"}, {"GET", "/api/v1/admin/users/" + admin.ID + "/sessions"},
		{"DELETE", "/api/v1/admin/users/" + admin.ID + "/sessions"}, {"DELETE", "/api/v1/admin/users/" + admin.ID + "/sessions/x"},
		{"GET", "/api/v1/admin/events"}, {"GET", "/api/v1/admin/pool"}, {"GET", "/api/v1/admin/pool/stream"}, {"POST", "/api/v1/auth/introspect"},
	} {
		var body any
		if r.method != "GET" && r.method != "DELETE" {
			body = map[string]any{}
		}
		_, err := uc.Do(ctx, r.method, r.path, body, nil)
		if client.ErrorCode(err) != api.CodeForbidden {
			t.Errorf("user %s %s: %v", r.method, r.path, err)
		}
	}
	sup := env.LoginCookie(t, "help@example.com", "support-person-passphrase")
	roles := []string{api.RoleAdmin}
	_, err := sup.UpdateUser(ctx, alice.ID, api.UpdateUserRequest{Roles: &roles})
	code(t, err, api.CodeForbidden)
	_, err = sup.LockUser(ctx, admin.ID)
	code(t, err, api.CodeForbidden)
	code(t, sup.RevokeUserSessions(ctx, admin.ID), api.CodeForbidden)
	if u, err := sup.LockUser(ctx, alice.ID); err != nil || u.Status != api.UserLocked {
		t.Fatalf("support locks a user: %v", err)
	}
	_, err = sup.CreateUser(ctx, api.CreateUserRequest{Email: "x@example.com", Password: "another-long-passphrase"})
	code(t, err, api.CodeForbidden)

	ac := env.LoginCookie(t, adminEmail, adminPass)
	none := []string{api.RoleUser}
	_, err = ac.UpdateUser(ctx, admin.ID, api.UpdateUserRequest{Roles: &none})
	code(t, err, api.CodeConflict)
	_, err = ac.LockUser(ctx, admin.ID)
	code(t, err, api.CodeConflict)
	denied := events(t, ac, api.EventUserUpdated, admin.ID)
	if len(denied) == 0 || denied[0].Outcome != api.OutcomeDenied {
		t.Fatalf("denied attempts are recorded: %+v", denied)
	}
}

// Role changes take effect at once: the user's sessions and tokens end (SEC-10, SEC-12).
func TestAdminUserManagement(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		ac := env.LoginCookie(t, adminEmail, adminPass)

		created, err := ac.CreateUser(ctx, api.CreateUserRequest{Email: "Carol@Example.com", DisplayName: "Carol", Password: "tea-party-passphrase-77", Roles: []string{"support"}})
		if err != nil || created.Email != "carol@example.com" || !slices.Equal(created.Roles, []string{"support", "user"}) {
			t.Fatalf("create: %+v %v", created, err)
		}
		_, err = ac.CreateUser(ctx, api.CreateUserRequest{Email: "carol@example.com", Password: "tea-party-passphrase-77"})
		code(t, err, api.CodeConflict)
		_, err = ac.CreateUser(ctx, api.CreateUserRequest{Email: "dave@example.com", Password: "quite-long-passphrase-9", Roles: []string{"root"}})
		code(t, err, api.CodeInvalidRequest)

		carol, tok := env.LoginBearer(t, "carol@example.com", "tea-party-passphrase-77")
		if _, err := carol.ListUsers(ctx, api.UserQuery{}); err != nil {
			t.Fatalf("support lists users: %v", err)
		}
		roles := []string{api.RoleUser}
		if u, err := ac.UpdateUser(ctx, created.ID, api.UpdateUserRequest{Roles: &roles}); err != nil || slices.Contains(u.Roles, "support") {
			t.Fatalf("demote: %+v %v", u, err)
		}
		_, err = carol.ListUsers(ctx, api.UserQuery{})
		code(t, err, api.CodeUnauthorized) // the old token (roles: support) is dead
		_, err = env.NewClient(t).Refresh(ctx, tok.RefreshToken)
		code(t, err, api.CodeInvalidGrant)

		got, err := ac.GetUser(ctx, created.ID)
		if err != nil || got.DisplayName != "Carol" {
			t.Fatalf("get: %+v %v", got, err)
		}
		_, err = ac.GetUser(ctx, "00000000-0000-4000-8000-000000000000")
		code(t, err, api.CodeNotFound)

		list, err := ac.ListUsers(ctx, api.UserQuery{Query: "carol", PerPage: 10})
		if err != nil || list.Total != 1 || list.Users[0].ID != created.ID || list.PerPage != 10 || list.Page != 1 {
			t.Fatalf("list: %+v %v", list, err)
		}
		_, err = ac.ListUsers(ctx, api.UserQuery{Status: "frozen"})
		code(t, err, api.CodeInvalidRequest)
		_, err = ac.Do(ctx, "GET", "/api/v1/admin/users?per_page=1000", nil, nil)
		code(t, err, api.CodeInvalidRequest)
		_, err = ac.Do(ctx, "GET", "/api/v1/admin/users?page=abc", nil, nil)
		code(t, err, api.CodeInvalidRequest)

		if u, err := ac.LockUser(ctx, created.ID); err != nil || u.Status != api.UserLocked {
			t.Fatalf("lock: %v", err)
		}
		_, err = env.NewClient(t).Login(ctx, "carol@example.com", "tea-party-passphrase-77")
		code(t, err, api.CodeInvalidCredentials)
		if _, err := ac.UnlockUser(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		env.LoginCookie(t, "carol@example.com", "tea-party-passphrase-77")

		// SEC-54: the trail of all of it.
		for _, typ := range []string{api.EventUserCreated, api.EventUserRolesChanged, api.EventUserStatusChanged, api.EventLoginSucceeded, api.EventLoginFailed} {
			evs := events(t, ac, typ, created.ID)
			if len(evs) == 0 {
				t.Errorf("no %s event", typ)
				continue
			}
			e := evs[0]
			if e.CreatedAt.IsZero() || e.IP == "" || e.RequestID == "" || e.Outcome == "" {
				t.Errorf("%s event lacks fields: %+v", typ, e)
			}
		}
		since := time.Now().Add(-time.Hour)
		page, err := ac.ListEvents(ctx, client.EventQuery{Since: since, PerPage: 2, Page: 1})
		if err != nil || len(page.Events) != 2 || page.Total < 5 {
			t.Fatalf("event paging: %+v %v", page, err)
		}
		_, err = ac.Do(ctx, "GET", "/api/v1/admin/events?since=yesterday", nil, nil)
		code(t, err, api.CodeInvalidRequest)
	})
}

func TestRegistration(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	c := env.NewClient(t)
	res, err := c.Register(ctx, api.RegisterRequest{Email: "new@example.com", Password: "a-fine-long-passphrase", DisplayName: "New"})
	if err != nil || res.User.Email != "new@example.com" || !slices.Equal(res.User.Roles, []string{"user"}) {
		t.Fatalf("register: %+v %v", res, err)
	}
	if _, err := c.Me(ctx); err != nil {
		t.Fatalf("registered and signed in: %v", err)
	}
	_, err = env.NewClient(t).Register(ctx, api.RegisterRequest{Email: "new@example.com", Password: "a-fine-long-passphrase"})
	code(t, err, api.CodeConflict)
	_, err = env.NewClient(t).Register(ctx, api.RegisterRequest{Email: "not-an-email", Password: "a-fine-long-passphrase"})
	code(t, err, api.CodeInvalidRequest)

	off := false
	closed := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.Auth.Registration = &off }))
	_, err = closed.NewClient(t).Register(ctx, api.RegisterRequest{Email: "new@example.com", Password: "a-fine-long-passphrase"})
	code(t, err, api.CodeForbidden)
}

// SEC-50 on the account routes: bad input answers 4xx with a code and changes nothing.
func TestSEC50AccountBadInput(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	ctx := context.Background()
	env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	for body, want := range map[string]api.Code{
		`{"email":1,"password":"x"}`:                                               api.CodeInvalidFieldType,
		`{"email":"a@example.com"`:                                                 api.CodeMalformedJSON,
		`{"email":"a@example.com","password":"x","admin":1}`:                       api.CodeUnknownField,
		`{"email":"' OR 1=1 --","password":"x"}`:                                   api.CodeInvalidRequest,
		`{"email":"a@example.com","password":""}`:                                  api.CodeInvalidRequest,
		`{"email":"a@example.com","password":"` + strings.Repeat("p", 2000) + `"}`: api.CodeInvalidRequest,
		"{\"email\":\"\xff@example.com\",\"password\":\"x\"}":                      api.CodeMalformedJSON,
		`[]`: api.CodeInvalidFieldType,
	} {
		resp := rawPost(t, env.URL+"/api/v1/auth/login", body, nil)
		var e api.ErrorBody
		decode(t, resp, &e)
		if e.Error.Code != want || resp.StatusCode != want.Status() {
			t.Errorf("%.40q: %d %+v, want %s", body, resp.StatusCode, e.Error, want)
		}
	}
	for body, want := range map[string]api.Code{
		`{"grant_type":"client_credentials"}`:                     api.CodeInvalidRequest,
		`{"grant_type":"refresh_token"}`:                          api.CodeInvalidRequest,
		`{"grant_type":"refresh_token","refresh_token":"forged"}`: api.CodeInvalidGrant,
	} {
		resp := rawPost(t, env.URL+"/api/v1/auth/token", body, nil)
		var e api.ErrorBody
		decode(t, resp, &e)
		if e.Error.Code != want {
			t.Errorf("%s: %+v, want %s", body, e.Error, want)
		}
	}
	ac := env.LoginCookie(t, adminEmail, adminPass)
	list, _ := ac.ListUsers(ctx, api.UserQuery{})
	if list.Total != 1 {
		t.Fatalf("bad input created accounts: %d", list.Total)
	}
}

func TestPoolStatsAndStream(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	ac, _ := env.LoginBearer(t, adminEmail, adminPass)
	st, err := ac.PoolStats(context.Background())
	if err != nil || st.Dialect != "sqlite" || st.MaxOpenConnections != 1 || st.SampledAt.IsZero() {
		t.Fatalf("pool: %+v %v", st, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var samples []api.PoolStats
	err = ac.PoolStream(ctx, func(s api.PoolStats) error {
		samples = append(samples, s)
		if len(samples) == 2 {
			cancel()
		}
		return nil
	})
	if len(samples) != 2 || !samples[1].SampledAt.After(samples[0].SampledAt) {
		t.Fatalf("stream: %d samples, %v", len(samples), err)
	}
}

// SEC-18: no token, cookie or password ever appears in a log line.
func TestSEC18NoTokensInLogs(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	env.CreateUser(t, userEmail, userPass)
	resp := rawPost(t, env.URL+"/api/v1/auth/login", `{"email":"`+userEmail+`","password":"`+userPass+`"}`, nil)
	cookie := resp.Cookies()[0].Value
	_, tok := env.LoginBearer(t, userEmail, userPass)
	_, _ = env.NewClient(t).Refresh(context.Background(), tok.RefreshToken)
	_, _ = env.NewClient(t).Refresh(context.Background(), tok.RefreshToken) // a replay, logged as an event
	logs := env.Logs.String()
	for name, secret := range map[string]string{"password": userPass, "cookie": cookie, "access token": tok.AccessToken, "refresh token": tok.RefreshToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}

func TestBootstrapAdminInDevelopment(t *testing.T) {
	cfg := testenv.Config(t, testenv.SQLite)
	cfg.Env = config.EnvDevelopment
	var console strings.Builder
	a, err := newWithConsole(t, cfg, &console)
	if err != nil {
		t.Fatal(err)
	}
	out := console.String()
	i := strings.Index(out, "password (shown once): ")
	if i < 0 || !strings.Contains(out, "admin@localhost") {
		t.Fatalf("console: %q", out)
	}
	generated := strings.TrimSpace(out[i+len("password (shown once): "):])
	if _, err := a.Auth.CreateUserLocal(context.Background(), "x@example.com", "yet-another-passphrase", nil); err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	console.Reset()
	a, err = newWithConsole(t, cfg, &console)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if console.Len() != 0 {
		t.Fatalf("the admin is created once: %q", console.String())
	}
	if _, _, err := a.Auth.EnsureAdmin(context.Background(), "admin@localhost", ""); err != nil {
		t.Fatal(err)
	}
	u, err := a.DB.Users().GetByEmail(context.Background(), "admin@localhost")
	if err != nil || !u.HasRole(api.RoleAdmin) || len(generated) < 20 {
		t.Fatalf("bootstrap admin: %+v %v", u, err)
	}
}

// SEC-05 across replicas: two servers sharing Redis count failures together.
func TestSEC05ThrottlingSharedThroughRedis(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	shared := testenv.WithConfig(func(c *config.Config) {
		c.Redis.URL = redisURL
		c.HTTP.TrustedProxies = []string{"127.0.0.1"}
	})
	a := testenv.New(t, testenv.SQLite, shared)
	b := testenv.New(t, testenv.SQLite, shared)
	// Unique per run: a real Redis keeps lockout state between test runs.
	email := "victim-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "") + "@example.com"
	ip := http.Header{"X-Forwarded-For": {"192.0.2." + time.Now().Format("05")}}
	body := `{"email":"` + email + `","password":"not-the-password-123"}`
	for i, env := range []*testenv.Env{a, b, a, b, a} {
		if resp := rawPostH(t, env.URL+"/api/v1/auth/login", body, ip); resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %d", i, resp.StatusCode)
		}
	}
	for _, env := range []*testenv.Env{a, b} {
		if resp := rawPostH(t, env.URL+"/api/v1/auth/login", body, ip); resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("replica %s did not see the shared lockout: %d", env.URL, resp.StatusCode)
		}
	}
}

// Malformed IDs in paths are simply not found, on both dialects (never a 500).
func TestMalformedIDsAreNotFound(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect)
		ctx := context.Background()
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		ac := env.LoginCookie(t, adminEmail, adminPass)
		for _, id := range []string{"not-a-uuid", "1%27%20OR%201%3D1", "00000000-0000-0000-0000-00000000000g"} {
			_, err := ac.Do(ctx, "GET", "/api/v1/admin/users/"+id, nil, nil)
			code(t, err, api.CodeNotFound)
			_, err = ac.Do(ctx, "POST", "/api/v1/admin/users/"+id+"/lock", nil, nil)
			code(t, err, api.CodeNotFound)
			_, err = ac.Do(ctx, "GET", "/api/v1/admin/users/"+id+"/sessions", nil, nil)
			code(t, err, api.CodeNotFound)
			code(t, ac.RevokeMySession(ctx, id), api.CodeNotFound)
		}
	})
}
