// Package recovery is the recovery-code factor (SEC-22): ten single-use codes of 50 bits each,
// shown once and stored as hashes.
package recovery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Code shape: Count codes of Length symbols from Alphabet (5 bits each, 50 bits a code),
// shown as two groups of five joined by a dash.
const (
	Count  = 10
	Length = 10
	Group  = 5
	// Alphabet is Crockford's base32 in lower case: no i, l, o or u. On input i and l read as
	// 1 and o as 0, so a code copied by eye still works.
	Alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	// Bits is the entropy of one code.
	Bits = Length * 5
)

// ErrInvalidCode: the code is malformed, unknown, or already used.
var ErrInvalidCode = errors.New("recovery: invalid code")

// Store keeps hashed codes.
type Store interface {
	// Replace deletes the user's codes and stores hashes as the new set, in one transaction.
	Replace(ctx context.Context, userID string, hashes []string, at time.Time) error
	// Use marks an unused code used, in one conditional update; of concurrent calls with the
	// same hash exactly one reports true.
	Use(ctx context.Context, userID, hash string, at time.Time) (bool, error)
	// Remaining counts the user's unused codes.
	Remaining(ctx context.Context, userID string) (int, error)
	// Delete removes all of the user's codes.
	Delete(ctx context.Context, userID string) error
}

// Options are the injectable dependencies; zero values take the real ones.
type Options struct {
	Now  func() time.Time
	Rand io.Reader
}

// Codes is the recovery-code factor.
type Codes struct {
	store Store
	now   func() time.Time
	rand  io.Reader
}

// New returns the recovery-code factor over store.
func New(store Store, opts Options) *Codes {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Codes{store: store, now: opts.Now, rand: opts.Rand}
}

// Generate makes a new set of codes, replacing (and so invalidating) the old one. The codes
// are returned formatted for reading and are not recoverable afterwards.
func (c *Codes) Generate(ctx context.Context, userID string) ([]string, error) {
	codes := make([]string, 0, Count)
	hashes := make([]string, 0, Count)
	seen := map[string]bool{}
	buf := make([]byte, Length)
	for len(codes) < Count {
		if _, err := io.ReadFull(c.rand, buf); err != nil {
			return nil, fmt.Errorf("generate recovery code: %w", err)
		}
		raw := make([]byte, Length)
		for i, b := range buf {
			raw[i] = Alphabet[b&31] // 256 is a multiple of 32: uniform
		}
		if seen[string(raw)] {
			continue
		}
		seen[string(raw)] = true
		codes = append(codes, string(raw[:Group])+"-"+string(raw[Group:]))
		hashes = append(hashes, Hash(userID, string(raw)))
	}
	if err := c.store.Replace(ctx, userID, hashes, c.now().UTC()); err != nil {
		return nil, fmt.Errorf("store recovery codes: %w", err)
	}
	return codes, nil
}

// Use spends a code. Unknown, malformed and used codes are all ErrInvalidCode.
func (c *Codes) Use(ctx context.Context, userID, code string) error {
	norm, ok := Normalize(code)
	if !ok {
		return ErrInvalidCode
	}
	used, err := c.store.Use(ctx, userID, Hash(userID, norm), c.now().UTC())
	if err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	if !used {
		return ErrInvalidCode
	}
	return nil
}

// Remaining counts the user's unused codes.
func (c *Codes) Remaining(ctx context.Context, userID string) (int, error) {
	n, err := c.store.Remaining(ctx, userID)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes: %w", err)
	}
	return n, nil
}

// Delete removes all of the user's codes (MFA reset).
func (c *Codes) Delete(ctx context.Context, userID string) error {
	if err := c.store.Delete(ctx, userID); err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	return nil
}

// Normalize turns typed input into the stored form: lower case, no spaces or dashes, i/l read
// as 1 and o as 0. It reports false when the result is not a well-formed code.
func Normalize(code string) (string, bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		if r > 127 || !strings.ContainsRune(Alphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != Length {
		return "", false
	}
	return b.String(), true
}

// Hash is what the store keeps for a normalised code: SHA-256, bound to the user so that one
// hash table cannot serve for all users. Codes carry 50 random bits, so a fast hash suffices.
func Hash(userID, normalized string) string {
	sum := sha256.Sum256([]byte("gatehouse recovery code v1\x00" + userID + "\x00" + normalized))
	return hex.EncodeToString(sum[:])
}
