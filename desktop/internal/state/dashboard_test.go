package state_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

func TestDashboardAdmin(t *testing.T) {
	f := newFake()
	for i := range 12 {
		f.AddEvent(api.SecurityEvent{Type: api.EventLoginSucceeded, CreatedAt: t0.Add(time.Duration(i) * time.Second)})
	}
	s := signedIn(t, f, adminEmail, adminPass)
	d := state.NewDashboard(f, f, f, s.Caps())
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	snap := d.Snapshot()
	if !snap.Loaded || snap.Version.Version != "v0.9.0-test" || snap.Ready.Status != api.StatusOK || len(snap.Latest) != state.LatestEvents {
		t.Fatalf("%+v", snap)
	}
	if got := d.EventCells(snap.Latest[0]); got[3] != "—" {
		t.Fatalf("cells %q", got)
	}
}

func TestDashboardSupportSeesNoEvents(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, supportEmail, supportPass)
	d := state.NewDashboard(f, f, f, s.Caps())
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d.ShowsEvents() || f.Called("ListEvents", "", "", "1") {
		t.Fatalf("support must not ask for events: %v", f.Methods())
	}
}

func TestDashboardShowsAServerThatIsNotReady(t *testing.T) {
	f := newFake()
	s := signedIn(t, f, adminEmail, adminPass)
	f.FailNext("Readyz", &api.Error{Code: api.CodeUnavailable, Message: "not ready"})
	d := state.NewDashboard(f, f, f, s.Caps())
	if err := d.Refresh(context.Background()); err != nil {
		t.Fatalf("not ready is shown, not an error: %v", err)
	}
	if snap := d.Snapshot(); snap.Ready.Status != api.StatusFail || snap.Ready.Checks["database"].Status != api.StatusFail {
		t.Fatalf("%+v", snap.Ready)
	}
	f.FailNext("Version", &api.Error{Code: api.CodeInternal, Message: "boom"})
	if err := d.Refresh(context.Background()); state.Describe(err).Code != string(api.CodeInternal) {
		t.Fatal(err)
	}
}

func sample(at time.Time, inUse, idle int, waits int64, waitSec float64) api.PoolStats {
	return api.PoolStats{SampledAt: at, InUse: inUse, Idle: idle, WaitCount: waits, WaitDurationSec: waitSec, OpenConnections: inUse + idle, MaxOpenConnections: 10}
}

func TestPoolRatesAndWindow(t *testing.T) {
	p := state.NewPool(nil, func() time.Time { return t0 }, nil)
	p.Add(sample(t0, 1, 2, 10, 1.0))
	p.Add(sample(t0.Add(2*time.Second), 3, 0, 14, 1.5))
	pts := p.Points()
	if len(pts) != 2 || pts[0].WaitsPerSec != 0 || pts[1].WaitsPerSec != 2 || pts[1].WaitMsPerSec != 250 || pts[1].InUse != 3 {
		t.Fatalf("points %+v", pts)
	}
	// A counter that drops is a server restart, not negative waiting.
	p.Add(sample(t0.Add(3*time.Second), 0, 1, 0, 0))
	if pt := p.Points()[2]; pt.WaitsPerSec != 0 || pt.WaitMsPerSec != 0 {
		t.Fatalf("after restart %+v", pt)
	}
	// Five minutes later the first samples fall out of the window.
	p.Add(sample(t0.Add(5*time.Minute+2500*time.Millisecond), 1, 1, 0, 0))
	pts = p.Points()
	if len(pts) != 2 || !pts[0].At.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("window %+v", pts)
	}
	if last, ok := p.Latest(); !ok || last.Idle != 1 {
		t.Fatal("latest")
	}
}

func TestPoolFollowReconnects(t *testing.T) {
	f := newFake()
	signedIn(t, f, adminEmail, adminPass)
	f.AddStream(fakeapi.Stream{Samples: []api.PoolStats{sample(t0, 1, 1, 0, 0)}, Err: errors.New("connection reset")})
	f.AddStream(fakeapi.Stream{Err: errors.New("connection refused")})
	f.AddStream(fakeapi.Stream{Samples: []api.PoolStats{sample(t0.Add(time.Second), 2, 0, 0, 0)}})

	var mu sync.Mutex
	var slept []time.Duration
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := state.NewPool(f, nil, func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return ctx.Err()
	})
	var statuses []state.StreamStatus
	done := make(chan error, 1)
	go func() {
		done <- p.Follow(ctx, func() {
			st, _ := p.Status()
			mu.Lock()
			statuses = append(statuses, st)
			n := len(p.Points())
			mu.Unlock()
			if n == 2 && st == state.StreamLive {
				cancel()
			}
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow ends with the context: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	// Backoff: 1 s after the first break (a sample reset it), 2 s after the refused connect.
	if len(slept) != 2 || slept[0] != time.Second || slept[1] != 2*time.Second {
		t.Fatalf("slept %v", slept)
	}
	want := []state.StreamStatus{state.StreamConnecting, state.StreamLive, state.StreamReconnecting, state.StreamReconnecting, state.StreamLive, state.StreamStopped}
	if len(statuses) != len(want) {
		t.Fatalf("statuses %v", statuses)
	}
	for i := range want {
		if statuses[i] != want[i] {
			t.Fatalf("statuses %v", statuses)
		}
	}
	if st, _ := p.Status(); st.String() != "stopped" {
		t.Fatal(st)
	}
}

func TestPoolFollowStopsWhenSessionEnds(t *testing.T) {
	f := newFake()
	signedIn(t, f, adminEmail, adminPass)
	f.Expire()
	p := state.NewPool(f, nil, func(context.Context, time.Duration) error {
		t.Error("no reconnect after a 401")
		return nil
	})
	err := p.Follow(context.Background(), nil)
	if !state.IsUnauthorized(err) {
		t.Fatalf("%v", err)
	}
	if st, last := p.Status(); st != state.StreamStopped || last == nil {
		t.Fatal(st)
	}
}
