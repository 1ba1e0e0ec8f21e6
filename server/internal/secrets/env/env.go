// Package env is a read-only secrets backend that serves values from environment variables,
// for deployments whose orchestrator already injects secrets that way (Kubernetes secrets as
// env, systemd credentials, CI variables).
//
// # Name mapping
//
// A secret name maps to the variable <prefix><encoded name>. The encoding keeps the common
// case readable — lower-case letters, digits, '-' and '/' — and escapes the rest, so that it
// is reversible and two names never share a variable:
//
//	a-z        upper-cased            db → DB
//	0-9        kept                   v2 → V2
//	/          "__"                   billing/prod → BILLING__PROD
//	-          "_" when a lower-case letter follows, else "_045"
//	anything else ('A'-'Z', '.', '_')  "_" + its 3-digit decimal ASCII code
//	                                  ('.' → _046, '_' → _095, 'A' → _065)
//
// With the default prefix GATEHOUSE_SECRET_:
//
//	billing/prod/db-password → GATEHOUSE_SECRET_BILLING__PROD__DB_PASSWORD
//	app/api.key              → GATEHOUSE_SECRET_APP__API_046KEY
//	app/db_user              → GATEHOUSE_SECRET_APP__DB_095USER
//
// Decoding reads "__" as '/', "_" + digit as a 3-digit escape and "_" + letter as '-', which
// undoes the encoding exactly (see Decode); so "a/b", "a-b", "a_b" and "a.b" land in four
// different variables.
//
// Each secret has exactly one version, "1": the variable's value as the process sees it now.
// Values are bytes as the environment holds them.
package env

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gatehouse/server/internal/secrets"
)

// DefaultPrefix starts every variable the backend reads unless configured otherwise.
const DefaultPrefix = "GATEHOUSE_SECRET_"

// Version is the one version identifier of every env secret.
const Version = "1"

// Backend serves secrets from the environment.
type Backend struct {
	prefix string
	lookup func(string) (string, bool)
}

var _ secrets.Backend = (*Backend)(nil)

// New returns the backend. lookup reads a variable (os.LookupEnv when nil; tests inject a map).
// The prefix must be a valid variable name start: [A-Z_][A-Z0-9_]*.
func New(prefix string, lookup func(string) (string, bool)) (*Backend, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !validPrefix(prefix) {
		return nil, fmt.Errorf("env secrets backend: prefix %q must match [A-Z_][A-Z0-9_]*", prefix)
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Backend{prefix: prefix, lookup: lookup}, nil
}

func validPrefix(p string) bool {
	for i := range len(p) {
		c := p[i]
		ok := c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// Kind is secrets.KindEnv.
func (b *Backend) Kind() string { return secrets.KindEnv }

// Health is always nil: the environment is always there.
func (b *Backend) Health(context.Context) error { return nil }

// Variable is the environment variable that holds name.
func (b *Backend) Variable(name string) string { return b.prefix + Encode(name) }

// Get returns the variable's value as version "1".
func (b *Backend) Get(_ context.Context, name, version string) (secrets.Value, error) {
	v, ok := b.lookup(b.Variable(name))
	if !ok {
		return secrets.Value{}, fmt.Errorf("%q: %w", name, secrets.ErrNotFound)
	}
	if version != "" && version != Version {
		return secrets.Value{}, fmt.Errorf("%q version %q: %w", name, version, secrets.ErrVersionNotFound)
	}
	return secrets.Value{Data: []byte(v), Version: Version}, nil
}

// Encode maps a secret name to the variable suffix (see the package documentation).
func Encode(name string) string {
	var sb strings.Builder
	sb.Grow(len(name) + 8)
	for i := range len(name) {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z':
			sb.WriteByte(c - 'a' + 'A')
		case c >= '0' && c <= '9':
			sb.WriteByte(c)
		case c == '/':
			sb.WriteString("__")
		case c == '-' && i+1 < len(name) && name[i+1] >= 'a' && name[i+1] <= 'z':
			sb.WriteByte('_')
		default:
			sb.WriteByte('_')
			fmt.Fprintf(&sb, "%03d", c)
		}
	}
	return sb.String()
}

// errBadEncoding: a variable suffix that Encode cannot have produced.
var errBadEncoding = errors.New("not an encoded secret name")

// Decode is the inverse of Encode.
func Decode(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			sb.WriteByte(c - 'A' + 'a')
			i++
		case c >= '0' && c <= '9':
			sb.WriteByte(c)
			i++
		case c == '_' && i+1 < len(s) && s[i+1] == '_':
			sb.WriteByte('/')
			i += 2
		case c == '_' && i+1 < len(s) && s[i+1] >= 'A' && s[i+1] <= 'Z':
			sb.WriteByte('-')
			i++
		case c == '_' && i+3 < len(s) && isDigits(s[i+1:i+4]):
			n, _ := strconv.Atoi(s[i+1 : i+4])
			if n > 255 {
				return "", errBadEncoding
			}
			sb.WriteByte(byte(n)) //nolint:gosec // n <= 255, checked above
			i += 4
		default:
			return "", errBadEncoding
		}
	}
	return sb.String(), nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}
