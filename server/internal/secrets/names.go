package secrets

import (
	"fmt"
	"path"
	"strings"

	"gatehouse/shared/api"
)

// MaxNameBytes is the longest secret name.
const MaxNameBytes = 512

// reservedLastSegments are the sub-resource words of the HTTP API
// (/api/v1/secrets/{name}/value, ...). A name cannot end in one, so a URL whose name contains
// '/' always parses one way: "app/value" would read as the value of "app".
var reservedLastSegments = map[string]bool{
	"value": true, "versions": true, "rotate": true, "rotation": true, "audit": true, "rollback": true, "restore": true,
}

// NameError says why a name is refused; it wraps ErrInvalidName.
type NameError struct{ Reason string }

func (e *NameError) Error() string { return "invalid secret name: " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalidName) hold.
func (e *NameError) Unwrap() error { return ErrInvalidName }

// As gives the HTTP layer the client form: 400 invalid_secret_name with the reason.
func (e *NameError) As(target any) bool {
	t, ok := target.(**api.Error)
	if !ok {
		return false
	}
	*t = &api.Error{Code: api.CodeInvalidSecretName, Message: e.Error(), Details: map[string]any{"reason": e.Reason}}
	return true
}

// ValidateName checks a secret name: segments of [A-Za-z0-9._-] separated by single slashes, no
// empty, "." or ".." segment, at most MaxNameBytes bytes, and a last segment that is not one of
// the API's sub-resource words (value, versions, rotate, rotation, audit, rollback, restore).
func ValidateName(name string) error {
	switch {
	case name == "":
		return &NameError{"the name is empty"}
	case len(name) > MaxNameBytes:
		return &NameError{fmt.Sprintf("the name is %d bytes; the limit is %d", len(name), MaxNameBytes)}
	}
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		switch seg {
		case "":
			return &NameError{"empty path segment (leading, trailing or doubled '/')"}
		case ".", "..":
			return &NameError{fmt.Sprintf("segment %d is %q", i+1, seg)}
		}
		for j := range len(seg) {
			if !nameByte(seg[j]) {
				return &NameError{fmt.Sprintf("segment %d has a character outside [A-Za-z0-9._-]", i+1)}
			}
		}
	}
	if last := segs[len(segs)-1]; reservedLastSegments[last] {
		return &NameError{fmt.Sprintf("the last segment %q is reserved by the API", last)}
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// SplitSubresource splits an API path "billing/db/value" into the secret name and the
// sub-resource ("value"), or returns (path, "") when the last segment is not a sub-resource
// word. It relies on ValidateName refusing names that end in one.
func SplitSubresource(p string) (name, sub string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return p, ""
	}
	if last := p[i+1:]; reservedLastSegments[last] {
		return p[:i], last
	}
	return p, ""
}

// ValidatePattern checks a policy pattern: like a name, except that a segment may be a
// path.Match glob (*, ?, [...]) matching within one segment, or exactly "**", matching any
// number of segments (zero included).
func ValidatePattern(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("%w: the pattern is empty", ErrInvalidPattern)
	}
	if len(pattern) > MaxNameBytes {
		return fmt.Errorf("%w: the pattern is longer than %d bytes", ErrInvalidPattern, MaxNameBytes)
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: empty, \".\" or \"..\" segment", ErrInvalidPattern)
		}
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Errorf("%w: \"**\" must be a whole segment", ErrInvalidPattern)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("%w: segment %q: %w", ErrInvalidPattern, seg, err)
		}
	}
	return nil
}

// MatchPattern reports whether name matches a valid pattern (see ValidatePattern).
func MatchPattern(pattern, name string) bool {
	return matchSegs(strings.Split(pattern, "/"), strings.Split(name, "/"))
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			rest := pat[1:]
			for i := 0; i <= len(segs); i++ {
				if matchSegs(rest, segs[i:]) {
					return true
				}
			}
			return false
		}
		if len(segs) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], segs[0]); err != nil || !ok {
			return false
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}
