package ratelimit

import (
	"context"
	"time"
)

// NewMemoryLockout returns a Lockout that keeps its state in this process,
// holding at most maxKeys keys (DefaultMaxKeys when maxKeys <= 0; each pair
// uses up to three, each account two). Eviction forgets the least recently
// touched state, which favours whoever it belonged to, so size maxKeys well
// above the pairs that fail within QuietPeriod.
func NewMemoryLockout(maxKeys int, p LockoutPolicy, opts ...MemoryOption) (*Lockout, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cfg := newMemoryConfig(opts)
	return &Lockout{store: &memoryLockout{kv: newMemKV(maxKeys, cfg.now)}, policy: p.truncated()}, nil
}

// memoryLockout mirrors lockoutFailureScript step for step under one mutex;
// the shared test suite holds the two to the same behaviour.
type memoryLockout struct {
	kv *memKV
}

func (m *memoryLockout) status(ctx context.Context, k lockoutKeys) (pair, account time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	m.kv.mu.Lock()
	defer m.kv.mu.Unlock()
	now := m.kv.now()
	return m.kv.ttlLocked(k.pairLock, now), m.kv.ttlLocked(k.acctLock, now), nil
}

func (m *memoryLockout) failure(ctx context.Context, k lockoutKeys, p LockoutPolicy) (lockedNow bool, retryAfter time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	s := m.kv
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()

	if held := max(s.ttlLocked(k.pairLock, now), s.ttlLocked(k.acctLock, now)); held > 0 {
		return false, held, nil
	}

	if n := s.incrLocked(k.pairFails, now); n >= int64(p.PairThreshold) {
		level := s.incrLocked(k.pairLevel, now)
		d := p.pairLock(level)
		s.setLocked(k.pairLock, 1, now.Add(d))
		s.expireLocked(k.pairLevel, now.Add(d+p.QuietPeriod), now)
		s.deleteLocked(k.pairFails)
		lockedNow, retryAfter = true, d
	} else {
		s.expireLocked(k.pairFails, now.Add(p.QuietPeriod), now)
	}

	n := s.incrLocked(k.acctFails, now)
	if n == 1 {
		s.expireLocked(k.acctFails, now.Add(p.AccountWindow), now)
	}
	if n >= int64(p.AccountThreshold) {
		s.setLocked(k.acctLock, 1, now.Add(p.AccountLock))
		s.deleteLocked(k.acctFails)
		lockedNow, retryAfter = true, max(retryAfter, p.AccountLock)
	}
	return lockedNow, retryAfter, nil
}

func (m *memoryLockout) clearPair(ctx context.Context, k lockoutKeys) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.kv.mu.Lock()
	defer m.kv.mu.Unlock()
	m.kv.deleteLocked(k.pairFails, k.pairLevel)
	return nil
}
