package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisLockout returns a Lockout that keeps its state in Redis under
// prefix, shared by every replica using the same Redis and prefix. Each
// Check, Failure and Success is one round trip; Failure is a Lua script, so
// concurrent failures on any replicas are counted exactly. Keys carry the
// account hash as a Redis Cluster hash tag and all expire on their own.
func NewRedisLockout(c *redis.Client, prefix string, p LockoutPolicy) (*Lockout, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &Lockout{store: &redisLockout{c: c}, prefix: prefix, policy: p.truncated()}, nil
}

type redisLockout struct {
	c *redis.Client
}

// lockoutStatusScript returns the PTTL of the pair lock and the account lock
// in one round trip (negative: absent).
var lockoutStatusScript = redis.NewScript(`
return {redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])}
`)

// lockoutFailureScript records one failure atomically; memoryLockout.failure
// is its Go twin. It returns {lockedNow (0/1), retryAfter in ms}.
//
// KEYS: pair lock, pair fails, pair level, account lock, account fails.
// ARGV: pair threshold, pair base lock, pair max lock, quiet period,
// account threshold, account window, account lock (durations in ms).
var lockoutFailureScript = redis.NewScript(`
local pair_lock, pair_fails, pair_level, acct_lock, acct_fails = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local pair_threshold = tonumber(ARGV[1])
local base, cap, quiet = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local acct_threshold, window, acct_lock_ms = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])

-- A lock is never extended and failures during it are not counted.
local held = math.max(redis.call('PTTL', pair_lock), redis.call('PTTL', acct_lock))
if held > 0 then
  return {0, held}
end

local locked_now, retry = 0, 0

local n = redis.call('INCR', pair_fails)
if n >= pair_threshold then
  local level = redis.call('INCR', pair_level)
  local d = base
  local i = 1
  while i < level and d < cap do
    d = d * 2
    i = i + 1
  end
  if d > cap then d = cap end
  redis.call('SET', pair_lock, '1', 'PX', d)
  redis.call('PEXPIRE', pair_level, d + quiet)
  redis.call('DEL', pair_fails)
  locked_now, retry = 1, d
else
  redis.call('PEXPIRE', pair_fails, quiet)
end

local m = redis.call('INCR', acct_fails)
if m == 1 then
  redis.call('PEXPIRE', acct_fails, window)
end
if m >= acct_threshold then
  redis.call('SET', acct_lock, '1', 'PX', acct_lock_ms)
  redis.call('DEL', acct_fails)
  locked_now = 1
  if acct_lock_ms > retry then retry = acct_lock_ms end
end

return {locked_now, retry}
`)

func (r *redisLockout) status(ctx context.Context, k lockoutKeys) (pair, account time.Duration, err error) {
	v, err := lockoutStatusScript.Run(ctx, r.c, []string{k.pairLock, k.acctLock}).Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	if len(v) != 2 {
		return 0, 0, fmt.Errorf("status script returned %d values, want 2", len(v))
	}
	return msDuration(v[0]), msDuration(v[1]), nil
}

func (r *redisLockout) failure(ctx context.Context, k lockoutKeys, p LockoutPolicy) (lockedNow bool, retryAfter time.Duration, err error) {
	v, err := lockoutFailureScript.Run(ctx, r.c,
		[]string{k.pairLock, k.pairFails, k.pairLevel, k.acctLock, k.acctFails},
		p.PairThreshold, p.PairBaseLock.Milliseconds(), p.PairMaxLock.Milliseconds(), p.QuietPeriod.Milliseconds(),
		p.AccountThreshold, p.AccountWindow.Milliseconds(), p.AccountLock.Milliseconds(),
	).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if len(v) != 2 {
		return false, 0, fmt.Errorf("failure script returned %d values, want 2", len(v))
	}
	return v[0] == 1, msDuration(v[1]), nil
}

func (r *redisLockout) clearPair(ctx context.Context, k lockoutKeys) error {
	return r.c.Del(ctx, k.pairFails, k.pairLevel).Err()
}

// msDuration turns a PTTL-style millisecond count into a duration; negative
// values (absent key, no expiry) mean no lock.
func msDuration(ms int64) time.Duration {
	if ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
