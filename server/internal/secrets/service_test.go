package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
)

func apiCode(err error) api.Code {
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

func TestValidateName(t *testing.T) {
	good := []string{"a", "billing/prod/db-password", "A.b_c-d/9", strings.Repeat("a", 512), "x/value-1", "value/x"}
	for _, n := range good {
		if err := secrets.ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q): %v", n, err)
		}
	}
	bad := []string{"", "/a", "a/", "a//b", "a/../b", "..", ".", "a/./b", "a b", "a/b?", "ä", strings.Repeat("a", 513),
		"app/value", "app/versions", "app/rotate", "app/rotation", "app/audit", "app/rollback", "app/restore", "a\x00b", "a\\b"}
	for _, n := range bad {
		err := secrets.ValidateName(n)
		if !errors.Is(err, secrets.ErrInvalidName) {
			t.Errorf("ValidateName(%.40q) = %v, want ErrInvalidName", n, err)
		}
	}
}

func TestSplitSubresource(t *testing.T) {
	for in, want := range map[string][2]string{
		"billing/db/value":    {"billing/db", "value"},
		"billing/db":          {"billing/db", ""},
		"db/versions":         {"db", "versions"},
		"a/b/c/rollback":      {"a/b/c", "rollback"},
		"value":               {"value", ""},
		"billing/value-x/foo": {"billing/value-x/foo", ""},
	} {
		n, sub := secrets.SplitSubresource(in)
		if n != want[0] || sub != want[1] {
			t.Errorf("SplitSubresource(%q) = %q, %q; want %v", in, n, sub, want)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"billing/*", "billing/db", true},
		{"billing/*", "billing/prod/db", false},
		{"billing/**", "billing/prod/db", true},
		{"billing/**", "billing/db", true},
		{"billing/**", "billing", true},
		{"billing/**", "billingx/db", false},
		{"**", "anything/at/all", true},
		{"billing/*/db-*", "billing/prod/db-password", true},
		{"billing/*/db-*", "billing/prod/api-key", false},
		{"**/db", "a/b/db", true},
		{"**/db", "a/b/dbx", false},
		{"app-?", "app-1", true},
		{"billing", "billing/db", false},
	} {
		if err := secrets.ValidatePattern(c.pattern); err != nil {
			t.Fatalf("ValidatePattern(%q): %v", c.pattern, err)
		}
		if got := secrets.MatchPattern(c.pattern, c.name); got != c.want {
			t.Errorf("MatchPattern(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
	for _, p := range []string{"", "a//b", "a/**b", "a/[", "../x"} {
		if err := secrets.ValidatePattern(p); err == nil {
			t.Errorf("ValidatePattern(%q) accepted", p)
		}
	}
}

// Versions, stages and rollback, on both dialects.
func TestVersionsStagesRollback(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		sec := f.create(t, "billing/prod/db-password", "one")
		if sec.CurrentVersion != 1 || sec.Backend != secrets.KindDB {
			t.Fatalf("created: %+v", sec)
		}
		for _, v := range []string{"two", "three"} {
			if _, err := f.svc.Update(ctx, admin, sec.Name, secrets.UpdateRequest{Value: []byte(v)}); err != nil {
				t.Fatal(err)
			}
		}
		if v, n := f.read(t, admin, sec.Name, 0); v != "three" || n != 3 {
			t.Fatalf("current = %q v%d", v, n)
		}
		if v, _ := f.read(t, admin, sec.Name, 1); v != "one" {
			t.Fatalf("v1 = %q", v)
		}
		stages := func() map[int]string {
			vs, err := f.svc.Versions(ctx, admin, sec.Name)
			if err != nil {
				t.Fatal(err)
			}
			out := map[int]string{}
			for _, v := range vs {
				out[v.Version] = v.Stage
				if v.CreatedBy != admin.Ref() || v.BackendRef == "" {
					t.Fatalf("version %+v", v)
				}
			}
			return out
		}
		if got := stages(); got[1] != "" || got[2] != secrets.StagePrevious || got[3] != secrets.StageCurrent {
			t.Fatalf("stages = %v", got)
		}
		rb, err := f.svc.Rollback(ctx, admin, sec.Name, 1)
		if err != nil || rb.Version != 4 {
			t.Fatalf("rollback: %+v %v", rb, err)
		}
		if v, n := f.read(t, admin, sec.Name, 0); v != "one" || n != 4 {
			t.Fatalf("after rollback current = %q v%d", v, n)
		}
		if got := stages(); got[3] != secrets.StagePrevious || got[4] != secrets.StageCurrent || len(got) != 4 {
			t.Fatalf("stages after rollback = %v", got)
		}
		if _, err := f.svc.Rollback(ctx, admin, sec.Name, 99); !errors.Is(err, secrets.ErrVersionNotFound) {
			t.Fatalf("rollback to unknown version: %v", err)
		}
		if _, err := f.svc.Value(ctx, admin, sec.Name, 99); !errors.Is(err, secrets.ErrVersionNotFound) {
			t.Fatalf("unknown version: %v", err)
		}
		if _, err := f.svc.Value(ctx, admin, "billing/none", 0); !errors.Is(err, secrets.ErrSecretNotFound) {
			t.Fatalf("unknown secret: %v", err)
		}
		if _, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: sec.Name, Value: []byte("x")}); !errors.Is(err, secrets.ErrSecretExists) {
			t.Fatalf("duplicate: %v", err)
		}
	})
}

// Concurrent writers of one secret lose no version: every write gets its own number and
// value, and exactly one is current.
func TestConcurrentWritersLoseNoVersion(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		f.create(t, "app/counter", "v0")
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = f.svc.Update(ctx, admin, "app/counter", secrets.UpdateRequest{Value: []byte("w" + itoa(i))})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		vs, err := f.svc.Versions(ctx, admin, "app/counter")
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != n+1 {
			t.Fatalf("%d versions after %d writes", len(vs), n+1)
		}
		seen := map[string]bool{}
		current := 0
		for i, v := range vs {
			if v.Version != i+1 {
				t.Fatalf("version numbers not contiguous: %v", vs)
			}
			val, _ := f.read(t, admin, "app/counter", v.Version)
			if seen[val] {
				t.Fatalf("value %q stored twice", val)
			}
			seen[val] = true
			if v.Stage == secrets.StageCurrent {
				current++
			}
		}
		if current != 1 {
			t.Fatalf("%d current versions", current)
		}
	})
}

func TestValueLimitAndBadInput(t *testing.T) {
	f := newFixture(t, testenv.SQLite, func(o *secrets.Options) { o.MaxValueBytes = 100 })
	ctx := context.Background()
	_, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "big", Value: bytes.Repeat([]byte("x"), 101)})
	if apiCode(err) != api.CodeSecretTooLarge {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "ok", Value: bytes.Repeat([]byte("x"), 100)}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	for _, name := range []string{"../x", "a//b", "", strings.Repeat("n", 513)} {
		_, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: name, Value: []byte("v")})
		if !errors.Is(err, secrets.ErrInvalidName) {
			t.Fatalf("name %.20q: %v", name, err)
		}
	}
	_, err = f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "x", Backend: "nope", Value: []byte("v")})
	if !errors.Is(err, secrets.ErrUnknownBackend) {
		t.Fatalf("unknown backend: %v", err)
	}
	_, err = f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "x", Value: []byte("v"), Labels: map[string]string{"Bad Key": "v"}})
	if apiCode(err) != api.CodeInvalidRequest {
		t.Fatalf("bad label: %v", err)
	}
}

// The env backend is read-only: a secret whose variable exists can be registered and read,
// any write is refused with backend_read_only naming the backend.
func TestReadOnlyBackend(t *testing.T) {
	f := newFixture(t, testenv.SQLite)
	ctx := context.Background()
	f.env.set("GATEHOUSE_SECRET_CI__TOKEN", "from-env")
	if _, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "ci/token", Backend: secrets.KindEnv}); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.read(t, admin, "ci/token", 0); v != "from-env" {
		t.Fatalf("env value = %q", v)
	}
	_, err := f.svc.Update(ctx, admin, "ci/token", secrets.UpdateRequest{Value: []byte("new")})
	var be *secrets.BackendError
	if !errors.As(err, &be) || be.Backend != secrets.KindEnv || apiCode(err) != api.CodeBackendReadOnly {
		t.Fatalf("write to env: %v", err)
	}
	_, err = f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "ci/other", Backend: secrets.KindEnv, Value: []byte("x")})
	if apiCode(err) != api.CodeBackendReadOnly {
		t.Fatalf("create with value on env: %v", err)
	}
	_, err = f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "ci/missing", Backend: secrets.KindEnv})
	if apiCode(err) != api.CodeInvalidRequest {
		t.Fatalf("create of an unset variable: %v", err)
	}
}

// A backend that is down answers backend_unavailable naming it — never stale data — and
// health reports it.
func TestBackendDown(t *testing.T) {
	f := newFixture(t, testenv.SQLite)
	ctx := context.Background()
	if _, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "ext/key", Backend: secrets.KindVault, Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	f.flaky.down.Store(true)
	_, err := f.svc.Value(ctx, admin, "ext/key", 0)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeBackendUnavailable || ae.Details["backend"] != secrets.KindVault || ae.Code.Status() != 503 {
		t.Fatalf("read with backend down: %v", err)
	}
	if !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatal("the backend's sentinel is lost")
	}
	_, err = f.svc.Update(ctx, admin, "ext/key", secrets.UpdateRequest{Value: []byte("w")})
	if apiCode(err) != api.CodeBackendUnavailable {
		t.Fatalf("write with backend down: %v", err)
	}
	for _, st := range f.svc.Backends(ctx, time.Second) {
		if st.Kind == secrets.KindVault && (st.Healthy || st.Error == "") {
			t.Fatalf("health of a down backend: %+v", st)
		}
		if st.Kind == secrets.KindDB && (!st.Healthy || !st.Default || !st.Writable) {
			t.Fatalf("db backend status: %+v", st)
		}
	}
	recs := f.auditOf(t, "ext/key")
	if recs[0].Outcome != secrets.OutcomeFailure || recs[0].Reason != string(api.CodeBackendUnavailable) || recs[0].Backend != secrets.KindVault {
		t.Fatalf("audit of a failed write: %+v", recs[0])
	}
}

// SEC-42: admins may do everything; support never; users and service accounts only what a
// policy grants; an unscoped service account nothing.
func TestSEC42AccessPolicies(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		f.create(t, "billing/prod/db", "db-pass")
		f.create(t, "billing/dev/db", "dev-pass")
		f.create(t, "hr/payroll", "payroll")
		scoped, unscoped := "00000000-0000-4000-8000-0000000000e1", "00000000-0000-4000-8000-0000000000e2"

		forbidden := func(a secrets.Actor, name string) {
			t.Helper()
			if _, err := f.svc.Value(ctx, a, name, 0); !errors.Is(err, secrets.ErrForbidden) {
				t.Fatalf("%s reading %s: err = %v, want forbidden", a.Ref(), name, err)
			}
		}
		// Nothing by default.
		forbidden(user, "billing/prod/db")
		forbidden(support, "billing/prod/db")
		forbidden(sa(unscoped), "billing/prod/db")
		if _, _, _, err := f.svc.List(ctx, sa(unscoped), secrets.ListQuery{}); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("unscoped list: %v", err)
		}

		// Support can never be granted access; only admins manage policies.
		if _, err := f.svc.CreatePolicy(ctx, admin, secrets.NewPolicy{SubjectType: secrets.PolicyRole, Subject: "support", Pattern: "**", Actions: []secrets.Action{"read"}}); apiCode(err) != api.CodeInvalidRequest {
			t.Fatalf("policy for support: %v", err)
		}
		if _, err := f.svc.CreatePolicy(ctx, user, secrets.NewPolicy{SubjectType: secrets.PolicyRole, Subject: "user", Pattern: "**", Actions: []secrets.Action{"read"}}); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("policy by a user: %v", err)
		}
		if _, err := f.svc.CreatePolicy(ctx, admin, secrets.NewPolicy{SubjectType: secrets.PolicyServiceAccount, Subject: scoped, Pattern: "billing/prod/*", Actions: []secrets.Action{"read"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.CreatePolicy(ctx, admin, secrets.NewPolicy{SubjectType: secrets.PolicyRole, Subject: "user", Pattern: "billing/**", Actions: []secrets.Action{"read", "write"}}); err != nil {
			t.Fatal(err)
		}

		if v, _ := f.read(t, sa(scoped), "billing/prod/db", 0); v != "db-pass" {
			t.Fatalf("scoped read = %q", v)
		}
		forbidden(sa(scoped), "billing/dev/db")
		forbidden(sa(scoped), "hr/payroll")
		if _, err := f.svc.Update(ctx, sa(scoped), "billing/prod/db", secrets.UpdateRequest{Value: []byte("x")}); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("read-only service account wrote: %v", err)
		}
		if v, _ := f.read(t, user, "billing/dev/db", 0); v != "dev-pass" {
			t.Fatalf("user read = %q", v)
		}
		if _, err := f.svc.Update(ctx, user, "billing/dev/db", secrets.UpdateRequest{Value: []byte("y")}); err != nil {
			t.Fatalf("user write: %v", err)
		}
		if _, err := f.svc.Delete(ctx, user, "billing/dev/db"); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("user delete without delete grant: %v", err)
		}
		forbidden(user, "hr/payroll")
		forbidden(support, "billing/prod/db") // a user policy does not reach support
		// A denial does not reveal whether the secret exists.
		forbidden(user, "hr/does-not-exist")

		list, total, _, err := f.svc.List(ctx, sa(scoped), secrets.ListQuery{})
		if err != nil || total != 1 || list[0].Name != "billing/prod/db" {
			t.Fatalf("scoped list: %v %d %v", list, total, err)
		}
		list, _, _, err = f.svc.List(ctx, admin, secrets.ListQuery{Prefix: "billing/"})
		if err != nil || len(list) != 2 {
			t.Fatalf("admin list by prefix: %v %v", list, err)
		}
	})
}

// SEC-41: every read, write, rotate, delete — and every denied attempt — is recorded with the
// actor, secret, version, backend, outcome and request ID, never the value.
func TestSEC41AuditTrail(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		const value = "audit-marker-value-6b1f"
		f.create(t, "app/audited", value)
		f.read(t, admin, "app/audited", 0)
		_, _ = f.svc.Value(ctx, user, "app/audited", 0) // denied
		_, _ = f.svc.Value(ctx, admin, "app/audited", 42)
		if _, err := f.svc.Update(ctx, admin, "app/audited", secrets.UpdateRequest{Value: []byte(value + "2")}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Delete(ctx, admin, "app/audited"); err != nil {
			t.Fatal(err)
		}
		recs := f.auditOf(t, "app/audited")
		slices.Reverse(recs) // oldest first
		type line struct{ action, outcome, reason string }
		var got []line
		for _, r := range recs {
			got = append(got, line{r.Action, r.Outcome, r.Reason})
			if r.ActorType != secrets.ActorUser || r.ActorID == "" || r.SecretName != "app/audited" {
				t.Errorf("record without actor or secret: %+v", r)
			}
			for _, field := range []string{r.Reason, r.Action, r.SecretName, r.RequestID, r.IP, r.Backend} {
				if strings.Contains(field, value) {
					t.Fatalf("the audit trail holds the value: %+v", r)
				}
			}
		}
		want := []line{
			{secrets.AuditCreate, secrets.OutcomeSuccess, ""},
			{secrets.AuditRead, secrets.OutcomeSuccess, ""},
			{secrets.AuditRead, secrets.OutcomeDenied, "forbidden"},
			{secrets.AuditRead, secrets.OutcomeFailure, "version_not_found"},
			{secrets.AuditWrite, secrets.OutcomeSuccess, ""},
			{secrets.AuditDelete, secrets.OutcomeSuccess, ""},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("audit trail:\n got %v\nwant %v", got, want)
		}
		if recs[1].Version != 1 || recs[1].Backend != secrets.KindDB || recs[1].RequestID != admin.RequestID {
			t.Fatalf("read record: %+v", recs[1])
		}
		if recs[4].Version != 2 {
			t.Fatalf("write record: %+v", recs[4])
		}
		if recs[2].ActorID != user.ID {
			t.Fatalf("denied record: %+v", recs[2])
		}
	})
}

// failingAudit refuses every record.
type failingAudit struct{}

func (failingAudit) Record(context.Context, secrets.AuditRecord) error {
	return errors.New("audit database is read-only")
}

// SEC-41: a read whose audit record cannot be written is not answered.
func TestSEC41NoValueWithoutDurableAudit(t *testing.T) {
	f := newFixture(t, testenv.SQLite)
	f.create(t, "app/key", "value")
	svc, err := secrets.New(secrets.Deps{Store: f.db.Secrets(), Backends: map[string]secrets.Backend{secrets.KindDB: f.flaky.Backend}, Audit: failingAudit{}},
		secrets.Options{NewID: func() string { return "x" }})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Value(context.Background(), admin, "app/key", 0)
	if !errors.Is(err, secrets.ErrAuditUnwritable) || r.Value != nil {
		t.Fatalf("read with audit down: %q %v", r.Value, err)
	}
}

// Soft delete hides the secret at once, Restore brings it back within the window, and Purge
// (with the clock past the window) removes metadata and backend values.
func TestDeleteRestorePurge(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect, func(o *secrets.Options) { o.RecoveryWindow = 48 * time.Hour })
		ctx := context.Background()
		f.create(t, "tmp/a", "a")
		f.create(t, "tmp/b", "b")
		for _, n := range []string{"tmp/a", "tmp/b"} {
			d, err := f.svc.Delete(ctx, admin, n)
			if err != nil || d.PurgeAfter == nil || !d.PurgeAfter.Equal(f.clock.Now().Add(48*time.Hour)) {
				t.Fatalf("delete %s: %+v %v", n, d, err)
			}
		}
		if _, err := f.svc.Value(ctx, admin, "tmp/a", 0); !errors.Is(err, secrets.ErrSecretNotFound) {
			t.Fatalf("read of a deleted secret: %v", err)
		}
		if list, _, _, _ := f.svc.List(ctx, admin, secrets.ListQuery{Prefix: "tmp/"}); len(list) != 0 {
			t.Fatalf("deleted secrets listed: %v", list)
		}
		if list, _, _, _ := f.svc.List(ctx, admin, secrets.ListQuery{Prefix: "tmp/", Deleted: true}); len(list) != 2 {
			t.Fatalf("deleted list: %v", list)
		}
		if _, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "tmp/a", Value: []byte("again")}); !errors.Is(err, secrets.ErrSecretExists) {
			t.Fatalf("name reuse inside the window: %v", err)
		}
		if _, err := f.svc.Restore(ctx, admin, "tmp/a"); err != nil {
			t.Fatal(err)
		}
		if v, _ := f.read(t, admin, "tmp/a", 0); v != "a" {
			t.Fatalf("restored value = %q", v)
		}
		if _, err := f.svc.Restore(ctx, admin, "tmp/a"); !errors.Is(err, secrets.ErrNotDeleted) {
			t.Fatalf("restore of a live secret: %v", err)
		}

		f.clock.Advance(47 * time.Hour)
		if n, err := f.svc.Purge(ctx); err != nil || n != 0 {
			t.Fatalf("purge inside the window: %d %v", n, err)
		}
		f.clock.Advance(time.Hour)
		if n, err := f.svc.Purge(ctx); err != nil || n != 1 {
			t.Fatalf("purge after the window: %d %v", n, err)
		}
		if _, err := f.db.SecretValues().List(ctx, "tmp/b"); !errors.Is(err, secrets.ErrNotFound) {
			t.Fatalf("backend values left after purge: %v", err)
		}
		if _, err := f.svc.Get(ctx, admin, "tmp/b"); !errors.Is(err, secrets.ErrSecretNotFound) {
			t.Fatalf("metadata left after purge: %v", err)
		}
		// The name is free again, with a fresh history.
		s := f.create(t, "tmp/b", "reborn")
		if s.CurrentVersion != 1 {
			t.Fatalf("recreated: %+v", s)
		}
		if v, _ := f.read(t, admin, "tmp/b", 0); v != "reborn" {
			t.Fatalf("recreated value = %q", v)
		}
		var purge secrets.AuditRecord
		for _, r := range f.auditOf(t, "tmp/b") {
			if r.Action == secrets.AuditPurge {
				purge = r
			}
		}
		if purge.ActorType != secrets.ActorSystem || purge.Outcome != secrets.OutcomeSuccess {
			t.Fatalf("purge audit: %+v", purge)
		}
	})
}

// SEC-44: rotation makes a pending version, tests it, then promotes it; when the test fails
// the current version stays in place and readable.
func TestSEC44Rotation(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		f.create(t, "db/main", "original")
		if _, err := f.svc.Rotate(ctx, admin, "db/main"); !errors.Is(err, secrets.ErrNoRotation) {
			t.Fatalf("rotate without a policy: %v", err)
		}
		pol := &secrets.RotationPolicy{Interval: 24 * time.Hour, Window: time.Hour, HookURL: "https://hooks.example.com/test",
			Generator: secrets.Generator{Type: "password", Length: 24}}
		sec, err := f.svc.SetRotation(ctx, admin, "db/main", pol)
		if err != nil {
			t.Fatal(err)
		}
		if sec.NextRotationAt == nil || !sec.NextRotationAt.Equal(f.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("next rotation: %+v", sec.NextRotationAt)
		}

		f.hook.refuse = errors.New("rejected: login failed with the new password")
		if _, err := f.svc.Rotate(ctx, admin, "db/main"); !errors.Is(err, secrets.ErrRotationFailed) {
			t.Fatalf("rotate with a refusing hook: %v", err)
		}
		if v, n := f.read(t, admin, "db/main", 0); v != "original" || n != 1 {
			t.Fatalf("after a failed rotation current = %q v%d, want the original v1", v, n)
		}
		vs, _ := f.svc.Versions(ctx, admin, "db/main")
		if len(vs) != 2 || vs[1].Stage != "" || vs[0].Stage != secrets.StageCurrent {
			t.Fatalf("versions after a failed rotation: %+v", vs)
		}
		recs := f.auditOf(t, "db/main") // newest first: Versions, the value read, the rotation
		if recs[2].Action != secrets.AuditRotate || recs[2].Outcome != secrets.OutcomeFailure || recs[2].Reason != "rotation_failed" || recs[2].Version != 2 {
			t.Fatalf("failed rotation audit: %+v", recs[2])
		}

		f.hook.refuse = nil
		f.clock.Advance(time.Minute)
		v, err := f.svc.Rotate(ctx, admin, "db/main")
		if err != nil || v.Version != 3 || v.Stage != secrets.StageCurrent {
			t.Fatalf("rotate: %+v %v", v, err)
		}
		val, n := f.read(t, admin, "db/main", 0)
		if n != 3 || len(val) != 24 || val == "original" {
			t.Fatalf("rotated value v%d of %d bytes", n, len(val))
		}
		vs, _ = f.svc.Versions(ctx, admin, "db/main")
		if vs[0].Stage != secrets.StagePrevious || vs[2].Stage != secrets.StageCurrent {
			t.Fatalf("stages after rotation: %+v", vs)
		}
		got, _ := f.svc.Get(ctx, admin, "db/main")
		if got.LastRotatedAt == nil || !got.NextRotationAt.Equal(f.clock.Now().Add(24*time.Hour)) {
			t.Fatalf("schedule after rotation: %+v", got)
		}
		if f.hook.seen[len(f.hook.seen)-1] != 3 {
			t.Fatalf("hook saw %v", f.hook.seen)
		}
		// A user who may read but not rotate is refused.
		if _, err := f.svc.Rotate(ctx, user, "db/main"); !errors.Is(err, secrets.ErrForbidden) {
			t.Fatalf("rotate by a user: %v", err)
		}
	})
}

func TestRotationUnavailableWithoutGenerator(t *testing.T) {
	f := newFixture(t, testenv.SQLite)
	f.create(t, "x/y", "v")
	svc, err := secrets.New(secrets.Deps{Store: f.db.Secrets(), Backends: map[string]secrets.Backend{secrets.KindDB: f.flaky.Backend}, Audit: f.audit},
		secrets.Options{NewID: func() string { return "00000000-0000-4000-8000-000000000001" }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.SetRotation(context.Background(), admin, "x/y", &secrets.RotationPolicy{Generator: secrets.Generator{Type: "hex"}})
	if !errors.Is(err, secrets.ErrRotationOff) {
		t.Fatalf("set rotation without a generator: %v", err)
	}
}

// limitedBackend holds values of at most 10 bytes (like Azure's 25 KiB, smaller).
type limitedBackend struct{ secrets.Backend }

func (limitedBackend) MaxValueBytes() int { return 10 }
func (l limitedBackend) Put(ctx context.Context, name string, data []byte) (string, error) {
	return l.Backend.(secrets.Writer).Put(ctx, name, data)
}

// A backend's own, lower value limit is enforced up front with secret_too_large.
func TestBackendValueLimit(t *testing.T) {
	f := newFixture(t, testenv.SQLite)
	svc, err := secrets.New(secrets.Deps{Store: f.db.Secrets(), Backends: map[string]secrets.Backend{secrets.KindDB: limitedBackend{f.flaky.Backend}}, Audit: f.audit},
		secrets.Options{NewID: func() string { return "00000000-0000-4000-8000-0000000000f1" }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Create(context.Background(), admin, secrets.CreateRequest{Name: "small", Value: []byte("01234567890")})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeSecretTooLarge || ae.Details["limit_bytes"] != 10 {
		t.Fatalf("over the backend's limit: %v", err)
	}
	if _, err := svc.Create(context.Background(), admin, secrets.CreateRequest{Name: "small", Value: []byte("0123456789")}); err != nil {
		t.Fatalf("at the backend's limit: %v", err)
	}
}
