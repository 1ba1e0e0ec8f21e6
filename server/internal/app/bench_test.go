package app_test

import (
	"context"
	"net/http"
	"testing"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// GET /api/v1/bench/jwt, make bench's JWT-only baseline, exists only with
// GATEHOUSE_BENCH_ENDPOINTS (which production refuses: see the config tests, SEC-53).
func TestBenchJWTRouteIsOffByDefault(t *testing.T) {
	env := testenv.New(t, testenv.SQLite)
	env.CreateUser(t, userEmail, userPass)
	_, tok := env.LoginBearer(t, userEmail, userPass)

	resp := rawGetH(t, env.URL+"/api/v1/bench/jwt", bearer(tok.AccessToken))
	var e api.ErrorBody
	decode(t, resp, &e)
	if resp.StatusCode != http.StatusNotFound || e.Error.Code != api.CodeNotFound {
		t.Fatalf("bench route served by default: %d %+v", resp.StatusCode, e)
	}
}

func TestBenchJWTRouteVerifiesTheBearerToken(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		env := testenv.New(t, dialect, testenv.WithConfig(func(c *config.Config) { c.HTTP.BenchEndpoints = true }))
		u := env.CreateUser(t, userEmail, userPass)
		c, tok := env.LoginBearer(t, userEmail, userPass)
		url := env.URL + "/api/v1/bench/jwt"

		resp := rawGetH(t, url, bearer(tok.AccessToken))
		var got struct {
			Sub   string   `json:"sub"`
			SID   string   `json:"sid"`
			AAL   string   `json:"aal"`
			Roles []string `json:"roles"`
		}
		decode(t, resp, &got)
		if resp.StatusCode != http.StatusOK || got.Sub != u.ID || got.SID == "" || got.AAL != api.AAL1 || len(got.Roles) == 0 {
			t.Fatalf("valid token: %d %+v", resp.StatusCode, got)
		}

		for name, hdr := range map[string]http.Header{
			"no credentials": nil,
			"forged token":   bearer(tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA"),
			"garbage token":  bearer("not-a-jwt"),
			"refresh token":  bearer(tok.RefreshToken),
			"wrong scheme":   {"Authorization": {"Basic " + tok.AccessToken}},
			"empty bearer":   {"Authorization": {"Bearer "}},
		} {
			resp := rawGetH(t, url, hdr)
			var e api.ErrorBody
			decode(t, resp, &e)
			if resp.StatusCode != http.StatusUnauthorized || e.Error.Code != api.CodeUnauthorized {
				t.Errorf("%s: want 401 unauthorized, got %d %+v", name, resp.StatusCode, e)
			}
		}

		// The baseline skips the session check that /me makes (SEC-12): after logout the
		// token still verifies here and nowhere else. That is why production refuses it.
		if err := c.Logout(context.Background()); err != nil {
			t.Fatal(err)
		}
		if resp := rawGetH(t, env.URL+"/api/v1/me", bearer(tok.AccessToken)); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("/me after logout: %d", resp.StatusCode)
		}
		if resp := rawGetH(t, url, bearer(tok.AccessToken)); resp.StatusCode != http.StatusOK {
			t.Fatalf("bench route after logout: %d (it must not look sessions up)", resp.StatusCode)
		}
	})
}
