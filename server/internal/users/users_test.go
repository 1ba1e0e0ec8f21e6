package users

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeEmail(t *testing.T) {
	ok := map[string]string{
		padded("Alice@Example.COM"): "alice@example.com",
		"admin@localhost":           "admin@localhost",
		"a.b+tag@sub.example.org":   "a.b+tag@sub.example.org",
	}
	for in, want := range ok {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("%q -> %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "alice", "@example.com", "alice@", "Alice <alice@example.com>", "a@b", "alice@example.com\x00",
		"x@" + strings.Repeat("a", 250) + ".com", strings.Repeat("a", 65) + "@example.com", "' OR 1=1 --@x.com", "\xff@example.com"} {
		if _, err := NormalizeEmail(bad); !errors.Is(err, ErrInvalidEmail) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// padded surrounds s with the whitespace that users paste along with an address.
func padded(s string) string { return "\t " + s + " \n" }

func TestValidRoles(t *testing.T) {
	got, err := ValidRoles([]string{"support", "admin", "support"})
	if err != nil || !slices.Equal(got, []string{"admin", "support", "user"}) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ValidRoles([]string{"root"}); !errors.Is(err, ErrInvalidRole) {
		t.Fatal("unknown role accepted")
	}
}

func TestValidDisplayName(t *testing.T) {
	if n, err := ValidDisplayName("  Zoë 李  "); err != nil || n != "Zoë 李" {
		t.Fatalf("%q %v", n, err)
	}
	for _, bad := range []string{strings.Repeat("x", MaxDisplayName+1), "a\nb", "\xff"} {
		if _, err := ValidDisplayName(bad); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := ValidStatus("frozen"); !errors.Is(err, ErrInvalidState) {
		t.Fatal("bad status accepted")
	}
}
