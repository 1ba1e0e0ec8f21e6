package authcache_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"gatehouse/server/internal/authcache"
	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/session/sessiontest"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

var ctx = context.Background()

// database opens a migrated database of the dialect; sqlitePath, when set, names the SQLite
// file (so two handles can share it, as two replicas share PostgreSQL).
func database(t *testing.T, dialect, url, sqlitePath string) *store.DB {
	t.Helper()
	o := store.Options{SQLitePath: sqlitePath, URL: url}
	db, err := store.Open(ctx, o)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m, err := db.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// shared returns two handles on one fresh database, like two replicas.
func shared(t *testing.T, dialect string) (*store.DB, *store.DB) {
	t.Helper()
	if dialect == testenv.Postgres {
		url := testenv.FreshPostgres(t)
		return database(t, dialect, url, ""), database(t, dialect, url, "")
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	return database(t, dialect, "", path), database(t, dialect, "", path)
}

func fresh(t *testing.T, dialect string) *store.DB {
	t.Helper()
	a, _ := shared(t, dialect)
	return a
}

// redisClient is the test Redis (GATEHOUSE_TEST_REDIS_URL, else in-process) with a unique
// key prefix, so runs against a real Redis never see each other's generations.
func redisClient(t *testing.T) (*redis.Client, string) {
	t.Helper()
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c, "authcache-test:" + uuid.NewString() + ":"
}

func newUser(t *testing.T, db *store.DB) users.User {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	u := users.User{ID: uuid.NewString(), Email: "u-" + uuid.NewString()[:8] + "@example.test", Roles: []string{api.RoleUser},
		Status: api.UserActive, CreatedAt: now, UpdatedAt: now}
	if err := db.Users().Create(ctx, u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

func harness(db *store.DB, wrap func(session.Store) session.Store) sessiontest.Harness {
	return sessiontest.Harness{
		Store:   wrap(db.Sessions()),
		NewUser: func(t *testing.T) string { return newUser(t, db).ID },
		Stored: func(t *testing.T, sid string) (string, []string) {
			t.Helper()
			var tokenHash string
			if err := db.SQL().QueryRowContext(ctx, rebind(db, "SELECT token_hash FROM sessions WHERE id = ?"), sid).Scan(&tokenHash); err != nil {
				t.Fatal(err)
			}
			rows, err := db.SQL().QueryContext(ctx, rebind(db, "SELECT token_hash FROM refresh_tokens WHERE session_id = ?"), sid)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var refresh []string
			for rows.Next() {
				var h string
				if err := rows.Scan(&h); err != nil {
					t.Fatal(err)
				}
				refresh = append(refresh, h)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return tokenHash, refresh
		},
	}
}

func rebind(db *store.DB, q string) string {
	if db.Dialect() == store.DialectPostgres {
		return q[:len(q)-1] + "$1"
	}
	return q
}

// The whole session behaviour suite (SEC-10, 12, 13, 16, 17) through the cache, alone and with
// Redis generations, on both dialects: the decorator changes no answer.
func TestSessionSuiteThroughCache(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		t.Run("in-process", func(t *testing.T) {
			sessiontest.Exercise(t, func(t *testing.T) sessiontest.Harness {
				c := authcache.New(authcache.Options{})
				return harness(fresh(t, dialect), func(s session.Store) session.Store { return c.Sessions(s) })
			})
		})
		t.Run("redis", func(t *testing.T) {
			sessiontest.Exercise(t, func(t *testing.T) sessiontest.Harness {
				rdb, prefix := redisClient(t)
				c := authcache.New(authcache.Options{Redis: rdb, Prefix: prefix})
				return harness(fresh(t, dialect), func(s session.Store) session.Store { return c.Sessions(s) })
			})
		})
	})
}

// replica is one process's view: a cache over its own database handle, a Manager over it.
type replica struct {
	cache *authcache.Cache
	users *authcache.Users
	m     *session.Manager
}

func newReplica(db *store.DB, o authcache.Options, so session.Options) replica {
	c := authcache.New(o)
	return replica{cache: c, users: c.Users(db.Users()), m: session.New(c.Sessions(db.Sessions()), so)}
}

// SEC-12: within one process, a cached session is refused on the very next lookup after
// revocation, sign-out everywhere, rotation and refresh-token replay; and lookups do hit.
func TestSEC12CachedSessionInvalidatedInProcess(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := fresh(t, dialect)
		r := newReplica(db, authcache.Options{}, session.Options{})
		u := newUser(t, db)

		tok, _, err := r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := r.m.Validate(ctx, tok.ID); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		}
		if st := r.cache.Stats(); st.SessionHits < 2 {
			t.Fatalf("the cache was not used: %+v", st)
		}
		if err := r.m.Revoke(ctx, tok.ID, "logout"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Validate(ctx, tok.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Validate after Revoke = %v, want ErrRevoked", err)
		}

		// Sign out everywhere: a cookie and a token session, both cached.
		ck, cookie, _ := r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindCookie, AAL: session.AAL1})
		tk, refresh, _ := r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
		if _, err := r.m.Authenticate(ctx, cookie); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Validate(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := r.m.RevokeAllForUser(ctx, u.ID, "", "password_change"); err != nil || n != 2 {
			t.Fatalf("RevokeAllForUser = %d, %v", n, err)
		}
		if _, err := r.m.Authenticate(ctx, cookie); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("cookie after RevokeAllForUser: %v", err)
		}
		if _, err := r.m.Validate(ctx, tk.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("token session after RevokeAllForUser: %v", err)
		}
		if _, _, err := r.m.Refresh(ctx, refresh); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("refresh after RevokeAllForUser: %v", err)
		}

		// Rotation: the old cookie is refused at once, the new one works; the new AAL shows.
		ck, cookie, _ = r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindCookie, AAL: session.AAL1})
		if _, err := r.m.Authenticate(ctx, cookie); err != nil {
			t.Fatal(err)
		}
		_, rotated, err := r.m.Rotate(ctx, ck.ID, session.AAL2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Authenticate(ctx, cookie); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("old cookie after Rotate: %v", err)
		}
		if s, err := r.m.Authenticate(ctx, rotated); err != nil || s.AAL != session.AAL2 {
			t.Fatalf("new cookie after Rotate: %+v %v", s, err)
		}

		// Refresh-token replay revokes the cached session.
		tk, refresh, _ = r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
		if _, err := r.m.Validate(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.m.Refresh(ctx, refresh); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Validate(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.m.Refresh(ctx, refresh); !errors.Is(err, session.ErrRefreshReused) {
			t.Fatalf("replay: %v", err)
		}
		if _, err := r.m.Validate(ctx, tk.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Validate after refresh-token replay = %v, want ErrRevoked", err)
		}

		// RFC 7009 revocation of the refresh token.
		tk, refresh, _ = r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
		if _, err := r.m.Validate(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.RevokeRefresh(ctx, refresh); err != nil {
			t.Fatal(err)
		}
		if _, err := r.m.Validate(ctx, tk.ID); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("Validate after RevokeRefresh = %v, want ErrRevoked", err)
		}
	})
}

// SEC-12: a user's status, roles and password change are seen on the next lookup.
func TestSEC12CachedUserInvalidatedOnUpdate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := fresh(t, dialect)
		r := newReplica(db, authcache.Options{}, session.Options{})
		u := newUser(t, db)
		for range 2 {
			if got, err := r.users.Get(ctx, u.ID); err != nil || got.Status != api.UserActive {
				t.Fatalf("Get = %+v, %v", got, err)
			}
		}
		if st := r.cache.Stats(); st.UserHits != 1 || st.UserMisses != 1 {
			t.Fatalf("stats %+v, want one miss then one hit", st)
		}
		// A caller changing what it got must not change the cache.
		got, _ := r.users.Get(ctx, u.ID)
		got.Roles[0] = api.RoleAdmin
		if again, _ := r.users.Get(ctx, u.ID); again.Roles[0] != api.RoleUser {
			t.Fatal("the cached user shares its roles with callers")
		}

		u.Status, u.Roles, u.PasswordHash = api.UserDisabled, []string{api.RoleSupport}, "$argon2id$changed"
		if err := r.users.Update(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := r.users.Get(ctx, u.ID)
		if err != nil || got.Status != api.UserDisabled || len(got.Roles) != 1 || got.Roles[0] != api.RoleSupport || got.PasswordHash != u.PasswordHash {
			t.Fatalf("Get after Update = %+v, %v", got, err)
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		if err := r.users.SetLastLogin(ctx, u.ID, at); err != nil {
			t.Fatal(err)
		}
		if got, _ := r.users.Get(ctx, u.ID); got.LastLoginAt == nil || !got.LastLoginAt.Equal(at) {
			t.Fatalf("LastLoginAt after SetLastLogin = %v", got.LastLoginAt)
		}
		if _, err := r.users.Get(ctx, uuid.NewString()); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

// SEC-12, SEC-13: a cached session still expires on time, idle and absolute: the Manager
// checks the clock on every hit.
func TestSEC12CachedSessionStillExpires(t *testing.T) {
	db := fresh(t, testenv.SQLite)
	clock := clocktest.New(time.Now().UTC())
	r := newReplica(db, authcache.Options{MaxAge: time.Hour}, session.Options{IdleTTL: 10 * time.Minute, AbsoluteTTL: time.Hour, TouchInterval: time.Hour, Now: clock.Now})
	u := newUser(t, db)
	s, _, _ := r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
	if _, err := r.m.Validate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute) // no lookup since, so no touch: idle expiry reached
	if _, err := r.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrExpired) {
		t.Fatalf("Validate at the idle expiry = %v, want ErrExpired", err)
	}
	if st := r.cache.Stats(); st.SessionHits == 0 {
		t.Fatalf("the expired answer did not come from the cache: %+v", st)
	}

	// Absolute: used every 4 minutes (touched every other time), it still ends after an hour.
	s, _, _ = r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
	for i := 0; ; i++ {
		_, err := r.m.Validate(ctx, s.ID)
		if errors.Is(err, session.ErrExpired) {
			if elapsed := time.Duration(i) * 4 * time.Minute; elapsed < time.Hour {
				t.Fatalf("expired after %s", elapsed)
			}
			break
		}
		if err != nil || i > 20 {
			t.Fatalf("Validate %d: %v", i, err)
		}
		clock.Advance(4 * time.Minute)
	}
}

// MaxAge bounds how long an entry is used; MaxEntries bounds how many are kept.
func TestMaxAgeAndSizeBound(t *testing.T) {
	db := fresh(t, testenv.SQLite)
	now := time.Now()
	var mu sync.Mutex
	c := authcache.New(authcache.Options{MaxEntries: 10, MaxAge: time.Minute, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	us := c.Users(db.Users())
	u := newUser(t, db)
	_, _ = us.Get(ctx, u.ID)
	_, _ = us.Get(ctx, u.ID)
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	_, _ = us.Get(ctx, u.ID)
	if st := c.Stats(); st.UserHits != 1 || st.UserMisses != 2 {
		t.Fatalf("stats %+v: want miss, hit, miss (aged out)", st)
	}
	for range 50 {
		_, _ = us.Get(ctx, newUser(t, db).ID)
		if n := c.Len(); n > 10 {
			t.Fatalf("%d entries, bound 10", n)
		}
	}
}

// pausingStore holds the first ByID load after reading, until released: a lookup that read
// the row before a revocation and stores it after.
type pausingStore struct {
	session.Store
	paused atomic.Bool
	read   chan struct{}
	resume chan struct{}
}

func (p *pausingStore) ByID(ctx context.Context, id string) (session.Session, error) {
	s, err := p.Store.ByID(ctx, id)
	if p.paused.CompareAndSwap(false, true) {
		close(p.read)
		<-p.resume
	}
	return s, err
}

// SEC-12: a load that read the session before a revocation committed must not put the live
// copy back into the cache after the revocation's invalidation.
func TestSEC12LoadRacingRevocationIsNotCached(t *testing.T) {
	db := fresh(t, testenv.SQLite)
	u := newUser(t, db)
	plain := session.New(db.Sessions(), session.Options{})
	s, _, _ := plain.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})

	p := &pausingStore{Store: db.Sessions(), read: make(chan struct{}), resume: make(chan struct{})}
	c := authcache.New(authcache.Options{})
	m := session.New(c.Sessions(p), session.Options{})
	done := make(chan error, 1)
	go func() { _, err := m.Validate(ctx, s.ID); done <- err }()
	<-p.read // the slow lookup has the live row
	if err := m.Revoke(ctx, s.ID, "logout"); err != nil {
		t.Fatal(err)
	}
	close(p.resume)
	if err := <-done; err != nil {
		t.Fatalf("the lookup that started before the revocation: %v", err)
	}
	if _, err := m.Validate(ctx, s.ID); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("Validate after Revoke = %v: a stale live copy was cached", err)
	}
}

// SEC-12 across replicas: two caches over two handles on one database, sharing Redis. What one
// revokes, rotates or changes is refused or seen by the other on the very next lookup, every
// time.
func TestSEC12ReplicasSeeRevocationOnNextRequest(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		dbA, dbB := shared(t, dialect)
		rdb, prefix := redisClient(t)
		a := newReplica(dbA, authcache.Options{Redis: rdb, Prefix: prefix}, session.Options{})
		b := newReplica(dbB, authcache.Options{Redis: rdb, Prefix: prefix}, session.Options{})
		u := newUser(t, dbA)
		for i := range 100 {
			on, off := a, b // who revokes alternates
			if i%2 == 1 {
				on, off = b, a
			}
			s, cookie, err := on.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindCookie, AAL: session.AAL1})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // cached on both
				if _, err := off.m.Authenticate(ctx, cookie); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				if _, err := off.m.Validate(ctx, s.ID); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
				if _, err := on.m.Validate(ctx, s.ID); err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
			}
			switch i % 3 {
			case 0:
				err = on.m.Revoke(ctx, s.ID, "logout")
			case 1:
				_, err = on.m.RevokeAllForUser(ctx, u.ID, "", "admin")
			case 2:
				_, _, err = on.m.Rotate(ctx, s.ID, session.AAL2)
			}
			if err != nil {
				t.Fatal(err)
			}
			_, errCookie := off.m.Authenticate(ctx, cookie)
			_, errID := off.m.Validate(ctx, s.ID)
			if i%3 == 2 {
				if !errors.Is(errCookie, session.ErrNotFound) {
					t.Fatalf("round %d: the other replica accepted the cookie replaced by rotation: %v", i, errCookie)
				}
				if got, err := off.m.Validate(ctx, s.ID); err != nil || got.AAL != session.AAL2 {
					t.Fatalf("round %d: the other replica answered the old AAL: %+v %v", i, got, err)
				}
				_ = on.m.Revoke(ctx, s.ID, "logout")
				continue
			}
			if !errors.Is(errCookie, session.ErrRevoked) || !errors.Is(errID, session.ErrRevoked) {
				t.Fatalf("round %d: the other replica accepted a revoked session: %v, %v", i, errCookie, errID)
			}
		}
		if st := b.cache.Stats(); st.SessionHits == 0 {
			t.Fatalf("replica b never hit its cache: %+v", st)
		}

		// A user change on one replica is seen by the other at once.
		for i := range 20 {
			if _, err := b.users.Get(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
			u.DisplayName = fmt.Sprintf("name %d", i)
			if err := a.users.Update(ctx, u); err != nil {
				t.Fatal(err)
			}
			if got, err := b.users.Get(ctx, u.ID); err != nil || got.DisplayName != u.DisplayName {
				t.Fatalf("round %d: the other replica answered %q (%v)", i, got.DisplayName, err)
			}
		}
	})
}

// Without Redis answering, lookups still answer (from the database), and nothing stale is
// used: an unreadable generation is a miss.
func TestRedisDownIsAMiss(t *testing.T) {
	db := fresh(t, testenv.SQLite)
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	r := newReplica(db, authcache.Options{Redis: rdb}, session.Options{})
	u := newUser(t, db)
	s, _, _ := r.m.Create(ctx, session.NewSession{UserID: u.ID, Kind: session.KindToken, AAL: session.AAL1})
	if _, err := r.m.Validate(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	mr.Close()
	before := r.cache.Stats()
	if _, err := r.m.Validate(ctx, s.ID); err != nil {
		t.Fatalf("Validate with Redis down: %v", err)
	}
	if after := r.cache.Stats(); after.SessionHits != before.SessionHits {
		t.Fatalf("a hit without checking the generation: %+v -> %+v", before, after)
	}
	// The revocation's write is done; the failed publication is reported, not hidden.
	if err := r.m.Revoke(ctx, s.ID, "logout"); err == nil {
		t.Fatal("Revoke reported success although other replicas could not be told")
	}
	if _, err := r.m.Validate(ctx, s.ID); !errors.Is(err, session.ErrRevoked) {
		t.Fatalf("Validate after Revoke: %v", err)
	}
}

// SEC-12: a write that is part of a longer transaction (a login's, store.DB.InTx) invalidates
// after the commit. Invalidating at the write would let a request outside the transaction
// cache the old row in between and keep serving it after the commit. PostgreSQL only: the
// reader needs a second connection, and SQLite's pool has one.
func TestSEC12InvalidationWaitsForTheCommit(t *testing.T) {
	db := fresh(t, testenv.Postgres)
	r := newReplica(db, authcache.Options{}, session.Options{})
	u := newUser(t, db)
	at := time.Now().UTC().Truncate(time.Microsecond)
	err := db.InTx(ctx, func(txctx context.Context) error {
		if err := r.users.SetLastLogin(txctx, u.ID, at); err != nil {
			return err
		}
		got, err := r.users.Get(ctx, u.ID) // another request: outside the transaction
		if err != nil {
			return err
		}
		if got.LastLoginAt != nil {
			t.Errorf("a reader outside the transaction saw the uncommitted last login %v", got.LastLoginAt)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.users.Get(ctx, u.ID)
	if err != nil || got.LastLoginAt == nil || !got.LastLoginAt.Equal(at) {
		t.Fatalf("after the commit Get = last login %v, %v; want %v (a stale cached user)", got.LastLoginAt, err, at)
	}
}
