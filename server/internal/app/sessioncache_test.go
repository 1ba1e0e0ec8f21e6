package app_test

import (
	"context"
	"net/http"
	"testing"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

// twoReplicas starts two servers on one PostgreSQL database sharing Redis, as two replicas.
func twoReplicas(t *testing.T) (*testenv.Env, *testenv.Env) {
	t.Helper()
	db := testenv.FreshPostgres(t)
	sameDB := testenv.WithConfig(func(c *config.Config) {
		c.Database.URL = db
		c.Auth.LoginPerIPPerMin = 60_000 // many logins from 127.0.0.1, counted in the shared Redis
	})
	redisURL := testenv.WithRedis(t)
	a := testenv.New(t, testenv.Postgres, sameDB, redisURL)
	b := testenv.New(t, testenv.Postgres, sameDB, redisURL)
	if a.App.AuthCache == nil || b.App.AuthCache == nil {
		t.Fatal("PostgreSQL with Redis runs without the session cache")
	}
	return a, b
}

func meStatus(t *testing.T, env *testenv.Env, hdr http.Header, ck *http.Cookie) int {
	t.Helper()
	resp := do(t, http.MethodGet, env.URL+"/api/v1/me", "", hdr, ck)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// SEC-12 across replicas with the session cache on: a bearer logout, a cookie logout and an
// admin's disabling of the account on one replica are refused by the other on the very next
// request, every time, although the other had the session and user cached.
func TestSEC12CachedSessionsRevokedAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	ctx := context.Background()
	const email, pass = "roamer@example.com", "violet-anchor-meadow-93"
	uid := a.CreateUser(t, email, pass, api.RoleUser).ID
	a.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
	admin := a.LoginCookie(t, adminEmail, adminPass)

	for i := range 12 {
		on, other := a, b
		if i%2 == 1 {
			on, other = b, a
		}
		// Bearer: cached on the other replica, logged out here, refused there next.
		c, tok := on.LoginBearer(t, email, pass)
		bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
		for range 3 {
			if s := meStatus(t, other, bearer, nil); s != 200 {
				t.Fatalf("round %d: bearer /me on the other replica: %d", i, s)
			}
		}
		if err := c.Logout(ctx); err != nil {
			t.Fatal(err)
		}
		if s := meStatus(t, other, bearer, nil); s != 401 {
			t.Fatalf("round %d: the other replica accepted a logged-out access token: %d", i, s)
		}

		// Cookie: the same with a browser session.
		resp := rawPost(t, on.URL+"/api/v1/auth/login", `{"email":"`+email+`","password":"`+pass+`"}`, nil)
		var login api.LoginResponse
		decode(t, resp, &login)
		var ck *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "gatehouse_session" {
				ck = c
			}
		}
		if ck == nil {
			t.Fatalf("round %d: no session cookie (login answered %d)", i, resp.StatusCode)
		}
		for range 3 {
			if s := meStatus(t, other, nil, ck); s != 200 {
				t.Fatalf("round %d: cookie /me on the other replica: %d", i, s)
			}
		}
		if i%3 == 2 {
			// The admin disables the account (the user row, cached on both) on one replica.
			disabled := api.UserDisabled
			if _, err := admin.UpdateUser(ctx, uid, api.UpdateUserRequest{Status: &disabled}); err != nil {
				t.Fatal(err)
			}
			if s := meStatus(t, other, nil, ck); s != 401 {
				t.Fatalf("round %d: the other replica accepted the cookie of a disabled account: %d", i, s)
			}
			active := api.UserActive
			if _, err := admin.UpdateUser(ctx, uid, api.UpdateUserRequest{Status: &active}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		resp = do(t, http.MethodPost, on.URL+"/api/v1/auth/logout", "", http.Header{api.HeaderCSRFToken: {login.CSRFToken}}, ck)
		_ = resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("round %d: cookie logout: %d", i, resp.StatusCode)
		}
		if s := meStatus(t, other, nil, ck); s != 401 {
			t.Fatalf("round %d: the other replica accepted a logged-out cookie: %d", i, s)
		}
	}
	for _, env := range []*testenv.Env{a, b} {
		if st := env.App.AuthCache.Stats(); st.SessionHits == 0 || st.UserHits == 0 {
			t.Fatalf("%s: the cache was never used: %+v", env.URL, st)
		}
	}
}

// The cache is off on PostgreSQL without Redis (other replicas' writes could not reach it) and
// when configured off; on SQLite it is on.
func TestSessionCacheOnlyWhereExact(t *testing.T) {
	if env := testenv.New(t, testenv.SQLite); env.App.AuthCache == nil {
		t.Fatal("SQLite runs without the session cache")
	}
	if env := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.Auth.SessionCache = "off" })); env.App.AuthCache != nil {
		t.Fatal("session_cache off is ignored")
	}
	if env := testenv.New(t, testenv.Postgres); env.App.AuthCache != nil {
		t.Fatal("PostgreSQL without Redis caches sessions: another replica's revocation would go unseen")
	}
}
