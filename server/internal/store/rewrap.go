package store

import (
	"context"
	"fmt"
	"strconv"

	"gatehouse/server/internal/rewrap"
)

// SealedColumn is a column of keyring ciphertexts ("v<key version>:<fernet token>") that the
// master key re-wrap job re-seals with the current key version (internal/rewrap). Rows are
// addressed by a text primary key, walked in key order.
type SealedColumn struct {
	db                     *DB
	name, table, id, value string
}

var _ rewrap.ColumnStore = (*SealedColumn)(nil)

// SealedColumns lists every keyring-protected column outside the secrets backend (whose data
// keys carry their version in a column of their own): TOTP seeds, JWT signing keys and OAuth
// client secrets.
func (db *DB) SealedColumns() []*SealedColumn {
	return []*SealedColumn{
		{db: db, name: "mfa_totp", table: "mfa_totp", id: "user_id", value: "secret_enc"},
		{db: db, name: "signing_keys", table: "signing_keys", id: "kid", value: "private_key_enc"},
		{db: db, name: "oauth_providers", table: "oauth_providers", id: "id", value: "client_secret_enc"},
	}
}

// Name names the column's data in progress reports (the table).
func (c *SealedColumn) Name() string { return c.name }

// keyVersion is SQL for the key version in the ciphertext's prefix; 0 for a malformed one, so
// it counts as stale and the re-wrap reports it rather than skipping it silently.
func (c *SealedColumn) keyVersion() string {
	if c.db.dialect == DialectPostgres {
		return "COALESCE(CAST(substring(" + c.value + " from '^v([0-9]{1,9}):') AS integer), 0)"
	}
	return "CAST(substr(" + c.value + ", 2, instr(" + c.value + ", ':') - 2) AS INTEGER)"
}

// Count returns how many rows the column has and how many are sealed with a key version
// below current.
func (c *SealedColumn) Count(ctx context.Context, current int) (total, stale int, err error) {
	var n struct {
		Total int64
		Stale int64
	}
	q := "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN " + c.keyVersion() + " < ? THEN 1 ELSE 0 END), 0) AS stale FROM " + c.table
	if err := conn(ctx, c.db.gorm).Raw(q, current).Scan(&n).Error; err != nil {
		return 0, 0, fmt.Errorf("count sealed %s: %w", c.name, err)
	}
	return int(n.Total), int(n.Stale), nil
}

// Stale returns up to limit rows after the key after (in key order) sealed with a key version
// below current.
func (c *SealedColumn) Stale(ctx context.Context, current int, after string, limit int) ([]rewrap.Sealed, error) {
	var rows []rewrap.Sealed
	where, args := c.keyVersion()+" < ?", []any{current}
	if after != "" { // "" is the start (and not a valid UUID for mfa_totp.user_id)
		where, args = c.id+" > ? AND "+where, []any{after, current}
	}
	q := "SELECT " + c.id + " AS id, " + c.value + " AS ciphertext FROM " + c.table +
		" WHERE " + where + " ORDER BY " + c.id + " LIMIT " + strconv.Itoa(max(limit, 1))
	if err := conn(ctx, c.db.gorm).Raw(q, args...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("read sealed %s: %w", c.name, err)
	}
	return rows, nil
}

// Replace swaps a row's ciphertext if it still holds old (compare-and-swap), so a concurrent
// change (a re-enrolment, a retired key, another replica's run) is never overwritten with a
// stale value. It reports whether the row changed.
func (c *SealedColumn) Replace(ctx context.Context, id, old, sealed string) (bool, error) {
	res := conn(ctx, c.db.gorm).Exec("UPDATE "+c.table+" SET "+c.value+" = ? WHERE "+c.id+" = ? AND "+c.value+" = ?", sealed, id, old)
	if res.Error != nil {
		return false, fmt.Errorf("re-seal %s row: %w", c.name, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// CountSecretDataKeys returns how many db-backend secret versions exist and how many have a
// data key wrapped by a master key version below current (the re-wrap job's progress; the
// re-wrap itself goes through SecretValueStore).
func (db *DB) CountSecretDataKeys(ctx context.Context, current int) (total, stale int, err error) {
	var n struct {
		Total int64
		Stale int64
	}
	q := "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN key_version < ? THEN 1 ELSE 0 END), 0) AS stale FROM secret_values"
	if err := conn(ctx, db.gorm).Raw(q, current).Scan(&n).Error; err != nil {
		return 0, 0, fmt.Errorf("count secret data keys: %w", err)
	}
	return int(n.Total), int(n.Stale), nil
}
