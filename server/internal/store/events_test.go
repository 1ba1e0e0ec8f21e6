package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/events"
	"gatehouse/server/internal/events/eventstest"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

// TestEventStore runs the events.Store contract on both dialects: append and round trip of
// every field and of nested details, filters by type, by user as actor or subject and by
// since/until, pagination with total, newest-first ordering with the id tie-break, and that an
// existing ID is never overwritten. The fixture users exist in no users table: events are not
// tied to accounts by a foreign key.
func TestEventStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		eventstest.ExerciseStore(t, func(t *testing.T) events.Store { return migrated(t, dialect).Events() })
	})
}

// SEC-54: the log is append-only in the database too. A raw UPDATE or DELETE (a bug, or SQL
// injected elsewhere) is refused by the table's triggers, and the row stays as it was.
func TestEventStoreRefusesUpdateAndDeleteInSQL(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migrated(t, dialect)
		e := events.Event{
			ID: eventstest.ID(1), Type: api.EventLoginFailed, Outcome: api.OutcomeFailure,
			SubjectUserID: eventstest.Alice, IP: "192.0.2.1", CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC),
		}
		if err := db.Events().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		statements := []string{
			"UPDATE security_events SET outcome = 'success', type = 'login.succeeded'",
			"UPDATE security_events SET details = '{}' WHERE id = '" + e.ID + "'",
			"DELETE FROM security_events",
			"DELETE FROM security_events WHERE id = '" + e.ID + "'",
		}
		if dialect == testenv.Postgres {
			statements = append(statements, "TRUNCATE security_events")
		}
		for _, stmt := range statements {
			_, err := db.SQL().ExecContext(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want the append-only trigger to refuse it", stmt, err)
			}
		}
		// GORM's own update and delete paths end in the same statements.
		g := store.GormForTest(db).WithContext(ctx)
		if err := g.Table("security_events").Where("id = ?", e.ID).Update("ip", "10.0.0.1").Error; err == nil {
			t.Error("GORM update succeeded")
		}
		if err := g.Exec("DELETE FROM security_events WHERE id = ?", e.ID).Error; err == nil {
			t.Error("GORM delete succeeded")
		}

		got, total, err := db.Events().List(ctx, events.Filter{Page: 1, PerPage: 10})
		if err != nil || total != 1 || len(got) != 1 {
			t.Fatalf("after refused changes: %d events, total %d, %v; want the 1 original", len(got), total, err)
		}
		if !reflect.DeepEqual(got[0], e) {
			t.Fatalf("event changed:\n%#v\nwant %#v", got[0], e)
		}
		// Appending still works after the refusals.
		e2 := e
		e2.ID = eventstest.ID(2)
		if err := db.Events().Append(ctx, e2); err != nil {
			t.Fatalf("append after refusals: %v", err)
		}
	})
}

// The recorder on a real database: what a service records is what an admin lists, including
// hostile client strings that PostgreSQL would refuse if they reached it raw (invalid UTF-8,
// NUL), and details carrying a NUL escape.
func TestRecorderOnDatabase(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migrated(t, dialect)
		now := time.Date(2025, 7, 8, 9, 10, 11, 987654321, time.UTC)
		rec := events.New(db.Events(), events.Options{Now: func() time.Time { return now }})
		err := rec.Record(ctx, events.Event{
			Type: api.EventTokenRefreshReused, Outcome: api.OutcomeFailure,
			ActorID: strings.ToUpper(eventstest.Alice), SubjectUserID: eventstest.Alice,
			IP: "2001:db8::7", UserAgent: "bad\xff\x00agent", RequestID: "req-42",
			Details: map[string]any{"family_id": "fam-1", "revoked_sessions": 3, "note": "nul\x00byte", "refresh_token": "rt-secret"},
		})
		if err != nil {
			t.Fatalf("Record: %v", err)
		}
		got, total, err := rec.List(ctx, events.Filter{UserID: eventstest.Alice, Type: api.EventTokenRefreshReused})
		if err != nil || total != 1 || len(got) != 1 {
			t.Fatalf("List = %d events, total %d, %v", len(got), total, err)
		}
		e := got[0]
		want := events.Event{
			ID: e.ID, Type: api.EventTokenRefreshReused, Outcome: api.OutcomeFailure,
			ActorID: eventstest.Alice, SubjectUserID: eventstest.Alice,
			IP: "2001:db8::7", UserAgent: "bad\uFFFDagent", RequestID: "req-42",
			Details: map[string]any{
				"family_id": "fam-1", "revoked_sessions": float64(3), "note": "nul\x00byte",
				events.RedactedKeysDetail: []any{"refresh_token"},
			},
			CreatedAt: time.Date(2025, 7, 8, 9, 10, 11, 987654000, time.UTC),
		}
		if !reflect.DeepEqual(e, want) {
			t.Fatalf("listed %#v\nwant   %#v", e, want)
		}
	})
}
