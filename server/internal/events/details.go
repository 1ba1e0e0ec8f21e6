package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// RedactedKeysDetail is the detail under which Record lists the keys it stripped (as
// dot-separated paths, sorted), so a reader of the log sees that something was withheld and a
// developer sees which call site to fix.
const RedactedKeysDetail = "redacted_keys"

// sensitiveKeyParts are the words that mark a detail key as a credential (SEC-18). Matching is
// by case-insensitive substring, so "refresh_token", "X-CSRF-Token", "totpCode" and
// "client_secret" are all caught. The price is false positives ("error_code", "token_family"):
// name such details differently ("reason", "family_id").
var sensitiveKeyParts = []string{"password", "passphrase", "token", "secret", "code", "cookie", "authorization"}

// SensitiveKey reports whether a detail key names a credential and would be stripped.
func SensitiveKey(key string) bool {
	k := strings.ToLower(key)
	for _, part := range sensitiveKeyParts {
		if strings.Contains(k, part) {
			return true
		}
	}
	return false
}

// guardDetails returns a deep copy of d without any sensitive key, at any depth (inside nested
// objects and arrays of objects), and the sorted paths of the keys it removed.
//
// We strip rather than refuse: an event about a failed login or a replayed refresh token is
// worth more than the detail that would have leaked, and refusing would lose the event at the
// moment it matters. Stripping is never silent, though: the removed paths are recorded under
// RedactedKeysDetail. Only key names are inspected; a secret put under an innocent name
// ("value") cannot be recognised, which is why callers pass IDs and counts, never raw input.
//
// The copy is made by a JSON round trip, so the stored map shares nothing with the caller's and
// every Store sees the same types a database read returns (float64, []any, map[string]any);
// values JSON cannot encode are an error.
func guardDetails(d map[string]any) (map[string]any, []string, error) {
	if len(d) == 0 {
		return nil, nil, nil
	}
	raw, err := json.Marshal(d)
	if err != nil {
		return nil, nil, fmt.Errorf("details are not JSON: %w", err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, nil, fmt.Errorf("details are not JSON: %w", err)
	}
	var removed []string
	stripObject(out, "", &removed)
	slices.Sort(removed)
	removed = slices.Compact(removed) // the same key in several array elements is listed once
	return out, removed, nil
}

func stripObject(m map[string]any, prefix string, removed *[]string) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if SensitiveKey(k) {
			delete(m, k)
			*removed = append(*removed, path)
			continue
		}
		stripValue(v, path, removed)
	}
}

func stripValue(v any, path string, removed *[]string) {
	switch v := v.(type) {
	case map[string]any:
		stripObject(v, path, removed)
	case []any:
		for _, el := range v {
			stripValue(el, path, removed)
		}
	}
}
