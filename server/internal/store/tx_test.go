package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/events"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/txhook"
	"gatehouse/shared/api"
)

// loginWrites is what a successful password grant writes: the last-login time, a token session
// with its first refresh token (inside InTx, the caller's transaction is theirs) and the
// event. It returns the new session's ID.
func loginWrites(t *testing.T, ctx context.Context, db *store.DB, uid string, at time.Time) string {
	t.Helper()
	if err := db.Users().SetLastLogin(ctx, uid, at); err != nil {
		t.Fatalf("set last login: %v", err)
	}
	sess, _, err := session.New(db.Sessions(), session.Options{}).Create(ctx, session.NewSession{UserID: uid, Kind: session.KindToken, AAL: session.AAL1})
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	err = db.Events().Append(ctx, events.Event{ID: uuid.NewString(), Type: api.EventLoginSucceeded, Outcome: api.OutcomeSuccess,
		ActorID: uid, SubjectUserID: uid, Details: map[string]any{"session_id": sess.ID}, CreatedAt: at})
	if err != nil {
		t.Fatalf("append event: %v", err)
	}
	return sess.ID
}

// stored counts what loginWrites left in the database, read outside any transaction.
func stored(t *testing.T, db *store.DB, uid, sid string) (lastLogin bool, sessions, refresh, evts int64) {
	t.Helper()
	g := store.GormForTest(db)
	var last int64
	for _, q := range []struct {
		sql string
		arg string
		n   *int64
	}{
		{"SELECT COUNT(*) FROM users WHERE id = ? AND last_login_at IS NOT NULL", uid, &last},
		{"SELECT COUNT(*) FROM sessions WHERE id = ?", sid, &sessions},
		{"SELECT COUNT(*) FROM refresh_tokens WHERE session_id = ?", sid, &refresh},
		{"SELECT COUNT(*) FROM security_events WHERE subject_user_id = ? AND type = '" + api.EventLoginSucceeded + "'", uid, &evts},
	} {
		if err := g.Raw(q.sql, q.arg).Scan(q.n).Error; err != nil {
			t.Fatal(err)
		}
	}
	return last == 1, sessions, refresh, evts
}

// A login's writes commit together, and what the caches defer runs only after the commit,
// when a reader outside the transaction sees the rows.
func TestInTxCommitsTogether(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := migrated(t, dialect)
		uid := insertUser(t, db)
		var sid string
		var hookSaw int64 = -1
		err := db.InTx(context.Background(), func(ctx context.Context) error {
			sid = loginWrites(t, ctx, db, uid, time.Now().UTC())
			// Joining: an inner InTx runs in the same transaction.
			if err := db.InTx(ctx, func(ctx context.Context) error {
				_, err := db.Users().Get(ctx, uid)
				return err
			}); err != nil {
				return err
			}
			return txhook.Defer(ctx, func(context.Context) error {
				_, hookSaw, _, _ = stored(t, db, uid, sid)
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		last, sessions, refresh, evts := stored(t, db, uid, sid)
		if !last || sessions != 1 || refresh != 1 || evts != 1 {
			t.Fatalf("after commit: last login %v, sessions %d, refresh tokens %d, events %d; want all written", last, sessions, refresh, evts)
		}
		if hookSaw != 1 {
			t.Fatalf("the deferred hook saw %d sessions; it must run after the commit", hookSaw)
		}
	})
}

// A failure anywhere rolls back every write before it, and drops the deferred work.
func TestInTxRollsBackTogether(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := migrated(t, dialect)
		uid := insertUser(t, db)
		boom := errors.New("boom")
		var sid string
		hookRan := false
		err := db.InTx(context.Background(), func(ctx context.Context) error {
			sid = loginWrites(t, ctx, db, uid, time.Now().UTC())
			if err := txhook.Defer(ctx, func(context.Context) error { hookRan = true; return nil }); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx returned %v, want fn's error", err)
		}
		last, sessions, refresh, evts := stored(t, db, uid, sid)
		if last || sessions != 0 || refresh != 0 || evts != 0 || hookRan {
			t.Fatalf("after rollback: last login %v, sessions %d, refresh tokens %d, events %d, hook ran %v; want nothing",
				last, sessions, refresh, evts, hookRan)
		}
	})
}

// Until the commit, another connection does not see the writes (PostgreSQL: the pool has more
// than one connection; SQLite's default pool has one, which the transaction holds).
func TestInTxIsOneTransaction(t *testing.T) {
	db := migrated(t, testenv.Postgres)
	uid := insertUser(t, db)
	var sid string
	err := db.InTx(context.Background(), func(ctx context.Context) error {
		sid = loginWrites(t, ctx, db, uid, time.Now().UTC())
		if last, sessions, refresh, evts := stored(t, db, uid, sid); last || sessions+refresh+evts != 0 {
			t.Errorf("another connection sees uncommitted writes: last login %v, sessions %d, refresh %d, events %d", last, sessions, refresh, evts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, sessions, _, _ := stored(t, db, uid, sid); sessions != 1 {
		t.Fatalf("sessions after commit %d", sessions)
	}
}

// A deferred hook's error is the caller's: the writes are committed, but the caller learns
// that (for example) a cache could not be invalidated.
func TestInTxReportsHookErrors(t *testing.T) {
	db := migrated(t, testenv.SQLite)
	boom := errors.New("cache unreachable")
	err := db.InTx(context.Background(), func(ctx context.Context) error {
		return txhook.Defer(ctx, func(context.Context) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx returned %v, want the hook's error", err)
	}
}
