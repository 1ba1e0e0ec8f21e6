package store_test

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/server/internal/leader"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// openURL opens another handle (another "replica") on an existing database.
func openURL(t *testing.T, u string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func schemaOf(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Query().Get("search_path")
}

// holderPID finds the backend holding a job's advisory lock.
func holderPID(t *testing.T, admin *sql.DB, schema, name string) (int, bool) {
	t.Helper()
	class, key := store.LockKeyForTest(schema, name)
	var pid int
	err := admin.QueryRowContext(context.Background(), `SELECT pid FROM pg_locks
WHERE locktype = 'advisory' AND granted AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`, int64(class), int64(key)).Scan(&pid)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return pid, true
}

func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	admin, err := sql.Open("pgx", os.Getenv(testenv.EnvPostgresURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	return admin
}

func TestLeaderLockSQLiteIsAlwaysHeld(t *testing.T) {
	db, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "g.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for range 2 {
		l, ok, err := db.Locker().TryAcquire(context.Background(), "job")
		if err != nil || !ok || l.Check(context.Background()) != nil {
			t.Fatalf("SQLite lock: ok=%v err=%v", ok, err)
		}
	}
}

func TestLeaderLockPostgres(t *testing.T) {
	ctx := context.Background()
	u := testenv.FreshPostgres(t)
	a, b := openURL(t, u), openURL(t, u)
	admin := adminDB(t)

	la, ok, err := a.Locker().TryAcquire(ctx, "cleanup")
	if err != nil || !ok {
		t.Fatalf("first acquire: ok=%v err=%v", ok, err)
	}
	if _, ok, err := b.Locker().TryAcquire(ctx, "cleanup"); err != nil || ok {
		t.Fatalf("second replica acquired a held lock: ok=%v err=%v", ok, err)
	}
	if lb, ok, err := b.Locker().TryAcquire(ctx, "rewrap"); err != nil || !ok {
		t.Fatalf("another name: ok=%v err=%v", ok, err)
	} else {
		_ = lb.Release(ctx)
	}
	if err := la.Check(ctx); err != nil {
		t.Fatalf("Check on a held lock: %v", err)
	}
	if _, held := holderPID(t, admin, schemaOf(t, u), "cleanup"); !held {
		t.Fatal("pg_locks does not list the lock")
	}

	// Release ends the session: the lock is free at once, and no pooled connection keeps it.
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if la.Check(ctx) == nil {
		t.Fatal("Check succeeded on a released lease")
	}
	if _, held := holderPID(t, admin, schemaOf(t, u), "cleanup"); held {
		t.Fatal("the lock is still held after Release")
	}
	lb, ok, err := b.Locker().TryAcquire(ctx, "cleanup")
	if err != nil || !ok {
		t.Fatalf("acquire after release: ok=%v err=%v", ok, err)
	}

	// A terminated session loses the lock, and Check says so.
	pid, _ := holderPID(t, admin, schemaOf(t, u), "cleanup")
	if _, err := admin.ExecContext(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, func() bool { return lb.Check(ctx) != nil })
	_ = lb.Release(ctx)
	if l, ok, err := a.Locker().TryAcquire(ctx, "cleanup"); err != nil || !ok {
		t.Fatalf("acquire after the holder's session died: ok=%v err=%v", ok, err)
	} else {
		_ = l.Release(ctx)
	}
}

// TestLeaderLockIsPerSchema: two deployments (here: two tests) in one database but separate
// schemas do not exclude each other.
func TestLeaderLockIsPerSchema(t *testing.T) {
	ctx := context.Background()
	a, b := openURL(t, testenv.FreshPostgres(t)), openURL(t, testenv.FreshPostgres(t))
	for _, db := range []*store.DB{a, b} {
		l, ok, err := db.Locker().TryAcquire(ctx, "scheduled-rotation")
		if err != nil || !ok {
			t.Fatalf("acquire: ok=%v err=%v", ok, err)
		}
		defer l.Release(ctx) //nolint:errcheck // test cleanup
	}
}

// deadable is a replica's locker that can be cut off from the database, as a killed process is.
type deadable struct {
	leader.Locker
	dead atomic.Bool
}

func (d *deadable) TryAcquire(ctx context.Context, name string) (leader.Lease, bool, error) {
	if d.dead.Load() {
		return nil, false, errors.New("replica is dead")
	}
	return d.Locker.TryAcquire(ctx, name)
}

type run struct {
	replica string
	slot    int64
	at      time.Time
}

// TestLeaderRunOnPostgres runs one job on two replicas: only the leader runs it, once per
// slot; when the leader's connection is killed, the other replica takes over within a bounded
// time, and no slot ever runs twice.
func TestLeaderRunOnPostgres(t *testing.T) {
	const (
		interval = 300 * time.Millisecond
		check    = 50 * time.Millisecond
	)
	u := testenv.FreshPostgres(t)
	admin := adminDB(t)
	var (
		mu   sync.Mutex
		runs []run
	)
	job := func(replica string) func(context.Context) error {
		return func(context.Context) error {
			now := time.Now()
			mu.Lock()
			runs = append(runs, run{replica, now.UnixNano() / int64(interval), now})
			mu.Unlock()
			return nil
		}
	}
	snapshot := func() []run {
		mu.Lock()
		defer mu.Unlock()
		return append([]run(nil), runs...)
	}
	lockers := map[string]*deadable{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, name := range []string{"a", "b"} {
		lockers[name] = &deadable{Locker: openURL(t, u).Locker()}
		wg.Go(func() {
			_ = leader.Run(ctx, lockers[name], "rotation", interval, job(name), leader.WithCheckEvery(check))
		})
	}

	waitUntil(t, 10*time.Second, func() bool { return len(snapshot()) >= 4 })
	first := snapshot()
	lead := first[0].replica
	for _, r := range first {
		if r.replica != lead {
			t.Fatalf("both replicas ran the job while both were alive: %+v", first)
		}
	}
	other := map[string]string{"a": "b", "b": "a"}[lead]

	// Kill the leader: cut it off, then end its database session.
	lockers[lead].dead.Store(true)
	pid, held := holderPID(t, admin, schemaOf(t, u), "rotation")
	if !held {
		t.Fatal("nobody holds the lock")
	}
	killed := time.Now()
	if _, err := admin.ExecContext(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	var takeover time.Duration
	waitUntil(t, 10*time.Second, func() bool {
		for _, r := range snapshot() {
			if r.replica == other {
				takeover = r.at.Sub(killed)
				return true
			}
		}
		return false
	})
	// Noticing takes at most one check period, then the first run waits for the next slot.
	if bound := check + interval + 250*time.Millisecond; takeover > bound {
		t.Fatalf("take-over took %s, want under %s", takeover, bound)
	}
	t.Logf("take-over: first run on the new leader %s after the old leader's session was killed", takeover.Round(time.Millisecond))

	waitUntil(t, 10*time.Second, func() bool { return len(snapshot()) >= len(first)+4 })
	cancel()
	wg.Wait()
	all := snapshot()
	bySlot := map[int64][]string{}
	for _, r := range all {
		bySlot[r.slot] = append(bySlot[r.slot], r.replica)
	}
	for slot, who := range bySlot {
		if len(who) > 1 {
			t.Fatalf("slot %d ran %d times (%v): %+v", slot, len(who), who, all)
		}
	}
	for _, r := range all {
		if r.at.After(killed) && r.replica == lead {
			t.Fatalf("the killed leader ran again: %+v", all)
		}
	}
}

func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
