package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/events/eventstest"
	"gatehouse/shared/api"
)

// The fake must keep the same contract as the database store, or the tests below prove
// nothing about production.
func TestFakeStoreContract(t *testing.T) {
	eventstest.ExerciseStore(t, func(*testing.T) events.Store { return &fakeStore{} })
}

type fixture struct {
	store *fakeStore
	rec   *events.Recorder
	reg   *prometheus.Registry
	clock *clocktest.Clock
}

func newFixture(t *testing.T, o events.Options) fixture {
	t.Helper()
	// Nanoseconds and a zone, to show that Record truncates and converts them.
	c := clocktest.New(time.Date(2025, 6, 1, 12, 30, 45, 123456789, time.FixedZone("CEST", 2*3600)))
	if o.Now == nil {
		o.Now = c.Now
	}
	s := &fakeStore{}
	rec := events.New(s, o)
	reg := prometheus.NewPedanticRegistry()
	if err := rec.Register(reg); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return fixture{store: s, rec: rec, reg: reg, clock: c}
}

func (f fixture) only(t *testing.T) events.Event {
	t.Helper()
	all := f.store.all()
	if len(all) != 1 {
		t.Fatalf("store holds %d events, want 1", len(all))
	}
	return all[0]
}

const (
	alice = "6f1c2a9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
	bob   = "1b2c3d4e-5f60-4718-89ab-cdef01234567"
)

// SEC-54: time, actor, IP, user agent, outcome and request ID are all recorded.
func TestRecordKeepsSEC54Fields(t *testing.T) {
	f := newFixture(t, events.Options{})
	err := f.rec.Record(context.Background(), events.Event{
		Type:          api.EventUserRolesChanged,
		Outcome:       api.OutcomeSuccess,
		ActorID:       alice,
		SubjectUserID: bob,
		IP:            "203.0.113.7",
		UserAgent:     "gatehouse-console/1.0",
		RequestID:     "01J0REQUESTID",
		Details:       map[string]any{"before": []any{"user"}, "after": []any{"user", "support"}},
	})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	got := f.only(t)
	want := events.Event{
		ID:            got.ID,
		Type:          api.EventUserRolesChanged,
		Outcome:       api.OutcomeSuccess,
		ActorID:       alice,
		SubjectUserID: bob,
		IP:            "203.0.113.7",
		UserAgent:     "gatehouse-console/1.0",
		RequestID:     "01J0REQUESTID",
		Details:       map[string]any{"before": []any{"user"}, "after": []any{"user", "support"}},
		CreatedAt:     time.Date(2025, 6, 1, 10, 30, 45, 123456000, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored %#v\nwant   %#v", got, want)
	}
}

func TestRecordSetsIDAndTime(t *testing.T) {
	f := newFixture(t, events.Options{})
	forgedTime := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 2 {
		// Callers cannot choose the identity or the time of an event.
		if err := f.rec.Record(context.Background(), events.Event{ID: "chosen-by-caller", Type: api.EventLogout, Outcome: api.OutcomeSuccess, CreatedAt: forgedTime}); err != nil {
			t.Fatalf("Record: %v", err)
		}
	}
	all := f.store.all()
	if all[0].ID == all[1].ID {
		t.Fatalf("two events share ID %s", all[0].ID)
	}
	for _, e := range all {
		id, err := uuid.Parse(e.ID)
		if err != nil || id.Version() != 4 || id.String() != e.ID {
			t.Errorf("ID %q is not a canonical v4 UUID (%v)", e.ID, err)
		}
		want := time.Date(2025, 6, 1, 10, 30, 45, 123456000, time.UTC)
		if !e.CreatedAt.Equal(want) || e.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v (clock in UTC, truncated to the microsecond)", e.CreatedAt, want)
		}
	}
}

func TestRecordTakesRequestIDFromContext(t *testing.T) {
	type key struct{}
	f := newFixture(t, events.Options{RequestID: func(ctx context.Context) string {
		s, _ := ctx.Value(key{}).(string)
		return s
	}})
	ctx := context.WithValue(context.Background(), key{}, "from-context")
	if err := f.rec.Record(ctx, events.Event{Type: api.EventLogout, Outcome: api.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if err := f.rec.Record(ctx, events.Event{Type: api.EventLogout, Outcome: api.OutcomeSuccess, RequestID: "explicit"}); err != nil {
		t.Fatal(err)
	}
	all := f.store.all()
	if all[0].RequestID != "from-context" || all[1].RequestID != "explicit" {
		t.Fatalf("request IDs = %q, %q; want from-context, explicit", all[0].RequestID, all[1].RequestID)
	}
}

func TestRecordRefusesInvalidEvents(t *testing.T) {
	ok := events.Event{Type: api.EventLoginFailed, Outcome: api.OutcomeFailure}
	with := func(mod func(*events.Event)) events.Event {
		e := ok
		mod(&e)
		return e
	}
	cases := map[string]events.Event{
		"empty type":          with(func(e *events.Event) { e.Type = "" }),
		"upper-case type":     with(func(e *events.Event) { e.Type = "Login.Failed" }),
		"type with spaces":    with(func(e *events.Event) { e.Type = "login failed" }),
		"type with a newline": with(func(e *events.Event) { e.Type = "login.failed\nforged" }),
		"overlong type":       with(func(e *events.Event) { e.Type = strings.Repeat("a", 65) }),
		"empty outcome":       with(func(e *events.Event) { e.Outcome = "" }),
		"unknown outcome":     with(func(e *events.Event) { e.Outcome = "maybe" }),
		"actor not a UUID":    with(func(e *events.Event) { e.ActorID = "admin" }),
		"subject not a UUID":  with(func(e *events.Event) { e.SubjectUserID = "alice@example.com" }),
		"details not JSON":    with(func(e *events.Event) { e.Details = map[string]any{"ch": make(chan int)} }),
		"details with NaN":    with(func(e *events.Event) { e.Details = map[string]any{"ratio": math.NaN()} }),
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, events.Options{})
			err := f.rec.Record(context.Background(), e)
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("Record: err = %v, want ErrInvalidEvent", err)
			}
			if n := len(f.store.all()); n != 0 {
				t.Fatalf("%d events stored for a refused event", n)
			}
			if got := recordErrors(t, f.reg); got != 1 {
				t.Errorf("record errors = %v, want 1", got)
			}
			if n := testutil.CollectAndCount(f.reg, "gatehouse_security_events_total"); n != 0 {
				t.Errorf("a refused event was counted as recorded (%d series)", n)
			}
		})
	}
}

func TestRecordAcceptsEveryDefinedTypeAndOutcome(t *testing.T) {
	f := newFixture(t, events.Options{})
	for _, typ := range api.EventTypes() {
		for _, outcome := range api.Outcomes() {
			if err := f.rec.Record(context.Background(), events.Event{Type: typ, Outcome: outcome}); err != nil {
				t.Errorf("Record(%s, %s): %v", typ, outcome, err)
			}
		}
	}
}

// PostgreSQL compares UUIDs by value, SQLite compares text: both must see one spelling.
func TestRecordCanonicalisesUserIDs(t *testing.T) {
	f := newFixture(t, events.Options{})
	err := f.rec.Record(context.Background(), events.Event{
		Type: api.EventSessionRevoked, Outcome: api.OutcomeSuccess,
		ActorID: strings.ToUpper(alice), SubjectUserID: "urn:uuid:" + bob,
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := f.only(t); e.ActorID != alice || e.SubjectUserID != bob {
		t.Fatalf("actor %q subject %q; want %q %q", e.ActorID, e.SubjectUserID, alice, bob)
	}
	got, total, err := f.rec.List(context.Background(), events.Filter{UserID: strings.ToUpper(bob)})
	if err != nil || total != 1 || len(got) != 1 {
		t.Fatalf("List by upper-case user = %d events, total %d, %v; want 1", len(got), total, err)
	}
}

// The user agent is whatever the client sends: it must not be able to break the write
// (PostgreSQL refuses invalid UTF-8 and NUL in TEXT) or forge lines where events are shown.
func TestRecordCleansClientStrings(t *testing.T) {
	f := newFixture(t, events.Options{})
	ua := "evil\x00agent\r\nX-Forged: yes\xff\xfe" + strings.Repeat("é", 400)
	err := f.rec.Record(context.Background(), events.Event{
		Type: api.EventLoginFailed, Outcome: api.OutcomeFailure,
		IP: "198.51.100.9", UserAgent: ua, RequestID: "id\twith\ttabs",
	})
	if err != nil {
		t.Fatal(err)
	}
	e := f.only(t)
	if !utf8.ValidString(e.UserAgent) || strings.ContainsAny(e.UserAgent, "\x00\r\n") {
		t.Fatalf("user agent not cleaned: %q", e.UserAgent)
	}
	if !strings.HasPrefix(e.UserAgent, "evilagentX-Forged: yes\uFFFD") {
		t.Fatalf("user agent = %q…", e.UserAgent[:40])
	}
	if len(e.UserAgent) > 512 || len(e.UserAgent) < 500 {
		t.Fatalf("user agent is %d bytes, want cut to at most 512", len(e.UserAgent))
	}
	if e.RequestID != "idwithtabs" || e.IP != "198.51.100.9" {
		t.Fatalf("request ID %q, IP %q", e.RequestID, e.IP)
	}
}

func TestSensitiveKey(t *testing.T) { // SEC-18
	for _, k := range []string{
		"password", "new_password", "Password", "currentPassword", "passphrase", "master_passphrase",
		"token", "refresh_token", "AccessToken", "X-CSRF-Token", "id_token_hint",
		"secret", "client_secret", "totp_secret", "code", "totpCode", "recovery_codes", "authorization_code",
		"cookie", "Set-Cookie", "Authorization", "proxy-authorization",
	} {
		if !events.SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = false, want true", k)
		}
	}
	for _, k := range []string{"reason", "email", "session_id", "family_id", "roles", "ip", "attempts", "status", "kid"} {
		if events.SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = true, want false", k)
		}
	}
}

// SEC-18: details never carry credentials. Sensitive keys are stripped at any depth (not
// refused: the event matters more than the detail), and the stripped paths are recorded.
func TestRecordStripsSecretDetails(t *testing.T) {
	f := newFixture(t, events.Options{})
	const secret = "hunter2-SECRET-VALUE"
	err := f.rec.Record(context.Background(), events.Event{
		Type: api.EventPasswordChanged, Outcome: api.OutcomeSuccess, SubjectUserID: alice,
		Details: map[string]any{
			"reason":        "user request",
			"new_password":  secret,
			"Refresh_Token": secret,
			"client": map[string]any{
				"name":          "cli",
				"client_secret": secret,
				"headers":       map[string]any{"Authorization": "Bearer " + secret, "Cookie": secret, "Accept": "json"},
			},
			"factors": []any{
				map[string]any{"kind": "totp", "totpCode": secret},
				map[string]any{"kind": "sms", "code": secret},
			},
		},
	})
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	e := f.only(t)
	raw, err := json.Marshal(e.API())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), secret) {
		t.Fatalf("a secret reached the store: %s", raw)
	}
	want := map[string]any{
		"reason": "user request",
		"client": map[string]any{"name": "cli", "headers": map[string]any{"Accept": "json"}},
		"factors": []any{
			map[string]any{"kind": "totp"},
			map[string]any{"kind": "sms"},
		},
		events.RedactedKeysDetail: []any{
			"Refresh_Token", "client.client_secret", "client.headers.Authorization", "client.headers.Cookie",
			"factors.code", "factors.totpCode", "new_password",
		},
	}
	if !reflect.DeepEqual(e.Details, want) {
		t.Fatalf("details = %#v\nwant      %#v", e.Details, want)
	}
}

func TestRecordCopiesDetails(t *testing.T) {
	f := newFixture(t, events.Options{})
	details := map[string]any{"roles": []any{"user"}, "n": 1}
	if err := f.rec.Record(context.Background(), events.Event{Type: api.EventUserUpdated, Outcome: api.OutcomeSuccess, Details: details}); err != nil {
		t.Fatal(err)
	}
	details["roles"].([]any)[0] = "admin"
	details["added"] = true
	got := f.only(t).Details
	if !reflect.DeepEqual(got, map[string]any{"roles": []any{"user"}, "n": float64(1)}) {
		t.Fatalf("stored details changed with the caller's map, or were not normalised to JSON types: %#v", got)
	}
}

func TestRecordCountsMetrics(t *testing.T) {
	f := newFixture(t, events.Options{})
	ctx := context.Background()
	record := func(typ, outcome string) {
		t.Helper()
		if err := f.rec.Record(ctx, events.Event{Type: typ, Outcome: outcome}); err != nil {
			t.Fatal(err)
		}
	}
	record(api.EventLoginFailed, api.OutcomeFailure)
	record(api.EventLoginFailed, api.OutcomeFailure)
	record(api.EventLoginSucceeded, api.OutcomeSuccess)
	record(api.EventUserRolesChanged, api.OutcomeDenied)
	f.store.failAppend = errDatabaseDown
	if err := f.rec.Record(ctx, events.Event{Type: api.EventLogout, Outcome: api.OutcomeSuccess}); !errors.Is(err, errDatabaseDown) {
		t.Fatalf("Record with a failing store: err = %v, want it wrapped", err)
	}
	const want = `
# HELP gatehouse_security_events_total Security events recorded, by type and outcome.
# TYPE gatehouse_security_events_total counter
gatehouse_security_events_total{outcome="denied",type="user.roles_changed"} 1
gatehouse_security_events_total{outcome="failure",type="login.failed"} 2
gatehouse_security_events_total{outcome="success",type="login.succeeded"} 1
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "gatehouse_security_events_total"); err != nil {
		t.Fatal(err)
	}
	if got := recordErrors(t, f.reg); got != 1 {
		t.Fatalf("record errors = %v, want 1", got)
	}
	if err := f.rec.Register(prometheus.NewRegistry()); err != nil {
		t.Fatalf("Register on a second registry: %v", err)
	}
	if err := f.rec.Register(f.reg); err == nil {
		t.Fatal("registering twice on one registry succeeded")
	}
}

// A client that hangs up right after a failed login must not keep the failure out of the log.
func TestRecordSurvivesCancelledRequest(t *testing.T) {
	f := newFixture(t, events.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.rec.Record(ctx, events.Event{Type: api.EventLoginFailed, Outcome: api.OutcomeFailure}); err != nil {
		t.Fatalf("Record with a cancelled context: %v", err)
	}
	f.only(t)
}

func TestListNormalizesTheFilter(t *testing.T) {
	f := newFixture(t, events.Options{})
	since := time.Date(2025, 1, 1, 0, 0, 0, 1, time.FixedZone("X", 3600))
	cases := []struct {
		in   events.Filter
		want events.Filter
	}{
		{events.Filter{}, events.Filter{Page: 1, PerPage: events.DefaultPerPage}},
		{events.Filter{Page: -3, PerPage: -1}, events.Filter{Page: 1, PerPage: events.DefaultPerPage}},
		{events.Filter{Page: 2, PerPage: 10_000}, events.Filter{Page: 2, PerPage: events.MaxPerPage}},
		{events.Filter{Page: 3, PerPage: 7, Type: api.EventLogout}, events.Filter{Page: 3, PerPage: 7, Type: api.EventLogout}},
		{
			events.Filter{UserID: "{" + strings.ToUpper(alice) + "}", Since: since, Until: since.Add(time.Hour)},
			events.Filter{UserID: alice, Since: time.Date(2024, 12, 31, 23, 0, 0, 1000, time.UTC), Until: time.Date(2025, 1, 1, 0, 0, 0, 1000, time.UTC), Page: 1, PerPage: events.DefaultPerPage},
		},
	}
	for _, c := range cases {
		if _, _, err := f.rec.List(context.Background(), c.in); err != nil {
			t.Fatalf("List(%+v): %v", c.in, err)
		}
		got := f.store.lastFilter
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("store saw %+v\nwant      %+v", got, c.want)
		}
		again, err := got.Normalize()
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("Normalize is not idempotent: %+v -> %+v (%v)", got, again, err)
		}
	}
}

func TestListRefusesInvalidFilters(t *testing.T) {
	f := newFixture(t, events.Options{})
	now := time.Now()
	for name, flt := range map[string]events.Filter{
		"user not a UUID":   {UserID: "alice"},
		"malformed type":    {Type: "DROP TABLE"},
		"since after until": {Since: now, Until: now.Add(-time.Second)},
		"page out of range": {Page: math.MaxInt, PerPage: 200},
	} {
		if _, _, err := f.rec.List(context.Background(), flt); !errors.Is(err, events.ErrInvalidFilter) {
			t.Errorf("%s: err = %v, want ErrInvalidFilter", name, err)
		}
	}
}

func TestListReturnsNewestFirst(t *testing.T) {
	f := newFixture(t, events.Options{})
	for i := range 5 {
		f.clock.Advance(time.Duration(i) * time.Second)
		if err := f.rec.Record(context.Background(), events.Event{Type: api.EventTokenIssued, Outcome: api.OutcomeSuccess, SubjectUserID: alice}); err != nil {
			t.Fatal(err)
		}
	}
	got, total, err := f.rec.List(context.Background(), events.Filter{UserID: alice, PerPage: 2, Page: 2})
	if err != nil || total != 5 || len(got) != 2 {
		t.Fatalf("List = %d events, total %d, %v", len(got), total, err)
	}
	all := f.store.all()
	if got[0].ID != all[2].ID || got[1].ID != all[1].ID {
		t.Fatalf("page 2 = %s, %s; want the 3rd and 2nd recorded", got[0].ID, got[1].ID)
	}
}

// SEC-54: the log is append-only through the API. The recorder and the Store it needs offer
// no way to change or remove an event; a new method here must be a deliberate decision.
func TestNoUpdateOrDelete(t *testing.T) {
	methods := func(typ reflect.Type) []string {
		var names []string
		for i := range typ.NumMethod() {
			names = append(names, typ.Method(i).Name)
		}
		slices.Sort(names)
		return names
	}
	if got := methods(reflect.TypeFor[*events.Recorder]()); !slices.Equal(got, []string{"List", "Record", "Register"}) {
		t.Errorf("Recorder methods = %v", got)
	}
	if got := methods(reflect.TypeFor[events.Store]()); !slices.Equal(got, []string{"Append", "List"}) {
		t.Errorf("Store methods = %v", got)
	}
}

func TestEventAPI(t *testing.T) {
	at := time.Date(2025, 6, 1, 10, 0, 0, 5000, time.UTC)
	e := events.Event{
		ID: "id", Type: api.EventLogout, Outcome: api.OutcomeSuccess, ActorID: alice, SubjectUserID: bob,
		IP: "ip", UserAgent: "ua", RequestID: "rid", Details: map[string]any{"k": "v"}, CreatedAt: at,
	}
	raw, err := json.Marshal(e.API())
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"id","type":"logout","outcome":"success","actor_id":"` + alice + `","subject_user_id":"` + bob +
		`","ip":"ip","user_agent":"ua","request_id":"rid","details":{"k":"v"},"created_at":"2025-06-01T10:00:00.000005Z"}`
	if string(raw) != want {
		t.Fatalf("JSON = %s\nwant   %s", raw, want)
	}
}

// recordErrors reads gatehouse_security_events_record_errors_total from reg.
func recordErrors(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "gatehouse_security_events_record_errors_total" && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("gatehouse_security_events_record_errors_total not registered")
	return 0
}
