package httpapi

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	apidocs "gatehouse/server/api/docs"
)

var htmlRef = regexp.MustCompile(`(?i)\s(src|href|spec-url|action|data)\s*=\s*"([^"]*)"`)

// GET /docs serves the API reference page; every asset it references is local and served with
// the right type; its CSP admits exactly that, and no other route's CSP changes (SEC-52).
func TestDocsPage(t *testing.T) {
	s, _ := newTestServer(t, Options{})
	h := s.Handler()

	rec := do(h, http.MethodGet, "/docs", nil, nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /docs: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	page := rec.Body.String()
	if !bytes.Equal(rec.Body.Bytes(), apidocs.IndexHTML) || !strings.Contains(page, "<redoc") {
		t.Fatalf("GET /docs did not serve the embedded page:\n%s", page)
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || strings.Contains(page, "//cdn") {
		t.Errorf("the page names another origin:\n%s", page)
	}
	refs := htmlRef.FindAllStringSubmatch(page, -1)
	var scripts int
	for _, m := range refs {
		attr, ref := strings.ToLower(m[1]), m[2]
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("%s=%q is not a path on this server", attr, ref)
			continue
		}
		r := do(h, http.MethodGet, ref, nil, nil)
		if r.Code != http.StatusOK {
			t.Errorf("%s=%q: GET answers %d", attr, ref, r.Code)
		}
		if attr == "src" {
			scripts++
			if ct := r.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
				t.Errorf("script %s served as %q (nosniff makes browsers refuse a wrong type)", ref, ct)
			}
		}
	}
	if scripts != 1 || !strings.Contains(page, `src="`+apidocs.RedocPath+`"`) || !strings.Contains(page, `spec-url="/api/openapi.yaml"`) {
		t.Errorf("want the page to load %s and render /api/openapi.yaml; refs %v", apidocs.RedocPath, refs)
	}
	if strings.Contains(page, "<script>") || regexp.MustCompile(`\son[a-z]+=`).MatchString(page) {
		t.Error("inline script or event handler: the CSP forbids them")
	}

	// The bundle, unmodified, and its licence notices where its first line says they are.
	js := do(h, http.MethodGet, apidocs.RedocPath, nil, nil)
	if !bytes.Equal(js.Body.Bytes(), apidocs.RedocJS) || len(apidocs.RedocJS) < 500_000 {
		t.Fatalf("bundle: %d bytes served, %d embedded", js.Body.Len(), len(apidocs.RedocJS))
	}
	first, _, _ := strings.Cut(js.Body.String(), "\n")
	if !strings.Contains(first, "redoc.standalone.js.LICENSE.txt") || !strings.HasSuffix(apidocs.NoticesPath, "/redoc.standalone.js.LICENSE.txt") {
		t.Errorf("bundle's first line %q does not point at the served notices %s", first, apidocs.NoticesPath)
	}
	lic := do(h, http.MethodGet, apidocs.NoticesPath, nil, nil)
	if lic.Code != http.StatusOK || !strings.HasPrefix(lic.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(lic.Body.String(), "MIT License") || !strings.Contains(lic.Body.String(), "DOMPurify") {
		t.Errorf("notices: %d %q", lic.Code, lic.Header().Get("Content-Type"))
	}

	// The page's own CSP: scripts from this origin only, no eval, nothing from elsewhere.
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("/docs CSP %q lacks %q", csp, want)
		}
	}
	for _, never := range []string{"unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(csp, never) {
			t.Errorf("/docs CSP %q contains %q", csp, never)
		}
	}
	if rec.Header().Get("X-Frame-Options") != "DENY" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Error("/docs lost the other security headers")
	}
	// Every other response keeps the API's deny-all policy, the bundle's included.
	for _, target := range []string{apidocs.RedocPath, apidocs.NoticesPath, "/livez", "/api/openapi.yaml", "/docs/nope", "/api/v1/version"} {
		if got := do(h, http.MethodGet, target, nil, nil).Header().Get("Content-Security-Policy"); got != cspValue {
			t.Errorf("GET %s: CSP %q, want the default %q", target, got, cspValue)
		}
	}
	if r := do(h, http.MethodGet, "/docs/nope", nil, nil); r.Code != http.StatusNotFound {
		t.Errorf("GET /docs/nope: %d", r.Code)
	}
}
