// Package apispec holds Gatehouse's OpenAPI document, openapi.yaml, embedded so the server can
// serve it at GET /api/openapi.yaml. internal/app's tests check it against the running server:
// every registered route must be described, and every response must validate against it.
package apispec

import _ "embed" // for //go:embed

// YAML is the OpenAPI 3.0 description of the HTTP API (openapi.yaml).
//
//go:embed openapi.yaml
var YAML []byte
