package recovery_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"gatehouse/server/internal/mfa/recovery"
	"gatehouse/server/internal/mfa/recovery/recoverytest"
)

// TestCodesOnFakeStore runs the SEC-22 suite on the in-memory store.
func TestCodesOnFakeStore(t *testing.T) {
	recoverytest.Exercise(t, func(t *testing.T) recoverytest.Harness {
		s := recoverytest.NewMemStore()
		var n atomic.Int64
		return recoverytest.Harness{
			Store:        s,
			NewUser:      func(*testing.T) string { return "user-" + strconv.FormatInt(n.Add(1), 10) },
			StoredHashes: func(_ *testing.T, uid string) []string { return s.Hashes(uid) },
		}
	})
}

// SEC-22: input is normalised before hashing; confusable letters read as digits.
func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abcde-fgh23", "abcdefgh23"},
		{" ABCDE FGH23 ", "abcdefgh23"},
		{"abcdefgh23", "abcdefgh23"},
		{"oilab-cdefg", "011abcdefg"},
		{"a-b-c-d-e-f-g-h-2-3", "abcdefgh23"},
	} {
		if got, ok := recovery.Normalize(tc.in); !ok || got != tc.want {
			t.Errorf("Normalize(%q) = %q %v, want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, bad := range []string{"", "abcde", "abcde-fgh234", "abcde-fghu3", "abcdé-fgh23", "abcde_fgh23"} {
		if got, ok := recovery.Normalize(bad); ok {
			t.Errorf("Normalize(%q) = %q, want refusal", bad, got)
		}
	}
	if recovery.Hash("u1", "abcdefgh23") == recovery.Hash("u2", "abcdefgh23") {
		t.Fatal("hash must be bound to the user")
	}
}

// SEC-22: codes come from the injected randomness, every symbol of the alphabet is reachable,
// and a failing source is an error, not a weak code.
func TestGenerateRandomness(t *testing.T) {
	ctx := context.Background()
	c := recovery.New(recoverytest.NewMemStore(), recovery.Options{Rand: iotest.ErrReader(errors.New("no entropy"))})
	if _, err := c.Generate(ctx, "u"); err == nil {
		t.Fatal("want an error from a failing random source")
	}
	seen := map[rune]bool{}
	c = recovery.New(recoverytest.NewMemStore(), recovery.Options{})
	for range 20 {
		codes, err := c.Generate(ctx, "u")
		if err != nil {
			t.Fatal(err)
		}
		for _, code := range codes {
			for _, r := range strings.ReplaceAll(code, "-", "") {
				seen[r] = true
			}
		}
	}
	if len(seen) != len(recovery.Alphabet) {
		t.Fatalf("%d of %d symbols seen in 2000 symbols", len(seen), len(recovery.Alphabet))
	}
}
