// Package serviceaccount manages service accounts — the non-human callers of the secrets API
// (architecture.md "Roles") — and their API tokens.
//
// A token is "gsa_" followed by 32 random bytes in unpadded base64url (256 bits). It is shown
// once, at creation; only its SHA-256 is stored, so a database leak yields no usable token.
// Tokens may expire, can be revoked, and record when they were last used (at most one write a
// minute per token, so authenticating stays a read).
//
// With a Cache (internal/accesscache), Authenticate answers from memory: tokens are cached by
// hash in their account's group (CacheGroup), which RevokeToken and Delete invalidate after
// their commit and before they return, so a revoked token or deleted account is refused on
// the next request (on every replica sharing Redis). Expiry and revocation times are checked
// against the clock on every hit.
package serviceaccount

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/shared/api"
)

// TokenPrefix starts every service account token, so the HTTP layer can tell them from
// session tokens and JWTs, and secret scanners can recognise a leaked one.
const TokenPrefix = api.ServiceAccountTokenPrefix

// tokenBytes is the token's entropy (256 bits).
const tokenBytes = 32

// lastUsedGranularity bounds how often a token's last_used_at is written.
const lastUsedGranularity = time.Minute

// Errors at the package boundary.
var (
	ErrNotFound      = errors.New("service account not found")
	ErrNameTaken     = errors.New("a service account with this name already exists")
	ErrTokenNotFound = errors.New("service account token not found")
	// ErrInvalidToken is the one answer for unknown, malformed, expired and revoked tokens.
	ErrInvalidToken = errors.New("invalid service account token")
)

// Account is a service account.
type Account struct {
	ID          string
	Name        string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
}

// Token is a stored token (never its plaintext).
type Token struct {
	ID         string
	AccountID  string
	Name       string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// Store persists accounts and tokens (internal/store).
type Store interface {
	// Create inserts an account; ErrNameTaken.
	Create(ctx context.Context, a Account) error
	List(ctx context.Context) ([]Account, error)
	// Get returns ErrNotFound.
	Get(ctx context.Context, id string) (Account, error)
	// Delete removes the account with its tokens and its secret policies; ErrNotFound.
	Delete(ctx context.Context, id string) error
	// CreateToken stores a token by the SHA-256 (hex) of its plaintext.
	CreateToken(ctx context.Context, t Token, hash string) error
	ListTokens(ctx context.Context, accountID string) ([]Token, error)
	// RevokeToken sets revoked_at once; ErrTokenNotFound when the account has no such token.
	RevokeToken(ctx context.Context, accountID, tokenID string, at time.Time) error
	// TokenByHash returns the token and its account; ErrTokenNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, Account, error)
	// TouchToken sets last_used_at to at when it is NULL or before staleBefore.
	TouchToken(ctx context.Context, tokenID string, at, staleBefore time.Time) error
}

// Cache keeps tokens in memory with exact invalidation (internal/accesscache.Cache).
type Cache interface {
	// Get returns the value under key if it may be used now.
	Get(ctx context.Context, kind, key string) (any, bool)
	// Store calls load (which must read the database afresh) and keeps its value under key in
	// group, unless the group was invalidated meanwhile.
	Store(ctx context.Context, group, key string, load func(context.Context) (any, error)) (any, error)
	// Update replaces a kept value in this process only.
	Update(key string, f func(any) any)
	// Invalidate drops the group's values here and on every replica.
	Invalidate(ctx context.Context, group string) error
}

// CacheGroup is the cache group of an account's tokens. It is also the group of the account's
// secret policies (internal/secrets: subject type "service_account"), so deleting the account
// drops both.
func CacheGroup(accountID string) string { return "service_account:" + accountID }

// cacheKind labels the cache's metrics.
const cacheKind = "service_account_token"

// cachedToken is a cache value: the token and its account as stored.
type cachedToken struct {
	token   Token
	account Account
}

// Service is the service-account capability.
type Service struct {
	store Store
	cache Cache // nil: every authentication reads the database
	now   func() time.Time
	newID func() string
}

// Option configures New.
type Option func(*Service)

// WithCache answers Authenticate from c (nil: no cache).
func WithCache(c Cache) Option { return func(s *Service) { s.cache = c } }

// New returns the service. now may be nil.
func New(store Store, newID func() string, now func() time.Time, opts ...Option) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, now: now, newID: newID}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// invalid is a 400 naming the problem (it travels as api.CodeInvalidRequest).
func invalid(msg string) error {
	return &api.Error{Code: api.CodeInvalidRequest, Message: msg}
}

// validText checks a short free-text field: printable, no control characters, bounded.
func validText(field, v string, maxLen int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return invalid(field + " is required")
	}
	if len(v) > maxLen || !utf8.ValidString(v) {
		return invalid(fmt.Sprintf("%s must be valid UTF-8 of at most %d bytes", field, maxLen))
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return invalid(field + " must not contain control characters")
		}
	}
	return nil
}

// Create makes a service account. createdBy is recorded as given ("user:<id>").
func (s *Service) Create(ctx context.Context, name, description, createdBy string) (Account, error) {
	name = strings.TrimSpace(name)
	if err := validText("name", name, 200, true); err != nil {
		return Account{}, err
	}
	if err := validText("description", description, 1000, false); err != nil {
		return Account{}, err
	}
	a := Account{ID: s.newID(), Name: name, Description: description, CreatedBy: createdBy, CreatedAt: s.nowUTC()}
	if err := s.store.Create(ctx, a); err != nil {
		return Account{}, err
	}
	return a, nil
}

// List returns every account.
func (s *Service) List(ctx context.Context) ([]Account, error) { return s.store.List(ctx) }

// Get returns one account.
func (s *Service) Get(ctx context.Context, id string) (Account, error) { return s.store.Get(ctx, id) }

// Delete removes an account; its tokens stop working at once.
func (s *Service) Delete(ctx context.Context, id string) error {
	return s.afterWrite(ctx, id, s.store.Delete(ctx, id))
}

// afterWrite invalidates the account's cached tokens (and policies) after a write that
// committed (werr nil) or may have (any error but a not-found: do not guess).
func (s *Service) afterWrite(ctx context.Context, accountID string, werr error) error {
	if s.cache == nil || errors.Is(werr, ErrNotFound) || errors.Is(werr, ErrTokenNotFound) {
		return werr
	}
	return errors.Join(werr, s.cache.Invalidate(ctx, CacheGroup(accountID)))
}

// CreateToken issues a token for the account. ttl 0 means it never expires. The plaintext is
// returned once and never stored.
func (s *Service) CreateToken(ctx context.Context, accountID, name string, ttl time.Duration) (Token, string, error) {
	if err := validText("name", name, 200, false); err != nil {
		return Token{}, "", err
	}
	if ttl < 0 {
		return Token{}, "", invalid("expires_in must not be negative")
	}
	if _, err := s.store.Get(ctx, accountID); err != nil {
		return Token{}, "", err
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return Token{}, "", fmt.Errorf("generate token: %w", err)
	}
	plain := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.nowUTC()
	t := Token{ID: s.newID(), AccountID: accountID, Name: name, CreatedAt: now}
	if ttl > 0 {
		exp := now.Add(ttl)
		t.ExpiresAt = &exp
	}
	if err := s.store.CreateToken(ctx, t, hashToken(plain)); err != nil {
		return Token{}, "", err
	}
	return t, plain, nil
}

// ListTokens lists an account's tokens (never their plaintext).
func (s *Service) ListTokens(ctx context.Context, accountID string) ([]Token, error) {
	if _, err := s.store.Get(ctx, accountID); err != nil {
		return nil, err
	}
	return s.store.ListTokens(ctx, accountID)
}

// RevokeToken revokes one token of the account; it stops working on the next request.
func (s *Service) RevokeToken(ctx context.Context, accountID, tokenID string) error {
	return s.afterWrite(ctx, accountID, s.store.RevokeToken(ctx, accountID, tokenID, s.nowUTC()))
}

// Authenticate resolves a presented token to its account. Unknown, malformed, expired and
// revoked tokens all yield ErrInvalidToken.
func (s *Service) Authenticate(ctx context.Context, token string) (Account, error) {
	body, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok || base64.RawURLEncoding.DecodedLen(len(body)) != tokenBytes {
		return Account{}, ErrInvalidToken
	}
	hash := hashToken(token)
	t, a, err := s.lookup(ctx, hash)
	if errors.Is(err, ErrTokenNotFound) {
		return Account{}, ErrInvalidToken
	}
	if err != nil {
		return Account{}, fmt.Errorf("authenticate service account: %w", err)
	}
	now := s.nowUTC()
	if t.RevokedAt != nil || (t.ExpiresAt != nil && !now.Before(*t.ExpiresAt)) {
		return Account{}, ErrInvalidToken
	}
	if t.LastUsedAt == nil || t.LastUsedAt.Before(now.Add(-lastUsedGranularity)) {
		if s.cache != nil {
			// Concurrent hits of this process see the use as recorded and do not write too.
			s.cache.Update(tokenKey(hash), func(v any) any {
				ct, ok := v.(cachedToken)
				if !ok || ct.token.ID != t.ID {
					return v
				}
				used := now
				ct.token.LastUsedAt = &used
				return ct
			})
		}
		if err := s.store.TouchToken(ctx, t.ID, now, now.Add(-lastUsedGranularity)); err != nil {
			return Account{}, fmt.Errorf("record token use: %w", err)
		}
	}
	return a, nil
}

func tokenKey(hash string) string { return "sa-token:" + hash }

// lookup finds the token by hash, through the cache when there is one. Unknown tokens are
// never cached (anyone can present them); revoked and expired ones are, their state rechecked
// on every hit.
func (s *Service) lookup(ctx context.Context, hash string) (Token, Account, error) {
	if s.cache == nil {
		return s.store.TokenByHash(ctx, hash)
	}
	key := tokenKey(hash)
	if v, ok := s.cache.Get(ctx, cacheKind, key); ok {
		if ct, ok := v.(cachedToken); ok {
			return ct.token, ct.account, nil
		}
	}
	// The account, and so the group, is known only after a first read; Store reads the
	// generation and then the row again, so what it keeps is at least as new as the
	// generation recorded with it.
	_, a, err := s.store.TokenByHash(ctx, hash)
	if err != nil {
		return Token{}, Account{}, err
	}
	v, err := s.cache.Store(ctx, CacheGroup(a.ID), key, func(ctx context.Context) (any, error) {
		t2, a2, err := s.store.TokenByHash(ctx, hash)
		if err == nil && a2.ID != a.ID {
			err = ErrTokenNotFound // a token never changes account; refuse rather than guess
		}
		return cachedToken{token: t2, account: a2}, err
	})
	if err != nil {
		return Token{}, Account{}, err
	}
	ct, _ := v.(cachedToken)
	return ct.token, ct.account, nil
}

// hashToken is the stored form of a token: hex SHA-256. A plain hash suffices: the token has
// 256 bits of entropy, so there is nothing to brute-force.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
