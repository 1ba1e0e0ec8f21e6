package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/mfa/device"
	"gatehouse/server/internal/mfa/oob"
	"gatehouse/server/internal/mfa/pending"
)

type mfaChannelRow struct {
	UserID      string `gorm:"primaryKey"`
	Channel     string `gorm:"primaryKey"`
	Address     string
	ConfirmedAt *time.Time
	CreatedAt   time.Time
}

func (mfaChannelRow) TableName() string { return "mfa_channels" }

type mfaCodeRow struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	Channel   string
	Binding   string
	CodeHash  string
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (mfaCodeRow) TableName() string { return "mfa_codes" }

type mfaPendingRow struct {
	ID        string `gorm:"primaryKey"`
	UserID    string
	TokenHash string
	Kind      string
	CSRFToken string `gorm:"column:csrf_token"`
	Failures  int
	IP        string `gorm:"column:ip"`
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (mfaPendingRow) TableName() string { return "mfa_pending" }

type trustedDeviceRow struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	TokenHash  string
	Name       string
	IP         string `gorm:"column:ip"`
	UserAgent  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ExpiresAt  time.Time
	RevokedAt  *time.Time
}

func (trustedDeviceRow) TableName() string { return "trusted_devices" }

// OOBStore keeps SMS and email enrollments and their one-time codes (hashes only). Spending a
// code and counting a wrong attempt are conditional updates, so concurrent requests cannot
// both use one code or exceed the attempt limit.
type OOBStore struct{ db *gorm.DB }

var _ oob.Store = (*OOBStore)(nil)

// OOB returns the out-of-band factor store.
func (db *DB) OOB() *OOBStore { return &OOBStore{db: db.gorm} }

// PutPendingChannel inserts or replaces an unconfirmed address; a confirmed one stays.
func (s *OOBStore) PutPendingChannel(ctx context.Context, e oob.Enrollment) error {
	res := conn(ctx, s.db).Exec(`INSERT INTO mfa_channels (user_id, channel, address, confirmed_at, created_at)
VALUES (?, ?, ?, NULL, ?)
ON CONFLICT (user_id, channel) DO UPDATE SET address = excluded.address, created_at = excluded.created_at
WHERE mfa_channels.confirmed_at IS NULL`, e.UserID, e.Channel, e.Address, e.CreatedAt.UTC())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return oob.ErrAlreadyEnrolled
	}
	return nil
}

// Channel returns the user's enrollment on channel.
func (s *OOBStore) Channel(ctx context.Context, userID, channel string) (oob.Enrollment, error) {
	var row mfaChannelRow
	if err := conn(ctx, s.db).Take(&row, "user_id = ? AND channel = ?", userID, channel).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return oob.Enrollment{}, oob.ErrNotEnrolled
		}
		return oob.Enrollment{}, err
	}
	return oob.Enrollment{UserID: row.UserID, Channel: row.Channel, Address: row.Address,
		ConfirmedAt: utcPtr(row.ConfirmedAt), CreatedAt: row.CreatedAt.UTC()}, nil
}

// ConfirmChannel confirms the pending address if it is still address.
func (s *OOBStore) ConfirmChannel(ctx context.Context, userID, channel, address string, at time.Time) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaChannelRow{}).
		Where("user_id = ? AND channel = ? AND address = ? AND confirmed_at IS NULL", userID, channel, address).
		Update("confirmed_at", at.UTC())
	return res.RowsAffected > 0, res.Error
}

// DeleteChannel removes the enrollment and every code sent on that channel.
func (s *OOBStore) DeleteChannel(ctx context.Context, userID, channel string) (bool, error) {
	var deleted bool
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("user_id = ? AND channel = ?", userID, channel).Delete(&mfaChannelRow{})
		if res.Error != nil {
			return res.Error
		}
		deleted = res.RowsAffected > 0
		return tx.Where("user_id = ? AND channel = ?", userID, channel).Delete(&mfaCodeRow{}).Error
	})
	return deleted, err
}

// CreateCode stores a new code.
func (s *OOBStore) CreateCode(ctx context.Context, c oob.Code) error {
	return conn(ctx, s.db).Create(&mfaCodeRow{ID: c.ID, UserID: c.UserID, Channel: c.Channel, Binding: c.Binding,
		CodeHash: c.Hash, CreatedAt: c.CreatedAt.UTC(), ExpiresAt: c.ExpiresAt.UTC()}).Error
}

// LatestCode returns the newest code for (user, channel, binding).
func (s *OOBStore) LatestCode(ctx context.Context, userID, channel, binding string) (oob.Code, error) {
	var row mfaCodeRow
	err := conn(ctx, s.db).Where("user_id = ? AND channel = ? AND binding = ?", userID, channel, binding).
		Order("created_at DESC").Order("id DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oob.Code{}, oob.ErrInvalidCode
	}
	if err != nil {
		return oob.Code{}, err
	}
	return oob.Code{ID: row.ID, UserID: row.UserID, Channel: row.Channel, Binding: row.Binding, Hash: row.CodeHash,
		Attempts: row.Attempts, CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC(), UsedAt: utcPtr(row.UsedAt)}, nil
}

// FailCode counts a wrong attempt if fewer than max were made.
func (s *OOBStore) FailCode(ctx context.Context, id string, max int) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaCodeRow{}).Where("id = ? AND attempts < ? AND used_at IS NULL", id, max).
		Update("attempts", gorm.Expr("attempts + 1"))
	return res.RowsAffected > 0, res.Error
}

// UseCode marks an unused code used.
func (s *OOBStore) UseCode(ctx context.Context, id string, at time.Time) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaCodeRow{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", at.UTC())
	return res.RowsAffected > 0, res.Error
}

// DeleteCode removes a code.
func (s *OOBStore) DeleteCode(ctx context.Context, id string) error {
	return conn(ctx, s.db).Where("id = ?", id).Delete(&mfaCodeRow{}).Error
}

// DeleteAllForUser removes every channel and code of the user (MFA reset).
func (s *OOBStore) DeleteAllForUser(ctx context.Context, userID string) error {
	return conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&mfaChannelRow{}).Error; err != nil {
			return err
		}
		return tx.Where("user_id = ?", userID).Delete(&mfaCodeRow{}).Error
	})
}

// PendingStore keeps logins waiting for their second factor.
type PendingStore struct{ db *gorm.DB }

var _ pending.Store = (*PendingStore)(nil)

// Pending returns the pending-login store.
func (db *DB) Pending() *PendingStore { return &PendingStore{db: db.gorm} }

// CreatePending stores a pending login.
func (s *PendingStore) CreatePending(ctx context.Context, l pending.Login, tokenHash string) error {
	return conn(ctx, s.db).Create(&mfaPendingRow{ID: l.ID, UserID: l.UserID, TokenHash: tokenHash, Kind: l.Kind,
		CSRFToken: l.CSRFToken, IP: l.IP, UserAgent: l.UserAgent, CreatedAt: l.CreatedAt.UTC(), ExpiresAt: l.ExpiresAt.UTC()}).Error
}

// PendingByTokenHash returns the pending login with that token hash.
func (s *PendingStore) PendingByTokenHash(ctx context.Context, hash string) (pending.Login, error) {
	var row mfaPendingRow
	if err := conn(ctx, s.db).Take(&row, "token_hash = ?", hash).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return pending.Login{}, pending.ErrInvalid
		}
		return pending.Login{}, err
	}
	return pending.Login{ID: row.ID, UserID: row.UserID, Kind: row.Kind, CSRFToken: row.CSRFToken, Failures: row.Failures,
		IP: row.IP, UserAgent: row.UserAgent, CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC(), UsedAt: utcPtr(row.UsedAt)}, nil
}

// FailPending counts a failure unless max were counted, and returns the count.
func (s *PendingStore) FailPending(ctx context.Context, id string, max int) (int, error) {
	var failures int
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&mfaPendingRow{}).Where("id = ? AND failures < ?", id, max).
			Update("failures", gorm.Expr("failures + 1")).Error; err != nil {
			return err
		}
		return tx.Model(&mfaPendingRow{}).Where("id = ?", id).Select("failures").Scan(&failures).Error
	})
	return failures, err
}

// UsePending spends an unused pending login.
func (s *PendingStore) UsePending(ctx context.Context, id string, at time.Time) (bool, error) {
	res := conn(ctx, s.db).Model(&mfaPendingRow{}).Where("id = ? AND used_at IS NULL", id).Update("used_at", at.UTC())
	return res.RowsAffected > 0, res.Error
}

// DeleteForUser removes the user's pending logins (MFA reset, password change).
func (s *PendingStore) DeleteForUser(ctx context.Context, userID string) error {
	return conn(ctx, s.db).Where("user_id = ?", userID).Delete(&mfaPendingRow{}).Error
}

// DeviceStore keeps trusted devices.
type DeviceStore struct{ db *gorm.DB }

var _ device.Store = (*DeviceStore)(nil)

// Devices returns the trusted-device store.
func (db *DB) Devices() *DeviceStore { return &DeviceStore{db: db.gorm} }

func deviceFromRow(r trustedDeviceRow) device.Device {
	return device.Device{ID: r.ID, UserID: r.UserID, Name: r.Name, IP: r.IP, UserAgent: r.UserAgent, CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: r.LastUsedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), RevokedAt: utcPtr(r.RevokedAt)}
}

// CreateDevice stores a trusted device.
func (s *DeviceStore) CreateDevice(ctx context.Context, d device.Device, tokenHash string) error {
	return conn(ctx, s.db).Create(&trustedDeviceRow{ID: d.ID, UserID: d.UserID, TokenHash: tokenHash, Name: d.Name, IP: d.IP,
		UserAgent: d.UserAgent, CreatedAt: d.CreatedAt.UTC(), LastUsedAt: d.LastUsedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC()}).Error
}

// DeviceByTokenHash returns the device with that token hash.
func (s *DeviceStore) DeviceByTokenHash(ctx context.Context, hash string) (device.Device, error) {
	var row trustedDeviceRow
	if err := conn(ctx, s.db).Take(&row, "token_hash = ?", hash).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return device.Device{}, device.ErrNotFound
		}
		return device.Device{}, err
	}
	return deviceFromRow(row), nil
}

// TouchDevice records a use.
func (s *DeviceStore) TouchDevice(ctx context.Context, id string, at time.Time) error {
	return conn(ctx, s.db).Model(&trustedDeviceRow{}).Where("id = ?", id).Update("last_used_at", at.UTC()).Error
}

// ListDevices returns the user's live devices, newest first.
func (s *DeviceStore) ListDevices(ctx context.Context, userID string, now time.Time) ([]device.Device, error) {
	var rows []trustedDeviceRow
	err := conn(ctx, s.db).Where("user_id = ? AND revoked_at IS NULL AND expires_at > ?", userID, now.UTC()).
		Order("created_at DESC").Order("id DESC").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]device.Device, len(rows))
	for i, r := range rows {
		out[i] = deviceFromRow(r)
	}
	return out, nil
}

// RevokeDevice revokes one live device of the user.
func (s *DeviceStore) RevokeDevice(ctx context.Context, userID, id string, at time.Time) (bool, error) {
	res := conn(ctx, s.db).Model(&trustedDeviceRow{}).
		Where("id = ? AND user_id = ? AND revoked_at IS NULL AND expires_at > ?", id, userID, at.UTC()).Update("revoked_at", at.UTC())
	return res.RowsAffected > 0, res.Error
}

// RevokeDevices revokes all of the user's devices.
func (s *DeviceStore) RevokeDevices(ctx context.Context, userID string, at time.Time) (int, error) {
	res := conn(ctx, s.db).Model(&trustedDeviceRow{}).Where("user_id = ? AND revoked_at IS NULL", userID).Update("revoked_at", at.UTC())
	return int(res.RowsAffected), res.Error
}
