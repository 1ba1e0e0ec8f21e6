package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// ErrInvalidLimit is returned for a Limit that admits nothing or cannot be
// represented (see Limit); test with errors.Is.
var ErrInvalidLimit = errors.New("ratelimit: invalid limit")

// Limit is a GCRA quota: Rate requests per Period on average, with up to
// Burst of them at once. Limit{Rate: 10, Period: time.Minute, Burst: 10}
// admits 10 requests immediately and then one every 6 seconds.
//
// Rate and Burst must be at least 1 and Period/Rate at least one millisecond:
// the Redis backend computes in floating-point seconds with microsecond
// clocks, and finer intervals would make the backends disagree.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// minInterval is the smallest emission interval (Period/Rate) accepted.
const minInterval = time.Millisecond

func (l Limit) validate() error {
	if l.Rate < 1 || l.Burst < 1 || l.Period <= 0 || l.Period/time.Duration(l.Rate) < minInterval {
		return fmt.Errorf("%w: %d per %s, burst %d", ErrInvalidLimit, l.Rate, l.Period, l.Burst)
	}
	return nil
}

// Result is the outcome of one Allow call.
type Result struct {
	// Allowed reports whether the request may proceed; it has been counted.
	Allowed bool
	// Remaining is how many more requests would be admitted right now.
	Remaining int
	// RetryAfter is how long to wait before the next request can be admitted;
	// zero when Allowed. Round it up for an HTTP Retry-After header.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full burst.
	ResetAfter time.Duration
}

// Limiter admits or refuses requests per key. Implementations are safe for
// concurrent use.
type Limiter interface {
	// Allow counts one request against key under l and reports whether it is
	// admitted. A refused request is not counted, so a client that keeps
	// retrying is admitted again at the rate of l. On error the Result is the
	// zero value (not allowed).
	Allow(ctx context.Context, key string, l Limit) (Result, error)
	// Reset forgets key, returning it to a full burst.
	Reset(ctx context.Context, key string) error
}

// KeyIP returns the limiter key for a client address within scope ("login",
// "token", "mfa"). IPv4 and IPv4-mapped IPv6 addresses are used whole; IPv6
// addresses are reduced to their /64, the block one subscriber usually
// controls. A string that is not an IP address is hashed, so it cannot make
// the key long or ambiguous.
func KeyIP(scope, ip string) string {
	return scope + ":ip:" + normalizeIP(ip)
}

// KeyAccount returns the limiter key for an account identifier (an email
// address, or a user ID) within scope. The identifier is trimmed and
// lower-cased, as Gatehouse stores emails, so case variants share one bucket;
// it is then hashed with SHA-256 so that Redis key names never reveal who is
// logging in.
func KeyAccount(scope, account string) string {
	return scope + ":acct:" + accountHash(account)
}

func accountHash(account string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(account))))
	return hex.EncodeToString(sum[:])
}

func normalizeIP(ip string) string {
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		sum := sha256.Sum256([]byte(ip))
		return "invalid-" + hex.EncodeToString(sum[:16])
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}
