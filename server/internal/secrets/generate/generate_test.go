package generate

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestGenerateFormats(t *testing.T) {
	tests := []struct {
		spec    Spec
		pattern string
		decoded int // random bytes the output must decode to (hex/base64)
	}{
		{Spec{Type: TypePassword}, `^[!-~]{32}$`, 0},
		{Spec{Type: TypePassword, Length: 12, ExcludeSymbols: true}, `^[A-Za-z0-9]{12}$`, 0},
		{Spec{Type: TypePassword, Length: 20, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeSymbols: true}, `^[0-9]{20}$`, 0},
		{Spec{Type: TypePassword, Length: 64, ExcludeChars: "Il1O0"}, `^[!-~]{64}$`, 0},
		{Spec{Type: TypeHex}, `^[0-9a-f]{64}$`, 32},
		{Spec{Type: TypeHex, Bytes: 16}, `^[0-9a-f]{32}$`, 16},
		{Spec{Type: TypeBase64, Bytes: 10}, `^[A-Za-z0-9+/]{14}==$`, 10},
		{Spec{Type: TypeBase64URL, Bytes: 32}, `^[A-Za-z0-9_-]{43}$`, 32},
		{Spec{Type: TypeAPIKey}, `^[A-Za-z0-9]{40}$`, 0},
		{Spec{Type: TypeAPIKey, Prefix: "gh_live-", Length: 16}, `^gh_live-[A-Za-z0-9]{16}$`, 0},
	}
	for _, tt := range tests {
		name, _ := json.Marshal(tt.spec)
		t.Run(string(name), func(t *testing.T) {
			a, err := Generate(tt.spec)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if !regexp.MustCompile(tt.pattern).Match(a) {
				t.Fatalf("%q does not match %s", a, tt.pattern)
			}
			b, err := Generate(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a, b) {
				t.Fatalf("two draws gave the same value %q", a)
			}
			if tt.spec.ExcludeChars != "" && bytes.ContainsAny(a, tt.spec.ExcludeChars) {
				t.Fatalf("%q contains an excluded character of %q", a, tt.spec.ExcludeChars)
			}
			if tt.decoded > 0 {
				var raw []byte
				switch tt.spec.Type {
				case TypeHex:
					raw, err = hex.DecodeString(string(a))
				case TypeBase64:
					raw, err = base64.StdEncoding.DecodeString(string(a))
				case TypeBase64URL:
					raw, err = base64.RawURLEncoding.DecodeString(string(a))
				}
				if err != nil || len(raw) != tt.decoded {
					t.Fatalf("decodes to %d bytes (err %v), want %d", len(raw), err, tt.decoded)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		spec  Spec
		field string // "" means valid
	}{
		{"empty type", Spec{}, "type"},
		{"unknown type", Spec{Type: "uuid"}, "type"},
		{"password too short", Spec{Type: TypePassword, Length: MinPasswordLength - 1}, "length"},
		{"password too long", Spec{Type: TypePassword, Length: MaxPasswordLength + 1}, "length"},
		{"password negative", Spec{Type: TypePassword, Length: -5}, "length"},
		{"password with bytes", Spec{Type: TypePassword, Bytes: 16}, "bytes"},
		{"password with prefix", Spec{Type: TypePassword, Prefix: "x"}, "prefix"},
		{"empty alphabet", Spec{Type: TypePassword, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeDigits: true, ExcludeSymbols: true}, "exclude_*"},
		{"alphabet emptied by exclude_chars", Spec{Type: TypePassword, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeSymbols: true, ExcludeChars: Digits}, "exclude_*"},
		{"non-ASCII exclusion", Spec{Type: TypePassword, ExcludeChars: "é"}, "exclude_chars"},
		{"space exclusion", Spec{Type: TypePassword, ExcludeChars: " "}, "exclude_chars"},
		{"require_each at minimum length", Spec{Type: TypePassword, Length: MinPasswordLength, RequireEach: true}, ""},
		{"hex too few bytes", Spec{Type: TypeHex, Bytes: MinBytes - 1}, "bytes"},
		{"hex too many bytes", Spec{Type: TypeHex, Bytes: MaxBytes + 1}, "bytes"},
		{"hex with length", Spec{Type: TypeHex, Length: 32}, "length"},
		{"base64 with require_each", Spec{Type: TypeBase64, RequireEach: true}, "exclude_*/require_each"},
		{"base64url with prefix", Spec{Type: TypeBase64URL, Prefix: "k_"}, "prefix"},
		{"apikey short", Spec{Type: TypeAPIKey, Length: MinAPIKeyLength - 1}, "length"},
		{"apikey long", Spec{Type: TypeAPIKey, Length: MaxAPIKeyLength + 1}, "length"},
		{"apikey bad prefix", Spec{Type: TypeAPIKey, Prefix: "a b"}, "prefix"},
		{"apikey long prefix", Spec{Type: TypeAPIKey, Prefix: strings.Repeat("a", MaxPrefixLength+1)}, "prefix"},
		{"apikey with exclusions", Spec{Type: TypeAPIKey, ExcludeSymbols: true}, "exclude_*/require_each"},
		{"apikey with bytes", Spec{Type: TypeAPIKey, Bytes: 8}, "bytes"},
		{"minimal password", Spec{Type: TypePassword, Length: MinPasswordLength}, ""},
		{"maximal hex", Spec{Type: TypeHex, Bytes: MaxBytes}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var se *SpecError
			if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Validate = %v, want a *SpecError matching ErrInvalidSpec", err)
			}
			if se.Field != tt.field {
				t.Fatalf("field %q (%v), want %q", se.Field, err, tt.field)
			}
			if _, gerr := Generate(tt.spec); !errors.Is(gerr, ErrInvalidSpec) {
				t.Fatalf("Generate accepted an invalid spec: %v", gerr)
			}
		})
	}
}

func TestRequireEachCoversEveryClass(t *testing.T) {
	// A class cut down to a single character ('%') is still required, and still found.
	spec := Spec{Type: TypePassword, Length: 8, RequireEach: true, ExcludeChars: strings.ReplaceAll(Symbols, "%", "")}
	for range 2000 {
		pw, err := Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, class := range []string{Lowercase, Uppercase, Digits, "%"} {
			if !bytes.ContainsAny(pw, class) {
				t.Fatalf("%q has no character of %q", pw, class)
			}
		}
	}
}

func TestNormalizeFillsDefaults(t *testing.T) {
	for _, tt := range []struct {
		in   Spec
		want Spec
	}{
		{Spec{Type: TypePassword}, Spec{Type: TypePassword, Length: DefaultPasswordLength}},
		{Spec{Type: TypeAPIKey, Prefix: "k_"}, Spec{Type: TypeAPIKey, Prefix: "k_", Length: DefaultAPIKeyLength}},
		{Spec{Type: TypeBase64}, Spec{Type: TypeBase64, Bytes: DefaultBytes}},
	} {
		got, err := tt.in.Normalize()
		if err != nil || got != tt.want {
			t.Fatalf("Normalize(%+v) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestSpecJSON(t *testing.T) {
	var s Spec
	raw := `{"type":"password","length":24,"exclude_symbols":true,"require_each":true,"exclude_chars":"Il1O0"}`
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		t.Fatal(err)
	}
	want := Spec{Type: TypePassword, Length: 24, ExcludeSymbols: true, RequireEach: true, ExcludeChars: "Il1O0"}
	if s != want {
		t.Fatalf("decoded %+v, want %+v", s, want)
	}
	out, err := json.Marshal(Spec{Type: TypeHex, Bytes: 16})
	if err != nil || string(out) != `{"type":"hex","bytes":16}` {
		t.Fatalf("encoded %s (%v): zero fields must be left out", out, err)
	}
}

func TestEntropyBits(t *testing.T) {
	if got := (Spec{Type: TypeHex, Bytes: 16}).EntropyBits(); got != 128 {
		t.Fatalf("hex 16 bytes: %v bits", got)
	}
	got := Spec{Type: TypePassword, Length: 10, ExcludeLowercase: true, ExcludeUppercase: true, ExcludeSymbols: true}.EntropyBits()
	if want := 10 * math.Log2(10); math.Abs(got-want) > 1e-9 {
		t.Fatalf("10 digits: %v bits, want %v", got, want)
	}
	if got := (Spec{Type: "nope"}).EntropyBits(); got != 0 {
		t.Fatalf("invalid spec: %v bits", got)
	}
}

// cycleReader yields 0, 1, ..., 255, 0, 1, ... : every byte value equally often.
type cycleReader struct{ next byte }

func (c *cycleReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = c.next
		c.next++
	}
	return len(p), nil
}

// TestNoModuloBias feeds fillUniform every byte value equally often. Uniform selection must
// then give every character exactly the same count; `b % 62` would give the first 256 mod 62
// = 8 characters five hits per cycle of 256 bytes and the others four.
func TestNoModuloBias(t *testing.T) {
	for _, alphabet := range []string{apiKeyAlphabet, Lowercase + Uppercase + Digits + Symbols, Digits, "ab"} {
		n := len(alphabet)
		limit := 256 - 256%n
		cycles := 4
		out := make([]byte, limit*cycles) // consumes exactly `cycles` cycles (see the buffer size)
		if err := fillUniform(&cycleReader{}, out, alphabet); err != nil {
			t.Fatal(err)
		}
		counts := map[byte]int{}
		for _, b := range out {
			counts[b]++
		}
		if len(counts) != n {
			t.Fatalf("alphabet %q: %d distinct characters, want %d", alphabet, len(counts), n)
		}
		want := limit * cycles / n
		for c, got := range counts {
			if got != want {
				t.Fatalf("alphabet of %d: %q drawn %d times, want exactly %d (biased)", n, c, got, want)
			}
		}
	}
}

// TestDistributionRoughlyUniform is a chi-squared check over crypto/rand output: with 94
// characters (93 degrees of freedom) the statistic exceeds 170 with probability below 1e-6,
// while `b % 94` (the first 68 characters 3/256 likely, the rest 2/256) lands far above it
// with this many samples.
func TestDistributionRoughlyUniform(t *testing.T) {
	spec := Spec{Type: TypePassword, Length: MaxPasswordLength}
	alphabet, _ := spec.passwordAlphabet()
	counts := make(map[byte]int, len(alphabet))
	total := 0
	for range 100 {
		pw, err := Generate(spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pw {
			counts[c]++
		}
		total += len(pw)
	}
	if chi := chiSquared(counts, alphabet, total); chi > 170 {
		t.Fatalf("chi-squared %.1f over %d characters: not uniform", chi, len(alphabet))
	}

	// The statistic must be able to fail: the same number of modulo-biased draws does.
	biased := make(map[byte]int, len(alphabet))
	buf := make([]byte, total)
	if _, err := io.ReadFull(rand.Reader, buf); err != nil {
		t.Fatal(err)
	}
	for _, b := range buf {
		biased[alphabet[int(b)%len(alphabet)]]++
	}
	if chi := chiSquared(biased, alphabet, total); chi <= 170 {
		t.Fatalf("modulo-biased draws gave chi-squared %.1f: the check cannot detect bias", chi)
	}
}

func chiSquared(counts map[byte]int, alphabet string, total int) float64 {
	expected := float64(total) / float64(len(alphabet))
	var chi float64
	for i := range len(alphabet) {
		d := float64(counts[alphabet[i]]) - expected
		chi += d * d / expected
	}
	return chi
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy source broke") }

func TestRandomSourceErrors(t *testing.T) {
	for _, spec := range []Spec{{Type: TypePassword}, {Type: TypeHex}, {Type: TypeAPIKey}} {
		if _, err := generate(failingReader{}, spec); err == nil || errors.Is(err, ErrInvalidSpec) {
			t.Fatalf("%s: err = %v, want the reader's error", spec.Type, err)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestUnsatisfiableRequireEach(t *testing.T) {
	// A source stuck on 0 only ever yields 'a': the other classes never appear.
	_, err := generate(zeroReader{}, Spec{Type: TypePassword, RequireEach: true})
	if !errors.Is(err, ErrUnsatisfiable) || !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("err = %v, want ErrUnsatisfiable", err)
	}
}
