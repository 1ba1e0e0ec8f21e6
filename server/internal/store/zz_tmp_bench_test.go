package store

import (
	"context"
	"os"
	"testing"

	"github.com/google/uuid"

	"gatehouse/server/internal/session"
)

func BenchmarkTmpByID(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, Options{URL: os.Getenv("TMP_PG")})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	_ = uuid.NewString
	m, _ := db.Migrator()
	if _, err := m.Up(ctx); err != nil {
		b.Fatal(err)
	}
	uid := uuid.NewString()
	if err := db.gorm.Exec("INSERT INTO users (id, email, created_at, updated_at) VALUES (?, ?, now(), now())", uid, uid+"@x").Error; err != nil {
		b.Fatal(err)
	}
	sm := session.New(db.Sessions(), session.Options{})
	s, _, err := sm.Create(ctx, session.NewSession{UserID: uid, Kind: "cookie", AAL: "aal1"})
	if err != nil {
		b.Fatal(err)
	}
	id := s.ID
	st := db.Sessions()
	b.Run("gorm-take", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.ByID(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gorm-raw-scan", func(b *testing.B) {
		for b.Loop() {
			var row sessionRow
			if err := db.gorm.WithContext(ctx).Raw("SELECT id, user_id, kind, aal, token_hash, csrf_token, created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at, revoke_reason, ip, user_agent FROM sessions WHERE id = ?", id).Scan(&row).Error; err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sql-queryrow", func(b *testing.B) {
		for b.Loop() {
			var r sessionRow
			if err := db.sql.QueryRowContext(ctx, "SELECT id, user_id, kind, aal, token_hash, csrf_token, created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at, revoke_reason, ip, user_agent FROM sessions WHERE id = $1", id).Scan(&r.ID, &r.UserID, &r.Kind, &r.AAL, &r.TokenHash, &r.CSRFToken, &r.CreatedAt, &r.LastSeenAt, &r.IdleExpiresAt, &r.AbsoluteExpiresAt, &r.RevokedAt, &r.RevokeReason, &r.IP, &r.UserAgent); err != nil {
				b.Fatal(err)
			}
		}
	})
}
