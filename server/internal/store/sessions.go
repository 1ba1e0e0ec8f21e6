package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/session"
)

type sessionRow struct {
	ID                string `gorm:"primaryKey"`
	UserID            string
	Kind              string
	AAL               string `gorm:"column:aal"`
	TokenHash         string
	CSRFToken         string `gorm:"column:csrf_token"`
	CreatedAt         time.Time
	LastSeenAt        time.Time
	IdleExpiresAt     time.Time
	AbsoluteExpiresAt time.Time
	RevokedAt         *time.Time
	RevokeReason      string
	IP                string `gorm:"column:ip"`
	UserAgent         string
}

func (sessionRow) TableName() string { return "sessions" }

type refreshTokenRow struct {
	TokenHash string `gorm:"primaryKey"`
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (refreshTokenRow) TableName() string { return "refresh_tokens" }

// SessionStore keeps sessions and their refresh-token families.
//
// On SQLite the pool has one connection: inside a transaction every statement goes through the
// transaction's handle, never s.db, or it would wait for the connection the transaction holds.
// Transactions take the session row first and its refresh tokens second, in every method, so
// two of them on PostgreSQL cannot deadlock on each other.
type SessionStore struct{ db *gorm.DB }

var _ session.Store = (*SessionStore)(nil)

// Sessions returns the session store.
func (db *DB) Sessions() *SessionStore { return &SessionStore{db: db.gorm} }

func toSessionRow(s session.Session, tokenHash string) sessionRow {
	return sessionRow{
		ID: s.ID, UserID: s.UserID, Kind: s.Kind, AAL: s.AAL, TokenHash: tokenHash, CSRFToken: s.CSRFToken,
		CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeenAt.UTC(), IdleExpiresAt: s.IdleExpiresAt.UTC(),
		AbsoluteExpiresAt: s.AbsoluteExpiresAt.UTC(), RevokedAt: utcPtr(s.RevokedAt), RevokeReason: s.RevokeReason,
		IP: s.IP, UserAgent: s.UserAgent,
	}
}

func (r sessionRow) session() session.Session {
	return session.Session{
		ID: r.ID, UserID: r.UserID, Kind: r.Kind, AAL: r.AAL, CSRFToken: r.CSRFToken,
		CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), IdleExpiresAt: r.IdleExpiresAt.UTC(),
		AbsoluteExpiresAt: r.AbsoluteExpiresAt.UTC(), RevokedAt: utcPtr(r.RevokedAt), RevokeReason: r.RevokeReason,
		IP: r.IP, UserAgent: r.UserAgent,
	}
}

func toRefreshRow(t session.RefreshToken) refreshTokenRow {
	return refreshTokenRow{TokenHash: t.Hash, SessionID: t.SessionID, CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), UsedAt: utcPtr(t.UsedAt)}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// notFound turns GORM's "no rows" into the session package's.
func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return session.ErrNotFound
	}
	return err
}

// Create stores a session and, for a token session, its first refresh token.
func (s *SessionStore) Create(ctx context.Context, sess session.Session, tokenHash string, first *session.RefreshToken) error {
	row := toSessionRow(sess, tokenHash)
	db := conn(ctx, s.db)
	if first == nil {
		return single(db).Create(&row).Error
	}
	insert := func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		rt := toRefreshRow(*first)
		return tx.Create(&rt).Error
	}
	// Inside InTx (a password grant) the caller's transaction already makes the two inserts
	// atomic: every caller returns this error, which rolls it back. A savepoint would add a
	// statement to every token login and protect nothing.
	if inTx(ctx) {
		return insert(single(db))
	}
	return db.Transaction(insert)
}

// ByID is the per-request lookup for bearer tokens: one primary-key read.
func (s *SessionStore) ByID(ctx context.Context, id string) (session.Session, error) {
	var row sessionRow
	if err := conn(ctx, s.db).Take(&row, "id = ?", id).Error; err != nil {
		return session.Session{}, notFound(err)
	}
	return row.session(), nil
}

// ByTokenHash is the per-request lookup for cookies: one unique-index read.
func (s *SessionStore) ByTokenHash(ctx context.Context, tokenHash string) (session.Session, error) {
	var row sessionRow
	if err := conn(ctx, s.db).Take(&row, "token_hash = ?", tokenHash).Error; err != nil {
		return session.Session{}, notFound(err)
	}
	return row.session(), nil
}

// Touch records activity on a session that is not revoked.
func (s *SessionStore) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	return conn(ctx, s.db).Model(&sessionRow{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"last_seen_at": lastSeen.UTC(), "idle_expires_at": idleExpires.UTC()}).Error
}

// Rotate changes the credential of a session that is not revoked and, when r.Refresh is set,
// replaces the current member of its refresh family, in one transaction.
func (s *SessionStore) Rotate(ctx context.Context, id string, r session.Rotation) error {
	set := map[string]any{"last_seen_at": r.LastSeenAt.UTC(), "idle_expires_at": r.IdleExpiresAt.UTC()}
	if r.TokenHash != "" {
		set["token_hash"] = r.TokenHash
	}
	if r.CSRFToken != "" {
		set["csrf_token"] = r.CSRFToken
	}
	if r.AAL != "" {
		set["aal"] = r.AAL
	}
	return conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&sessionRow{}).Where("id = ? AND revoked_at IS NULL", id).Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return revokedOrMissing(tx, id)
		}
		if r.Refresh == nil {
			return nil
		}
		if err := tx.Model(&refreshTokenRow{}).Where("session_id = ? AND used_at IS NULL", id).
			Update("used_at", r.LastSeenAt.UTC()).Error; err != nil {
			return err
		}
		rt := toRefreshRow(*r.Refresh)
		return tx.Create(&rt).Error
	})
}

// revokedOrMissing explains why a conditional update on a live session matched nothing.
func revokedOrMissing(tx *gorm.DB, id string) error {
	var n int64
	if err := tx.Model(&sessionRow{}).Where("id = ?", id).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return session.ErrNotFound
	}
	return session.ErrRevoked
}

// Revoke marks a session revoked; a revoked one keeps its first revocation.
func (s *SessionStore) Revoke(ctx context.Context, id string, at time.Time, reason string) error {
	res := conn(ctx, s.db).Model(&sessionRow{}).Where("id = ? AND revoked_at IS NULL", id).
		Updates(map[string]any{"revoked_at": at.UTC(), "revoke_reason": reason})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected > 0 {
		return nil
	}
	if err := revokedOrMissing(conn(ctx, s.db), id); !errors.Is(err, session.ErrRevoked) {
		return err
	}
	return nil
}

// RevokeAllForUser revokes a user's unrevoked sessions except exceptID.
func (s *SessionStore) RevokeAllForUser(ctx context.Context, userID, exceptID string, at time.Time, reason string) (int, error) {
	q := conn(ctx, s.db).Model(&sessionRow{}).Where("user_id = ? AND revoked_at IS NULL", userID)
	if exceptID != "" {
		// Only with an ID: PostgreSQL refuses '' as a UUID.
		q = q.Where("id <> ?", exceptID)
	}
	res := q.Updates(map[string]any{"revoked_at": at.UTC(), "revoke_reason": reason})
	if res.Error != nil {
		return 0, res.Error
	}
	return int(res.RowsAffected), nil
}

// ListForUser returns a user's sessions, newest first.
func (s *SessionStore) ListForUser(ctx context.Context, userID string, includeRevoked bool) ([]session.Session, error) {
	q := conn(ctx, s.db).Where("user_id = ?", userID)
	if !includeRevoked {
		q = q.Where("revoked_at IS NULL")
	}
	var rows []sessionRow
	if err := q.Order("created_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]session.Session, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.session())
	}
	return out, nil
}

// RefreshByHash returns a refresh token and its session.
func (s *SessionStore) RefreshByHash(ctx context.Context, hash string) (session.RefreshToken, session.Session, error) {
	db := conn(ctx, s.db)
	var rt refreshTokenRow
	if err := db.Take(&rt, "token_hash = ?", hash).Error; err != nil {
		return session.RefreshToken{}, session.Session{}, notFound(err)
	}
	var row sessionRow
	if err := db.Take(&row, "id = ?", rt.SessionID).Error; err != nil {
		// Sessions delete their tokens (ON DELETE CASCADE): a miss means it just went.
		return session.RefreshToken{}, session.Session{}, notFound(err)
	}
	return session.RefreshToken{Hash: rt.TokenHash, SessionID: rt.SessionID, CreatedAt: rt.CreatedAt.UTC(),
		ExpiresAt: rt.ExpiresAt.UTC(), UsedAt: utcPtr(rt.UsedAt)}, row.session(), nil
}

// ConsumeRefresh spends a refresh token and stores the next, atomically. The session row is
// updated first (lock order, see SessionStore); the spend is a conditional update, so of two
// concurrent calls the second finds used_at set, matches no row and loses.
func (s *SessionStore) ConsumeRefresh(ctx context.Context, u session.RefreshUse) error {
	return conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&sessionRow{}).Where("id = ? AND revoked_at IS NULL", u.Next.SessionID).
			Updates(map[string]any{"last_seen_at": u.At.UTC(), "idle_expires_at": u.IdleExpiresAt.UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return revokedOrMissing(tx, u.Next.SessionID)
		}
		res = tx.Model(&refreshTokenRow{}).Where("token_hash = ? AND session_id = ? AND used_at IS NULL", u.Hash, u.Next.SessionID).
			Update("used_at", u.At.UTC())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&refreshTokenRow{}).Where("token_hash = ?", u.Hash).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return session.ErrNotFound
			}
			return session.ErrRefreshReused
		}
		next := toRefreshRow(u.Next)
		return tx.Create(&next).Error
	})
}

// single is for a write that is one statement: GORM otherwise wraps every Create and Update in
// BEGIN ... COMMIT of its own, two more statements (on PostgreSQL two more round trips) for
// nothing, since one statement is atomic by itself. Inside InTx it is part of the caller's
// transaction like any other statement. On SQLite the autocommit statement takes the write lock when it starts (as _txlock=immediate
// does for transactions), so it queues on busy_timeout like any other writer.
func single(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{SkipDefaultTransaction: true})
}
