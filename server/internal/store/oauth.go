package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"gatehouse/server/internal/oauth"
)

type oauthProviderRow struct {
	ID              string `gorm:"primaryKey"`
	Slug            string
	Type            string
	DisplayName     string
	ClientID        string
	ClientSecretEnc string
	BaseURL         string
	APIURL          string `gorm:"column:api_url"`
	Tenant          string
	Scopes          string // space-separated
	AllowedDomains  string // space-separated
	AutoRegister    bool
	AutoLink        bool
	Enabled         bool
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt       time.Time `gorm:"autoUpdateTime:false"`
}

func (oauthProviderRow) TableName() string { return "oauth_providers" }

type userIdentityRow struct {
	ID            string `gorm:"primaryKey"`
	UserID        string
	ProviderID    string
	Subject       string
	Email         string
	EmailVerified bool
	DisplayName   string
	AvatarURL     string
	RawClaims     string
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	LastLoginAt   *time.Time
}

func (userIdentityRow) TableName() string { return "user_identities" }

type oauthFlowRow struct {
	ID            string `gorm:"primaryKey"`
	StateHash     string
	BindingHash   string
	ProviderID    string
	Intent        string
	UserID        *string
	RedirectTo    string
	CodeChallenge string
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt     time.Time
	UsedAt        *time.Time
}

func (oauthFlowRow) TableName() string { return "oauth_flows" }

type oauthExchangeCodeRow struct {
	CodeHash      string `gorm:"primaryKey"`
	UserID        string
	ProviderID    string
	CodeChallenge string
	CreatedAt     time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt     time.Time
	UsedAt        *time.Time
}

func (oauthExchangeCodeRow) TableName() string { return "oauth_exchange_codes" }

// OAuthStore keeps social-login providers, identities, flows and exchange codes.
type OAuthStore struct{ db *gorm.DB }

var _ oauth.Store = (*OAuthStore)(nil)

// OAuth returns the social-login store.
func (db *DB) OAuth() *OAuthStore { return &OAuthStore{db: db.gorm} }

func words(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Fields(s)
}

func toProviderRow(c oauth.Config) oauthProviderRow {
	return oauthProviderRow{ID: c.ID, Slug: c.Slug, Type: c.Type, DisplayName: c.DisplayName, ClientID: c.ClientID,
		ClientSecretEnc: c.SealedSecret, BaseURL: c.BaseURL, APIURL: c.APIURL, Tenant: c.Tenant,
		Scopes: strings.Join(c.Scopes, " "), AllowedDomains: strings.Join(c.AllowedDomains, " "),
		AutoRegister: c.AutoRegister, AutoLink: c.AutoLink, Enabled: c.Enabled, CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC()}
}

func (r oauthProviderRow) domain() oauth.Config {
	return oauth.Config{ID: r.ID, Slug: r.Slug, Type: r.Type, DisplayName: r.DisplayName, ClientID: r.ClientID,
		SealedSecret: r.ClientSecretEnc, BaseURL: r.BaseURL, APIURL: r.APIURL, Tenant: r.Tenant, Scopes: words(r.Scopes),
		AllowedDomains: words(r.AllowedDomains), AutoRegister: r.AutoRegister, AutoLink: r.AutoLink, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

// CreateProvider inserts a provider.
func (s *OAuthStore) CreateProvider(ctx context.Context, c oauth.Config) error {
	row := toProviderRow(c)
	err := conn(ctx, s.db).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return oauth.ErrSlugTaken
	}
	if err != nil {
		return fmt.Errorf("create oauth provider: %w", err)
	}
	return nil
}

// GetProvider loads a provider by id.
func (s *OAuthStore) GetProvider(ctx context.Context, id string) (oauth.Config, error) {
	if uuid.Validate(id) != nil {
		return oauth.Config{}, oauth.ErrProviderNotFound
	}
	return s.getProvider(ctx, "id = ?", id)
}

// GetProviderBySlug loads a provider by slug.
func (s *OAuthStore) GetProviderBySlug(ctx context.Context, slug string) (oauth.Config, error) {
	return s.getProvider(ctx, "slug = ?", slug)
}

func (s *OAuthStore) getProvider(ctx context.Context, where string, arg any) (oauth.Config, error) {
	var row oauthProviderRow
	err := conn(ctx, s.db).Where(where, arg).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oauth.Config{}, oauth.ErrProviderNotFound
	}
	if err != nil {
		return oauth.Config{}, fmt.Errorf("load oauth provider: %w", err)
	}
	return row.domain(), nil
}

// ListProviders lists every provider by display name.
func (s *OAuthStore) ListProviders(ctx context.Context) ([]oauth.Config, error) {
	var rows []oauthProviderRow
	if err := conn(ctx, s.db).Order("display_name, slug").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list oauth providers: %w", err)
	}
	out := make([]oauth.Config, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// UpdateProvider stores every field of the provider.
func (s *OAuthStore) UpdateProvider(ctx context.Context, c oauth.Config) error {
	row := toProviderRow(c)
	res := conn(ctx, s.db).Model(&oauthProviderRow{}).Where("id = ?", c.ID).Updates(map[string]any{
		"display_name": row.DisplayName, "client_id": row.ClientID, "client_secret_enc": row.ClientSecretEnc,
		"base_url": row.BaseURL, "api_url": row.APIURL, "tenant": row.Tenant, "scopes": row.Scopes,
		"allowed_domains": row.AllowedDomains, "auto_register": row.AutoRegister, "auto_link": row.AutoLink,
		"enabled": row.Enabled, "updated_at": row.UpdatedAt,
	})
	if res.Error != nil {
		return fmt.Errorf("update oauth provider: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return oauth.ErrProviderNotFound
	}
	return nil
}

// DeleteProvider removes a provider; its identities, flows and codes go with it (ON DELETE
// CASCADE, enforced on SQLite too: foreign_keys is on).
func (s *OAuthStore) DeleteProvider(ctx context.Context, id string) error {
	if uuid.Validate(id) != nil {
		return oauth.ErrProviderNotFound
	}
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&oauthProviderRow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return oauth.ErrProviderNotFound
		}
		return nil
	})
	if errors.Is(err, oauth.ErrProviderNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("delete oauth provider: %w", err)
	}
	return nil
}

func toIdentityRow(i oauth.Identity) (userIdentityRow, error) {
	claims := i.Claims
	if claims == nil {
		claims = map[string]any{}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return userIdentityRow{}, fmt.Errorf("encode identity claims: %w", err)
	}
	return userIdentityRow{ID: i.ID, UserID: i.UserID, ProviderID: i.ProviderID, Subject: i.Subject, Email: i.Email,
		EmailVerified: i.EmailVerified, DisplayName: i.DisplayName, AvatarURL: i.AvatarURL, RawClaims: string(b),
		CreatedAt: i.CreatedAt.UTC(), LastLoginAt: utcPtr(i.LastLoginAt)}, nil
}

func (r userIdentityRow) domain() oauth.Identity {
	var claims map[string]any
	_ = json.Unmarshal([]byte(r.RawClaims), &claims) // written by us; a broken value reads as none
	return oauth.Identity{ID: r.ID, UserID: r.UserID, ProviderID: r.ProviderID, Subject: r.Subject, Email: r.Email,
		EmailVerified: r.EmailVerified, DisplayName: r.DisplayName, AvatarURL: r.AvatarURL, Claims: claims,
		CreatedAt: r.CreatedAt.UTC(), LastLoginAt: utcPtr(r.LastLoginAt)}
}

// IdentityBySubject finds the identity of a provider's subject.
func (s *OAuthStore) IdentityBySubject(ctx context.Context, providerID, subject string) (oauth.Identity, error) {
	var row userIdentityRow
	err := conn(ctx, s.db).Where("provider_id = ? AND subject = ?", providerID, subject).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return oauth.Identity{}, oauth.ErrIdentityNotFound
	}
	if err != nil {
		return oauth.Identity{}, fmt.Errorf("load identity: %w", err)
	}
	return row.domain(), nil
}

// CreateIdentity links an identity; a subject already linked gives ErrIdentityTaken.
func (s *OAuthStore) CreateIdentity(ctx context.Context, i oauth.Identity) error {
	row, err := toIdentityRow(i)
	if err != nil {
		return err
	}
	err = conn(ctx, s.db).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return oauth.ErrIdentityTaken
	}
	if err != nil {
		return fmt.Errorf("create identity: %w", err)
	}
	return nil
}

// UpdateIdentity stores the profile fields and last login of an identity.
func (s *OAuthStore) UpdateIdentity(ctx context.Context, i oauth.Identity) error {
	row, err := toIdentityRow(i)
	if err != nil {
		return err
	}
	res := conn(ctx, s.db).Model(&userIdentityRow{}).Where("id = ?", i.ID).Updates(map[string]any{
		"email": row.Email, "email_verified": row.EmailVerified, "display_name": row.DisplayName,
		"avatar_url": row.AvatarURL, "raw_claims": row.RawClaims, "last_login_at": row.LastLoginAt,
	})
	if res.Error != nil {
		return fmt.Errorf("update identity: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return oauth.ErrIdentityNotFound
	}
	return nil
}

// ListIdentities lists a user's identities, oldest first.
func (s *OAuthStore) ListIdentities(ctx context.Context, userID string) ([]oauth.Identity, error) {
	if uuid.Validate(userID) != nil {
		return []oauth.Identity{}, nil //nolint:nilerr // a malformed ID names no user: no identities
	}
	var rows []userIdentityRow
	if err := conn(ctx, s.db).Where("user_id = ?", userID).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	out := make([]oauth.Identity, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// DeleteIdentity removes one of a user's identities.
func (s *OAuthStore) DeleteIdentity(ctx context.Context, userID, id string) error {
	if uuid.Validate(id) != nil || uuid.Validate(userID) != nil {
		return oauth.ErrIdentityNotFound
	}
	res := conn(ctx, s.db).Where("id = ? AND user_id = ?", id, userID).Delete(&userIdentityRow{})
	if res.Error != nil {
		return fmt.Errorf("delete identity: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return oauth.ErrIdentityNotFound
	}
	return nil
}

// CreateFlow stores a flow in progress.
func (s *OAuthStore) CreateFlow(ctx context.Context, f oauth.Flow) error {
	row := oauthFlowRow{ID: f.ID, StateHash: f.StateHash, BindingHash: f.BindingHash, ProviderID: f.ProviderID, Intent: f.Intent,
		RedirectTo: f.RedirectTo, CodeChallenge: f.CodeChallenge, CreatedAt: f.CreatedAt.UTC(), ExpiresAt: f.ExpiresAt.UTC()}
	if f.UserID != "" {
		row.UserID = &f.UserID
	}
	if err := conn(ctx, s.db).Create(&row).Error; err != nil {
		return fmt.Errorf("create oauth flow: %w", err)
	}
	return nil
}

// UseFlow spends a flow once, for the browser holding its binding: a conditional update wins
// for exactly one caller, so a state replayed concurrently or later is refused (SEC-30).
func (s *OAuthStore) UseFlow(ctx context.Context, stateHash, bindingHash string, now time.Time) (oauth.Flow, error) {
	var row oauthFlowRow
	if err := s.spend(ctx, &row, "state_hash = ? AND binding_hash = ?", now, stateHash, bindingHash); err != nil {
		return oauth.Flow{}, err
	}
	f := oauth.Flow{ID: row.ID, StateHash: row.StateHash, BindingHash: row.BindingHash, ProviderID: row.ProviderID, Intent: row.Intent,
		RedirectTo: row.RedirectTo, CodeChallenge: row.CodeChallenge, CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}
	if row.UserID != nil {
		f.UserID = *row.UserID
	}
	return f, nil
}

// spend marks the unused, unexpired row of row's table matching where as used at now and
// loads it into row. The conditional update succeeds for one caller only; anyone else gets
// oauth.ErrStateInvalid, as for a row that does not exist.
func (s *OAuthStore) spend(ctx context.Context, row any, where string, now time.Time, args ...any) error {
	err := conn(ctx, s.db).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(row).Where(where+" AND used_at IS NULL AND expires_at > ?", append(args, now.UTC())...).Update("used_at", now.UTC())
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return oauth.ErrStateInvalid
		}
		return tx.Where(where, args...).Take(row).Error
	})
	if errors.Is(err, oauth.ErrStateInvalid) {
		return err
	}
	if err != nil {
		return fmt.Errorf("spend %T: %w", row, err)
	}
	return nil
}

// CreateExchange stores a one-time code for a native app.
func (s *OAuthStore) CreateExchange(ctx context.Context, e oauth.Exchange) error {
	row := oauthExchangeCodeRow{CodeHash: e.CodeHash, UserID: e.UserID, ProviderID: e.ProviderID, CodeChallenge: e.CodeChallenge,
		CreatedAt: e.CreatedAt.UTC(), ExpiresAt: e.ExpiresAt.UTC()}
	if err := conn(ctx, s.db).Create(&row).Error; err != nil {
		return fmt.Errorf("create oauth exchange code: %w", err)
	}
	return nil
}

// UseExchange spends a one-time code once, if it has not expired.
func (s *OAuthStore) UseExchange(ctx context.Context, codeHash string, now time.Time) (oauth.Exchange, error) {
	var row oauthExchangeCodeRow
	if err := s.spend(ctx, &row, "code_hash = ?", now, codeHash); err != nil {
		return oauth.Exchange{}, err
	}
	return oauth.Exchange{CodeHash: row.CodeHash, UserID: row.UserID, ProviderID: row.ProviderID, CodeChallenge: row.CodeChallenge,
		CreatedAt: row.CreatedAt.UTC(), ExpiresAt: row.ExpiresAt.UTC()}, nil
}
