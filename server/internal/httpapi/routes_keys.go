package httpapi

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/authz"
	"gatehouse/shared/api"
)

// KeyStatusReader reports the master key versions and the re-wrap progress (internal/rewrap).
type KeyStatusReader interface {
	Status(ctx context.Context) (api.KeyStatus, error)
}

// routeKeys registers GET /api/v1/admin/keys (administrators; aal2 once MFA is on, like every
// admin route).
func (s *Server) routeKeys(keys KeyStatusReader) {
	ad := s.api.Group("/admin", s.authenticate)
	if s.mfa != nil {
		ad.Use(s.adminGate)
	}
	ad.GET("/keys", require(authz.KeysRead), func(c *gin.Context) {
		st, err := keys.Status(c.Request.Context())
		if err != nil {
			WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, st)
	})
}
