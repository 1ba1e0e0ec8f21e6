// Package events keeps the security event log (SEC-54): who did what, to whom, from where, with
// which outcome and under which request ID. Services call Recorder.Record when something
// security-relevant happens (a login, a lockout, a revoked session, a role change); admins read
// the log through Recorder.List.
//
// The log is append-only by construction: neither this package nor its Store interface has an
// update or a delete, and the database refuses both with a trigger (see the security_events
// migration), so a bug or an injected statement in another part of the server cannot rewrite
// history.
//
// Details are free-form JSON, but never carry secrets (SEC-18): Record strips every detail key
// that looks like a credential before the event is stored (see SensitiveKey).
package events

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/google/uuid"

	"gatehouse/shared/api"
)

// Errors returned by Record and List; test with errors.Is. Both mean the caller passed
// something wrong (HTTP handlers answer 400), never that the database failed.
var (
	// ErrInvalidEvent means Record was given an event it cannot store: an empty or malformed
	// type, an unknown outcome, a user ID that is not a UUID, or details that are not JSON.
	ErrInvalidEvent = errors.New("events: invalid event")
	// ErrInvalidFilter means List was given a filter it cannot run: a user that is not a UUID,
	// a malformed type, Since after Until, or a page beyond any possible offset.
	ErrInvalidFilter = errors.New("events: invalid filter")
)

// Page sizes for List.
const (
	DefaultPerPage = 50
	MaxPerPage     = 200
)

// Event is one security event. Record sets ID and CreatedAt; the caller sets the rest.
type Event struct {
	// ID is a random UUID (v4), set by Record.
	ID string
	// Type is what happened, one of the api.Event* constants (e.g. api.EventLoginFailed).
	Type string
	// Outcome is api.OutcomeSuccess, api.OutcomeFailure or api.OutcomeDenied.
	Outcome string
	// ActorID is the user who acted; empty for an anonymous attempt or the system itself.
	ActorID string
	// SubjectUserID is the user acted upon; empty when no account matched (a login with an
	// unknown email). It is not a foreign key: events outlive the users they mention.
	SubjectUserID string
	// IP and UserAgent are the client's, as the HTTP layer saw them.
	IP        string
	UserAgent string
	// RequestID ties the event to the access log line; Record fills it from the context when
	// Options.RequestID is set and the caller left it empty.
	RequestID string
	// Details is extra context (which session, which roles before and after). Values must be
	// JSON-encodable; they are stored and returned as decoded JSON (numbers become float64).
	Details map[string]any
	// CreatedAt is set by Record from its clock: UTC, microsecond precision (what PostgreSQL
	// keeps), so an event reads back exactly as it was recorded.
	CreatedAt time.Time
}

// API converts the event to its wire form.
func (e Event) API() api.SecurityEvent {
	return api.SecurityEvent{
		ID:            e.ID,
		Type:          e.Type,
		Outcome:       e.Outcome,
		ActorID:       e.ActorID,
		SubjectUserID: e.SubjectUserID,
		IP:            e.IP,
		UserAgent:     e.UserAgent,
		RequestID:     e.RequestID,
		Details:       e.Details,
		CreatedAt:     e.CreatedAt,
	}
}

// Filter selects events for List. Zero fields do not filter.
type Filter struct {
	// Type matches events of exactly this type.
	Type string
	// UserID matches events where the user is the actor or the subject.
	UserID string
	// Since is inclusive, Until exclusive.
	Since time.Time
	Until time.Time
	// Page starts at 1; PerPage defaults to DefaultPerPage and is capped at MaxPerPage.
	Page    int
	PerPage int
}

// Normalize validates the filter and applies the defaults: Page at least 1, PerPage between 1
// and MaxPerPage, UserID in canonical UUID form, times in UTC and rounded up to the
// microsecond (events are stored at microsecond precision, so "at or after Since" and "before
// Until" keep their meaning exactly). List normalizes by itself; handlers call Normalize to
// echo the effective page and page size. Normalizing twice changes nothing.
func (f Filter) Normalize() (Filter, error) {
	if f.Page < 1 {
		f.Page = 1
	}
	switch {
	case f.PerPage < 1:
		f.PerPage = DefaultPerPage
	case f.PerPage > MaxPerPage:
		f.PerPage = MaxPerPage
	}
	// The offset (Page-1)*PerPage must fit in the databases' integers.
	if f.Page-1 > math.MaxInt32/f.PerPage {
		return Filter{}, fmt.Errorf("%w: page %d is out of range", ErrInvalidFilter, f.Page)
	}
	if f.Type != "" && !validType(f.Type) {
		return Filter{}, fmt.Errorf("%w: malformed type", ErrInvalidFilter)
	}
	if f.UserID != "" {
		id, err := canonicalUUID(f.UserID)
		if err != nil {
			return Filter{}, fmt.Errorf("%w: user is not a UUID", ErrInvalidFilter)
		}
		f.UserID = id
	}
	f.Since = ceilMicro(f.Since)
	f.Until = ceilMicro(f.Until)
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Since.After(f.Until) {
		return Filter{}, fmt.Errorf("%w: since is after until", ErrInvalidFilter)
	}
	return f, nil
}

// Store persists events. The events package owns this interface; the database implementation
// lives in the store layer (table security_events), and eventstest.ExerciseStore checks an
// implementation against the contract below. There is deliberately no update and no delete.
type Store interface {
	// Append stores e exactly as given (Record has already set ID and CreatedAt and guarded
	// the details). It never overwrites: appending an ID that exists is an error.
	Append(ctx context.Context, e Event) error
	// List returns one page of the events matching f, newest first (created_at descending,
	// then id descending, so pages are stable even when events share a timestamp), and the
	// number of all matching events. f has been normalized. Empty Details may come back as
	// nil or as an empty map.
	List(ctx context.Context, f Filter) (events []Event, total int, err error)
}

// typePattern is what an event type looks like: dot-separated lower-case words, as in
// "token.refresh_reused". Types become Prometheus label values, so they must come from code
// (the api.Event* constants), never from request input; the pattern catches a caller that
// passes something else.
var typePattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

const maxTypeLen = 64

func validType(t string) bool { return len(t) <= maxTypeLen && typePattern.MatchString(t) }

func validOutcome(o string) bool {
	switch o {
	case api.OutcomeSuccess, api.OutcomeFailure, api.OutcomeDenied:
		return true
	}
	return false
}

// canonicalUUID returns id in the lower-case hyphenated form. PostgreSQL compares UUIDs by
// value but SQLite compares text, so every ID is stored and searched in one spelling.
func canonicalUUID(id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// ceilMicro returns t in UTC rounded up to the next microsecond (zero stays zero).
func ceilMicro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	t = t.UTC()
	tr := t.Truncate(time.Microsecond) // also drops the monotonic clock reading
	if !tr.Equal(t) {
		return tr.Add(time.Microsecond)
	}
	return tr
}
