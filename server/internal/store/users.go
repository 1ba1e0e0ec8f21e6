package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"gatehouse/server/internal/users"
)

type userRow struct {
	ID            string `gorm:"primaryKey"`
	Email         string
	DisplayName   string
	PasswordHash  *string
	Status        string
	EmailVerified bool
	AvatarURL     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   *time.Time
}

func (userRow) TableName() string { return "users" }

type userRoleRow struct {
	UserID string `gorm:"primaryKey"`
	Role   string `gorm:"primaryKey"`
}

func (userRoleRow) TableName() string { return "user_roles" }

// UserStore keeps accounts and their roles.
type UserStore struct{ db *gorm.DB }

var _ users.Store = (*UserStore)(nil)

// Users returns the account store.
func (db *DB) Users() *UserStore { return &UserStore{db: db.gorm} }

func toUserRow(u users.User) userRow {
	r := userRow{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Status: u.Status, EmailVerified: u.EmailVerified,
		AvatarURL: u.AvatarURL, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), LastLoginAt: u.LastLoginAt}
	if u.PasswordHash != "" {
		h := u.PasswordHash
		r.PasswordHash = &h
	}
	return r
}

func (r userRow) user(roles []string) users.User {
	u := users.User{ID: r.ID, Email: r.Email, DisplayName: r.DisplayName, Status: r.Status, EmailVerified: r.EmailVerified,
		AvatarURL: r.AvatarURL, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, LastLoginAt: r.LastLoginAt, Roles: roles}
	if r.PasswordHash != nil {
		u.PasswordHash = *r.PasswordHash
	}
	return u
}

// Create inserts an account with its roles.
func (s *UserStore) Create(ctx context.Context, u users.User) error {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		row := toUserRow(u)
		if err := tx.Create(&row).Error; err != nil {
			return err
		}
		return insertRoles(tx, u.ID, u.Roles)
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return users.ErrEmailTaken
	}
	if err != nil {
		return fmt.Errorf("create user: %w", err)
	}
	return nil
}

func insertRoles(tx *gorm.DB, id string, roles []string) error {
	if len(roles) == 0 {
		return nil
	}
	rows := make([]userRoleRow, 0, len(roles))
	for _, r := range roles {
		rows = append(rows, userRoleRow{UserID: id, Role: r})
	}
	return tx.Create(&rows).Error
}

// Get loads an account by ID. A malformed ID is simply not found: PostgreSQL would otherwise
// answer an error for a non-UUID compared with a UUID column.
func (s *UserStore) Get(ctx context.Context, id string) (users.User, error) {
	if uuid.Validate(id) != nil {
		return users.User{}, users.ErrNotFound
	}
	return s.getWhere(ctx, "id = ?", id)
}

// GetByEmail loads an account by its normalised email.
func (s *UserStore) GetByEmail(ctx context.Context, email string) (users.User, error) {
	return s.getWhere(ctx, "email = ?", email)
}

// userWithRole is one row of the users ⟕ user_roles join: the account repeated per role.
type userWithRole struct {
	User userRow `gorm:"embedded"`
	Role *string
}

// getWhere loads an account and its roles in one round trip (a join, one row per role): this
// read sits on every cookie-authenticated request, so it is kept to a single query.
func (s *UserStore) getWhere(ctx context.Context, where string, arg any) (users.User, error) {
	var rows []userWithRole
	err := conn(ctx, s.db).Table("users").
		Select("users.*, user_roles.role AS role").
		Joins("LEFT JOIN user_roles ON user_roles.user_id = users.id").
		Where("users."+where, arg).Order("user_roles.role").
		Scan(&rows).Error
	if err != nil {
		return users.User{}, fmt.Errorf("load user: %w", err)
	}
	if len(rows) == 0 {
		return users.User{}, users.ErrNotFound
	}
	var roles []string
	for _, r := range rows {
		if r.Role != nil {
			roles = append(roles, *r.Role)
		}
	}
	return rows[0].User.user(roles), nil
}

func (s *UserStore) roles(db *gorm.DB, ids []string) (map[string][]string, error) {
	var rows []userRoleRow
	if err := db.Where("user_id IN ?", ids).Order("role").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load roles: %w", err)
	}
	out := make(map[string][]string, len(ids))
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.Role)
	}
	return out, nil
}

// Update saves profile, status, hash, verification and roles.
func (s *UserStore) Update(ctx context.Context, u users.User) error {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		row := toUserRow(u)
		res := tx.Model(&userRow{}).Where("id = ?", u.ID).Updates(map[string]any{
			"email": row.Email, "display_name": row.DisplayName, "password_hash": row.PasswordHash,
			"status": row.Status, "email_verified": row.EmailVerified, "avatar_url": row.AvatarURL, "updated_at": row.UpdatedAt,
		})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return users.ErrNotFound
		}
		if err := tx.Where("user_id = ?", u.ID).Delete(&userRoleRow{}).Error; err != nil {
			return err
		}
		return insertRoles(tx, u.ID, u.Roles)
	})
	switch {
	case errors.Is(err, users.ErrNotFound):
		return err
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return users.ErrEmailTaken
	case err != nil:
		return fmt.Errorf("update user: %w", err)
	}
	return nil
}

// SetLastLogin records a successful login.
func (s *UserStore) SetLastLogin(ctx context.Context, id string, at time.Time) error {
	// One UPDATE is atomic on its own: no BEGIN/COMMIT of GORM's around it (a login runs it
	// inside its own transaction, InTx). updated_at is still set.
	if err := single(conn(ctx, s.db)).Model(&userRow{}).Where("id = ?", id).Update("last_login_at", at.UTC()).Error; err != nil {
		return fmt.Errorf("set last login: %w", err)
	}
	return nil
}

// List searches accounts with stable pagination (email order, then ID) and the total count.
func (s *UserStore) List(ctx context.Context, q users.Query) ([]users.User, int, error) {
	db := conn(ctx, s.db)
	base := db.Model(&userRow{})
	if q.Text != "" {
		like := "%" + escapeLike(strings.ToLower(q.Text)) + "%"
		base = base.Where("(email LIKE ? ESCAPE '\\' OR LOWER(display_name) LIKE ? ESCAPE '\\')", like, like)
	}
	if q.Status != "" {
		base = base.Where("status = ?", q.Status)
	}
	if q.Role != "" {
		base = base.Where("id IN (?)", db.Model(&userRoleRow{}).Select("user_id").Where("role = ?", q.Role))
	}
	var total int64
	if err := base.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	var rows []userRow
	if err := base.Order("email").Order("id").Offset((q.Page - 1) * q.PerPage).Limit(q.PerPage).Find(&rows).Error; err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	if len(rows) == 0 {
		return []users.User{}, int(total), nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	roles, err := s.roles(db, ids)
	if err != nil {
		return nil, 0, err
	}
	out := make([]users.User, len(rows))
	for i, r := range rows {
		out[i] = r.user(roles[r.ID])
	}
	return out, int(total), nil
}

// CountWithRole counts accounts holding role.
func (s *UserStore) CountWithRole(ctx context.Context, role string) (int, error) {
	var n int64
	if err := conn(ctx, s.db).Model(&userRoleRow{}).Where("role = ?", role).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count %s users: %w", role, err)
	}
	return int(n), nil
}

// escapeLike makes user text literal inside a LIKE pattern.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
