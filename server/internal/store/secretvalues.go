package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/secrets"
	secretsdb "gatehouse/server/internal/secrets/db"
)

// secretValueRow is one version of a secret held by the db backend: the value sealed under a
// per-version data key, the data key sealed by the keyring.
type secretValueRow struct {
	ID         int64 `gorm:"primaryKey"`
	Name       string
	KeyVersion int
	WrappedKey string
	Ciphertext string
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
}

func (secretValueRow) TableName() string { return "secret_values" }

// SecretValueStore keeps the db secrets backend's versions.
type SecretValueStore struct{ db *gorm.DB }

var _ secretsdb.Store = (*SecretValueStore)(nil)

// SecretValues returns the db secrets backend's store.
func (db *DB) SecretValues() *SecretValueStore { return &SecretValueStore{db: db.gorm} }

// Insert stores a version and returns its id (ids only grow, so concurrent inserts never
// share one).
func (s *SecretValueStore) Insert(ctx context.Context, r secretsdb.Row) (int64, error) {
	row := secretValueRow{Name: r.Name, KeyVersion: r.KeyVersion, WrappedKey: r.WrappedKey, Ciphertext: r.Ciphertext, CreatedAt: r.CreatedAt.UTC()}
	if err := conn(ctx, s.db).Create(&row).Error; err != nil {
		return 0, fmt.Errorf("insert secret value: %w", err)
	}
	return row.ID, nil
}

// Get returns the version with id of name, or its newest when id is 0.
func (s *SecretValueStore) Get(ctx context.Context, name string, id int64) (secretsdb.Row, error) {
	var row secretValueRow
	q := conn(ctx, s.db).Where("name = ?", name)
	if id != 0 {
		q = q.Where("id = ?", id)
	}
	err := q.Order("id DESC").Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		if id == 0 {
			return secretsdb.Row{}, fmt.Errorf("%q: %w", name, secrets.ErrNotFound)
		}
		var n int64
		if err := conn(ctx, s.db).Model(&secretValueRow{}).Where("name = ?", name).Limit(1).Count(&n).Error; err != nil {
			return secretsdb.Row{}, fmt.Errorf("look up secret value: %w", err)
		}
		if n == 0 {
			return secretsdb.Row{}, fmt.Errorf("%q: %w", name, secrets.ErrNotFound)
		}
		return secretsdb.Row{}, fmt.Errorf("%q version %d: %w", name, id, secrets.ErrVersionNotFound)
	}
	if err != nil {
		return secretsdb.Row{}, fmt.Errorf("read secret value: %w", err)
	}
	return row.domain(), nil
}

// List returns the versions of name (without ciphertexts), oldest first.
func (s *SecretValueStore) List(ctx context.Context, name string) ([]secretsdb.Row, error) {
	var rows []secretValueRow
	err := conn(ctx, s.db).Select("id", "name", "key_version", "created_at").
		Where("name = ?", name).Order("id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list secret values: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%q: %w", name, secrets.ErrNotFound)
	}
	out := make([]secretsdb.Row, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// Delete removes every version of name.
func (s *SecretValueStore) Delete(ctx context.Context, name string) error {
	res := conn(ctx, s.db).Where("name = ?", name).Delete(&secretValueRow{})
	if res.Error != nil {
		return fmt.Errorf("delete secret values: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%q: %w", name, secrets.ErrNotFound)
	}
	return nil
}

// Ping checks the database answers.
func (s *SecretValueStore) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// StaleKeys returns up to limit rows still wrapped by a master key version below below.
func (s *SecretValueStore) StaleKeys(ctx context.Context, below int, afterID int64, limit int) ([]secretsdb.Row, error) {
	var rows []secretValueRow
	err := conn(ctx, s.db).Select("id", "key_version", "wrapped_key").
		Where("key_version < ? AND id > ?", below, afterID).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read stale data keys: %w", err)
	}
	out := make([]secretsdb.Row, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// CountStale counts rows wrapped by a master key version below below.
func (s *SecretValueStore) CountStale(ctx context.Context, below int) (int, error) {
	var n int64
	if err := conn(ctx, s.db).Model(&secretValueRow{}).Where("key_version < ?", below).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count stale data keys: %w", err)
	}
	return int(n), nil
}

// Rewrap swaps wrapped keys in one transaction, each row only if it still holds the old one.
func (s *SecretValueStore) Rewrap(ctx context.Context, batch []secretsdb.Rewrapped) (int, error) {
	changed := 0
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		changed = 0
		for _, r := range batch {
			res := tx.Model(&secretValueRow{}).Where("id = ? AND wrapped_key = ?", r.ID, r.Old).
				Updates(map[string]any{"wrapped_key": r.New, "key_version": r.KeyVersion})
			if res.Error != nil {
				return res.Error
			}
			changed += int(res.RowsAffected)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("re-wrap data keys: %w", err)
	}
	return changed, nil
}

func (r secretValueRow) domain() secretsdb.Row {
	return secretsdb.Row{ID: r.ID, Name: r.Name, KeyVersion: r.KeyVersion, WrappedKey: r.WrappedKey, Ciphertext: r.Ciphertext, CreatedAt: r.CreatedAt.UTC()}
}
