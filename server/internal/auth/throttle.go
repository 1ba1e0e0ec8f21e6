package auth

import (
	"context"
	"fmt"
	"time"

	"gatehouse/server/internal/ratelimit"
)

// Throttle guards the password endpoints (SEC-05): a per-client-IP rate limit, plus the
// progressive lockout per account and IP pair (and account-wide at a higher threshold) that
// expires on its own. Both share state between replicas when backed by Redis. Errors from the
// backend fail closed: a login is refused rather than let through unthrottled.
type Throttle struct {
	limiter ratelimit.Limiter
	lockout *ratelimit.Lockout
	perIP   ratelimit.Limit
}

// DefaultPerIP admits 30 password attempts a minute from one address, in bursts of 10.
var DefaultPerIP = ratelimit.Limit{Rate: 30, Period: time.Minute, Burst: 10}

// NewThrottle combines a limiter and a lockout.
func NewThrottle(l ratelimit.Limiter, lo *ratelimit.Lockout, perIP ratelimit.Limit) *Throttle {
	return &Throttle{limiter: l, lockout: lo, perIP: perIP}
}

// before refuses an attempt that the IP limit or a lockout forbids.
func (t *Throttle) before(ctx context.Context, scope, account, ip string) error {
	res, err := t.limiter.Allow(ctx, ratelimit.KeyIP(scope, ip), t.perIP)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if !res.Allowed {
		return &ThrottledError{RetryAfter: res.RetryAfter}
	}
	locked, retry, err := t.lockout.Check(ctx, account, ip)
	if err != nil {
		return fmt.Errorf("lockout: %w", err)
	}
	if locked {
		return &ThrottledError{RetryAfter: retry}
	}
	return nil
}

// allow spends one unit of the per-IP and the per-account rate for sending codes (SEC-21):
// a client cannot make Gatehouse send an unbounded number of SMS or mails.
func (t *Throttle) allow(ctx context.Context, scope, account, ip string) error {
	for _, key := range []string{ratelimit.KeyIP(scope, ip), ratelimit.KeyAccount(scope, account)} {
		res, err := t.limiter.Allow(ctx, key, t.perIP)
		if err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		if !res.Allowed {
			return &ThrottledError{RetryAfter: res.RetryAfter}
		}
	}
	return nil
}

func (t *Throttle) failed(ctx context.Context, account, ip string) (lockedNow bool, retry time.Duration, err error) {
	lockedNow, retry, err = t.lockout.Failure(ctx, account, ip)
	if err != nil {
		return false, 0, fmt.Errorf("lockout: %w", err)
	}
	return lockedNow, retry, nil
}

func (t *Throttle) succeeded(ctx context.Context, account, ip string) error {
	if err := t.lockout.Success(ctx, account, ip); err != nil {
		return fmt.Errorf("lockout: %w", err)
	}
	return nil
}
