// Package eventstest checks events.Store implementations against the contract the Recorder
// relies on. Every implementation (the in-memory fake, the GORM store on SQLite and
// PostgreSQL) should pass ExerciseStore, so the fake cannot drift from the real thing.
package eventstest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"gatehouse/server/internal/events"
	"gatehouse/shared/api"
)

// Users mentioned by the fixture events.
const (
	Alice = "0a11ce00-0000-4000-8000-000000000001"
	Bob   = "0b0b0000-0000-4000-8000-000000000002"
	Carol = "0ca401a0-0000-4000-8000-000000000003"
)

// base is the fixture clock: every fixture event is some offset after it.
var base = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// ID returns a fixed, valid UUID ending in n, so tests can predict the id tie-break.
func ID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// ExerciseStore runs the Store contract against stores made by newStore, which must return an
// empty store on every call.
func ExerciseStore(t *testing.T, newStore func(t *testing.T) events.Store) {
	t.Helper()
	ctx := context.Background()

	t.Run("empty store", func(t *testing.T) {
		got, total := list(t, newStore(t), events.Filter{})
		if len(got) != 0 || total != 0 {
			t.Fatalf("List on empty store = %d events, total %d; want none", len(got), total)
		}
	})

	t.Run("round trip keeps every field", func(t *testing.T) { // SEC-54
		s := newStore(t)
		e := events.Event{
			ID:            ID(1),
			Type:          api.EventLoginFailed,
			Outcome:       api.OutcomeFailure,
			ActorID:       Alice,
			SubjectUserID: Bob,
			IP:            "2001:db8::1",
			UserAgent:     "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0 – ünïcödé",
			RequestID:     "req-0123456789abcdef",
			Details: map[string]any{
				"reason":   "bad_password",
				"attempts": float64(3),
				"mfa":      false,
				"nothing":  nil,
				"roles":    []any{"admin", "support"},
				"nested":   map[string]any{"session_id": ID(99), "quote": `"'; DROP TABLE users; --`},
			},
			CreatedAt: base.Add(123456 * time.Microsecond),
		}
		appendAll(t, s, e)
		got, total := list(t, s, events.Filter{})
		if total != 1 || len(got) != 1 {
			t.Fatalf("List = %d events, total %d; want 1", len(got), total)
		}
		assertEvent(t, got[0], e)
		if got[0].CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt location = %v, want UTC", got[0].CreatedAt.Location())
		}
	})

	t.Run("empty optional fields", func(t *testing.T) {
		s := newStore(t)
		e := events.Event{ID: ID(1), Type: api.EventLogout, Outcome: api.OutcomeSuccess, CreatedAt: base}
		appendAll(t, s, e)
		got, _ := list(t, s, events.Filter{})
		if len(got) != 1 {
			t.Fatalf("List = %d events, want 1", len(got))
		}
		assertEvent(t, got[0], e)
	})

	t.Run("append never overwrites", func(t *testing.T) { // SEC-54: append-only
		s := newStore(t)
		first := events.Event{ID: ID(1), Type: api.EventLoginFailed, Outcome: api.OutcomeFailure, SubjectUserID: Alice, CreatedAt: base}
		appendAll(t, s, first)
		forged := first
		forged.Type, forged.Outcome = api.EventLoginSucceeded, api.OutcomeSuccess
		if err := s.Append(ctx, forged); err == nil {
			t.Fatal("Append with an existing ID succeeded; want an error")
		}
		got, total := list(t, s, events.Filter{})
		if total != 1 || len(got) != 1 {
			t.Fatalf("after the refused append: %d events, total %d; want 1", len(got), total)
		}
		assertEvent(t, got[0], first)
	})

	t.Run("newest first with id tie-break", func(t *testing.T) {
		s := newStore(t)
		// Fractions of different lengths (and none) on purpose: SQLite stores times as text
		// with trailing zeros trimmed, and must still order them by time.
		offsets := map[int]time.Duration{
			1: 0,
			2: 100 * time.Millisecond,
			3: 120 * time.Millisecond,
			4: 123456 * time.Microsecond,
			5: 900 * time.Millisecond,
			6: time.Second,
			7: time.Second + time.Microsecond,
			8: time.Second + time.Microsecond, // same instant as 7: id decides
			9: 10 * time.Second,
		}
		var all []events.Event
		for _, n := range []int{5, 1, 8, 3, 9, 2, 7, 6, 4} { // appended out of order
			all = append(all, fixture(n, api.EventTokenRefreshed, "", "", base.Add(offsets[n])))
		}
		appendAll(t, s, all...)
		got, total := list(t, s, events.Filter{})
		if total != 9 {
			t.Fatalf("total = %d, want 9", total)
		}
		wantIDs(t, got, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	})

	t.Run("filters", func(t *testing.T) {
		s := newStore(t)
		appendAll(t, s,
			fixture(1, api.EventLoginFailed, "", Alice, base),                        // anonymous attempt on Alice
			fixture(2, api.EventLoginSucceeded, Alice, Alice, base.Add(time.Second)), // Alice logs in
			fixture(3, api.EventUserRolesChanged, Alice, Bob, base.Add(2*time.Second)),
			fixture(4, api.EventLoginSucceeded, Bob, Bob, base.Add(3*time.Second)),
			fixture(5, api.EventSessionRevoked, Carol, Alice, base.Add(4*time.Second)),
			fixture(6, api.EventLoginFailed, "", "", base.Add(5*time.Second)), // unknown email
		)
		cases := []struct {
			name string
			f    events.Filter
			want []int
		}{
			{"all", events.Filter{}, []int{6, 5, 4, 3, 2, 1}},
			{"type", events.Filter{Type: api.EventLoginFailed}, []int{6, 1}},
			{"unknown type", events.Filter{Type: "nothing.happened"}, nil},
			{"user as actor or subject", events.Filter{UserID: Alice}, []int{5, 3, 2, 1}},
			{"user as subject only", events.Filter{UserID: Bob}, []int{4, 3}},
			{"user as actor only", events.Filter{UserID: Carol}, []int{5}},
			{"user and type", events.Filter{UserID: Alice, Type: api.EventLoginSucceeded}, []int{2}},
			{"since is inclusive", events.Filter{Since: base.Add(4 * time.Second)}, []int{6, 5}},
			{"until is exclusive", events.Filter{Until: base.Add(2 * time.Second)}, []int{2, 1}},
			{"since and until", events.Filter{Since: base.Add(time.Second), Until: base.Add(4 * time.Second)}, []int{4, 3, 2}},
			{"sub-microsecond bounds", events.Filter{Since: base.Add(time.Second - time.Nanosecond), Until: base.Add(3*time.Second + time.Nanosecond)}, []int{4, 3, 2}},
			{"bounds in another time zone", events.Filter{Since: base.Add(time.Second).In(time.FixedZone("UTC-7", -7*3600)), Until: base.Add(3 * time.Second).In(time.FixedZone("UTC+9", 9*3600))}, []int{3, 2}},
			{"everything combined", events.Filter{Type: api.EventLoginSucceeded, UserID: Bob, Since: base, Until: base.Add(time.Hour)}, []int{4}},
			{"empty window", events.Filter{Since: base.Add(time.Hour)}, nil},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, total := list(t, s, c.f)
				if total != len(c.want) {
					t.Errorf("total = %d, want %d", total, len(c.want))
				}
				wantIDs(t, got, c.want...)
			})
		}
	})

	t.Run("pagination", func(t *testing.T) {
		s := newStore(t)
		var all []events.Event
		for n := 1; n <= 7; n++ {
			all = append(all, fixture(n, api.EventTokenIssued, Alice, Alice, base.Add(time.Duration(n)*time.Minute)))
		}
		// Three events share one instant so page boundaries fall inside a tie.
		for n := 8; n <= 10; n++ {
			all = append(all, fixture(n, api.EventTokenIssued, Alice, Alice, base.Add(4*time.Minute)))
		}
		appendAll(t, s, all...)
		var seen []string
		for page := 1; page <= 4; page++ {
			got, total := list(t, s, events.Filter{UserID: Alice, Page: page, PerPage: 3})
			if total != 10 {
				t.Fatalf("page %d: total = %d, want 10", page, total)
			}
			wantLen := 3
			if page == 4 {
				wantLen = 1
			}
			if len(got) != wantLen {
				t.Fatalf("page %d: %d events, want %d", page, len(got), wantLen)
			}
			for _, e := range got {
				seen = append(seen, e.ID)
			}
		}
		want := []string{ID(7), ID(6), ID(5), ID(10), ID(9), ID(8), ID(4), ID(3), ID(2), ID(1)}
		if !slices.Equal(seen, want) {
			t.Fatalf("pages together = %v\nwant %v", seen, want)
		}
		got, total := list(t, s, events.Filter{Page: 5, PerPage: 3})
		if len(got) != 0 || total != 10 {
			t.Fatalf("page past the end = %d events, total %d; want none, total 10", len(got), total)
		}
	})
}

func fixture(n int, typ, actor, subject string, at time.Time) events.Event {
	outcome := api.OutcomeSuccess
	if typ == api.EventLoginFailed {
		outcome = api.OutcomeFailure
	}
	return events.Event{ID: ID(n), Type: typ, Outcome: outcome, ActorID: actor, SubjectUserID: subject, IP: "192.0.2.1", UserAgent: "eventstest", RequestID: fmt.Sprintf("req-%d", n), CreatedAt: at}
}

func appendAll(t *testing.T, s events.Store, evs ...events.Event) {
	t.Helper()
	for _, e := range evs {
		if err := s.Append(context.Background(), e); err != nil {
			t.Fatalf("Append %s: %v", e.ID, err)
		}
	}
}

// list normalizes f as the Recorder does, then lists.
func list(t *testing.T, s events.Store, f events.Filter) ([]events.Event, int) {
	t.Helper()
	nf, err := f.Normalize()
	if err != nil {
		t.Fatalf("Normalize(%+v): %v", f, err)
	}
	got, total, err := s.List(context.Background(), nf)
	if err != nil {
		t.Fatalf("List(%+v): %v", nf, err)
	}
	return got, total
}

func wantIDs(t *testing.T, got []events.Event, want ...int) {
	t.Helper()
	gotIDs := make([]string, 0, len(got))
	for _, e := range got {
		gotIDs = append(gotIDs, e.ID)
	}
	wantIDs := make([]string, 0, len(want))
	for _, n := range want {
		wantIDs = append(wantIDs, ID(n))
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("ids = %v\nwant %v", gotIDs, wantIDs)
	}
}

func assertEvent(t *testing.T, got, want events.Event) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if len(got.Details) == 0 && len(want.Details) == 0 {
		got.Details, want.Details = nil, nil
	}
	got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("event = %#v\nwant    %#v", got, want)
	}
}
