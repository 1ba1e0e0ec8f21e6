package azure_test

import (
	"regexp"
	"strings"
	"testing"

	"gatehouse/server/internal/secrets/azure"
)

var kvName = regexp.MustCompile(`^[0-9a-z-]{1,127}$`)

func TestEncodeName(t *testing.T) {
	for name, want := range map[string]string{
		"billing/prod/db-password": "billing-1prod-1db-0password",
		"Billing/DB":               "-billing-1-d-b",
		"a_b.c":                    "a-2b-3c",
		"x":                        "x",
	} {
		if got := azure.EncodeName(name); got != want {
			t.Errorf("EncodeName(%q) = %q, want %q", name, got, want)
		}
	}
}

// Names that encodings folding case or punctuation would merge stay apart, and every short
// enough name decodes back.
func TestEncodeNameReversibleAndCollisionFree(t *testing.T) {
	names := []string{"a/b", "a-b", "a_b", "a.b", "A/b", "a/B", "ab", "AB", "Ab", "a--b", "a__b", "a/-b", "a-/b",
		"a/_b", "a/.b", "-", "--", "-0", "a-0", "a0", "h--x", "h", "z9", "a\x00b", "a\xffb", "9"}
	names = append(names, strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("A", 63), strings.Repeat("A", 64),
		strings.Repeat("ab/", 171)[:512], strings.Repeat("ab/", 171)[:511])
	seen := map[string]string{}
	for _, n := range names {
		enc := azure.EncodeName(n)
		if !kvName.MatchString(enc) {
			t.Errorf("EncodeName(%q) = %q: not a lower-case Key Vault name", n, enc)
		}
		// Key Vault compares names case-insensitively.
		key := strings.ToLower(enc)
		if other, dup := seen[key]; dup {
			t.Errorf("%q and %q both encode to %q", other, n, enc)
		}
		seen[key] = n
		dec, ok := azure.DecodeName(enc)
		switch {
		case strings.HasPrefix(enc, "h--"):
			if ok {
				t.Errorf("hashed %q decoded", enc)
			}
		case !ok || dec != n:
			t.Errorf("DecodeName(EncodeName(%q)) = %q, %v", n, dec, ok)
		}
	}
}

func TestDecodeNameRejectsForeignNames(t *testing.T) {
	for _, s := range []string{"", "-", "a-", "a--b", "-4", "-9zz", "-9a", "UPPER"} {
		if got, ok := azure.DecodeName(s); ok {
			t.Errorf("DecodeName(%q) = %q, want not decodable", s, got)
		}
	}
}
