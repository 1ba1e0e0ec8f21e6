package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/mfa/recovery"
	"gatehouse/server/internal/mfa/recovery/recoverytest"
	"gatehouse/server/internal/mfa/totp"
	"gatehouse/server/internal/mfa/totp/totptest"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// testKeyring opens a real keyring once (PBKDF2 is slow by design) on a database of its own;
// the keys live in memory, so it seals secrets for any database.
func testKeyring(t *testing.T, dialect string) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.Open(context.Background(), migrated(t, dialect).Keyring(), "mfa-test-master-key", keyring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// TestTOTPStore runs the TOTP suite (SEC-20) through a totp.Factor on the real database, both
// dialects, with secrets sealed by the real keyring. On PostgreSQL the concurrent
// verifications run on separate connections.
func TestTOTPStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		kr := testKeyring(t, dialect)
		totptest.Exercise(t, func(t *testing.T) totptest.Harness {
			db := migrated(t, dialect)
			return totptest.Harness{
				Store:     db.TOTP(),
				NewUser:   func(t *testing.T) string { return insertUser(t, db) },
				Encrypter: kr,
				StoredSecret: func(t *testing.T, uid string) string {
					t.Helper()
					var col string
					if err := store.GormForTest(db).Raw("SELECT secret_enc FROM mfa_totp WHERE user_id = ?", uid).Scan(&col).Error; err != nil {
						t.Fatal(err)
					}
					return col
				},
			}
		})
	})
}

// TestRecoveryCodeStore runs the recovery-code suite (SEC-22) on the real database, both
// dialects.
func TestRecoveryCodeStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		recoverytest.Exercise(t, func(t *testing.T) recoverytest.Harness {
			db := migrated(t, dialect)
			return recoverytest.Harness{
				Store:   db.RecoveryCodes(),
				NewUser: func(t *testing.T) string { return insertUser(t, db) },
				StoredHashes: func(t *testing.T, uid string) []string {
					t.Helper()
					var hashes []string
					if err := store.GormForTest(db).Raw("SELECT code_hash FROM mfa_recovery_codes WHERE user_id = ?", uid).Scan(&hashes).Error; err != nil {
						t.Fatal(err)
					}
					return hashes
				},
			}
		})
	})
}

// SEC-20, SEC-22: deleting a user deletes their factors (ON DELETE CASCADE), and the TOTP
// column holds keyring ciphertext, never the base32 seed.
func TestMFARowsFollowTheUser(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migrated(t, dialect)
		kr := testKeyring(t, dialect)
		uid := insertUser(t, db)
		f := totp.New(db.TOTP(), kr, totp.Options{})
		e, err := f.Begin(ctx, uid, "a@example.test", "Gatehouse")
		if err != nil {
			t.Fatal(err)
		}
		var col string
		g := store.GormForTest(db)
		if err := g.Raw("SELECT secret_enc FROM mfa_totp WHERE user_id = ?", uid).Scan(&col).Error; err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(col, "v") || strings.Contains(col, e.Secret) {
			t.Fatalf("secret column %q is not keyring ciphertext", col)
		}
		codes := recovery.New(db.RecoveryCodes(), recovery.Options{})
		if _, err := codes.Generate(ctx, uid); err != nil {
			t.Fatal(err)
		}
		if err := g.Exec("DELETE FROM users WHERE id = ?", uid).Error; err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"mfa_totp", "mfa_recovery_codes"} {
			var n int64
			if err := g.Table(table).Where("user_id = ?", uid).Count(&n).Error; err != nil || n != 0 {
				t.Fatalf("%s: %d rows left (%v)", table, n, err)
			}
		}
	})
}

// SEC-20: many users verifying at once on PostgreSQL's pool each succeed exactly once per code
// (row-level conditional updates do not interfere across users).
func TestTOTPConcurrentUsers(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migrated(t, dialect)
		clock := totptest.NewClock()
		f := totp.New(db.TOTP(), totptest.FakeEncrypter{}, totp.Options{Now: clock.Now})
		type user struct{ id, secret string }
		var users []user
		for range 8 {
			uid := insertUser(t, db)
			e, err := f.Begin(ctx, uid, "a", "Gatehouse")
			if err != nil {
				t.Fatal(err)
			}
			c, _ := totp.CodeAt(e.Secret, totp.Step(clock.Now()))
			if err := f.Confirm(ctx, uid, c); err != nil {
				t.Fatal(err)
			}
			users = append(users, user{id: uid, secret: e.Secret})
		}
		clock.Advance(3 * totp.Period)
		var mu sync.Mutex
		wins := map[string]int{}
		var wg sync.WaitGroup
		for _, u := range users {
			code, _ := totp.CodeAt(u.secret, totp.Step(clock.Now()))
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := f.Verify(ctx, u.id, code); err == nil {
						mu.Lock()
						wins[u.id]++
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		for _, u := range users {
			if wins[u.id] != 1 {
				t.Fatalf("user %s: %d successes, want 1", u.id, wins[u.id])
			}
		}
	})
}
