package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"gatehouse/server/internal/leader"
)

// advisoryClass is the first key of every Gatehouse advisory lock (pg_try_advisory_lock's
// two-int4 form), so our locks cannot collide with another application's single-key locks.
// "GhLk" as four ASCII bytes.
const advisoryClass int32 = 0x47684c6b

// leaseCheckTimeout bounds a lease check, so a half-open connection counts as lost instead of
// hanging the leader loop.
const leaseCheckTimeout = 5 * time.Second

// Locker returns the leader lock for this database: PostgreSQL session-level advisory locks
// held on a dedicated connection, or, on SQLite (one process), a lock that is always granted.
func (db *DB) Locker() leader.Locker {
	if db.dialect != DialectPostgres {
		return leader.Local()
	}
	return &pgLocker{db: db.sql}
}

type pgLocker struct{ db *sql.DB }

// TryAcquire takes a connection out of the pool and tries the lock on it. The lock is keyed by
// the connection's current schema and the name, so deployments (or tests) sharing a database
// in separate schemas do not exclude each other. A connection that did not get the lock goes
// back to the pool holding nothing; one that did is kept until Release.
func (l *pgLocker) TryAcquire(ctx context.Context, name string) (leader.Lease, bool, error) {
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("leader lock %s: connect: %w", name, err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		discard(conn)
		return nil, false, fmt.Errorf("leader lock %s: %w", name, err)
	}
	key := lockKey(schema, name)
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, $2)", advisoryClass, key).Scan(&ok); err != nil {
		// We cannot know whether the lock was taken before the error: destroy the session.
		discard(conn)
		return nil, false, fmt.Errorf("leader lock %s: %w", name, err)
	}
	if !ok {
		_ = conn.Close()
		return nil, false, nil
	}
	return &pgLease{conn: conn, key: key, name: name}, true, nil
}

// lockKey is a 31-bit FNV-1a hash of schema and name.
func lockKey(schema, name string) int32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(schema))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(name))
	return int32(h.Sum32() & 0x7fffffff) //nolint:gosec // masked to 31 bits
}

type pgLease struct {
	mu   sync.Mutex
	conn *sql.Conn // nil once released
	key  int32
	name string
}

// Check asks the database whether this session still holds the lock: a dead connection fails
// the query, and a lock released behind our back (pg_advisory_unlock_all) is not listed.
func (l *pgLease) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return errors.New("leader lock " + l.name + ": released")
	}
	ctx, cancel := context.WithTimeout(ctx, leaseCheckTimeout)
	defer cancel()
	var held bool
	err := l.conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
  AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2)`, int64(advisoryClass), int64(l.key)).Scan(&held)
	if err != nil {
		return fmt.Errorf("leader lock %s: check: %w", l.name, err)
	}
	if !held {
		return fmt.Errorf("leader lock %s: no longer held by this session", l.name)
	}
	return nil
}

// Release ends the session that holds the lock rather than unlocking and returning the
// connection: the pool must never hand out a connection that might still hold a lock.
func (l *pgLease) Release(context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	discard(l.conn)
	l.conn = nil
	return nil
}

// discard closes the physical connection instead of returning it to the pool.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}
