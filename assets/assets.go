// Package assets holds the files Gatehouse ships besides code, embedded into the binary:
// the plain-text and HTML mail templates (mail/<name>.txt and mail/<name>.html, each text
// template also defining "subject"). It is its own module so that anything under assets/ can
// be embedded (go:embed cannot reach outside a module's directory).
package assets

import "embed"

// Mail holds the mail templates under mail/.
//
//go:embed mail/*.txt mail/*.html
var Mail embed.FS
