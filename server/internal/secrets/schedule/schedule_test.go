package schedule_test

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/schedule"
)

// world is a fake store of due secrets and a fake rotator over it.
type world struct {
	mu      sync.Mutex
	due     map[string]bool
	failing map[string]error
	calls   map[string]int
	actors  []secrets.Actor
}

func newWorld(due ...string) *world {
	w := &world{due: map[string]bool{}, failing: map[string]error{}, calls: map[string]int{}}
	for _, n := range due {
		w.due[n] = true
	}
	return w
}

func (w *world) DueRotations(_ context.Context, _ time.Time, after string, limit int) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for n := range w.due {
		if n > after {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (w *world) Rotate(_ context.Context, a secrets.Actor, name string) (secrets.Version, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls[name]++
	w.actors = append(w.actors, a)
	if err := w.failing[name]; err != nil {
		return secrets.Version{}, err // a failed rotation leaves the secret due
	}
	delete(w.due, name)
	return secrets.Version{Version: w.calls[name] + 1}, nil
}

func newScheduler(t *testing.T, w *world, clock *clocktest.Clock, reg prometheus.Registerer) *schedule.Scheduler {
	t.Helper()
	s, err := schedule.New(w, w, schedule.Options{Batch: 2, RetryAfter: time.Hour, Now: clock.Now, Registerer: reg,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRotatesEveryDueSecretAcrossPages(t *testing.T) {
	w := newWorld("a", "b", "c", "d", "e")
	clock := clocktest.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	reg := prometheus.NewPedanticRegistry()
	s := newScheduler(t, w, clock, reg)
	res, err := s.Run(context.Background())
	if err != nil || res.Rotated != 5 || res.Failed != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if len(w.due) != 0 {
		t.Fatalf("still due: %v", w.due)
	}
	for _, a := range w.actors {
		if a.Type != secrets.ActorSystem || a.ID != schedule.Actor.ID {
			t.Fatalf("rotated as %+v, want the system actor", a)
		}
	}
	if res, _ := s.Run(context.Background()); res != (schedule.Result{}) {
		t.Fatalf("a second run did something: %+v", res)
	}
}

// TestFailureBacksOff: a secret whose rotation fails (hook refused, backend down) is not tried
// at every run, does not hide the secrets after it, and is tried again after RetryAfter.
func TestFailureBacksOff(t *testing.T) {
	w := newWorld("a1", "a2", "a3", "b", "c")
	refused := errors.Join(secrets.ErrRotationFailed, errors.New("the test hook refused version 4"))
	for _, n := range []string{"a1", "a2", "a3"} {
		w.failing[n] = refused
	}
	clock := clocktest.New(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
	reg := prometheus.NewPedanticRegistry()
	s := newScheduler(t, w, clock, reg)
	res, err := s.Run(context.Background())
	if err != nil || res.Rotated != 2 || res.Failed != 3 {
		t.Fatalf("first run %+v, %v", res, err)
	}
	clock.Advance(time.Minute)
	res, err = s.Run(context.Background())
	if err != nil || res.Skipped != 3 || res.Failed != 0 || w.calls["a1"] != 1 {
		t.Fatalf("second run %+v, %v (calls %v): failing secrets must wait", res, err, w.calls)
	}
	if got := testutil.ToFloat64(gauge(t, reg, "gatehouse_secrets_rotations_backing_off")); got != 3 {
		t.Fatalf("backing-off gauge %v", got)
	}
	delete(w.failing, "a2") // the hook was fixed
	clock.Advance(time.Hour)
	res, err = s.Run(context.Background())
	if err != nil || res.Rotated != 1 || res.Failed != 2 || w.calls["a2"] != 2 {
		t.Fatalf("after the back-off %+v, %v (calls %v)", res, err, w.calls)
	}
}

func TestVanishedPolicyIsNotAFailure(t *testing.T) {
	w := newWorld("gone", "nopolicy")
	w.failing["gone"] = secrets.ErrSecretNotFound
	w.failing["nopolicy"] = secrets.ErrNoRotation
	s := newScheduler(t, w, clocktest.New(time.Now()), nil)
	res, err := s.Run(context.Background())
	if err != nil || res.Failed != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestRotationOffStopsTheRun(t *testing.T) {
	w := newWorld("a", "b")
	w.failing["a"] = secrets.ErrRotationOff
	s := newScheduler(t, w, clocktest.New(time.Now()), nil)
	if _, err := s.Run(context.Background()); !errors.Is(err, secrets.ErrRotationOff) {
		t.Fatalf("err = %v", err)
	}
	if w.calls["b"] != 0 {
		t.Fatal("kept rotating with rotation off")
	}
}

func TestCancelledRun(t *testing.T) {
	w := newWorld("a", "b", "c")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newScheduler(t, w, clocktest.New(time.Now()), nil)
	if _, err := s.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(w.calls) != 0 {
		t.Fatal("rotated after cancellation")
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "copy"})
			g.Set(mf.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatalf("%s not registered", name)
	return nil
}
