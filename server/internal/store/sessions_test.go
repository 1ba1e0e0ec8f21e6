package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/session"
	"gatehouse/server/internal/session/sessiontest"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// insertUser adds a bare account row with raw SQL, so these tests do not depend on the users
// store.
func insertUser(tb testing.TB, db *store.DB) string {
	tb.Helper()
	id := uuid.NewString()
	now := time.Now().UTC()
	err := store.GormForTest(db).Exec("INSERT INTO users (id, email, created_at, updated_at) VALUES (?, ?, ?, ?)",
		id, "u-"+id+"@example.test", now, now).Error
	if err != nil {
		tb.Fatalf("insert user: %v", err)
	}
	return id
}

func sessionHarness(t *testing.T, db *store.DB) sessiontest.Harness {
	return sessiontest.Harness{
		Store:   db.Sessions(),
		NewUser: func(t *testing.T) string { return insertUser(t, db) },
		Stored: func(t *testing.T, sid string) (string, []string) {
			t.Helper()
			g := store.GormForTest(db)
			var tokenHash string
			if err := g.Raw("SELECT token_hash FROM sessions WHERE id = ?", sid).Scan(&tokenHash).Error; err != nil {
				t.Fatal(err)
			}
			var refresh []string
			if err := g.Raw("SELECT token_hash FROM refresh_tokens WHERE session_id = ?", sid).Scan(&refresh).Error; err != nil {
				t.Fatal(err)
			}
			return tokenHash, refresh
		},
	}
}

// TestSessionStore runs the session behaviour suite (SEC-10, SEC-12, SEC-13, SEC-16, SEC-17)
// through a session.Manager on the real database, both dialects. On PostgreSQL the concurrent
// refresh and rotate/refresh races run on separate connections.
func TestSessionStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		sessiontest.Exercise(t, func(t *testing.T) sessiontest.Harness {
			return sessionHarness(t, migrated(t, dialect))
		})
	})
}

// SEC-10, SEC-18: no column of a session or refresh-token row holds a token; the session
// token's column holds its SHA-256.
func TestSessionRowsHoldNoTokens(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := migrated(t, dialect)
		m := session.New(db.Sessions(), session.Options{})
		uid := insertUser(t, db)
		cookie, cookieToken, err := m.Create(context.Background(), session.NewSession{UserID: uid, Kind: session.KindCookie, AAL: session.AAL1})
		if err != nil {
			t.Fatal(err)
		}
		api, refresh, err := m.Create(context.Background(), session.NewSession{UserID: uid, Kind: session.KindToken, AAL: session.AAL1})
		if err != nil {
			t.Fatal(err)
		}
		if _, refresh, err = m.Refresh(context.Background(), refresh); err != nil {
			t.Fatal(err)
		}
		g := store.GormForTest(db)
		for _, q := range []string{"SELECT * FROM sessions", "SELECT * FROM refresh_tokens"} {
			var rows []map[string]any
			if err := g.Raw(q).Scan(&rows).Error; err != nil {
				t.Fatal(err)
			}
			for _, row := range rows {
				for col, v := range row {
					text := fmt.Sprint(v)
					if strings.Contains(text, cookieToken) || strings.Contains(text, refresh) {
						t.Fatalf("%s: column %s holds a token", q, col)
					}
				}
			}
		}
		var hashes []string
		if err := g.Raw("SELECT token_hash FROM sessions WHERE id IN (?, ?)", cookie.ID, api.ID).Scan(&hashes).Error; err != nil || len(hashes) != 2 {
			t.Fatalf("token hashes: %v, %v", hashes, err)
		}
		for _, h := range hashes {
			if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
				t.Fatalf("token_hash %q is not hex SHA-256", h)
			}
		}
	})
}

// SEC-16: the spend is a conditional update, so concurrent spends of one token through the
// store itself (not only through the Manager's earlier check) let exactly one through.
func TestConsumeRefreshConcurrently(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := migrated(t, dialect)
		st := db.Sessions()
		ctx := context.Background()
		m := session.New(st, session.Options{})
		s, _, err := m.Create(ctx, session.NewSession{UserID: insertUser(t, db), Kind: session.KindToken, AAL: session.AAL1})
		if err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			// Issue a known current token directly so the test knows its hash.
			now := time.Now().UTC().Truncate(time.Microsecond)
			current := session.RefreshToken{Hash: fmt.Sprintf("%064d", round), SessionID: s.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := st.Rotate(ctx, s.ID, session.Rotation{LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), Refresh: &current}); err != nil {
				t.Fatal(err)
			}
			const n = 16
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					next := session.RefreshToken{Hash: fmt.Sprintf("%032d%032d", round+1, i), SessionID: s.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					errs[i] = st.ConsumeRefresh(ctx, session.RefreshUse{Hash: current.Hash, At: now, IdleExpiresAt: now.Add(time.Hour), Next: next})
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case errors.Is(err, session.ErrRefreshReused):
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d of %d concurrent spends won, want exactly 1", round, won, n)
			}
			var unused int64
			if err := store.GormForTest(db).Raw("SELECT COUNT(*) FROM refresh_tokens WHERE session_id = ? AND used_at IS NULL", s.ID).Scan(&unused).Error; err != nil || unused != 1 {
				t.Fatalf("round %d: %d current tokens in the family (%v), want 1", round, unused, err)
			}
		}
	})
}

// Deleting a user deletes their sessions and refresh tokens (ON DELETE CASCADE, also on
// SQLite, where foreign keys are switched on per connection).
func TestSessionsGoWithTheirUser(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := migrated(t, dialect)
		ctx := context.Background()
		m := session.New(db.Sessions(), session.Options{})
		uid := insertUser(t, db)
		s, _, err := m.Create(ctx, session.NewSession{UserID: uid, Kind: session.KindToken, AAL: session.AAL1})
		if err != nil {
			t.Fatal(err)
		}
		g := store.GormForTest(db)
		if err := g.Exec("DELETE FROM users WHERE id = ?", uid).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := m.Validate(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("session of a deleted user: err = %v, want ErrNotFound", err)
		}
		var n int64
		if err := g.Raw("SELECT COUNT(*) FROM refresh_tokens").Scan(&n).Error; err != nil || n != 0 {
			t.Fatalf("%d refresh tokens left (%v)", n, err)
		}
		if _, _, err := m.Create(ctx, session.NewSession{UserID: uid, Kind: session.KindCookie, AAL: session.AAL1}); err == nil {
			t.Fatal("created a session for a user that does not exist")
		}
	})
}

// BenchmarkValidate is the per-request session check of a bearer request: Manager.Validate on
// a live session whose touch is not due (the common case), on each dialect. "parallel" runs it
// from GOMAXPROCS goroutines, as a loaded server would.
func BenchmarkValidate(b *testing.B) {
	for _, dialect := range testenv.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			db := benchDB(b, dialect)
			m := session.New(db.Sessions(), session.Options{})
			s, token, err := m.Create(context.Background(), session.NewSession{UserID: insertUser(b, db), Kind: session.KindCookie, AAL: session.AAL1})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Validate(ctx, s.ID); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := m.Validate(ctx, s.ID); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			// The floor: the same row read with database/sql, no GORM, no Manager, same run.
			b.Run("baseline-raw-select", func(b *testing.B) {
				q := "SELECT id, user_id, kind, aal, csrf_token, created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at, revoke_reason, ip, user_agent FROM sessions WHERE id = ?"
				if dialect == testenv.Postgres {
					q = strings.Replace(q, "?", "$1", 1)
				}
				b.ReportAllocs()
				for b.Loop() {
					var id, uid, kind, aal, csrf, reason, ip, ua string
					var created, seen, idle, abs time.Time
					var revoked *time.Time
					if err := db.SQL().QueryRowContext(ctx, q, s.ID).Scan(&id, &uid, &kind, &aal, &csrf, &created, &seen, &idle, &abs, &revoked, &reason, &ip, &ua); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("authenticate-cookie", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := m.Authenticate(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchDB is migrated(t, dialect) for benchmarks.
func benchDB(b *testing.B, dialect string) *store.DB {
	b.Helper()
	o := store.Options{SQLitePath: filepath.Join(b.TempDir(), "gatehouse.db")}
	if dialect == testenv.Postgres {
		o = store.Options{URL: testenv.FreshPostgres(b)}
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	mig, err := db.Migrator()
	if err != nil {
		b.Fatal(err)
	}
	if _, err := mig.Up(context.Background()); err != nil {
		b.Fatal(err)
	}
	return db
}

// A token session and its first refresh token are stored together or not at all: outside a
// transaction the store takes one of its own, inside InTx the caller's rollback takes both back.
func TestCreateTokenSessionIsAtomic(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := migrated(t, dialect)
		st := db.Sessions()
		uid := insertUser(t, db)
		now := time.Now().UTC().Truncate(time.Microsecond)
		sess := func() session.Session {
			return session.Session{ID: uuid.NewString(), UserID: uid, Kind: session.KindToken, AAL: session.AAL1, CSRFToken: "csrf",
				CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour)}
		}
		taken := sess()
		first := &session.RefreshToken{Hash: strings.Repeat("a", 64), SessionID: taken.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.Create(context.Background(), taken, strings.Repeat("1", 64), first); err != nil {
			t.Fatal(err)
		}
		count := func(id string) int64 {
			t.Helper()
			var n int64
			if err := store.GormForTest(db).Raw("SELECT COUNT(*) FROM sessions WHERE id = ?", id).Scan(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		// The second session's refresh token reuses the first one's hash, so its insert fails
		// after the session row's.
		alone := sess()
		dup := *first
		dup.SessionID = alone.ID
		if err := st.Create(context.Background(), alone, strings.Repeat("2", 64), &dup); err == nil {
			t.Fatal("stored a refresh token whose hash is taken")
		}
		if n := count(alone.ID); n != 0 {
			t.Fatalf("outside a transaction: %d session rows left by a failed create, want 0", n)
		}
		joined := sess()
		dup.SessionID = joined.ID
		err := db.InTx(context.Background(), func(ctx context.Context) error {
			return st.Create(ctx, joined, strings.Repeat("3", 64), &dup)
		})
		if err == nil {
			t.Fatal("inside InTx: stored a refresh token whose hash is taken")
		}
		if n := count(joined.ID); n != 0 {
			t.Fatalf("inside InTx: %d session rows left by a failed create, want 0", n)
		}
	})
}
