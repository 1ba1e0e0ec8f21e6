package opaque_test

import (
	"crypto/rand"
	"strings"
	"testing"

	"gatehouse/server/internal/opaque"
)

func TestTokens(t *testing.T) {
	tok, hash, err := opaque.New(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != opaque.Len || !opaque.WellFormed(tok) || hash != opaque.Hash(tok) || strings.Contains(hash, tok) {
		t.Fatalf("token %q hash %q", tok, hash)
	}
	other, _, _ := opaque.New(rand.Reader)
	if other == tok {
		t.Fatal("two tokens alike")
	}
	for _, bad := range []string{"", tok[1:], tok[1:] + "=", tok[1:] + ".", strings.Repeat("a", 100)} {
		if opaque.WellFormed(bad) {
			t.Fatalf("%q passed as well-formed", bad)
		}
	}
	if _, _, err := opaque.New(strings.NewReader("short")); err == nil {
		t.Fatal("a failing random source gave a token")
	}
}

func TestClean(t *testing.T) {
	if got := opaque.Clean("a\x00b\xffc", 100); got != "ab\uFFFDc" {
		t.Fatalf("clean: %q", got)
	}
	if got := opaque.Clean("ééé", 4); got != "éé" {
		t.Fatalf("cut at a character boundary: %q", got)
	}
}
