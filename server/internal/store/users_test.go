package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/users"
)

func newUser(email string, roles ...string) users.User {
	now := time.Now().UTC().Truncate(time.Microsecond)
	if len(roles) == 0 {
		roles = []string{"user"}
	}
	return users.User{ID: uuid.NewString(), Email: email, DisplayName: "Name of " + email, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Roles: roles, Status: "active", CreatedAt: now, UpdatedAt: now}
}

func TestUserStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		s := migrated(t, dialect).Users()

		alice := newUser("alice@example.com", "admin", "user")
		if err := s.Create(ctx, alice); err != nil {
			t.Fatal(err)
		}
		dup := newUser("alice@example.com")
		if err := s.Create(ctx, dup); !errors.Is(err, users.ErrEmailTaken) {
			t.Fatalf("duplicate email: %v", err)
		}
		if _, err := s.Get(ctx, dup.ID); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("a refused create must leave nothing behind: %v", err)
		}
		got, err := s.GetByEmail(ctx, "alice@example.com")
		if err != nil || got.ID != alice.ID || !slices.Equal(got.Roles, []string{"admin", "user"}) || got.PasswordHash != alice.PasswordHash || !got.CreatedAt.Equal(alice.CreatedAt) {
			t.Fatalf("get by email: %+v %v", got, err)
		}
		for _, id := range []string{uuid.NewString(), "not-a-uuid", "' OR 1=1 --", ""} {
			if _, err := s.Get(ctx, id); !errors.Is(err, users.ErrNotFound) {
				t.Fatalf("id %q: %v", id, err)
			}
		}

		got.Roles = []string{"support", "user"}
		got.Status = "locked"
		got.PasswordHash = ""
		if err := s.Update(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, err := s.Get(ctx, alice.ID)
		if err != nil || again.Status != "locked" || !slices.Equal(again.Roles, []string{"support", "user"}) || again.PasswordHash != "" {
			t.Fatalf("after update: %+v %v", again, err)
		}
		ghost := newUser("ghost@example.com")
		if err := s.Update(ctx, ghost); !errors.Is(err, users.ErrNotFound) {
			t.Fatalf("update unknown: %v", err)
		}
		at := time.Now().UTC().Truncate(time.Microsecond)
		if err := s.SetLastLogin(ctx, alice.ID, at); err != nil {
			t.Fatal(err)
		}
		if u, _ := s.Get(ctx, alice.ID); u.LastLoginAt == nil || !u.LastLoginAt.Equal(at) {
			t.Fatalf("last login: %v", u.LastLoginAt)
		}
	})
}

func TestUserStoreList(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		s := migrated(t, dialect).Users()
		for i := range 25 {
			u := newUser(fmt.Sprintf("user%02d@example.com", i))
			if i%5 == 0 {
				u.Roles = []string{"support", "user"}
			}
			if i == 7 {
				u.Status = "disabled"
				u.DisplayName = "Zoë 100%_real"
			}
			if err := s.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		page1, total, err := s.List(ctx, users.Query{Page: 1, PerPage: 10})
		if err != nil || total != 25 || len(page1) != 10 || page1[0].Email != "user00@example.com" {
			t.Fatalf("page 1: %d %d %v", len(page1), total, err)
		}
		page3, _, _ := s.List(ctx, users.Query{Page: 3, PerPage: 10})
		if len(page3) != 5 || page3[4].Email != "user24@example.com" {
			t.Fatalf("page 3: %+v", page3)
		}
		if _, total, _ := s.List(ctx, users.Query{Role: "support", Page: 1, PerPage: 50}); total != 5 {
			t.Fatalf("role filter total %d", total)
		}
		if found, total, _ := s.List(ctx, users.Query{Status: "disabled", Page: 1, PerPage: 50}); total != 1 || found[0].Email != "user07@example.com" {
			t.Fatalf("status filter: %v", found)
		}
		if found, _, _ := s.List(ctx, users.Query{Text: "ZOË", Page: 1, PerPage: 50}); len(found) != 1 {
			t.Fatalf("name search: %v", found)
		}
		// LIKE wildcards in the query are literal.
		if found, _, _ := s.List(ctx, users.Query{Text: "%_", Page: 1, PerPage: 50}); len(found) != 1 {
			t.Fatalf("wildcards must be literal: %d results", len(found))
		}
		if found, _, _ := s.List(ctx, users.Query{Text: "user1", Page: 1, PerPage: 50}); len(found) != 10 {
			t.Fatalf("email search: %d", len(found))
		}
		if found, total, _ := s.List(ctx, users.Query{Text: "nobody", Page: 1, PerPage: 50}); len(found) != 0 || total != 0 || found == nil {
			t.Fatalf("empty result: %v %d", found, total)
		}
		if n, err := s.CountWithRole(ctx, "support"); err != nil || n != 5 {
			t.Fatalf("count: %d %v", n, err)
		}
	})
}
