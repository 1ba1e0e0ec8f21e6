package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/session"
	"gatehouse/shared/api"
)

// RequireAAL2 lets aal2 sessions through and answers step_up_required below (the hook the MFA
// capability completes with POST /auth/step-up).
func TestRequireAAL2(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	for _, aal := range []string{api.AAL1, api.AAL2, ""} {
		s.api.GET("/aal-"+aal, func(c *gin.Context) {
			c.Set(principalKey, auth.Principal{UserID: "u", Session: session.Session{AAL: aal}})
			c.Next()
		}, RequireAAL2, func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) })
	}
	for aal, want := range map[string]int{api.AAL1: 403, api.AAL2: 200, "": 403} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/aal-"+aal, nil))
		if rec.Code != want {
			t.Fatalf("aal %q: status %d, want %d", aal, rec.Code, want)
		}
		if want == 403 {
			var body api.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != api.CodeStepUpRequired {
				t.Fatalf("aal %q: %s", aal, rec.Body.String())
			}
		}
	}
}
