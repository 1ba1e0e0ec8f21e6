package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/secrets"
)

type secretRow struct {
	ID             string `gorm:"primaryKey"`
	Name           string
	Backend        string
	Description    string
	Owner          string
	RotationPolicy string
	NextRotationAt *time.Time
	LastRotatedAt  *time.Time
	CreatedBy      string
	CreatedAt      time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt      time.Time `gorm:"autoUpdateTime:false"`
	DeletedAt      *time.Time
	PurgeAfter     *time.Time
}

func (secretRow) TableName() string { return "secrets" }

type secretLabelRow struct {
	SecretID string `gorm:"primaryKey"`
	Key      string `gorm:"primaryKey"`
	Value    string
}

func (secretLabelRow) TableName() string { return "secret_labels" }

type secretVersionRow struct {
	SecretID   string `gorm:"primaryKey"`
	Version    int    `gorm:"primaryKey;autoIncrement:false"`
	BackendRef string
	Stage      *string
	CreatedBy  string
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
}

func (secretVersionRow) TableName() string { return "secret_versions" }

type secretAuditRow struct {
	ID         int64     `gorm:"primaryKey"`
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	ActorType  string
	ActorID    string
	Action     string
	SecretName string
	Version    *int
	Backend    string
	Outcome    string
	Reason     string
	RequestID  string
	IP         string
}

func (secretAuditRow) TableName() string { return "secret_audit" }

// SecretStore keeps the secrets manager's metadata, versions, policies and audit trail.
type SecretStore struct{ db *gorm.DB }

var _ secrets.Store = (*SecretStore)(nil)

// Secrets returns the secrets manager's store.
func (db *DB) Secrets() *SecretStore { return &SecretStore{db: db.gorm} }

func newSecretRow(s secrets.Secret) (secretRow, error) {
	policy := ""
	if s.Rotation != nil {
		raw, err := json.Marshal(s.Rotation)
		if err != nil {
			return secretRow{}, fmt.Errorf("encode rotation policy: %w", err)
		}
		policy = string(raw)
	}
	return secretRow{
		ID: s.ID, Name: s.Name, Backend: s.Backend, Description: s.Description, Owner: s.Owner,
		RotationPolicy: policy, NextRotationAt: utcPtr(s.NextRotationAt), LastRotatedAt: utcPtr(s.LastRotatedAt),
		CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC(),
		DeletedAt: utcPtr(s.DeletedAt), PurgeAfter: utcPtr(s.PurgeAfter),
	}, nil
}

func (r secretRow) domain() (secrets.Secret, error) {
	s := secrets.Secret{
		ID: r.ID, Name: r.Name, Backend: r.Backend, Description: r.Description, Owner: r.Owner,
		NextRotationAt: utcPtr(r.NextRotationAt), LastRotatedAt: utcPtr(r.LastRotatedAt),
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		DeletedAt: utcPtr(r.DeletedAt), PurgeAfter: utcPtr(r.PurgeAfter), Labels: map[string]string{},
	}
	if r.RotationPolicy != "" {
		var p secrets.RotationPolicy
		if err := json.Unmarshal([]byte(r.RotationPolicy), &p); err != nil {
			return secrets.Secret{}, fmt.Errorf("secret %s: rotation policy: %w", r.ID, err)
		}
		s.Rotation = &p
	}
	return s, nil
}

func labelRows(id string, labels map[string]string) []secretLabelRow {
	rows := make([]secretLabelRow, 0, len(labels))
	for k, v := range labels {
		rows = append(rows, secretLabelRow{SecretID: id, Key: k, Value: v})
	}
	slices.SortFunc(rows, func(a, b secretLabelRow) int { return strings.Compare(a.Key, b.Key) })
	return rows
}

// CreateSecret inserts the secret, its labels and its first version together.
func (s *SecretStore) CreateSecret(ctx context.Context, sec secrets.Secret, first *secrets.Version) error {
	row, err := newSecretRow(sec)
	if err != nil {
		return err
	}
	err = conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		if labels := labelRows(sec.ID, sec.Labels); len(labels) > 0 {
			if err := tx.Create(&labels).Error; err != nil {
				return err
			}
		}
		if first != nil {
			stage := secrets.StageCurrent
			v := secretVersionRow{SecretID: sec.ID, Version: 1, BackendRef: first.BackendRef, Stage: &stage, CreatedBy: first.CreatedBy, CreatedAt: first.CreatedAt.UTC()}
			if err := tx.Create(&v).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return fmt.Errorf("%q: %w", sec.Name, secrets.ErrSecretExists)
	}
	if err != nil {
		return fmt.Errorf("create secret: %w", err)
	}
	return nil
}

// GetSecret returns a secret by name.
func (s *SecretStore) GetSecret(ctx context.Context, name string) (secrets.Secret, error) {
	var row secretRow
	err := conn(ctx, s.db).Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return secrets.Secret{}, fmt.Errorf("%q: %w", name, secrets.ErrSecretNotFound)
	}
	if err != nil {
		return secrets.Secret{}, fmt.Errorf("read secret: %w", err)
	}
	out, err := s.hydrate(ctx, []secretRow{row})
	if err != nil {
		return secrets.Secret{}, err
	}
	return out[0], nil
}

// ListSecrets returns every matching secret, by name.
func (s *SecretStore) ListSecrets(ctx context.Context, f secrets.ListFilter) ([]secrets.Secret, error) {
	q := conn(ctx, s.db).Model(&secretRow{})
	if f.Prefix != "" {
		// substr, not LIKE: '_' is a LIKE wildcard and a common name character.
		q = q.Where("substr(name, 1, ?) = ?", len(f.Prefix), f.Prefix)
	}
	if f.LabelKey != "" {
		q = q.Where("EXISTS (SELECT 1 FROM secret_labels l WHERE l.secret_id = secrets.id AND l.key = ? AND l.value = ?)", f.LabelKey, f.LabelValue)
	}
	if !f.IncludeDeleted {
		q = q.Where("deleted_at IS NULL")
	}
	var rows []secretRow
	if err := q.Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	return s.hydrate(ctx, rows)
}

// hydrate converts rows and loads their labels and current versions, in chunks.
func (s *SecretStore) hydrate(ctx context.Context, rows []secretRow) ([]secrets.Secret, error) {
	out := make([]secrets.Secret, 0, len(rows))
	index := make(map[string]int, len(rows))
	for _, r := range rows {
		sec, err := r.domain()
		if err != nil {
			return nil, err
		}
		index[r.ID] = len(out)
		out = append(out, sec)
	}
	for chunk := range slices.Chunk(rows, 500) {
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			ids[i] = r.ID
		}
		var labels []secretLabelRow
		if err := conn(ctx, s.db).Where("secret_id IN ?", ids).Find(&labels).Error; err != nil {
			return nil, fmt.Errorf("read secret labels: %w", err)
		}
		for _, l := range labels {
			out[index[l.SecretID]].Labels[l.Key] = l.Value
		}
		var current []secretVersionRow
		if err := conn(ctx, s.db).Select("secret_id", "version").Where("secret_id IN ? AND stage = ?", ids, secrets.StageCurrent).Find(&current).Error; err != nil {
			return nil, fmt.Errorf("read current versions: %w", err)
		}
		for _, v := range current {
			out[index[v.SecretID]].CurrentVersion = v.Version
		}
	}
	return out, nil
}

// UpdateSecret writes the mutable fields and replaces the labels.
func (s *SecretStore) UpdateSecret(ctx context.Context, sec secrets.Secret) error {
	row, err := newSecretRow(sec)
	if err != nil {
		return err
	}
	return conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&secretRow{}).Where("id = ?", sec.ID).Updates(map[string]any{
			"description": row.Description, "owner": row.Owner, "rotation_policy": row.RotationPolicy,
			"next_rotation_at": row.NextRotationAt, "last_rotated_at": row.LastRotatedAt,
			"updated_at": row.UpdatedAt, "deleted_at": row.DeletedAt, "purge_after": row.PurgeAfter,
		})
		if res.Error != nil {
			return fmt.Errorf("update secret: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("%q: %w", sec.Name, secrets.ErrSecretNotFound)
		}
		if err := tx.Where("secret_id = ?", sec.ID).Delete(&secretLabelRow{}).Error; err != nil {
			return fmt.Errorf("update secret labels: %w", err)
		}
		if labels := labelRows(sec.ID, sec.Labels); len(labels) > 0 {
			if err := tx.Create(&labels).Error; err != nil {
				return fmt.Errorf("update secret labels: %w", err)
			}
		}
		return nil
	})
}

// DeleteSecret removes a secret; versions and labels go with it (ON DELETE CASCADE).
func (s *SecretStore) DeleteSecret(ctx context.Context, id string) error {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		// Explicit deletes too, so nothing depends on the connection's foreign_keys pragma.
		if err := tx.Where("secret_id = ?", id).Delete(&secretVersionRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("secret_id = ?", id).Delete(&secretLabelRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&secretRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return secrets.ErrSecretNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete secret %s: %w", id, err)
	}
	return nil
}

// DuePurges returns deleted secrets whose recovery window has passed.
func (s *SecretStore) DuePurges(ctx context.Context, now time.Time, limit int) ([]secrets.Secret, error) {
	var rows []secretRow
	err := conn(ctx, s.db).Where("deleted_at IS NOT NULL AND purge_after <= ?", now.UTC()).
		Order("purge_after").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("find due purges: %w", err)
	}
	out := make([]secrets.Secret, 0, len(rows))
	for _, r := range rows {
		sec, err := r.domain()
		if err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

// lockSecret takes the secret's row lock for the transaction (PostgreSQL row lock; SQLite
// transactions here hold the write lock from their start) and reports whether it exists.
func lockSecret(tx *gorm.DB, id string, now time.Time) error {
	res := tx.Model(&secretRow{}).Where("id = ?", id).Update("updated_at", now.UTC())
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return secrets.ErrSecretNotFound
	}
	return nil
}

func clearStage(tx *gorm.DB, id, stage string) error {
	return tx.Model(&secretVersionRow{}).Where("secret_id = ? AND stage = ?", id, stage).Update("stage", nil).Error
}

// shiftForCurrent frees the current slot: previous loses its stage, current becomes previous.
func shiftForCurrent(tx *gorm.DB, id string) error {
	if err := clearStage(tx, id, secrets.StagePrevious); err != nil {
		return err
	}
	return tx.Model(&secretVersionRow{}).Where("secret_id = ? AND stage = ?", id, secrets.StageCurrent).
		Update("stage", secrets.StagePrevious).Error
}

// AddVersion inserts the next version under the secret's row lock.
func (s *SecretStore) AddVersion(ctx context.Context, v secrets.Version) (secrets.Version, error) {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := lockSecret(tx, v.SecretID, v.CreatedAt); err != nil {
			return err
		}
		var latest int
		if err := tx.Model(&secretVersionRow{}).Where("secret_id = ?", v.SecretID).
			Select("COALESCE(MAX(version), 0)").Scan(&latest).Error; err != nil {
			return err
		}
		switch v.Stage {
		case secrets.StageCurrent:
			if err := shiftForCurrent(tx, v.SecretID); err != nil {
				return err
			}
		case secrets.StagePending:
			if err := clearStage(tx, v.SecretID, secrets.StagePending); err != nil {
				return err
			}
		}
		v.Version = latest + 1
		row := secretVersionRow{SecretID: v.SecretID, Version: v.Version, BackendRef: v.BackendRef, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt.UTC()}
		if v.Stage != "" {
			stage := v.Stage
			row.Stage = &stage
		}
		return tx.Create(&row).Error
	})
	if err != nil {
		return secrets.Version{}, fmt.Errorf("add version of secret %s: %w", v.SecretID, err)
	}
	return v, nil
}

// Promote makes version current.
func (s *SecretStore) Promote(ctx context.Context, secretID string, version int) error {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := lockSecret(tx, secretID, time.Now()); err != nil {
			return err
		}
		var row secretVersionRow
		err := tx.Where("secret_id = ? AND version = ?", secretID, version).Take(&row).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return secrets.ErrVersionNotFound
		}
		if err != nil {
			return err
		}
		if row.Stage != nil && *row.Stage == secrets.StageCurrent {
			return nil
		}
		if err := tx.Model(&secretVersionRow{}).Where("secret_id = ? AND version = ?", secretID, version).Update("stage", nil).Error; err != nil {
			return err
		}
		if err := shiftForCurrent(tx, secretID); err != nil {
			return err
		}
		return tx.Model(&secretVersionRow{}).Where("secret_id = ? AND version = ?", secretID, version).Update("stage", secrets.StageCurrent).Error
	})
	if err != nil {
		return fmt.Errorf("promote version %d of secret %s: %w", version, secretID, err)
	}
	return nil
}

// ClearStage removes a stage from the secret's versions.
func (s *SecretStore) ClearStage(ctx context.Context, secretID, stage string) error {
	if err := clearStage(conn(ctx, s.db), secretID, stage); err != nil {
		return fmt.Errorf("clear %s stage of secret %s: %w", stage, secretID, err)
	}
	return nil
}

// GetVersion returns one version, or the current one for version 0.
func (s *SecretStore) GetVersion(ctx context.Context, secretID string, version int) (secrets.Version, error) {
	q := conn(ctx, s.db).Where("secret_id = ?", secretID)
	if version == 0 {
		q = q.Where("stage = ?", secrets.StageCurrent)
	} else {
		q = q.Where("version = ?", version)
	}
	var row secretVersionRow
	err := q.Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return secrets.Version{}, secrets.ErrVersionNotFound
	}
	if err != nil {
		return secrets.Version{}, fmt.Errorf("read secret version: %w", err)
	}
	return row.domain(), nil
}

// ListVersions returns every version, oldest first.
func (s *SecretStore) ListVersions(ctx context.Context, secretID string) ([]secrets.Version, error) {
	var rows []secretVersionRow
	if err := conn(ctx, s.db).Where("secret_id = ?", secretID).Order("version").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list secret versions: %w", err)
	}
	out := make([]secrets.Version, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

func (r secretVersionRow) domain() secrets.Version {
	v := secrets.Version{SecretID: r.SecretID, Version: r.Version, BackendRef: r.BackendRef, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
	if r.Stage != nil {
		v.Stage = *r.Stage
	}
	return v
}

// auditInsertChunk bounds the rows of one INSERT (11 parameters each, well under both
// databases' parameter limits).
const auditInsertChunk = 500

// auditColumns are secret_audit's columns in the order insertAudit binds them.
const auditColumns = "created_at, actor_type, actor_id, action, secret_name, version, backend, outcome, reason, request_id, ip"

// auditInserts caches the INSERT text per dialect and row count, so a batch builds no SQL
// (and PostgreSQL's driver reuses its prepared statement for the text).
var auditInserts sync.Map // auditInsertKey → string

type auditInsertKey struct {
	postgres bool
	rows     int
}

// AppendAudit inserts a batch of audit records: all or none. This is the audit writer's
// group commit (one call per batch, on every audited secrets request's path), so it skips
// GORM's reflection: up to auditInsertChunk rows are one multi-row INSERT, atomic and durable
// on its own when it returns (no BEGIN/COMMIT round trips); larger batches are several INSERTs
// in one transaction.
func (s *SecretStore) AppendAudit(ctx context.Context, recs []secrets.AuditRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var err error
	if len(recs) <= auditInsertChunk {
		err = s.insertAudit(ctx, s.db.ConnPool, recs)
	} else {
		err = conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
			for chunk := range slices.Chunk(recs, auditInsertChunk) {
				if err := s.insertAudit(ctx, tx.Statement.ConnPool, chunk); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("append %d secret audit records: %w", len(recs), err)
	}
	return nil
}

func (s *SecretStore) insertAudit(ctx context.Context, pool gorm.ConnPool, recs []secrets.AuditRecord) error {
	key := auditInsertKey{postgres: s.db.Name() == "postgres", rows: len(recs)}
	q, ok := auditInserts.Load(key)
	if !ok {
		q, _ = auditInserts.LoadOrStore(key, auditInsertSQL(key))
	}
	args := make([]any, 0, 11*len(recs))
	for _, r := range recs {
		var version any // NULL when the record names no version
		if r.Version > 0 {
			version = r.Version
		}
		args = append(args, r.CreatedAt.UTC(), r.ActorType, r.ActorID, r.Action, r.SecretName, version,
			r.Backend, r.Outcome, r.Reason, r.RequestID, r.IP)
	}
	if _, err := pool.ExecContext(ctx, q.(string), args...); err != nil {
		return err
	}
	return nil
}

func auditInsertSQL(k auditInsertKey) string {
	var b strings.Builder
	b.WriteString("INSERT INTO secret_audit (" + auditColumns + ") VALUES ")
	n := 0
	for i := range k.rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range 11 {
			if j > 0 {
				b.WriteByte(',')
			}
			n++
			if k.postgres {
				b.WriteString("$" + strconv.Itoa(n))
			} else {
				b.WriteByte('?')
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// ListAudit returns one page of the audit trail, newest first.
func (s *SecretStore) ListAudit(ctx context.Context, f secrets.AuditFilter) ([]secrets.AuditRecord, int, error) {
	filtered := func() *gorm.DB {
		q := conn(ctx, s.db).Model(&secretAuditRow{})
		if f.SecretName != "" {
			q = q.Where("secret_name = ?", f.SecretName)
		}
		if f.ActorID != "" {
			q = q.Where("actor_id = ?", f.ActorID)
		}
		if !f.Since.IsZero() {
			q = q.Where("created_at >= ?", f.Since.UTC())
		}
		return q
	}
	var total int64
	if err := filtered().Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count secret audit: %w", err)
	}
	var rows []secretAuditRow
	if err := filtered().Order("id DESC").Limit(f.PerPage).Offset((f.Page - 1) * f.PerPage).Find(&rows).Error; err != nil {
		return nil, 0, fmt.Errorf("list secret audit: %w", err)
	}
	out := make([]secrets.AuditRecord, len(rows))
	for i, r := range rows {
		out[i] = secrets.AuditRecord{
			ID: r.ID, CreatedAt: r.CreatedAt.UTC(), ActorType: r.ActorType, ActorID: r.ActorID, Action: r.Action,
			SecretName: r.SecretName, Backend: r.Backend, Outcome: r.Outcome, Reason: r.Reason,
			RequestID: r.RequestID, IP: r.IP,
		}
		if r.Version != nil {
			out[i].Version = *r.Version
		}
	}
	return out, int(total), nil
}
