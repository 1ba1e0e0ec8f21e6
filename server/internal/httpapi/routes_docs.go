package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	apidocs "gatehouse/server/api/docs"
)

// docsCSP is the API reference page's own Content-Security-Policy. Every other response keeps
// cspValue (nothing may load). The page needs: its script from this origin; inline styles,
// which Redoc injects at run time (styled-components); the spec fetched from this origin;
// the search index's web worker, which Redoc starts from a blob: URL; data: images (icons).
// Nothing may come from another origin, and the page may not be framed.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src blob:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// routeDocs serves the API reference (GET /docs), rendered in the browser from
// /api/openapi.yaml by the vendored Redoc bundle (server/api/docs).
func (s *Server) routeDocs() {
	notices := apidocs.Notices()
	s.engine.GET(apidocs.IndexPath, func(c *gin.Context) {
		c.Header("Content-Security-Policy", docsCSP)
		c.Data(http.StatusOK, "text/html; charset=utf-8", apidocs.IndexHTML)
	})
	s.engine.GET(apidocs.RedocPath, func(c *gin.Context) {
		c.Data(http.StatusOK, "text/javascript; charset=utf-8", apidocs.RedocJS)
	})
	s.engine.GET(apidocs.NoticesPath, func(c *gin.Context) {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", notices)
	})
}
