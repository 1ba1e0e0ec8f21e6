package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/token"
	"gatehouse/shared/api"
)

// JWTVerifier checks an access token's signature and claims (token.Manager.Verify).
type JWTVerifier func(token string) (token.Claims, error)

// benchJWTResponse is the baseline's answer: the verified claims, about as small as /me's.
type benchJWTResponse struct {
	Subject   string   `json:"sub"`
	SessionID string   `json:"sid"`
	AAL       string   `json:"aal"`
	Roles     []string `json:"roles"`
}

// routeBench registers GET /api/v1/bench/jwt, the baseline that `make bench` measures
// GET /api/v1/me against (docs/benchmarks.md): the same middleware chain and the same JWT
// verification, but no session lookup and no database at all. A token whose session was
// revoked still passes here, which is why production refuses GATEHOUSE_BENCH_ENDPOINTS.
func (s *Server) routeBench(verify JWTVerifier) {
	s.api.GET("/bench/jwt", func(c *gin.Context) {
		scheme, tok, ok := strings.Cut(c.GetHeader("Authorization"), " ")
		tok = strings.TrimSpace(tok)
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			writeAPIError(c, api.NewError(api.CodeUnauthorized, "the Authorization header must be \"Bearer <token>\""))
			return
		}
		claims, err := verify(tok)
		if err != nil {
			writeAPIError(c, api.NewError(api.CodeUnauthorized, "authentication required"))
			return
		}
		c.JSON(http.StatusOK, benchJWTResponse{
			Subject: claims.Subject, SessionID: claims.SessionID, AAL: claims.AAL, Roles: claims.Roles,
		})
	})
}
