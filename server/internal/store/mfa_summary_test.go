package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// The admin user list's MFA column comes from one batched look-up: only confirmed factors and
// unused recovery codes count, and only for the accounts asked about.
func TestEnrolledFactorsBatched(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migrated(t, dialect)
		g := store.GormForTest(db)
		now := time.Now().UTC()
		exec := func(q string, args ...any) {
			t.Helper()
			if err := g.Exec(q, args...).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		both, smsOnly, usedUp, nothing, other := insertUser(t, db), insertUser(t, db), insertUser(t, db), insertUser(t, db), insertUser(t, db)
		exec("INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, last_step, created_at) VALUES (?, 'v1:x', ?, 0, ?)", both, now, now)
		exec("INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, last_step, created_at) VALUES (?, 'v1:x', NULL, 0, ?)", smsOnly, now)
		exec("INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, last_step, created_at) VALUES (?, 'v1:x', ?, 0, ?)", other, now, now)
		exec("INSERT INTO mfa_channels (user_id, channel, address, confirmed_at, created_at) VALUES (?, 'sms', '+14155550123', ?, ?)", smsOnly, now, now)
		exec("INSERT INTO mfa_channels (user_id, channel, address, confirmed_at, created_at) VALUES (?, 'email', 'x@example.test', NULL, ?)", usedUp, now)
		for i, used := range []bool{true, false, false} {
			var at *time.Time
			if used {
				at = &now
			}
			exec("INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at) VALUES (?, ?, ?, ?)", both, "h"+string(rune('a'+i)), now, at)
		}
		exec("INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, used_at) VALUES (?, 'hz', ?, ?)", usedUp, now, now)

		got, err := db.EnrolledFactors(ctx, []string{both, smsOnly, usedUp, nothing})
		if err != nil {
			t.Fatal(err)
		}
		for id := range got {
			slices.Sort(got[id])
		}
		want := map[string][]string{both: {"recovery_code", "totp"}, smsOnly: {"sms"}}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for id, w := range want {
			if !slices.Equal(got[id], w) {
				t.Fatalf("user %s: %v, want %v (all: %v)", id, got[id], w, got)
			}
		}
		if empty, err := db.EnrolledFactors(ctx, nil); err != nil || len(empty) != 0 {
			t.Fatalf("no users: %v %v", empty, err)
		}
	})
}
