package secrets_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/secrets"
	secretsdb "gatehouse/server/internal/secrets/db"
	"gatehouse/server/internal/testenv"
)

// SEC-44: a rotation whose backend fails at the "set" step leaves the current version in
// place and readable, leaves no pending version behind, is audited as a failure, and the next
// rotation (backend back) succeeds.
func TestSEC44RotationBackendFails(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		if _, err := f.svc.Create(ctx, admin, secrets.CreateRequest{Name: "vault/db", Backend: secrets.KindVault, Value: []byte("original")}); err != nil {
			t.Fatal(err)
		}
		pol := &secrets.RotationPolicy{Interval: 24 * time.Hour, Generator: secrets.Generator{Type: "hex", Bytes: 16}}
		if _, err := f.svc.SetRotation(ctx, admin, "vault/db", pol); err != nil {
			t.Fatal(err)
		}
		before, _ := f.svc.Get(ctx, admin, "vault/db")

		f.flaky.down.Store(true)
		_, err := f.svc.Rotate(ctx, admin, "vault/db")
		var be *secrets.BackendError
		if !errors.As(err, &be) || !errors.Is(err, secrets.ErrUnavailable) {
			t.Fatalf("rotate with the backend down: %v", err)
		}
		f.flaky.down.Store(false)

		if v, n := f.read(t, admin, "vault/db", 0); v != "original" || n != 1 {
			t.Fatalf("after the failed rotation current = %q v%d, want the original v1", v, n)
		}
		vs, err := f.svc.Versions(ctx, admin, "vault/db")
		if err != nil || len(vs) != 1 || vs[0].Stage != secrets.StageCurrent {
			t.Fatalf("versions after the failed rotation: %+v %v", vs, err)
		}
		after, _ := f.svc.Get(ctx, admin, "vault/db")
		if after.LastRotatedAt != nil || !after.NextRotationAt.Equal(*before.NextRotationAt) {
			t.Fatalf("a failed rotation changed the schedule: %+v", after)
		}
		var failed bool
		for _, r := range f.auditOf(t, "vault/db") {
			if r.Action == secrets.AuditRotate && r.Outcome == secrets.OutcomeFailure && r.Backend == secrets.KindVault && r.Reason != "" {
				failed = true
			}
		}
		if !failed {
			t.Fatal("the failed rotation is not in the audit trail")
		}

		v, err := f.svc.Rotate(ctx, admin, "vault/db")
		if err != nil || v.Version != 2 || v.Stage != secrets.StageCurrent {
			t.Fatalf("rotate with the backend back: %+v %v", v, err)
		}
		if val, n := f.read(t, admin, "vault/db", 0); n != 2 || len(val) != 32 {
			t.Fatalf("rotated value: %q v%d", val, n)
		}
	})
}

// SEC-44: a policy that names a test hook is never rotated untested, also when the server
// restarted without the hook key: the rotation fails and the current version stays.
func TestSEC44RotationWithoutHookKeyRefused(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		f := newFixture(t, dialect)
		ctx := context.Background()
		f.create(t, "db/hooked", "original")
		pol := &secrets.RotationPolicy{Interval: 24 * time.Hour, HookURL: "https://hooks.example.com/test",
			Generator: secrets.Generator{Type: "password", Length: 24}}
		if _, err := f.svc.SetRotation(ctx, admin, "db/hooked", pol); err != nil {
			t.Fatal(err)
		}
		// The same database, served by a server without a rotation hook key.
		noHook, err := secrets.New(secrets.Deps{
			Store:                f.db.Secrets(),
			Backends:             map[string]secrets.Backend{secrets.KindDB: secretsdb.New(f.db.SecretValues(), sharedKeyring(t), nil)},
			Audit:                f.audit,
			Generator:            generator{},
			ServiceAccountExists: func(context.Context, string) error { return nil },
		}, secrets.Options{DefaultBackend: secrets.KindDB, Now: f.clock.Now, NewID: uuid.NewString})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := noHook.Rotate(ctx, admin, "db/hooked"); !errors.Is(err, secrets.ErrRotationFailed) {
			t.Fatalf("rotation without the hook key: %v", err)
		}
		if v, n := f.read(t, admin, "db/hooked", 0); v != "original" || n != 1 {
			t.Fatalf("current after the refused rotation: %q v%d", v, n)
		}
	})
}
