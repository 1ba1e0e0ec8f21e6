// Package users holds the account model and its rules: email normalisation, roles, statuses.
// Storage is behind the Store interface that this package owns; the GORM implementation lives
// in internal/store.
package users

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gatehouse/shared/api"
)

// Errors at the package boundary.
var (
	ErrNotFound     = errors.New("user not found")
	ErrEmailTaken   = errors.New("email already registered")
	ErrInvalidEmail = errors.New("invalid email address")
	ErrInvalidRole  = errors.New("invalid role")
	ErrInvalidName  = errors.New("invalid display name")
	ErrInvalidState = errors.New("invalid status")
)

// MaxDisplayName bounds display names (in characters).
const MaxDisplayName = 200

// User is an account.
type User struct {
	ID            string
	Email         string
	DisplayName   string
	PasswordHash  string // PHC string; empty for social-only accounts
	Roles         []string
	Status        string
	EmailVerified bool
	AvatarURL     string // synced from a social login's profile
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   *time.Time
}

// HasRole reports whether the user holds role.
func (u User) HasRole(role string) bool { return slices.Contains(u.Roles, role) }

// API converts to the wire type.
func (u User) API() api.User {
	return api.User{
		ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Roles: slices.Clone(u.Roles), Status: u.Status,
		EmailVerified: u.EmailVerified, HasPassword: u.PasswordHash != "", AvatarURL: u.AvatarURL, CreatedAt: u.CreatedAt,
		UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt,
	}
}

// Query filters List.
type Query struct {
	Text    string // matches email or display name, case-insensitive substring
	Status  string
	Role    string
	Page    int // from 1
	PerPage int
}

// Store keeps accounts.
type Store interface {
	Create(ctx context.Context, u User) error // ErrEmailTaken
	Get(ctx context.Context, id string) (User, error)
	GetByEmail(ctx context.Context, email string) (User, error)
	Update(ctx context.Context, u User) error // profile, status, roles, hash, verification
	SetLastLogin(ctx context.Context, id string, at time.Time) error
	List(ctx context.Context, q Query) ([]User, int, error)
	CountWithRole(ctx context.Context, role string) (int, error)
}

// NormalizeEmail trims and lower-cases an address and checks it is a plain addr-spec.
func NormalizeEmail(raw string) (string, error) {
	if !utf8.ValidString(raw) {
		return "", ErrInvalidEmail
	}
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" || len(e) > 254 || strings.ContainsRune(e, utf8.RuneError) {
		return "", ErrInvalidEmail
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" {
		return "", ErrInvalidEmail
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || len(local) > 64 || !strings.Contains(domain, ".") && domain != "localhost" {
		return "", ErrInvalidEmail
	}
	return e, nil
}

// ValidRoles checks and normalises a role list (sorted, no duplicates, at least "user").
func ValidRoles(roles []string) ([]string, error) {
	out := []string{api.RoleUser}
	for _, r := range roles {
		switch r {
		case api.RoleAdmin, api.RoleSupport, api.RoleUser:
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		default:
			return nil, fmt.Errorf("%w: %q", ErrInvalidRole, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ValidStatus checks an account status.
func ValidStatus(s string) error {
	switch s {
	case api.UserActive, api.UserLocked, api.UserDisabled:
		return nil
	}
	return fmt.Errorf("%w: %q", ErrInvalidState, s)
}

// ValidDisplayName trims and checks a display name.
func ValidDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxDisplayName || strings.ContainsFunc(s, isControl) {
		return "", ErrInvalidName
	}
	return s, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
