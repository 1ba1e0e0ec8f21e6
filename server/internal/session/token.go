package session

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// tokenBytes is the entropy of every token: 256 bits, twice SEC-10's floor, so guessing is
// hopeless even across millions of live sessions.
const tokenBytes = 32

// tokenLen is the length of an encoded token (base64url, no padding).
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// Caps on what clients send us, so a hostile header cannot bloat rows.
const (
	maxUserAgentBytes = 512
	maxIPBytes        = 64
	maxReasonBytes    = 64
)

// newToken returns a fresh token and its hash. The error never carries token material.
func (m *Manager) newToken() (token, hash string, err error) {
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(m.rand, b); err != nil {
		return "", "", fmt.Errorf("session: read random bytes: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token), nil
}

// newID returns a random (version 4) UUID from the Manager's random source.
func (m *Manager) newID() (string, error) {
	id, err := uuid.NewRandomFromReader(m.rand)
	if err != nil {
		return "", fmt.Errorf("session: new id: %w", err)
	}
	return id.String(), nil
}

// hashToken is what the store keeps: hex SHA-256. A plain hash is enough (no salt, no
// stretching) because the token has 256 random bits; it also keeps the lookup an index probe.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// wellFormedToken says whether s could be one of our tokens. Anything else cannot match a
// stored hash, so it is refused without hashing an arbitrary-sized input or asking the store.
func wellFormedToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// canonicalID parses a UUID in its 36-character form and returns it lower-cased, the form both
// dialects store. Anything else is refused here: PostgreSQL would answer a malformed UUID with
// an error rather than "no rows", and SQLite would compare the text as given.
func canonicalID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", false
	}
	return id.String(), true
}

// clean makes client-supplied text storable: valid UTF-8 without NUL bytes (PostgreSQL refuses
// both in TEXT), cut to max bytes at a character boundary.
func clean(s string, maxBytes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= maxBytes {
		return s
	}
	for maxBytes > 0 && !utf8.RuneStart(s[maxBytes]) {
		maxBytes--
	}
	return s[:maxBytes]
}
