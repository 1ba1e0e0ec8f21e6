// Package opaque makes and checks the random bearer strings Gatehouse hands out besides
// sessions (pending MFA logins, trusted-device cookies): 256 bits from a CSPRNG, base64url,
// and their SHA-256, which is all that is stored (SEC-10, SEC-24).
package opaque

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

const tokenBytes = 32

// Len is the length of every token.
var Len = base64.RawURLEncoding.EncodedLen(tokenBytes)

// New returns a fresh token and its hash. The error never carries token material.
func New(r io.Reader) (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", "", fmt.Errorf("read random bytes: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, Hash(token), nil
}

// Hash is hex SHA-256: enough for 256-bit random input, and an index probe to look up.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// WellFormed says whether s could be a token; anything else is refused without a lookup.
func WellFormed(s string) bool {
	if len(s) != Len {
		return false
	}
	return strings.IndexFunc(s, func(c rune) bool {
		return (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_'
	}) < 0
}

// Clean makes client-supplied text storable: valid UTF-8, no NUL, at most maxBytes.
func Clean(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	for len(s) > maxBytes {
		r := []rune(s)
		s = string(r[:len(r)-1])
	}
	return s
}
