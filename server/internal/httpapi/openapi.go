package httpapi

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	apispec "gatehouse/server/api"
)

// OpenAPIPath serves the embedded OpenAPI document.
const OpenAPIPath = "/api/openapi.yaml"

// routeOpenAPI serves the OpenAPI document describing every route (server/api/openapi.yaml).
func (s *Server) routeOpenAPI() {
	s.engine.GET(OpenAPIPath, func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml", apispec.YAML)
	})
}

// RouteInfo is one registered route: its method and path template, in gin's syntax
// ("/api/v1/admin/users/:id").
type RouteInfo struct {
	Method string
	Path   string
}

// OpenAPIPath is the route's path in OpenAPI's syntax ("/api/v1/admin/users/{id}").
func (r RouteInfo) OpenAPIPath() string {
	parts := strings.Split(r.Path, "/")
	for i, p := range parts {
		if len(p) > 1 && (p[0] == ':' || p[0] == '*') {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// Routes lists every registered route, sorted by path then method, so tests can check that
// the OpenAPI document describes each one.
func (s *Server) Routes() []RouteInfo {
	rs := s.engine.Routes()
	out := make([]RouteInfo, 0, len(rs))
	for _, r := range rs {
		out = append(out, RouteInfo{Method: r.Method, Path: r.Path})
	}
	out = routesWithSecrets(out) // names with '/' are served by catch-alls (routes_secrets.go)
	slices.SortFunc(out, func(a, b RouteInfo) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return out
}
