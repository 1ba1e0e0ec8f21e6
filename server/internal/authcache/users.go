package authcache

import (
	"context"
	"errors"
	"slices"
	"time"

	"gatehouse/server/internal/users"
)

// Users is a users.Store that answers Get from the cache and invalidates it on every write.
type Users struct {
	inner users.Store
	c     *Cache
}

// Users wraps inner.
func (c *Cache) Users(inner users.Store) *Users { return &Users{inner: inner, c: c} }

var _ users.Store = (*Users)(nil)

// Get is the lookup of cookie authentication and GET /me.
func (u *Users) Get(ctx context.Context, id string) (users.User, error) {
	key := "u:" + id
	if e, ok := u.c.get(ctx, kindUser, key); ok {
		return copyUser(e.value.(users.User)), nil
	}
	epoch := u.c.begin()
	remote := ""
	cacheable := true
	if u.c.rdb != nil {
		var err error
		if remote, err = u.c.generation(ctx, id); err != nil {
			cacheable = false
		}
	}
	usr, err := u.inner.Get(ctx, id)
	if err != nil || !cacheable {
		return usr, err
	}
	u.c.put(key, &entry{userID: id, value: copyUser(usr), remote: remote, loaded: u.c.now()}, epoch)
	return usr, nil
}

func copyUser(u users.User) users.User {
	u.Roles = slices.Clone(u.Roles)
	if u.LastLoginAt != nil {
		t := *u.LastLoginAt
		u.LastLoginAt = &t
	}
	return u
}

// Update changes profile, status, roles or password: every replica drops the user (SEC-12).
func (u *Users) Update(ctx context.Context, usr users.User) error {
	return u.after(ctx, usr.ID, u.inner.Update(ctx, usr))
}

// SetLastLogin changes what GET /me answers, so it invalidates too.
func (u *Users) SetLastLogin(ctx context.Context, id string, at time.Time) error {
	return u.after(ctx, id, u.inner.SetLastLogin(ctx, id, at))
}

func (u *Users) after(ctx context.Context, id string, werr error) error {
	if errors.Is(werr, users.ErrNotFound) {
		return werr
	}
	return errors.Join(werr, u.c.invalidate(ctx, id))
}

// Create, GetByEmail, List and CountWithRole are passed through: a new user cannot be cached
// yet, and the others are not on the per-request path.
func (u *Users) Create(ctx context.Context, usr users.User) error { return u.inner.Create(ctx, usr) }

// GetByEmail is the login's lookup, not cached (it needs the password hash as stored).
func (u *Users) GetByEmail(ctx context.Context, email string) (users.User, error) {
	return u.inner.GetByEmail(ctx, email)
}

// List is the admin listing.
func (u *Users) List(ctx context.Context, q users.Query) ([]users.User, int, error) {
	return u.inner.List(ctx, q)
}

// CountWithRole guards the last administrator.
func (u *Users) CountWithRole(ctx context.Context, role string) (int, error) {
	return u.inner.CountWithRole(ctx, role)
}
