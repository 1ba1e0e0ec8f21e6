package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/mfa/recovery"
	"gatehouse/server/internal/mfa/totp"
)

type mfaTOTPRow struct {
	UserID      string `gorm:"primaryKey"`
	SecretEnc   string
	ConfirmedAt *time.Time
	LastStep    int64
	CreatedAt   time.Time
}

func (mfaTOTPRow) TableName() string { return "mfa_totp" }

type mfaRecoveryCodeRow struct {
	UserID    string `gorm:"primaryKey"`
	CodeHash  string `gorm:"primaryKey"`
	CreatedAt time.Time
	UsedAt    *time.Time
}

func (mfaRecoveryCodeRow) TableName() string { return "mfa_recovery_codes" }

// TOTPStore keeps TOTP secrets (ciphertext only). Acceptance of a code is a conditional update
// on last_step, so of concurrent verifications of one code exactly one changes the row.
type TOTPStore struct{ db *gorm.DB }

var _ totp.Store = (*TOTPStore)(nil)

// TOTP returns the TOTP secret store.
func (db *DB) TOTP() *TOTPStore { return &TOTPStore{db: db.gorm} }

// PutPending inserts an unconfirmed secret or replaces an unconfirmed one, in one statement;
// a confirmed secret is left alone (no row changes) and reported as totp.ErrAlreadyEnrolled.
func (s *TOTPStore) PutPending(ctx context.Context, userID, secretEnc string, at time.Time) error {
	res := conn(ctx, s.db).Exec(`INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, last_step, created_at)
VALUES (?, ?, NULL, 0, ?)
ON CONFLICT (user_id) DO UPDATE SET secret_enc = excluded.secret_enc, last_step = 0, created_at = excluded.created_at
WHERE mfa_totp.confirmed_at IS NULL`, userID, secretEnc, at.UTC())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return totp.ErrAlreadyEnrolled
	}
	return nil
}

// Get returns the user's secret.
func (s *TOTPStore) Get(ctx context.Context, userID string) (totp.Secret, error) {
	var row mfaTOTPRow
	if err := conn(ctx, s.db).Take(&row, "user_id = ?", userID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return totp.Secret{}, totp.ErrNotEnrolled
		}
		return totp.Secret{}, err
	}
	return totp.Secret{UserID: row.UserID, SecretEnc: row.SecretEnc, ConfirmedAt: utcPtr(row.ConfirmedAt),
		LastStep: row.LastStep, CreatedAt: row.CreatedAt.UTC()}, nil
}

// Confirm activates the pending secret secretEnc and records step as used.
func (s *TOTPStore) Confirm(ctx context.Context, userID, secretEnc string, at time.Time, step int64) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaTOTPRow{}).
		Where("user_id = ? AND secret_enc = ? AND confirmed_at IS NULL AND last_step < ?", userID, secretEnc, step).
		Updates(map[string]any{"confirmed_at": at.UTC(), "last_step": step})
	return res.RowsAffected > 0, res.Error
}

// UseStep records step as used when it is later than the last used one.
func (s *TOTPStore) UseStep(ctx context.Context, userID string, step int64) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaTOTPRow{}).
		Where("user_id = ? AND confirmed_at IS NOT NULL AND last_step < ?", userID, step).
		Update("last_step", step)
	return res.RowsAffected > 0, res.Error
}

// Delete removes the user's secret.
func (s *TOTPStore) Delete(ctx context.Context, userID string) (bool, error) {
	res := conn(ctx, s.db).Where("user_id = ?", userID).Delete(&mfaTOTPRow{})
	return res.RowsAffected > 0, res.Error
}

// RecoveryCodeStore keeps hashed recovery codes. Spending one is a conditional update on
// used_at, so of concurrent uses of one code exactly one changes the row.
type RecoveryCodeStore struct{ db *gorm.DB }

var _ recovery.Store = (*RecoveryCodeStore)(nil)

// RecoveryCodes returns the recovery-code store.
func (db *DB) RecoveryCodes() *RecoveryCodeStore { return &RecoveryCodeStore{db: db.gorm} }

// Replace swaps the user's set of codes in one transaction. On PostgreSQL the user's row is
// locked first, so two concurrent regenerations queue instead of leaving both sets; SQLite
// transactions here take the write lock up front (_txlock=immediate) and queue anyway.
func (s *RecoveryCodeStore) Replace(ctx context.Context, userID string, hashes []string, at time.Time) error {
	return conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if tx.Name() == DialectPostgres {
			if err := tx.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", userID).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("user_id = ?", userID).Delete(&mfaRecoveryCodeRow{}).Error; err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		rows := make([]mfaRecoveryCodeRow, 0, len(hashes))
		for _, h := range hashes {
			rows = append(rows, mfaRecoveryCodeRow{UserID: userID, CodeHash: h, CreatedAt: at.UTC()})
		}
		return tx.Create(&rows).Error
	})
}

// Use marks an unused code used.
func (s *RecoveryCodeStore) Use(ctx context.Context, userID, hash string, at time.Time) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaRecoveryCodeRow{}).
		Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, hash).
		Update("used_at", at.UTC())
	return res.RowsAffected > 0, res.Error
}

// Remaining counts the user's unused codes.
func (s *RecoveryCodeStore) Remaining(ctx context.Context, userID string) (int, error) {
	var n int64
	err := conn(ctx, s.db).Model(&mfaRecoveryCodeRow{}).Where("user_id = ? AND used_at IS NULL", userID).Count(&n).Error
	return int(n), err
}

// Delete removes all of the user's codes.
func (s *RecoveryCodeStore) Delete(ctx context.Context, userID string) error {
	return conn(ctx, s.db).Where("user_id = ?", userID).Delete(&mfaRecoveryCodeRow{}).Error
}

// EnrolledFactors returns the confirmed factors of each of userIDs (absent: none) in one
// query, for listings that show MFA per account without a look-up per row. Recovery codes
// count while one is unused.
func (db *DB) EnrolledFactors(ctx context.Context, userIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		UserID string
		Factor string
	}
	err := conn(ctx, db.gorm).Raw(`SELECT user_id, 'totp' AS factor FROM mfa_totp WHERE confirmed_at IS NOT NULL AND user_id IN ?
UNION ALL SELECT user_id, channel AS factor FROM mfa_channels WHERE confirmed_at IS NOT NULL AND user_id IN ?
UNION ALL SELECT DISTINCT user_id, 'recovery_code' AS factor FROM mfa_recovery_codes WHERE used_at IS NULL AND user_id IN ?`,
		userIDs, userIDs, userIDs).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("enrolled factors: %w", err)
	}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.Factor)
	}
	return out, nil
}
