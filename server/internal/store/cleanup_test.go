package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// TestDeleteExpired: the clean-up deletes exactly the rows that are dead for longer than the
// retention (and stale unconfirmed TOTP enrollments), in batches, on both dialects, and
// leaves everything still usable alone.
func TestDeleteExpired(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migrated(t, dialect)
		g := store.GormForTest(db)
		exec := func(q string, args ...any) {
			t.Helper()
			if err := g.Exec(q, args...).Error; err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		old := now.Add(-2 * time.Hour)  // dead for longer than the retention (1h)
		recent := now.Add(-time.Minute) // dead, but within the retention
		future := now.Add(time.Hour)    // live
		user := insertUser(t, db)

		session := func(id string, revoked *time.Time, idle, abs time.Time) {
			exec(`INSERT INTO sessions (id, user_id, kind, aal, token_hash, csrf_token, created_at, last_seen_at,
idle_expires_at, absolute_expires_at, revoked_at) VALUES (?, ?, 'token', 'aal1', ?, 'csrf', ?, ?, ?, ?, ?)`,
				id, user, "h-"+id, now.Add(-3*time.Hour), now.Add(-3*time.Hour), idle, abs, revoked)
		}
		live, revokedOld, revokedRecent, idleOld, absOld := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
		session(live, nil, future, future)
		session(revokedOld, &old, future, future)
		session(revokedRecent, &recent, future, future)
		session(idleOld, nil, old, future)
		session(absOld, nil, future, old)
		token := func(sid string, expires time.Time) string {
			h := "rt-" + uuid.NewString()
			exec("INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)", h, sid, now.Add(-3*time.Hour), expires)
			return h
		}
		tokenOld, tokenLive := token(live, old), token(live, future)
		token(revokedOld, future) // goes with its session (cascade, not counted)

		pending := func(expires time.Time) string {
			id := uuid.NewString()
			exec(`INSERT INTO mfa_pending (id, user_id, token_hash, kind, csrf_token, created_at, expires_at) VALUES (?, ?, ?, 'cookie', 'c', ?, ?)`,
				id, user, "p-"+id, now.Add(-3*time.Hour), expires)
			return id
		}
		pendingOld, pendingRecent := pending(old), pending(recent)
		pending(future)

		// More expired codes than one batch, so the batching loops.
		const oldCodes = 2345
		for i := 0; i < oldCodes; i += 500 {
			var (
				vals []string
				args []any
			)
			for j := i; j < min(i+500, oldCodes); j++ {
				vals = append(vals, "(?, ?, 'sms', 'b', 'h', ?, ?)")
				args = append(args, uuid.NewString(), user, now.Add(-3*time.Hour), old)
			}
			exec("INSERT INTO mfa_codes (id, user_id, channel, binding, code_hash, created_at, expires_at) VALUES "+strings.Join(vals, ","), args...)
		}
		exec("INSERT INTO mfa_codes (id, user_id, channel, binding, code_hash, created_at, expires_at) VALUES (?, ?, 'sms', 'b', 'h', ?, ?)",
			uuid.NewString(), user, now, future)

		device := func(revoked *time.Time, expires time.Time) {
			id := uuid.NewString()
			exec(`INSERT INTO trusted_devices (id, user_id, token_hash, name, created_at, last_used_at, expires_at, revoked_at)
VALUES (?, ?, ?, 'd', ?, ?, ?, ?)`, id, user, "d-"+id, now.Add(-3*time.Hour), now.Add(-3*time.Hour), expires, revoked)
		}
		device(&old, future)
		device(nil, old)
		device(&recent, future)
		device(nil, future)

		totp := func(created time.Time, confirmed *time.Time) string {
			u := insertUser(t, db)
			exec("INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, created_at) VALUES (?, 'enc', ?, ?)", u, confirmed, created)
			return u
		}
		stale := totp(now.Add(-25*time.Hour), nil)
		totp(now.Add(-25*time.Hour), &old) // confirmed: a factor in use
		totp(now.Add(-time.Hour), nil)     // enrollment in progress

		provider := uuid.NewString()
		exec(`INSERT INTO oauth_providers (id, slug, type, display_name, client_id, created_at, updated_at) VALUES (?, 'idp', 'oidc', 'IdP', 'c', ?, ?)`, provider, now, now)
		flow := func(expires time.Time) string {
			id := uuid.NewString()
			exec(`INSERT INTO oauth_flows (id, state_hash, binding_hash, provider_id, intent, created_at, expires_at) VALUES (?, ?, 'b', ?, 'login', ?, ?)`,
				id, "s-"+id, provider, now.Add(-3*time.Hour), expires)
			return id
		}
		flowOld := flow(old)
		flow(recent)
		exec(`INSERT INTO oauth_exchange_codes (code_hash, user_id, provider_id, code_challenge, created_at, expires_at) VALUES ('x-old', ?, ?, 'c', ?, ?), ('x-live', ?, ?, 'c', ?, ?)`,
			user, provider, now.Add(-3*time.Hour), old, user, provider, now, future)

		counts, err := db.DeleteExpired(ctx, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range counts {
			got[c.Table] = c.Deleted
		}
		want := map[string]int64{"sessions": 3, "refresh_tokens": 1, "mfa_pending": 1, "mfa_codes": oldCodes, "trusted_devices": 2, "mfa_totp": 1,
			"oauth_flows": 1, "oauth_exchange_codes": 1}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("deleted %v, want %v", got, want)
		}

		remaining := func(table, where string, args ...any) int64 {
			t.Helper()
			var n int64
			if err := g.Table(table).Where(where, args...).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := remaining("sessions", "id IN (?, ?)", live, revokedRecent); n != 2 {
			t.Fatalf("%d of the live and recently revoked sessions left, want 2", n)
		}
		if n := remaining("sessions", "1 = 1"); n != 2 {
			t.Fatalf("%d sessions left, want 2", n)
		}
		if n := remaining("refresh_tokens", "1 = 1"); n != 1 || remaining("refresh_tokens", "token_hash = ?", tokenLive) != 1 ||
			remaining("refresh_tokens", "token_hash = ?", tokenOld) != 0 {
			t.Fatalf("refresh tokens left: %d, want only the live one", n)
		}
		if remaining("mfa_pending", "id = ?", pendingOld) != 0 || remaining("mfa_pending", "id = ?", pendingRecent) != 1 || remaining("mfa_pending", "1 = 1") != 2 {
			t.Fatal("pending logins: wrong ones deleted")
		}
		if n := remaining("mfa_codes", "1 = 1"); n != 1 {
			t.Fatalf("%d codes left, want the live one", n)
		}
		if n := remaining("trusted_devices", "1 = 1"); n != 2 {
			t.Fatalf("%d devices left, want 2", n)
		}
		if remaining("mfa_totp", "user_id = ?", stale) != 0 || remaining("mfa_totp", "1 = 1") != 2 {
			t.Fatal("TOTP enrollments: wrong ones deleted")
		}
		if remaining("oauth_flows", "id = ?", flowOld) != 0 || remaining("oauth_flows", "1 = 1") != 1 || remaining("oauth_exchange_codes", "code_hash = 'x-live'") != 1 {
			t.Fatal("social-login flows and exchange codes: wrong ones deleted")
		}

		// A second pass finds nothing; the live rows stay.
		counts, err = db.DeleteExpired(ctx, now, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range counts {
			if c.Deleted != 0 {
				t.Fatalf("second pass deleted %d from %s", c.Deleted, c.Table)
			}
		}
		// Retention 0: the recently revoked session, device and pending login go too.
		counts, err = db.DeleteExpired(ctx, now, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]int64{}
		for _, c := range counts {
			got[c.Table] = c.Deleted
		}
		if got["sessions"] != 1 || got["trusted_devices"] != 1 || got["mfa_pending"] != 1 {
			t.Fatalf("retention 0 deleted %v", got)
		}
	})
}
