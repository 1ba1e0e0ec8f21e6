package ratelimit

import (
	"container/list"
	"sync"
	"time"
)

// DefaultMaxKeys is the key bound used when a memory backend is given
// maxKeys <= 0: the in-memory stores are never unbounded, because every new
// client IP or typed email creates a key and a flood of them must not exhaust
// memory.
const DefaultMaxKeys = 100_000

// MemoryOption configures the in-memory backends.
type MemoryOption func(*memoryConfig)

type memoryConfig struct {
	now func() time.Time
}

// WithClock makes an in-memory backend read time from now instead of
// time.Now, so tests can move time forward without sleeping.
func WithClock(now func() time.Time) MemoryOption {
	return func(c *memoryConfig) { c.now = now }
}

func newMemoryConfig(opts []MemoryOption) memoryConfig {
	c := memoryConfig{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// memKV is the in-memory stand-in for the few Redis commands the backends
// use: integer values with an optional expiry, bounded to max keys by
// evicting the least recently used one. Expired keys read as absent and are
// dropped when met, and since they stop being used they also drift to the
// eviction end of the list. Evicting a live key forgets its counts, which
// favours the client behind it; size max well above the number of clients
// active within the longest limit period.
//
// Methods whose names end in Locked expect mu to be held, so that callers can
// make a sequence of them atomic, as a Lua script does in Redis.
type memKV struct {
	mu  sync.Mutex
	max int
	now func() time.Time
	ll  *list.List // of *memEntry, most recently used at the front
	m   map[string]*list.Element
}

type memEntry struct {
	key     string
	val     int64
	expires time.Time // zero: never
}

func newMemKV(maxKeys int, now func() time.Time) *memKV {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &memKV{max: maxKeys, now: now, ll: list.New(), m: make(map[string]*list.Element)}
}

// getLocked returns the live entry for key, marking it recently used.
func (s *memKV) getLocked(key string, now time.Time) (*memEntry, bool) {
	el, ok := s.m[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*memEntry)
	if !e.expires.IsZero() && !now.Before(e.expires) {
		s.removeLocked(el)
		return nil, false
	}
	s.ll.MoveToFront(el)
	return e, true
}

// setLocked stores val under key with the given expiry (zero: never),
// evicting the least recently used key when the store is full.
func (s *memKV) setLocked(key string, val int64, expires time.Time) {
	if el, ok := s.m[key]; ok {
		e := el.Value.(*memEntry)
		e.val, e.expires = val, expires
		s.ll.MoveToFront(el)
		return
	}
	for s.ll.Len() >= s.max {
		s.removeLocked(s.ll.Back())
	}
	s.m[key] = s.ll.PushFront(&memEntry{key: key, val: val, expires: expires})
}

// incrLocked adds one to key (absent counts as 0) and keeps its expiry, like
// Redis INCR.
func (s *memKV) incrLocked(key string, now time.Time) int64 {
	if e, ok := s.getLocked(key, now); ok {
		e.val++
		return e.val
	}
	s.setLocked(key, 1, time.Time{})
	return 1
}

// expireLocked sets the expiry of an existing key, like Redis PEXPIRE.
func (s *memKV) expireLocked(key string, expires time.Time, now time.Time) {
	if e, ok := s.getLocked(key, now); ok {
		e.expires = expires
	}
}

// ttlLocked returns the time key has left, or 0 when it is absent or never
// expires (the backends only ask about keys that always expire).
func (s *memKV) ttlLocked(key string, now time.Time) time.Duration {
	e, ok := s.getLocked(key, now)
	if !ok || e.expires.IsZero() {
		return 0
	}
	return e.expires.Sub(now)
}

func (s *memKV) deleteLocked(keys ...string) {
	for _, k := range keys {
		if el, ok := s.m[k]; ok {
			s.removeLocked(el)
		}
	}
}

func (s *memKV) removeLocked(el *list.Element) {
	s.ll.Remove(el)
	delete(s.m, el.Value.(*memEntry).key)
}

// len reports how many keys are held, expired ones included until met.
func (s *memKV) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ll.Len()
}
