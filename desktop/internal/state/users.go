package state

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// DefaultPerPage is the users and events page size.
const DefaultPerPage = 25

// PageInfo describes the page on screen.
type PageInfo struct {
	Page, PerPage, Total int
}

// Pages is the number of pages (at least 1).
func (p PageInfo) Pages() int {
	if p.PerPage <= 0 || p.Total <= 0 {
		return 1
	}
	return (p.Total + p.PerPage - 1) / p.PerPage
}

// HasPrev reports whether there is a page before this one.
func (p PageInfo) HasPrev() bool { return p.Page > 1 }

// HasNext reports whether there is a page after this one.
func (p PageInfo) HasNext() bool { return p.Page < p.Pages() }

// String is the pager's caption.
func (p PageInfo) String() string {
	noun := "results"
	if p.Total == 1 {
		noun = "result"
	}
	return "Page " + strconv.Itoa(p.Page) + " of " + strconv.Itoa(p.Pages()) + " · " + strconv.Itoa(p.Total) + " " + noun
}

// Users is the user search: the query, the page on screen and its rows.
type Users struct {
	api UsersAPI

	mu    sync.Mutex
	query api.UserQuery
	rows  []api.User
	total int
}

// NewUsers starts on page 1 with no filter.
func NewUsers(a UsersAPI) *Users {
	return &Users{api: a, query: api.UserQuery{Page: 1, PerPage: DefaultPerPage}}
}

// Search runs a new query from the first page. status and role may be empty (any).
func (u *Users) Search(ctx context.Context, text, status, role string) error {
	u.mu.Lock()
	q := u.query
	u.mu.Unlock()
	q.Query, q.Status, q.Role, q.Page = strings.TrimSpace(text), status, role, 1
	return u.load(ctx, q)
}

// Reload fetches the current page again.
func (u *Users) Reload(ctx context.Context) error {
	u.mu.Lock()
	q := u.query
	u.mu.Unlock()
	return u.load(ctx, q)
}

// Next moves one page forward (a no-op on the last page).
func (u *Users) Next(ctx context.Context) error {
	u.mu.Lock()
	q, info := u.query, u.pageLocked()
	u.mu.Unlock()
	if !info.HasNext() {
		return nil
	}
	q.Page++
	return u.load(ctx, q)
}

// Prev moves one page back (a no-op on the first page).
func (u *Users) Prev(ctx context.Context) error {
	u.mu.Lock()
	q := u.query
	u.mu.Unlock()
	if q.Page <= 1 {
		return nil
	}
	q.Page--
	return u.load(ctx, q)
}

func (u *Users) load(ctx context.Context, q api.UserQuery) error {
	res, err := u.api.ListUsers(ctx, q)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	q.Page, q.PerPage = max(res.Page, 1), res.PerPage
	if q.PerPage <= 0 {
		q.PerPage = DefaultPerPage
	}
	u.query, u.rows, u.total = q, res.Users, res.Total
	return nil
}

// Query is the current query.
func (u *Users) Query() api.UserQuery {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.query
}

// Rows are the users on the current page.
func (u *Users) Rows() []api.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]api.User(nil), u.rows...)
}

// Page describes the current page.
func (u *Users) Page() PageInfo {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.pageLocked()
}

func (u *Users) pageLocked() PageInfo {
	return PageInfo{Page: u.query.Page, PerPage: u.query.PerPage, Total: u.total}
}

// Update replaces a row after the detail pane changed the account. Answers to lock, unlock
// and edits carry no MFA summary: the row keeps the one it had.
func (u *Users) Update(user api.User) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range u.rows {
		if u.rows[i].ID == user.ID {
			if user.MFASummary == nil && user.MFA == nil {
				user.MFASummary = u.rows[i].MFASummary
			}
			u.rows[i] = user
		}
	}
}

// Create makes an account (admin) and reloads the page so it shows up where it belongs.
func (u *Users) Create(ctx context.Context, req api.CreateUserRequest) (api.User, error) {
	req.Email = strings.TrimSpace(req.Email)
	req.DisplayName = strings.TrimSpace(req.DisplayName)
	switch {
	case req.Email == "" || !strings.Contains(req.Email, "@"):
		return api.User{}, invalid("email", "Enter the new user's email address.")
	case len(req.Password) < 12:
		return api.User{}, invalid("password", "The initial password needs at least 12 characters.")
	}
	if len(req.Roles) == 0 {
		req.Roles = []string{api.RoleUser}
	}
	created, err := u.api.CreateUser(ctx, req)
	if err != nil {
		return api.User{}, err
	}
	if err := u.Reload(ctx); err != nil {
		return *created, err
	}
	return *created, nil
}

// MFAColumn is the users table's MFA cell: the list's summary (one batched look-up on the
// server), else the full status, else "" (a server whose list does not carry it).
func MFAColumn(u api.User) string {
	sum := u.MFASummary
	if sum == nil {
		return MFASummary(u.MFA)
	}
	switch {
	case !sum.Enrolled && sum.Required:
		return "Off (required)"
	case !sum.Enrolled:
		return "Off" // recovery codes alone do not make a second factor
	}
	names := make([]string, 0, len(sum.Factors))
	for _, f := range sum.Factors {
		names = append(names, FactorShort(f))
	}
	return strings.Join(names, ", ")
}

// UserCells are the table's columns for one user: email, name, roles, status, MFA, last login.
// The MFA column shows "—" when the listing does not carry the status.
func UserCells(u api.User, now time.Time) [6]string {
	mfa := MFAColumn(u)
	last := "never"
	if u.LastLoginAt != nil {
		last = Ago(*u.LastLoginAt, now)
	}
	name := u.DisplayName
	if name == "" {
		name = "—"
	}
	if mfa == "" {
		mfa = "—"
	}
	return [6]string{u.Email, name, Roles(u.Roles), Title(u.Status), mfa, last}
}

// UserColumns are the users table's headings, in UserCells order.
func UserColumns() [6]string {
	return [6]string{"Email", "Name", "Roles", "Status", "MFA", "Last login"}
}
