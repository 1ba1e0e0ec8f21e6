package store

// LockKeyForTest exposes the advisory lock key of a job name in a schema, so tests can find
// the session holding it in pg_locks.
func LockKeyForTest(schema, name string) (class, key int32) {
	return advisoryClass, lockKey(schema, name)
}
