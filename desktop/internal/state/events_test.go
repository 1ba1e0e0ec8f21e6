package state_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func seedEvents(f *fakeapi.API, subject api.User, n int) {
	for i := range n {
		typ := api.EventLoginSucceeded
		if i%3 == 0 {
			typ = api.EventLoginFailed
		}
		f.AddEvent(api.SecurityEvent{Type: typ, Outcome: api.OutcomeSuccess, SubjectUserID: subject.ID, ActorID: subject.ID, IP: "192.0.2.9", CreatedAt: t0.Add(-time.Duration(i) * time.Minute)})
	}
}

func TestEventsFilterResolvesEmailAndNames(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	seedEvents(f, alice, 30)
	f.AddEvent(api.SecurityEvent{Type: api.EventLogout, CreatedAt: t0})
	signedIn(t, f, adminEmail, adminPass)
	e := state.NewEvents(f, f)
	ctx := context.Background()
	if err := e.Apply(ctx, state.EventFilter{User: " ALICE@example.com "}); err != nil {
		t.Fatal(err)
	}
	if !f.Called("ListEvents", "", alice.ID, "1") {
		t.Fatalf("the email becomes the user ID: %v", f.Calls())
	}
	if p := e.Page(); p.Total != 30 || len(e.Rows()) != 25 {
		t.Fatalf("page %+v", p)
	}
	cells := e.EventCells(e.Rows()[0])
	if cells[3] != "alice@example.com" || cells[4] != "alice@example.com" || cells[2] != "Success" {
		t.Fatalf("cells %q", cells)
	}
	if err := e.Next(ctx); err != nil || len(e.Rows()) != 5 {
		t.Fatalf("next: %v %d", err, len(e.Rows()))
	}
	// Names are looked up once, not per page.
	lookups := 0
	for _, c := range f.Calls() {
		if c.Method == "GetUser" {
			lookups++
		}
	}
	if lookups != 0 {
		t.Fatalf("alice was resolved from the filter; lookups %d", lookups)
	}
	if err := e.Apply(ctx, state.EventFilter{Type: api.EventLoginFailed}); err != nil {
		t.Fatal(err)
	}
	if e.Page().Total != 10 {
		t.Fatalf("type filter: %+v", e.Page())
	}
}

func TestEventsFilterErrors(t *testing.T) {
	f := newFake()
	signedIn(t, f, adminEmail, adminPass)
	e := state.NewEvents(f, f)
	ctx := context.Background()
	if err := e.Apply(ctx, state.EventFilter{User: "ghost@example.com"}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("unknown email: %v", err)
	}
	if err := e.Apply(ctx, state.EventFilter{Since: t0, Until: t0.Add(-time.Hour)}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("reversed range: %v", err)
	}
	for _, m := range f.Methods() {
		if m == "ListEvents" {
			t.Fatal("no list for a bad filter")
		}
	}
}

func TestEventsTimeRange(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	seedEvents(f, alice, 120) // one a minute for two hours
	signedIn(t, f, adminEmail, adminPass)
	e := state.NewEvents(f, f)
	since, until := state.RangeBounds(state.RangeHour, t0)
	if err := e.Apply(context.Background(), state.EventFilter{Since: since, Until: until}); err != nil {
		t.Fatal(err)
	}
	if e.Page().Total != 61 {
		t.Fatalf("last hour: %d", e.Page().Total)
	}
	if s, u := state.RangeBounds(state.RangeAll, t0); !s.IsZero() || !u.IsZero() {
		t.Fatal("all time is open")
	}
}

func TestParseTime(t *testing.T) {
	got, err := state.ParseTime("since", "2026-01-31 14:05")
	if err != nil || got.Hour() != 14 || got.Location() != time.Local {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := state.ParseTime("since", ""); err != nil || !got.IsZero() {
		t.Fatal("empty is open")
	}
	if _, err := state.ParseTime("since", "2026-01-31T14:05:00Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := state.ParseTime("until", "yesterday"); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatal(err)
	}
}

func TestEventsExportFetchesEveryPage(t *testing.T) {
	f := newFake()
	alice := f.AddUser("alice@example.com", "Alice", "long enough password", api.RoleUser)
	seedEvents(f, alice, 230)
	signedIn(t, f, adminEmail, adminPass)
	e := state.NewEvents(f, f)
	if err := e.Apply(context.Background(), state.EventFilter{}); err != nil {
		t.Fatal(err)
	}
	all, err := e.Export(context.Background())
	if err != nil || len(all) != 230 {
		t.Fatalf("%d %v", len(all), err)
	}
	if !f.Called("ListEvents", "", "", "3") || f.Called("ListEvents", "", "", "4") {
		t.Fatalf("pages: %v", f.Calls())
	}
	var buf bytes.Buffer
	if err := state.WriteEventsCSV(&buf, all, e.Name); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 231 || recs[1][4] != "alice@example.com" {
		t.Fatalf("%d %v %q", len(recs), err, recs[1])
	}
}

func TestWriteEventsCSV(t *testing.T) {
	evs := []api.SecurityEvent{
		{ID: "e1", Type: api.EventLoginFailed, Outcome: api.OutcomeFailure, SubjectUserID: "u1", IP: "192.0.2.1",
			UserAgent: `=HYPERLINK("http://evil.example")`, RequestID: "r1", CreatedAt: t0,
			Details: map[string]any{"reason": "bad password, \"twice\"", "n": 2}},
		{ID: "e2", Type: api.EventLogout, Outcome: api.OutcomeSuccess, ActorID: "u2", UserAgent: "+cmd", CreatedAt: t0.Add(time.Second)},
	}
	var buf bytes.Buffer
	names := func(id string) string {
		if id == "u1" {
			return "alice@example.com"
		}
		return id
	}
	if err := state.WriteEventsCSV(&buf, evs, names); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(state.CSVHeader(), ",") {
		t.Fatalf("header %q", recs[0])
	}
	r1 := recs[1]
	if r1[0] != "2026-03-01T12:00:00Z" || r1[1] != "login.failed" || r1[5] != "u1" || r1[6] != "alice@example.com" {
		t.Fatalf("row %q", r1)
	}
	if r1[8] != `'=HYPERLINK("http://evil.example")` || recs[2][8] != "'+cmd" {
		t.Fatalf("formula injection not neutralised: %q %q", r1[8], recs[2][8])
	}
	if r1[10] != `{"n":2,"reason":"bad password, \"twice\""}` {
		t.Fatalf("details %q", r1[10])
	}
	if recs[2][4] != "" {
		t.Fatalf("unknown names stay empty: %q", recs[2])
	}
	if got := state.ExportFileName(t0); got != "gatehouse-events-20260301-120000.csv" {
		t.Fatal(got)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestWriteEventsCSVReportsWriteErrors(t *testing.T) {
	evs := make([]api.SecurityEvent, 500)
	if err := state.WriteEventsCSV(failWriter{}, evs, nil); err == nil {
		t.Fatal("a failed write is an error")
	}
}
