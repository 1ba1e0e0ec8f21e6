// Package generate makes new secret values: for "create with generator" and for rotation, which
// must produce a fresh value without a human typing one.
//
// Every generator draws from crypto/rand and picks characters uniformly: a random byte is
// accepted only below the largest multiple of the alphabet size (rejection sampling), so no
// character is likelier than another (a plain `b % n` would favour the first 256 mod n
// characters). A password that must contain every character class is drawn as a whole and
// redrawn until it does, which keeps it uniform over all passwords that qualify; placing one
// character of each class at fixed or shuffled positions would not.
//
// A Spec is JSON-friendly, so a rotation policy can store it as is:
//
//	{"type":"password","length":32,"require_each":true,"exclude_chars":"Il1O0"}
//	{"type":"hex","bytes":32}
//	{"type":"base64url","bytes":32}
//	{"type":"apikey","prefix":"gh_live_","length":40}
package generate

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Generator types.
const (
	TypePassword  = "password"  // printable ASCII from the enabled classes
	TypeHex       = "hex"       // Bytes random bytes, lower-case hex
	TypeBase64    = "base64"    // Bytes random bytes, standard base64 with padding
	TypeBase64URL = "base64url" // Bytes random bytes, URL-safe base64 without padding
	TypeAPIKey    = "apikey"    // Prefix + Length random characters from [A-Za-z0-9]
)

// Limits. Values are capped at 64 KiB by the secrets service anyway; these keep a typo
// ("length": 3200000) from being an expensive request, and refuse values too short to be
// secrets.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 4096
	MinBytes          = 8
	MaxBytes          = 4096
	MinAPIKeyLength   = 16
	MaxAPIKeyLength   = 256
	MaxPrefixLength   = 32
)

// Defaults for a Spec that leaves a size out.
const (
	DefaultPasswordLength = 32
	DefaultBytes          = 32
	DefaultAPIKeyLength   = 40
)

// Character classes of a password.
const (
	Lowercase = "abcdefghijklmnopqrstuvwxyz"
	Uppercase = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	Digits    = "0123456789"
	// Symbols is ASCII punctuation: every printable, non-alphanumeric, non-space character.
	Symbols = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

const apiKeyAlphabet = Uppercase + Lowercase + Digits

// maxRedraws bounds the redraws of a password that misses a required class. Even the worst
// allowed case (a class reduced to one character by exclude_chars, shortest length) succeeds
// within a few dozen draws on average; hitting this bound means the spec is near-impossible.
const maxRedraws = 10_000

// ErrInvalidSpec is wrapped by every validation error (see *SpecError).
var ErrInvalidSpec = errors.New("generate: invalid generator spec")

// ErrUnsatisfiable means a password spec's classes could not all be placed within the redraw
// bound; it wraps ErrInvalidSpec, since a different spec is the fix.
var ErrUnsatisfiable = fmt.Errorf("%w: require_each could not be met; lengthen the password or exclude fewer characters", ErrInvalidSpec)

// SpecError names the field of a Spec that is wrong and why. It matches ErrInvalidSpec.
type SpecError struct {
	Field   string
	Problem string
}

func (e *SpecError) Error() string {
	return "generate: invalid generator spec: " + e.Field + ": " + e.Problem
}

// Is makes errors.Is(err, ErrInvalidSpec) true.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

// Spec describes a value to generate. Fields that do not apply to the Type must be left zero;
// zero sizes take the defaults.
type Spec struct {
	Type string `json:"type"`

	// Length is the number of characters of a password, or of an API key's random part.
	Length int `json:"length,omitempty"`
	// Bytes is the number of random bytes encoded by hex and base64 (the output is longer).
	Bytes int `json:"bytes,omitempty"`

	// Password classes: all four are used unless excluded.
	ExcludeLowercase bool `json:"exclude_lowercase,omitempty"`
	ExcludeUppercase bool `json:"exclude_uppercase,omitempty"`
	ExcludeDigits    bool `json:"exclude_digits,omitempty"`
	ExcludeSymbols   bool `json:"exclude_symbols,omitempty"`
	// ExcludeChars removes individual characters (e.g. look-alikes "Il1O0", or quotes a
	// consumer cannot escape). ASCII only.
	ExcludeChars string `json:"exclude_chars,omitempty"`
	// RequireEach guarantees at least one character of every enabled class.
	RequireEach bool `json:"require_each,omitempty"`

	// Prefix is put before an API key's random part ("gh_live_"): [A-Za-z0-9_-], at most 32.
	Prefix string `json:"prefix,omitempty"`
}

// Generate returns a new random value for spec, drawn from crypto/rand.
func Generate(spec Spec) ([]byte, error) {
	return generate(rand.Reader, spec)
}

// Normalize validates spec and fills in the default size, so a stored rotation policy says
// exactly what it will generate.
func (s Spec) Normalize() (Spec, error) {
	switch s.Type {
	case TypePassword:
		if s.Length == 0 {
			s.Length = DefaultPasswordLength
		}
	case TypeAPIKey:
		if s.Length == 0 {
			s.Length = DefaultAPIKeyLength
		}
	case TypeHex, TypeBase64, TypeBase64URL:
		if s.Bytes == 0 {
			s.Bytes = DefaultBytes
		}
	}
	return s, s.validate()
}

// Validate reports the first thing wrong with spec (after defaults), as a *SpecError.
func (s Spec) Validate() error {
	_, err := s.Normalize()
	return err
}

// EntropyBits is the strength of the values spec generates, in bits (0 for an invalid spec).
// For a password with RequireEach it is slightly overstated: the passwords missing a class
// are excluded from the draw.
func (s Spec) EntropyBits() float64 {
	s, err := s.Normalize()
	if err != nil {
		return 0
	}
	switch s.Type {
	case TypePassword:
		alphabet, _ := s.passwordAlphabet()
		return float64(s.Length) * math.Log2(float64(len(alphabet)))
	case TypeAPIKey:
		return float64(s.Length) * math.Log2(float64(len(apiKeyAlphabet)))
	default:
		return float64(8 * s.Bytes)
	}
}

func (s Spec) validate() error {
	invalid := func(field, problem string, args ...any) error {
		return &SpecError{Field: field, Problem: fmt.Sprintf(problem, args...)}
	}
	passwordOnly := s.ExcludeLowercase || s.ExcludeUppercase || s.ExcludeDigits || s.ExcludeSymbols ||
		s.ExcludeChars != "" || s.RequireEach
	switch s.Type {
	case TypePassword:
		if s.Length < MinPasswordLength || s.Length > MaxPasswordLength {
			return invalid("length", "must be between %d and %d", MinPasswordLength, MaxPasswordLength)
		}
		if s.Bytes != 0 {
			return invalid("bytes", "does not apply to password (use length)")
		}
		if s.Prefix != "" {
			return invalid("prefix", "applies to apikey only")
		}
		for i := range len(s.ExcludeChars) {
			if c := s.ExcludeChars[i]; c < 0x21 || c > 0x7e {
				return invalid("exclude_chars", "must be printable ASCII")
			}
		}
		_, classes := s.passwordAlphabet()
		if len(classes) == 0 {
			return invalid("exclude_*", "every character class is excluded; the alphabet is empty")
		}
	case TypeAPIKey:
		if s.Length < MinAPIKeyLength || s.Length > MaxAPIKeyLength {
			return invalid("length", "must be between %d and %d", MinAPIKeyLength, MaxAPIKeyLength)
		}
		if s.Bytes != 0 {
			return invalid("bytes", "does not apply to apikey (use length)")
		}
		if passwordOnly {
			return invalid("exclude_*/require_each", "apply to password only")
		}
		if len(s.Prefix) > MaxPrefixLength {
			return invalid("prefix", "at most %d characters", MaxPrefixLength)
		}
		for _, r := range s.Prefix {
			if !isAlnum(r) && r != '_' && r != '-' {
				return invalid("prefix", "only letters, digits, '_' and '-' are allowed")
			}
		}
	case TypeHex, TypeBase64, TypeBase64URL:
		if s.Bytes < MinBytes || s.Bytes > MaxBytes {
			return invalid("bytes", "must be between %d and %d", MinBytes, MaxBytes)
		}
		if s.Length != 0 {
			return invalid("length", "does not apply to %s (use bytes: the number of random bytes encoded)", s.Type)
		}
		if passwordOnly {
			return invalid("exclude_*/require_each", "apply to password only")
		}
		if s.Prefix != "" {
			return invalid("prefix", "applies to apikey only")
		}
	case "":
		return invalid("type", "is required: one of password, hex, base64, base64url, apikey")
	default:
		return invalid("type", "unknown generator %q: one of password, hex, base64, base64url, apikey", s.Type)
	}
	return nil
}

func isAlnum(r rune) bool {
	return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// passwordAlphabet returns the enabled characters and, per enabled class, its characters left
// after ExcludeChars (a class emptied by ExcludeChars counts as excluded).
func (s Spec) passwordAlphabet() (string, []string) {
	var (
		all     strings.Builder
		classes []string
	)
	add := func(excluded bool, class string) {
		if excluded {
			return
		}
		kept := strings.Map(func(r rune) rune {
			if strings.ContainsRune(s.ExcludeChars, r) {
				return -1
			}
			return r
		}, class)
		if kept == "" {
			return
		}
		all.WriteString(kept)
		classes = append(classes, kept)
	}
	add(s.ExcludeLowercase, Lowercase)
	add(s.ExcludeUppercase, Uppercase)
	add(s.ExcludeDigits, Digits)
	add(s.ExcludeSymbols, Symbols)
	return all.String(), classes
}

func generate(r io.Reader, spec Spec) ([]byte, error) {
	spec, err := spec.Normalize()
	if err != nil {
		return nil, err
	}
	switch spec.Type {
	case TypePassword:
		return password(r, spec)
	case TypeAPIKey:
		out := make([]byte, len(spec.Prefix)+spec.Length)
		copy(out, spec.Prefix)
		if err := fillUniform(r, out[len(spec.Prefix):], apiKeyAlphabet); err != nil {
			return nil, err
		}
		return out, nil
	}
	raw := make([]byte, spec.Bytes)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("generate: read random bytes: %w", err)
	}
	defer clear(raw)
	switch spec.Type {
	case TypeHex:
		return hex.AppendEncode(nil, raw), nil
	case TypeBase64:
		return base64.StdEncoding.AppendEncode(nil, raw), nil
	default: // TypeBase64URL; Normalize refused anything else
		return base64.RawURLEncoding.AppendEncode(nil, raw), nil
	}
}

func password(r io.Reader, spec Spec) ([]byte, error) {
	alphabet, classes := spec.passwordAlphabet()
	out := make([]byte, spec.Length)
	for range maxRedraws {
		if err := fillUniform(r, out, alphabet); err != nil {
			return nil, err
		}
		if !spec.RequireEach || coversAll(out, classes) {
			return out, nil
		}
	}
	clear(out)
	return nil, ErrUnsatisfiable
}

func coversAll(pw []byte, classes []string) bool {
	for _, c := range classes {
		if !strings.ContainsAny(string(pw), c) {
			return false
		}
	}
	return true
}

// fillUniform sets every byte of out to a character of alphabet (1..256 characters), each with
// probability exactly 1/len(alphabet): random bytes at or above the largest multiple of
// len(alphabet) that fits in a byte are discarded rather than folded back by the modulo.
func fillUniform(r io.Reader, out []byte, alphabet string) error {
	n := len(alphabet)
	if n == 0 || n > 256 {
		return fmt.Errorf("generate: alphabet of %d characters", n) // unreachable after validation
	}
	limit := 256 - 256%n // 256 when n divides 256: nothing is discarded
	buf := make([]byte, max(len(out)+len(out)/4, 16))
	defer clear(buf)
	for i := 0; i < len(out); {
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("generate: read random bytes: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out[i] = alphabet[int(b)%n]
			i++
			if i == len(out) {
				break
			}
		}
	}
	return nil
}
