package ratelimit

// MemoryKeys reports how many keys an in-memory Limiter or Lockout holds and
// its bound, so the external tests can check that memory stays bounded.
func MemoryKeys(v any) (n, limit int) {
	var kv *memKV
	switch x := v.(type) {
	case *memoryLimiter:
		kv = x.store.kv
	case *Lockout:
		kv = x.store.(*memoryLockout).kv
	default:
		panic("MemoryKeys: not an in-memory backend")
	}
	return kv.len(), kv.max
}
