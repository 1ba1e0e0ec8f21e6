package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// TestSecretRotationDueWarnings: the leader job records secret.rotation_due for each secret
// whose scheduled rotation falls due within jobs.rotation_warning (7 days by default), once
// per secret and due time, by the system; a new due time is a new warning.
func TestSecretRotationDueWarnings(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		env := testenv.New(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Jobs.RotationInterval = 100 * time.Millisecond
			c.Jobs.LockCheck = 50 * time.Millisecond
		}))
		if !slices.Contains(env.App.Jobs.Names(), "secrets-rotation-warnings") {
			t.Fatalf("jobs: %v", env.App.Jobs.Names())
		}
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		admin, _ := env.LoginBearer(t, adminEmail, adminPass)

		// Monthly rotation: due in 30 days, outside the warning period.
		policy := &api.RotationPolicy{IntervalSeconds: 30 * 24 * 3600, Generator: api.GeneratorSpec{Type: "password", Length: 24}}
		for _, name := range []string{"app/soon", "app/far"} {
			v := "initial-" + name
			if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: &v, Rotation: policy}); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
		}
		setNext := func(name string, at time.Time) {
			t.Helper()
			q := "UPDATE secrets SET next_rotation_at = ? WHERE name = ?"
			if dialect == testenv.Postgres {
				q = "UPDATE secrets SET next_rotation_at = $1 WHERE name = $2"
			}
			if _, err := env.App.DB.SQL().ExecContext(ctx, q, at.UTC(), name); err != nil {
				t.Fatal(err)
			}
		}
		warnings := func(want int) []api.SecurityEvent {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				l, err := admin.ListEvents(ctx, client.EventQuery{Type: api.EventSecretRotationDue, PerPage: 200})
				if err != nil {
					t.Fatal(err)
				}
				if len(l.Events) >= want || time.Now().After(deadline) {
					if len(l.Events) != want {
						t.Fatalf("%d rotation warnings, want %d: %+v", len(l.Events), want, l.Events)
					}
					return l.Events
				}
				time.Sleep(50 * time.Millisecond)
			}
		}

		// Several runs happen; nothing is due within 7 days yet.
		time.Sleep(400 * time.Millisecond)
		warnings(0)

		due := time.Now().Add(2 * 24 * time.Hour).Truncate(time.Second)
		setNext("app/soon", due)
		ev := warnings(1)[0]
		if ev.Outcome != api.OutcomeSuccess || ev.ActorID != "" || ev.Details["name"] != "app/soon" ||
			ev.Details["due_at"] != due.UTC().Format(time.RFC3339) {
			t.Fatalf("warning: %+v", ev)
		}
		// The API shows the secret as due too (its policy's window decides that, not this).
		if s, err := admin.GetSecret(ctx, "app/soon"); err != nil || s.NextRotationAt == nil || !s.NextRotationAt.Equal(due) {
			t.Fatalf("app/soon: %+v %v", s, err)
		}

		// Once per due time: later runs add nothing.
		time.Sleep(500 * time.Millisecond)
		warnings(1)

		// A new due time (as after a rotation) is a new due period: one more warning.
		due2 := due.Add(24 * time.Hour)
		setNext("app/soon", due2)
		ev = warnings(2)[0] // newest first
		if ev.Details["name"] != "app/soon" || ev.Details["due_at"] != due2.UTC().Format(time.RFC3339) {
			t.Fatalf("second warning: %+v", ev)
		}
		time.Sleep(300 * time.Millisecond)
		warnings(2)
	})
}

func TestSecretRotationDueWarningsOff(t *testing.T) {
	env := testenv.New(t, testenv.SQLite, testenv.WithConfig(func(c *config.Config) { c.Jobs.RotationWarning = 0 }))
	if slices.Contains(env.App.Jobs.Names(), "secrets-rotation-warnings") {
		t.Fatalf("jobs.rotation_warning = 0 still registers the warnings: %v", env.App.Jobs.Names())
	}
}
