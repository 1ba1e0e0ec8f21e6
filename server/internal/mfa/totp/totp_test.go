package totp_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"gatehouse/server/internal/mfa/totp"
	"gatehouse/server/internal/mfa/totp/totptest"
)

// TestFactorOnFakeStore runs the SEC-20 suite on the in-memory store.
func TestFactorOnFakeStore(t *testing.T) {
	totptest.Exercise(t, func(t *testing.T) totptest.Harness {
		s := totptest.NewMemStore()
		var n atomic.Int64
		return totptest.Harness{
			Store:        s,
			NewUser:      func(*testing.T) string { return "user-" + strconv.FormatInt(n.Add(1), 10) },
			StoredSecret: func(_ *testing.T, uid string) string { return s.SecretColumn(uid) },
		}
	})
}

// SEC-20: the RFC 6238 appendix B test vector (SHA-1), truncated to 6 digits.
func TestCodeAtRFC6238Vector(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"
	for _, tc := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		got, err := totp.CodeAt(secret, tc.unix/30)
		if err != nil || got != tc.want {
			t.Errorf("T=%d: %s (%v), want %s", tc.unix, got, err, tc.want)
		}
	}
}
