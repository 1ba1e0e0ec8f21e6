package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/events"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// PoolSampler reads the database pool (internal/pool).
type PoolSampler interface {
	Sample() api.PoolStats
}

// queryInt reads an optional positive integer query parameter.
func queryInt(c *gin.Context, name string) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		return 0, &api.Error{Code: api.CodeInvalidRequest, Message: name + " must be a positive integer", Details: map[string]any{"field": name}}
	}
	return n, nil
}

func queryTime(c *gin.Context, name string) (time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, &api.Error{Code: api.CodeInvalidRequest, Message: name + " must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", Details: map[string]any{"field": name}}
	}
	return t, nil
}

func usersAPI(list []users.User) []api.User {
	out := make([]api.User, len(list))
	for i, u := range list {
		out[i] = u.API()
	}
	return out
}

// summaryOf is the list's MFA summary of a full status (the same rules as auth.MFASummaries).
func summaryOf(st api.MFAStatus) api.MFASummary {
	sum := api.MFASummary{Factors: []string{}, Required: st.Required}
	for _, name := range st.Available { // the server's order, as in the list
		for _, f := range st.Factors {
			if f.Factor == name && f.Enrolled {
				sum.Factors = append(sum.Factors, name)
				sum.Enrolled = sum.Enrolled || name != api.FactorRecoveryCode
			}
		}
	}
	return sum
}

func (s *Server) listUsers(c *gin.Context) {
	page, err := queryInt(c, "page")
	if err != nil {
		WriteError(c, err)
		return
	}
	per, err := queryInt(c, "per_page")
	if err != nil {
		WriteError(c, err)
		return
	}
	list, total, q, err := s.accounts.ListUsers(c.Request.Context(), api.UserQuery{Query: c.Query("query"), Status: c.Query("status"), Role: c.Query("role"), Page: page, PerPage: per})
	if err != nil {
		WriteError(c, err)
		return
	}
	out := usersAPI(list)
	if s.mfa != nil {
		// One batched look-up for the page: the console shows MFA on every row.
		sums, err := s.mfa.MFASummaries(c.Request.Context(), list)
		if err != nil {
			WriteError(c, err)
			return
		}
		for i := range out {
			if sum, ok := sums[out[i].ID]; ok {
				out[i].MFASummary = &sum
			}
		}
	}
	c.JSON(http.StatusOK, api.UserList{Users: out, Page: q.Page, PerPage: q.PerPage, Total: total})
}

func (s *Server) createUser(c *gin.Context) {
	var req api.CreateUserRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	u, err := s.accounts.CreateUser(c.Request.Context(), principal(c), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusCreated, u.API())
}

func (s *Server) getUser(c *gin.Context) {
	u, err := s.accounts.GetUser(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	out := u.API()
	if s.mfa != nil {
		st, err := s.mfa.MFAStatus(c.Request.Context(), u.ID)
		if err != nil {
			WriteError(c, err)
			return
		}
		out.MFA = &st
		sum := summaryOf(st)
		out.MFASummary = &sum
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) updateUser(c *gin.Context) {
	var req api.UpdateUserRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	u, err := s.accounts.UpdateUser(c.Request.Context(), principal(c), c.Param("id"), req, meta(c))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, u.API())
}

func (s *Server) setStatus(status string) gin.HandlerFunc {
	return func(c *gin.Context) {
		u, err := s.accounts.SetStatus(c.Request.Context(), principal(c), c.Param("id"), status, meta(c))
		if err != nil {
			WriteError(c, err)
			return
		}
		c.JSON(http.StatusOK, u.API())
	}
}

func (s *Server) userSessions(c *gin.Context) {
	list, err := s.accounts.UserSessions(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, api.SessionList{Sessions: list})
}

func (s *Server) revokeUserSessions(c *gin.Context) {
	if _, err := s.accounts.RevokeUserSessions(c.Request.Context(), principal(c), c.Param("id"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) revokeUserSession(c *gin.Context) {
	if err := s.accounts.RevokeUserSession(c.Request.Context(), principal(c), c.Param("id"), c.Param("sid"), meta(c)); err != nil {
		WriteError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listEvents(c *gin.Context) {
	var (
		f   events.Filter
		err error
	)
	f.Type, f.UserID = c.Query("type"), c.Query("user")
	if f.Page, err = queryInt(c, "page"); err == nil {
		if f.PerPage, err = queryInt(c, "per_page"); err == nil {
			if f.Since, err = queryTime(c, "since"); err == nil {
				f.Until, err = queryTime(c, "until")
			}
		}
	}
	if err != nil {
		WriteError(c, err)
		return
	}
	list, total, nf, err := s.accounts.ListEvents(c.Request.Context(), f)
	if err != nil {
		WriteError(c, err)
		return
	}
	out := make([]api.SecurityEvent, len(list))
	for i, e := range list {
		out[i] = e.API()
	}
	c.JSON(http.StatusOK, api.SecurityEventList{Events: out, Page: nf.Page, PerPage: nf.PerPage, Total: total})
}

func (s *Server) poolStats(c *gin.Context) {
	c.JSON(http.StatusOK, s.pool.Sample())
}

// poolStream sends one pool sample per second as Server-Sent Events until the client leaves or
// the server shuts down. Each write extends the write deadline, so the server's write timeout
// bounds a stalled client, not the stream's length.
func (s *Server) poolStream(c *gin.Context) {
	c.Header("Content-Type", "text/event-stream")
	c.Header("X-Accel-Buffering", "no")
	rc := http.NewResponseController(c.Writer)
	tick := time.NewTicker(s.streamInterval)
	defer tick.Stop()
	send := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		c.SSEvent("pool", s.pool.Sample())
		return rc.Flush() == nil
	}
	c.Status(http.StatusOK)
	if !send() {
		return
	}
	for {
		select {
		case <-c.Request.Context().Done():
			return
		case <-s.stopping:
			return
		case <-tick.C:
			if !send() {
				return
			}
		}
	}
}
