package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidPolicy is returned by the Lockout constructors for a policy that
// would never lock or never unlock; test with errors.Is.
var ErrInvalidPolicy = errors.New("ratelimit: invalid lockout policy")

// LockoutPolicy sets the thresholds and durations of a Lockout; the package
// documentation explains how they combine. Durations are kept to the
// millisecond and must be at least one millisecond.
type LockoutPolicy struct {
	// PairThreshold failures for one (account, IP) pair lock that pair.
	PairThreshold int
	// PairBaseLock is the first lock of a pair; each further one doubles, up
	// to PairMaxLock.
	PairBaseLock, PairMaxLock time.Duration
	// QuietPeriod without failures forgets a pair's failure count; the same
	// quiet time after a lock ends resets the doubling.
	QuietPeriod time.Duration
	// AccountThreshold failures for one account, from any IPs, within
	// AccountWindow (counted from the first of them) lock the whole account,
	// from every IP, for AccountLock.
	AccountThreshold int
	AccountWindow    time.Duration
	AccountLock      time.Duration
}

// DefaultLockoutPolicy returns the policy Gatehouse uses unless configured
// otherwise.
//
// QuietPeriod is long next to PairMaxLock on purpose: a guesser who waits for
// the doubling to reset gets the short early locks again (35 guesses in the
// first 63 minutes), and only a quiet period of five hours or more makes that
// cycle slower on average than staying at the 1 h cap (5 guesses an hour).
// AccountLock is short because it also denies the real user; 50 failures per
// 10 minutes of denial, from several addresses, is the price of keeping an
// account locked.
func DefaultLockoutPolicy() LockoutPolicy {
	return LockoutPolicy{
		PairThreshold:    5,
		PairBaseLock:     time.Minute,
		PairMaxLock:      time.Hour,
		QuietPeriod:      12 * time.Hour,
		AccountThreshold: 50,
		AccountWindow:    time.Hour,
		AccountLock:      10 * time.Minute,
	}
}

// Validate reports every setting that would make the lockout never lock or
// never expire.
func (p LockoutPolicy) Validate() error {
	var errs []error
	if p.PairThreshold < 1 {
		errs = append(errs, fmt.Errorf("PairThreshold %d: want at least 1", p.PairThreshold))
	}
	if p.AccountThreshold < 1 {
		errs = append(errs, fmt.Errorf("AccountThreshold %d: want at least 1", p.AccountThreshold))
	}
	for _, d := range []struct {
		name string
		d    time.Duration
	}{
		{"PairBaseLock", p.PairBaseLock}, {"PairMaxLock", p.PairMaxLock}, {"QuietPeriod", p.QuietPeriod},
		{"AccountWindow", p.AccountWindow}, {"AccountLock", p.AccountLock},
	} {
		if d.d < time.Millisecond {
			errs = append(errs, fmt.Errorf("%s %s: want at least 1ms", d.name, d.d))
		}
	}
	if p.PairMaxLock < p.PairBaseLock {
		errs = append(errs, fmt.Errorf("PairMaxLock %s is below PairBaseLock %s", p.PairMaxLock, p.PairBaseLock))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidPolicy, errors.Join(errs...))
	}
	return nil
}

// truncated drops sub-millisecond parts, the resolution of the Redis store,
// so that both stores apply exactly the same durations.
func (p LockoutPolicy) truncated() LockoutPolicy {
	for _, d := range []*time.Duration{&p.PairBaseLock, &p.PairMaxLock, &p.QuietPeriod, &p.AccountWindow, &p.AccountLock} {
		*d = d.Truncate(time.Millisecond)
	}
	return p
}

// pairLock returns the duration of a pair's level-th lock (level >= 1):
// PairBaseLock doubled level-1 times, capped at PairMaxLock. The Redis script
// computes the same.
func (p LockoutPolicy) pairLock(level int64) time.Duration {
	d := p.PairBaseLock
	for i := int64(1); i < level && d < p.PairMaxLock; i++ {
		d *= 2
	}
	return min(d, p.PairMaxLock)
}

// Lockout is the progressive lockout of SEC-05 (see the package
// documentation). It is safe for concurrent use; Lockouts over the same Redis
// and prefix share their state.
type Lockout struct {
	store  lockoutStore
	prefix string // prepended to every key (Redis only)
	policy LockoutPolicy
}

// lockoutStore keeps lockout state. failure must be atomic: it is the step
// that decides, for many concurrent failures, which single one triggers a lock.
type lockoutStore interface {
	// status returns how long the pair and the account remain locked (0: not locked).
	status(ctx context.Context, k lockoutKeys) (pair, account time.Duration, err error)
	// failure records a failure unless either lock is held, and reports
	// whether it triggered a lock and for how long the caller must wait.
	failure(ctx context.Context, k lockoutKeys, p LockoutPolicy) (lockedNow bool, retryAfter time.Duration, err error)
	// clearPair forgets the pair's failure count and doubling.
	clearPair(ctx context.Context, k lockoutKeys) error
}

// lockoutKeys names the state of one (account, IP) pair and its account. All
// carry the account hash as a Redis Cluster hash tag, so the failure script's
// keys always live on one node.
type lockoutKeys struct {
	pairLock, pairFails, pairLevel string
	acctLock, acctFails            string
}

func newLockoutKeys(prefix, account, ip string) lockoutKeys {
	acct := prefix + "lockout:{" + accountHash(account) + "}:"
	pair := acct + "ip:" + normalizeIP(ip) + ":"
	return lockoutKeys{
		pairLock:  pair + "lock",
		pairFails: pair + "fails",
		pairLevel: pair + "level",
		acctLock:  acct + "lock",
		acctFails: acct + "fails",
	}
}

// Policy returns the policy the Lockout applies.
func (l *Lockout) Policy() LockoutPolicy { return l.policy }

// Check reports whether account may attempt to log in from ip now. When it is
// locked, retryAfter is how long until it is not (the longer of the pair and
// the account lock). Call it before verifying a password, and refuse without
// verifying when locked.
//
// On error, locked is true, so that a caller that only looks at locked fails
// closed.
func (l *Lockout) Check(ctx context.Context, account, ip string) (locked bool, retryAfter time.Duration, err error) {
	pair, acct, err := l.store.status(ctx, newLockoutKeys(l.prefix, account, ip))
	if err != nil {
		return true, 0, fmt.Errorf("ratelimit: lockout check: %w", err)
	}
	retryAfter = max(pair, acct)
	return retryAfter > 0, retryAfter, nil
}

// Failure records a failed attempt for account from ip. lockedNow reports
// that this very failure locked the pair or the account; the caller records
// an "account.locked" security event then, exactly once per lock. retryAfter
// is how long the caller must now wait: the new lock's duration, or what is
// left of a lock already held (a failure during a lock is not counted and
// does not extend it), or 0.
func (l *Lockout) Failure(ctx context.Context, account, ip string) (lockedNow bool, retryAfter time.Duration, err error) {
	lockedNow, retryAfter, err = l.store.failure(ctx, newLockoutKeys(l.prefix, account, ip), l.policy)
	if err != nil {
		return false, 0, fmt.Errorf("ratelimit: lockout failure: %w", err)
	}
	return lockedNow, retryAfter, nil
}

// Success records a successful login of account from ip: it clears the pair's
// failure count and lock doubling. The account-wide count is kept (see the
// package documentation).
func (l *Lockout) Success(ctx context.Context, account, ip string) error {
	if err := l.store.clearPair(ctx, newLockoutKeys(l.prefix, account, ip)); err != nil {
		return fmt.Errorf("ratelimit: lockout success: %w", err)
	}
	return nil
}
