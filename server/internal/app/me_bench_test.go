package app_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

// BenchmarkMe measures GET /api/v1/me through the whole handler (no network), bearer and
// cookie, beside the JWT-only baseline route: the per-request cost of the session check.
func BenchmarkMe(b *testing.B) {
	env := testenv.New(b, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.HTTP.BenchEndpoints = true; c.Log.Level = "warn" }))
	env.CreateUser(b, "someone@example.com", "benchmark-passphrase-1", api.RoleUser)
	_, tok := env.LoginBearer(b, "someone@example.com", "benchmark-passphrase-1")
	h := env.App.Handler
	run := func(b *testing.B, path string) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Fatalf("%s: %d", path, rec.Code)
				}
			}
		})
	}
	b.Run("jwt-baseline", func(b *testing.B) { run(b, "/api/v1/bench/jwt") })
	b.Run("me-bearer", func(b *testing.B) { run(b, "/api/v1/me") })
}
