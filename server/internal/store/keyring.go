package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/keyring"
)

type keyringKDFRow struct {
	ID         int16 `gorm:"primaryKey;autoIncrement:false"`
	Salt       []byte
	Iterations int
	CreatedAt  time.Time
}

func (keyringKDFRow) TableName() string { return "keyring_kdf" }

type keyringKeyRow struct {
	Version    int `gorm:"primaryKey;autoIncrement:false"`
	WrappedKey string
	CreatedAt  time.Time
}

func (keyringKeyRow) TableName() string { return "keyring_keys" }

// KeyringStore keeps the keyring's KDF parameters and wrapped key versions.
type KeyringStore struct{ db *gorm.DB }

var _ keyring.Store = (*KeyringStore)(nil)

// Keyring returns the keyring's store.
func (db *DB) Keyring() *KeyringStore { return &KeyringStore{db: db.gorm} }

// LoadKDF returns keyring.ErrNotInitialised when no keyring exists yet.
func (s *KeyringStore) LoadKDF(ctx context.Context) (keyring.KDFParams, error) {
	var row keyringKDFRow
	err := conn(ctx, s.db).Take(&row, "id = ?", 1).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return keyring.KDFParams{}, keyring.ErrNotInitialised
	}
	if err != nil {
		return keyring.KDFParams{}, fmt.Errorf("load keyring parameters: %w", err)
	}
	return keyring.KDFParams{Salt: row.Salt, Iterations: row.Iterations, CreatedAt: row.CreatedAt}, nil
}

// Initialise stores the KDF parameters and the first key together.
func (s *KeyringStore) Initialise(ctx context.Context, p keyring.KDFParams, first keyring.WrappedKey) error {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&keyringKDFRow{ID: 1, Salt: p.Salt, Iterations: p.Iterations, CreatedAt: p.CreatedAt.UTC()}).Error; err != nil {
			return err
		}
		return tx.Create(&keyringKeyRow{Version: first.Version, WrappedKey: first.Wrapped, CreatedAt: first.CreatedAt.UTC()}).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return keyring.ErrAlreadyInitialised
	}
	if err != nil {
		return fmt.Errorf("initialise keyring: %w", err)
	}
	return nil
}

// Keys returns every wrapped key version, oldest first.
func (s *KeyringStore) Keys(ctx context.Context) ([]keyring.WrappedKey, error) {
	var rows []keyringKeyRow
	if err := conn(ctx, s.db).Order("version").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load keyring keys: %w", err)
	}
	out := make([]keyring.WrappedKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, keyring.WrappedKey{Version: r.Version, Wrapped: r.WrappedKey, CreatedAt: r.CreatedAt})
	}
	return out, nil
}

// AddKey stores a new key version; keyring.ErrKeyVersionExists when the version is taken.
func (s *KeyringStore) AddKey(ctx context.Context, k keyring.WrappedKey) error {
	err := conn(ctx, s.db).Create(&keyringKeyRow{Version: k.Version, WrappedKey: k.Wrapped, CreatedAt: k.CreatedAt.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return keyring.ErrKeyVersionExists
	}
	if err != nil {
		return fmt.Errorf("add key version %d: %w", k.Version, err)
	}
	return nil
}
