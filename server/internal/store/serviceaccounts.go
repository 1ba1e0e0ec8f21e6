package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/serviceaccount"
)

type serviceAccountRow struct {
	ID          string `gorm:"primaryKey"`
	Name        string
	Description string
	CreatedBy   string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
}

func (serviceAccountRow) TableName() string { return "service_accounts" }

type serviceAccountTokenRow struct {
	ID               string `gorm:"primaryKey"`
	ServiceAccountID string
	Name             string
	TokenHash        string
	CreatedAt        time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt        *time.Time
	RevokedAt        *time.Time
	LastUsedAt       *time.Time
}

func (serviceAccountTokenRow) TableName() string { return "service_account_tokens" }

type secretPolicyRow struct {
	ID          string `gorm:"primaryKey"`
	SubjectType string
	Subject     string
	Pattern     string
	Actions     string // comma-separated
	CreatedBy   string
	CreatedAt   time.Time `gorm:"autoCreateTime:false"`
}

func (secretPolicyRow) TableName() string { return "secret_policies" }

// ServiceAccountStore keeps service accounts and their tokens.
type ServiceAccountStore struct{ db *gorm.DB }

var _ serviceaccount.Store = (*ServiceAccountStore)(nil)

// ServiceAccounts returns the service account store.
func (db *DB) ServiceAccounts() *ServiceAccountStore { return &ServiceAccountStore{db: db.gorm} }

func (r serviceAccountRow) domain() serviceaccount.Account {
	return serviceaccount.Account{ID: r.ID, Name: r.Name, Description: r.Description, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
}

func (r serviceAccountTokenRow) domain() serviceaccount.Token {
	return serviceaccount.Token{ID: r.ID, AccountID: r.ServiceAccountID, Name: r.Name, CreatedAt: r.CreatedAt.UTC(),
		ExpiresAt: utcPtr(r.ExpiresAt), RevokedAt: utcPtr(r.RevokedAt), LastUsedAt: utcPtr(r.LastUsedAt)}
}

// Create inserts an account.
func (s *ServiceAccountStore) Create(ctx context.Context, a serviceaccount.Account) error {
	row := serviceAccountRow{ID: a.ID, Name: a.Name, Description: a.Description, CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt.UTC()}
	err := conn(ctx, s.db).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return serviceaccount.ErrNameTaken
	}
	if err != nil {
		return fmt.Errorf("create service account: %w", err)
	}
	return nil
}

// List returns every account, by name.
func (s *ServiceAccountStore) List(ctx context.Context) ([]serviceaccount.Account, error) {
	var rows []serviceAccountRow
	if err := conn(ctx, s.db).Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list service accounts: %w", err)
	}
	out := make([]serviceaccount.Account, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// Get returns one account.
func (s *ServiceAccountStore) Get(ctx context.Context, id string) (serviceaccount.Account, error) {
	if !validUUID(id) {
		return serviceaccount.Account{}, serviceaccount.ErrNotFound
	}
	var row serviceAccountRow
	err := conn(ctx, s.db).Where("id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return serviceaccount.Account{}, serviceaccount.ErrNotFound
	}
	if err != nil {
		return serviceaccount.Account{}, fmt.Errorf("read service account: %w", err)
	}
	return row.domain(), nil
}

// Delete removes the account, its tokens and its policies together.
func (s *ServiceAccountStore) Delete(ctx context.Context, id string) error {
	if !validUUID(id) {
		return serviceaccount.ErrNotFound
	}
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("subject_type = ? AND subject = ?", secrets.PolicyServiceAccount, id).Delete(&secretPolicyRow{}).Error; err != nil {
			return err
		}
		if err := tx.Where("service_account_id = ?", id).Delete(&serviceAccountTokenRow{}).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&serviceAccountRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return serviceaccount.ErrNotFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, serviceaccount.ErrNotFound) {
		return fmt.Errorf("delete service account: %w", err)
	}
	return err
}

// CreateToken stores a token's hash.
func (s *ServiceAccountStore) CreateToken(ctx context.Context, t serviceaccount.Token, hash string) error {
	row := serviceAccountTokenRow{ID: t.ID, ServiceAccountID: t.AccountID, Name: t.Name, TokenHash: hash,
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: utcPtr(t.ExpiresAt)}
	if err := conn(ctx, s.db).Create(&row).Error; err != nil {
		return fmt.Errorf("create service account token: %w", err)
	}
	return nil
}

// ListTokens returns an account's tokens, oldest first.
func (s *ServiceAccountStore) ListTokens(ctx context.Context, accountID string) ([]serviceaccount.Token, error) {
	var rows []serviceAccountTokenRow
	if err := conn(ctx, s.db).Where("service_account_id = ?", accountID).Order("created_at").Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list service account tokens: %w", err)
	}
	out := make([]serviceaccount.Token, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// RevokeToken marks a token revoked (once; revoking again changes nothing and succeeds).
func (s *ServiceAccountStore) RevokeToken(ctx context.Context, accountID, tokenID string, at time.Time) error {
	if !validUUID(accountID) || !validUUID(tokenID) {
		return serviceaccount.ErrTokenNotFound
	}
	var row serviceAccountTokenRow
	err := conn(ctx, s.db).Where("id = ? AND service_account_id = ?", tokenID, accountID).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return serviceaccount.ErrTokenNotFound
	}
	if err != nil {
		return fmt.Errorf("read service account token: %w", err)
	}
	err = conn(ctx, s.db).Model(&serviceAccountTokenRow{}).Where("id = ? AND revoked_at IS NULL", tokenID).Update("revoked_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("revoke service account token: %w", err)
	}
	return nil
}

// TokenByHash finds a token and its account by the token's hash.
func (s *ServiceAccountStore) TokenByHash(ctx context.Context, hash string) (serviceaccount.Token, serviceaccount.Account, error) {
	var tok serviceAccountTokenRow
	err := conn(ctx, s.db).Where("token_hash = ?", hash).Take(&tok).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return serviceaccount.Token{}, serviceaccount.Account{}, serviceaccount.ErrTokenNotFound
	}
	if err != nil {
		return serviceaccount.Token{}, serviceaccount.Account{}, fmt.Errorf("read service account token: %w", err)
	}
	var acc serviceAccountRow
	err = conn(ctx, s.db).Where("id = ?", tok.ServiceAccountID).Take(&acc).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return serviceaccount.Token{}, serviceaccount.Account{}, serviceaccount.ErrTokenNotFound
	}
	if err != nil {
		return serviceaccount.Token{}, serviceaccount.Account{}, fmt.Errorf("read service account: %w", err)
	}
	return tok.domain(), acc.domain(), nil
}

// TouchToken records a use, unless one was recorded since staleBefore.
func (s *ServiceAccountStore) TouchToken(ctx context.Context, tokenID string, at, staleBefore time.Time) error {
	err := conn(ctx, s.db).Model(&serviceAccountTokenRow{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", tokenID, staleBefore.UTC()).
		Update("last_used_at", at.UTC()).Error
	if err != nil {
		return fmt.Errorf("touch service account token: %w", err)
	}
	return nil
}

// Policies returns the policies of the given subjects, or all policies.
func (s *SecretStore) Policies(ctx context.Context, subjectType string, subjects []string) ([]secrets.Policy, error) {
	q := conn(ctx, s.db).Model(&secretPolicyRow{})
	if subjectType != "" {
		q = q.Where("subject_type = ?", subjectType)
	}
	if len(subjects) > 0 {
		q = q.Where("subject IN ?", subjects)
	}
	var rows []secretPolicyRow
	if err := q.Order("created_at").Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read secret policies: %w", err)
	}
	out := make([]secrets.Policy, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

func (r secretPolicyRow) domain() secrets.Policy {
	p := secrets.Policy{ID: r.ID, SubjectType: r.SubjectType, Subject: r.Subject, Pattern: r.Pattern, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC()}
	for a := range strings.SplitSeq(r.Actions, ",") {
		p.Actions = append(p.Actions, secrets.Action(a))
	}
	return p
}

// CreatePolicy inserts a policy.
func (s *SecretStore) CreatePolicy(ctx context.Context, p secrets.Policy) error {
	acts := make([]string, len(p.Actions))
	for i, a := range p.Actions {
		acts[i] = string(a)
	}
	row := secretPolicyRow{ID: p.ID, SubjectType: p.SubjectType, Subject: p.Subject, Pattern: p.Pattern,
		Actions: strings.Join(acts, ","), CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt.UTC()}
	if err := conn(ctx, s.db).Create(&row).Error; err != nil {
		return fmt.Errorf("create secret policy: %w", err)
	}
	return nil
}

// DeletePolicy removes a policy and returns it.
func (s *SecretStore) DeletePolicy(ctx context.Context, id string) (secrets.Policy, error) {
	if !validUUID(id) {
		return secrets.Policy{}, secrets.ErrPolicyNotFound
	}
	var row secretPolicyRow
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		res := tx.Where("id = ?", id).Delete(&secretPolicyRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return nil
	})
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return secrets.Policy{}, secrets.ErrPolicyNotFound
	case err != nil && row.ID != "":
		// Found, then the delete or its commit failed: it may have happened.
		return row.domain(), fmt.Errorf("delete secret policy: %w", err)
	case err != nil:
		return secrets.Policy{}, fmt.Errorf("delete secret policy: %w", err)
	}
	return row.domain(), nil
}

// validUUID keeps non-UUID ids away from PostgreSQL's UUID columns, which would reject them
// with an error instead of matching nothing.
func validUUID(s string) bool { return uuid.Validate(s) == nil }
