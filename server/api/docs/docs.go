// Package apidocs holds the API reference page served at GET /docs: a static HTML page and the
// vendored Redoc bundle that renders /api/openapi.yaml in the browser. Everything is embedded
// in the binary; nothing is fetched from another origin at run time. README.md records the
// vendored package, its version, checksums and licence, and how to update it.
package apidocs

import _ "embed" // for //go:embed

// IndexHTML is the page served at GET /docs.
//
//go:embed index.html
var IndexHTML []byte

// RedocJS is Redoc's standalone bundle (redoc@2.5.4, MIT), served at RedocPath.
//
//go:embed redoc.standalone.js
var RedocJS []byte

// redocNotices lists the bundle's third-party licences; the bundle's first line points to it
// (relative to its own URL, hence NoticesPath).
//
//go:embed redoc.standalone.js.LICENSE.txt
var redocNotices []byte

//go:embed LICENSE
var redocLicense []byte

// Paths the files are served at; index.html refers to RedocPath.
const (
	IndexPath   = "/docs"
	RedocPath   = "/docs/redoc.standalone.js"
	NoticesPath = "/docs/redoc.standalone.js.LICENSE.txt"
)

// Notices returns Redoc's licence followed by the notices of what its bundle includes.
func Notices() []byte {
	out := make([]byte, 0, len(redocLicense)+len(redocNotices)+64)
	out = append(out, "Redoc 2.5.4 (https://github.com/Redocly/redoc), MIT licence:\n\n"...)
	out = append(out, redocLicense...)
	out = append(out, "\n\nComponents bundled in redoc.standalone.js:\n\n"...)
	return append(out, redocNotices...)
}
