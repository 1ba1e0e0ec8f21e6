package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/secrets/rotationhook"
	"gatehouse/server/internal/testenv"
	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// TestKeyStatusAndRewrapJob (SEC-43): GET /api/v1/admin/keys is for administrators; after a
// master key rotation the leader job waits out the grace period, then re-wraps everything the
// keyring protects, and the server keeps working with it throughout.
func TestKeyStatusAndRewrapJob(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		env := testenv.New(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Jobs.RewrapInterval = 200 * time.Millisecond
			c.Jobs.LockCheck = 50 * time.Millisecond
		}))
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		env.CreateUser(t, userEmail, userPass)
		admin, _ := env.LoginBearer(t, adminEmail, adminPass)
		user, _ := env.LoginBearer(t, userEmail, userPass)

		if _, err := user.KeyStatus(ctx); !isCode(err, api.CodeForbidden) {
			t.Fatalf("a user read the key status: %v", err)
		}
		if _, err := env.NewClient(t).KeyStatus(ctx); !isCode(err, api.CodeUnauthorized) {
			t.Fatalf("an anonymous caller read the key status: %v", err)
		}
		st, err := admin.KeyStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.CurrentVersion != 1 || len(st.Versions) != 1 || st.Rewrap.State != api.RewrapDone || st.Rewrap.Total < 1 {
			t.Fatalf("fresh server: %+v", st)
		}

		// gatehouse keys rotate, as another process would run it.
		v, err := env.App.Keyring.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, err = admin.KeyStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.CurrentVersion != v || st.Rewrap.State != api.RewrapWaiting || st.Rewrap.Remaining < 1 || st.Rewrap.StartsAfter == nil {
			t.Fatalf("right after rotating: %+v", st.Rewrap)
		}
		time.Sleep(500 * time.Millisecond) // several job slots: nothing may move during the grace period
		if st2, _ := admin.KeyStatus(ctx); st2.Rewrap.Remaining != st.Rewrap.Remaining {
			t.Fatalf("values moved during the grace period: %+v", st2.Rewrap)
		}

		// Let the grace period pass (as if two minutes went by) and the job runs.
		q := "UPDATE keyring_keys SET created_at = ? WHERE version = ?"
		if dialect == testenv.Postgres {
			q = "UPDATE keyring_keys SET created_at = $1 WHERE version = $2"
		}
		if _, err := env.App.DB.SQL().ExecContext(ctx, q, time.Now().Add(-time.Hour).UTC(), v); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			st, err = admin.KeyStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Rewrap.State == api.RewrapDone {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the re-wrap job did not finish: %+v", st.Rewrap)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if st.Rewrap.LastRun == nil || st.Rewrap.LastRun.TargetVersion != v || st.Rewrap.LastRun.Rewrapped < 1 {
			t.Fatalf("last run %+v", st.Rewrap.LastRun)
		}
		// Still signing in and verifying tokens: the signing key moved and still works.
		again, _ := env.LoginBearer(t, userEmail, userPass)
		if _, err := again.Me(ctx); err != nil {
			t.Fatalf("a token signed after the re-wrap: %v", err)
		}
	})
}

func isCode(err error, code api.Code) bool {
	var e *api.Error
	return errors.As(err, &e) && e.Code == code
}

// hookRecorder is a rotation test hook as a secret's consumer runs it: it checks the
// signature, remembers what it was sent, and refuses the secrets it is told to.
type hookRecorder struct {
	key    []byte
	refuse map[string]bool
	mu     sync.Mutex
	got    map[string][]string // name → base64 values received
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if rotationhook.Verify(h.key, r.Header.Get(rotationhook.SignatureHeader), raw, time.Now(), rotationhook.DefaultTolerance) != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b struct {
		Name        string `json:"name"`
		ValueBase64 string `json:"value_base64"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.got[b.Name] = append(h.got[b.Name], b.ValueBase64)
	h.mu.Unlock()
	if h.refuse[b.Name] {
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"reason":"the database refused the new password"}`)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *hookRecorder) received(name string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got[name]...)
}

// TestScheduledRotation (SEC-44): the leader job rotates due secrets through create → set →
// test → finish; a secret whose hook refuses keeps its current version, its pending version
// loses the stage, the failure is audited, and the job does not retry it at every run.
func TestScheduledRotation(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		hookKey := "rotation-hook-key-for-tests-0123456789"
		hook := &hookRecorder{key: []byte(hookKey), refuse: map[string]bool{"app/refused": true}, got: map[string][]string{}}
		hs := httptest.NewServer(hook)
		defer hs.Close()
		env := testenv.New(t, dialect, testenv.WithConfig(func(c *config.Config) {
			c.Jobs.RotationInterval = 200 * time.Millisecond
			c.Jobs.LockCheck = 50 * time.Millisecond
			c.Secrets.RotationHookKey = hookKey
		}))
		env.CreateUser(t, adminEmail, adminPass, api.RoleAdmin)
		admin, _ := env.LoginBearer(t, adminEmail, adminPass)

		policy := &api.RotationPolicy{IntervalSeconds: 3600, Generator: api.GeneratorSpec{Type: "password", Length: 24}, HookURL: hs.URL + "/hook"}
		for _, name := range []string{"app/ok", "app/refused", "app/later"} {
			v := "initial-" + name
			if _, err := admin.CreateSecret(ctx, api.CreateSecretRequest{Name: name, Value: &v, Rotation: policy}); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
		}
		// Two of them fall due (as if an hour went by); app/later is not due.
		q := "UPDATE secrets SET next_rotation_at = ? WHERE name IN (?, ?)"
		if dialect == testenv.Postgres {
			q = "UPDATE secrets SET next_rotation_at = $1 WHERE name IN ($2, $3)"
		}
		if _, err := env.App.DB.SQL().ExecContext(ctx, q, time.Now().Add(-time.Minute).UTC(), "app/ok", "app/refused"); err != nil {
			t.Fatal(err)
		}

		deadline := time.Now().Add(10 * time.Second)
		for {
			s, err := admin.GetSecret(ctx, "app/ok")
			if err != nil {
				t.Fatal(err)
			}
			if s.CurrentVersion == 2 && len(hook.received("app/refused")) > 0 {
				if s.NextRotationAt == nil || time.Until(*s.NextRotationAt) < 50*time.Minute {
					t.Fatalf("next rotation of app/ok not rescheduled: %v", s.NextRotationAt)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the scheduled rotation did not happen: %+v", s)
			}
			time.Sleep(50 * time.Millisecond)
		}

		// app/ok: the tested value became current, the old one previous.
		cur, err := admin.SecretValue(ctx, "app/ok", 0)
		if err != nil {
			t.Fatal(err)
		}
		sent := hook.received("app/ok")
		if len(sent) != 1 || cur.Value == "initial-app/ok" || len(cur.Value) != 24 {
			t.Fatalf("app/ok: current %q, hook saw %d requests", cur.Value, len(sent))
		}
		if raw, _ := base64.StdEncoding.DecodeString(sent[0]); string(raw) != cur.Value {
			t.Fatal("the value that became current is not the one the hook tested")
		}
		assertStages(t, admin, "app/ok", map[int]string{1: "previous", 2: "current"})

		// app/refused: current untouched and readable, the refused version holds no stage.
		ref, err := admin.SecretValue(ctx, "app/refused", 0)
		if err != nil || ref.Value != "initial-app/refused" || ref.Version != 1 {
			t.Fatalf("app/refused after a refused rotation: %+v, %v", ref, err)
		}
		assertStages(t, admin, "app/refused", map[int]string{1: "current", 2: ""})
		audit, err := admin.SecretAudit(ctx, "app/refused", 1, 50)
		if err != nil {
			t.Fatal(err)
		}
		var failed bool
		for _, r := range audit.Records {
			if r.Action == "rotate" && r.Outcome == "failure" && r.ActorType == "system" && r.Reason != "" {
				failed = true
			}
		}
		if !failed {
			t.Fatalf("no audited rotation failure by the system actor: %+v", audit.Records)
		}
		// Not retried at every run: several runs later the hook has still seen one request.
		time.Sleep(700 * time.Millisecond)
		if n := len(hook.received("app/refused")); n != 1 {
			t.Fatalf("the refused secret was tried %d times within the back-off", n)
		}
		if n := len(hook.received("app/later")); n != 0 {
			t.Fatal("a secret that is not due was rotated")
		}
	})
}

func assertStages(t *testing.T, c *client.Client, name string, want map[int]string) {
	t.Helper()
	vs, err := c.SecretVersions(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(want) {
		t.Fatalf("%s: %d versions %+v, want %d", name, len(vs), vs, len(want))
	}
	for _, v := range vs {
		if v.Stage != want[v.Version] {
			t.Fatalf("%s version %d: stage %q, want %q", name, v.Version, v.Stage, want[v.Version])
		}
	}
}
