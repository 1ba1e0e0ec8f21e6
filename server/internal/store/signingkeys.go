package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/token"
)

type signingKeyRow struct {
	KID           string `gorm:"column:kid;primaryKey"`
	PrivateKeyEnc string
	PublicKey     []byte
	CreatedAt     time.Time
	RetiredAt     *time.Time
}

func (signingKeyRow) TableName() string { return "signing_keys" }

// SigningKeyStore keeps the JWT signing keys; it implements token.KeyStore.
type SigningKeyStore struct{ db *gorm.DB }

var _ token.KeyStore = (*SigningKeyStore)(nil)

// SigningKeys returns the signing-key store.
func (db *DB) SigningKeys() *SigningKeyStore { return &SigningKeyStore{db: db.gorm} }

// Keys returns every signing key, retired or not, oldest first.
func (s *SigningKeyStore) Keys(ctx context.Context) ([]token.StoredKey, error) {
	var rows []signingKeyRow
	if err := conn(ctx, s.db).Order("created_at, kid").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	out := make([]token.StoredKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, token.StoredKey{
			KID:           r.KID,
			PrivateKeyEnc: r.PrivateKeyEnc,
			PublicKey:     r.PublicKey,
			CreatedAt:     r.CreatedAt,
			RetiredAt:     r.RetiredAt,
		})
	}
	return out, nil
}

// Add stores a new signing key; token.ErrKeyExists when the kid is taken.
func (s *SigningKeyStore) Add(ctx context.Context, k token.StoredKey) error {
	row := signingKeyRow{
		KID:           k.KID,
		PrivateKeyEnc: k.PrivateKeyEnc,
		PublicKey:     k.PublicKey,
		CreatedAt:     k.CreatedAt.UTC(),
	}
	if k.RetiredAt != nil {
		at := k.RetiredAt.UTC()
		row.RetiredAt = &at
	}
	err := conn(ctx, s.db).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return token.ErrKeyExists
	}
	if err != nil {
		return fmt.Errorf("add signing key %s: %w", k.KID, err)
	}
	return nil
}

// Retire marks a key retired at the given time unless it is retired already (the first time
// stays); token.ErrKeyNotFound when no key has the kid.
func (s *SigningKeyStore) Retire(ctx context.Context, kid string, at time.Time) error {
	db := conn(ctx, s.db)
	// One conditional UPDATE, so two replicas retiring at once cannot both set the time.
	res := db.Model(&signingKeyRow{}).
		Where("kid = ? AND retired_at IS NULL", kid).
		Update("retired_at", at.UTC())
	if res.Error != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, res.Error)
	}
	if res.RowsAffected > 0 {
		return nil
	}
	var n int64
	if err := db.Model(&signingKeyRow{}).Where("kid = ?", kid).Count(&n).Error; err != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, err)
	}
	if n == 0 {
		return token.ErrKeyNotFound
	}
	return nil // already retired
}
