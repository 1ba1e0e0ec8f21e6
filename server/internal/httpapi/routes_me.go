package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"gatehouse/shared/api"
)

func (s *Server) me(c *gin.Context) {
	u, err := s.accounts.Me(c.Request.Context(), principal(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, u.API())
}

func (s *Server) updateMe(c *gin.Context) {
	var req api.UpdateMeRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	u, err := s.accounts.UpdateMe(c.Request.Context(), principal(c), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, u.API())
}

func (s *Server) changePassword(c *gin.Context) {
	var req api.ChangePasswordRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	if err := s.accounts.ChangePassword(c.Request.Context(), principal(c), req, meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) mySessions(c *gin.Context) {
	list, err := s.accounts.Sessions(c.Request.Context(), principal(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.SessionList{Sessions: list})
}

func (s *Server) revokeMySession(c *gin.Context) {
	if err := s.accounts.RevokeSession(c.Request.Context(), principal(c), c.Param("id"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
