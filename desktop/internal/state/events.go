package state

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// Time ranges offered by the events filter.
const (
	RangeHour   = "Last hour"
	RangeDay    = "Last 24 hours"
	RangeWeek   = "Last 7 days"
	RangeMonth  = "Last 30 days"
	RangeAll    = "All time"
	RangeCustom = "Custom"
)

// Ranges lists the time ranges in menu order.
func Ranges() []string {
	return []string{RangeHour, RangeDay, RangeWeek, RangeMonth, RangeAll, RangeCustom}
}

// RangeBounds turns a named range into since/until (zero: open). Custom returns zeros: the
// caller supplies its own bounds.
func RangeBounds(name string, now time.Time) (since, until time.Time) {
	switch name {
	case RangeHour:
		return now.Add(-time.Hour), time.Time{}
	case RangeDay:
		return now.Add(-24 * time.Hour), time.Time{}
	case RangeWeek:
		return now.Add(-7 * 24 * time.Hour), time.Time{}
	case RangeMonth:
		return now.Add(-30 * 24 * time.Hour), time.Time{}
	default:
		return time.Time{}, time.Time{}
	}
}

// TimeLayout is how the events filter reads and writes times (local time).
const TimeLayout = "2006-01-02 15:04"

// ParseTime reads a filter bound: empty is open; otherwise TimeLayout in local time, a date, or
// RFC 3339.
func ParseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{TimeLayout, "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, invalid(field, "Write times as 2026-01-31 14:05 (or a date, 2026-01-31).")
}

// EventFilter is what the events screen filters by. User is an email or a user ID.
type EventFilter struct {
	Type  string
	User  string
	Since time.Time
	Until time.Time
}

// Events is the security event list with its filter, page and the names behind user IDs.
type Events struct {
	events EventsAPI
	users  UsersAPI

	mu      sync.Mutex
	filter  EventFilter
	userID  string // the filter's user, resolved to an ID
	page    int
	perPage int
	rows    []api.SecurityEvent
	total   int
	names   map[string]string // user ID -> email
}

// NewEvents pages through events; users resolves emails in the filter and in the table.
func NewEvents(events EventsAPI, users UsersAPI) *Events {
	return newEvents(events, users, DefaultPerPage)
}

func newEvents(events EventsAPI, users UsersAPI, perPage int) *Events {
	return &Events{events: events, users: users, page: 1, perPage: perPage, names: map[string]string{}}
}

// Apply runs a new filter from the first page.
func (e *Events) Apply(ctx context.Context, f EventFilter) error {
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return invalid("until", "The end of the range is before its start.")
	}
	f.User = strings.TrimSpace(f.User)
	id, err := e.resolveUser(ctx, f.User)
	if err != nil {
		return err
	}
	return e.load(ctx, f, id, 1)
}

// resolveUser turns an email into a user ID; anything without an @ is taken as an ID.
func (e *Events) resolveUser(ctx context.Context, who string) (string, error) {
	if who == "" || !strings.Contains(who, "@") {
		return who, nil
	}
	res, err := e.users.ListUsers(ctx, api.UserQuery{Query: who, Page: 1, PerPage: 10})
	if err != nil {
		return "", err
	}
	for _, u := range res.Users {
		if strings.EqualFold(u.Email, who) {
			e.mu.Lock()
			e.names[u.ID] = u.Email
			e.mu.Unlock()
			return u.ID, nil
		}
	}
	return "", invalid("user", "No account has the email "+who+".")
}

// Reload fetches the current page again.
func (e *Events) Reload(ctx context.Context) error {
	e.mu.Lock()
	f, id, p := e.filter, e.userID, e.page
	e.mu.Unlock()
	return e.load(ctx, f, id, p)
}

// Next moves one page forward.
func (e *Events) Next(ctx context.Context) error {
	e.mu.Lock()
	f, id, info := e.filter, e.userID, e.pageLocked()
	e.mu.Unlock()
	if !info.HasNext() {
		return nil
	}
	return e.load(ctx, f, id, info.Page+1)
}

// Prev moves one page back.
func (e *Events) Prev(ctx context.Context) error {
	e.mu.Lock()
	f, id, p := e.filter, e.userID, e.page
	e.mu.Unlock()
	if p <= 1 {
		return nil
	}
	return e.load(ctx, f, id, p-1)
}

func (e *Events) query(f EventFilter, userID string, page, perPage int) api.SecurityEventQuery {
	return api.SecurityEventQuery{Type: f.Type, User: userID, Since: f.Since, Until: f.Until, Page: page, PerPage: perPage}
}

func (e *Events) load(ctx context.Context, f EventFilter, userID string, page int) error {
	e.mu.Lock()
	per := e.perPage
	e.mu.Unlock()
	res, err := e.events.ListEvents(ctx, e.query(f, userID, page, per))
	if err != nil {
		return err
	}
	e.resolveNames(ctx, res.Events)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.filter, e.userID, e.rows, e.total = f, userID, res.Events, res.Total
	e.page = max(res.Page, 1)
	if res.PerPage > 0 {
		e.perPage = res.PerPage
	}
	return nil
}

// maxLookups bounds the account look-ups one page may cause.
const maxLookups = 25

// resolveNames learns the emails behind the page's user IDs. A failed look-up leaves the ID:
// names are a convenience, never a reason to fail the list.
func (e *Events) resolveNames(ctx context.Context, list []api.SecurityEvent) {
	var want []string
	e.mu.Lock()
	for _, ev := range list {
		for _, id := range []string{ev.ActorID, ev.SubjectUserID} {
			if _, ok := e.names[id]; id != "" && !ok && !containsStr(want, id) {
				want = append(want, id)
			}
		}
	}
	e.mu.Unlock()
	if len(want) > maxLookups {
		want = want[:maxLookups]
	}
	for _, id := range want {
		u, err := e.users.GetUser(ctx, id)
		if errors.Is(err, context.Canceled) {
			return
		}
		e.mu.Lock()
		if err == nil {
			e.names[id] = u.Email
		} else {
			e.names[id] = "" // remember the miss: do not ask again
		}
		e.mu.Unlock()
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Name is the email for a user ID when known, else the ID.
func (e *Events) Name(id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := e.names[id]; n != "" {
		return n
	}
	return id
}

// Filter is the current filter.
func (e *Events) Filter() EventFilter {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.filter
}

// Rows are the events on the current page.
func (e *Events) Rows() []api.SecurityEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]api.SecurityEvent(nil), e.rows...)
}

// Page describes the current page.
func (e *Events) Page() PageInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pageLocked()
}

func (e *Events) pageLocked() PageInfo {
	return PageInfo{Page: e.page, PerPage: e.perPage, Total: e.total}
}

// EventCells are the table's columns for one event: time, type, outcome, actor, subject, IP.
func (e *Events) EventCells(ev api.SecurityEvent) [6]string {
	dash := func(s string) string {
		if s == "" {
			return "—"
		}
		return s
	}
	return [6]string{
		ev.CreatedAt.Local().Format("2006-01-02 15:04:05"), ev.Type, Title(ev.Outcome),
		dash(e.Name(ev.ActorID)), dash(e.Name(ev.SubjectUserID)), dash(ev.IP),
	}
}

// EventColumns are the events table's headings, in EventCells order.
func EventColumns() [6]string {
	return [6]string{"Time", "Type", "Outcome", "Actor", "Subject", "IP"}
}

// ExportLimit bounds a CSV export (and the requests it makes).
const ExportLimit = 10000

// Export fetches every event matching the current filter (up to ExportLimit), page by page.
func (e *Events) Export(ctx context.Context) ([]api.SecurityEvent, error) {
	e.mu.Lock()
	f, id := e.filter, e.userID
	e.mu.Unlock()
	const per = 100
	var out []api.SecurityEvent
	for page := 1; len(out) < ExportLimit; page++ {
		res, err := e.events.ListEvents(ctx, e.query(f, id, page, per))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Events...)
		if len(res.Events) == 0 || page*max(res.PerPage, 1) >= res.Total {
			break
		}
	}
	if len(out) > ExportLimit {
		out = out[:ExportLimit]
	}
	e.resolveNames(ctx, out)
	return out, nil
}
