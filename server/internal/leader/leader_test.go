package leader_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gatehouse/server/internal/leader"
)

// fakeLocker is a Locker of function fields.
type fakeLocker struct {
	acquire func(name string) (leader.Lease, bool, error)
}

func (f fakeLocker) TryAcquire(_ context.Context, name string) (leader.Lease, bool, error) {
	return f.acquire(name)
}

// fakeLease is lost once lost is set.
type fakeLease struct {
	lost     atomic.Bool
	released atomic.Int32
}

func (l *fakeLease) Check(context.Context) error {
	if l.lost.Load() {
		return errors.New("connection gone")
	}
	return nil
}

func (l *fakeLease) Release(context.Context) error { l.released.Add(1); return nil }

// runs records job runs with their slot.
type runs struct {
	mu    sync.Mutex
	slots []int64
}

func (r *runs) add(slot int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.slots = append(r.slots, slot)
}

func (r *runs) get() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.slots...)
}

func start(t *testing.T, lock leader.Locker, name string, interval time.Duration, job func(context.Context) error, opts ...leader.Option) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- leader.Run(ctx, lock, name, interval, job, opts...) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-errc })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func TestLocalRunsOncePerSlot(t *testing.T) {
	const interval = 100 * time.Millisecond
	var r runs
	began := time.Now()
	stop := start(t, leader.Local(), "job", interval, func(context.Context) error {
		r.add(time.Now().UnixNano() / int64(interval))
		return nil
	}, leader.WithCheckEvery(20*time.Millisecond))
	time.Sleep(650 * time.Millisecond)
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v, want context.Canceled", err)
	}
	// Judged against the slots that really passed (a busy machine oversleeps), not the
	// 650 ms asked for: at most one run per slot after the first, at least one run.
	firstSlot := began.UnixNano() / int64(interval)
	lastSlot := time.Now().UnixNano() / int64(interval)
	got := r.get()
	if len(got) < 1 || int64(len(got)) > lastSlot-firstSlot {
		t.Fatalf("%d runs in %d slots after the first: %v", len(got), lastSlot-firstSlot, got)
	}
	seen := map[int64]bool{}
	for _, s := range got {
		if seen[s] {
			t.Fatalf("slot %d ran twice: %v", s, got)
		}
		seen[s] = true
		if s <= firstSlot || s > lastSlot {
			t.Fatalf("ran in slot %d, outside (%d, %d]: it must wait for the slot after it became leader", s, firstSlot, lastSlot)
		}
	}
}

func TestNoLockNoRuns(t *testing.T) {
	var tries, ran atomic.Int32
	lock := fakeLocker{acquire: func(string) (leader.Lease, bool, error) {
		tries.Add(1)
		return nil, false, nil
	}}
	stop := start(t, lock, "job", 20*time.Millisecond, func(context.Context) error { ran.Add(1); return nil },
		leader.WithCheckEvery(10*time.Millisecond))
	time.Sleep(200 * time.Millisecond)
	_ = stop()
	if ran.Load() != 0 {
		t.Fatalf("the job ran %d times without the lock", ran.Load())
	}
	if tries.Load() < 5 {
		t.Fatalf("tried the lock %d times in 200ms with a 10ms period", tries.Load())
	}
}

// TestLeaseLostDuringRun: the running job's context ends when the lease is lost, the lease is
// released, and the lock is tried again.
func TestLeaseLostDuringRun(t *testing.T) {
	var (
		mu     sync.Mutex
		leases []*fakeLease
	)
	lock := fakeLocker{acquire: func(string) (leader.Lease, bool, error) {
		mu.Lock()
		defer mu.Unlock()
		l := &fakeLease{}
		leases = append(leases, l)
		return l, true, nil
	}}
	reg := prometheus.NewPedanticRegistry()
	m, err := leader.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	running := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	var calls atomic.Int32
	start(t, lock, "blocking", 50*time.Millisecond, func(ctx context.Context) error {
		if calls.Add(1) == 1 {
			running <- struct{}{}
			<-ctx.Done()
			cancelled <- ctx.Err()
			return ctx.Err()
		}
		return nil
	}, leader.WithCheckEvery(10*time.Millisecond), leader.WithTimeout(time.Minute), leader.WithMetrics(m))
	<-running
	if got := testutil.ToFloat64(m.LeaderGauge("blocking")); got != 1 {
		t.Fatalf("leader gauge %v while running", got)
	}
	mu.Lock()
	first := leases[0]
	mu.Unlock()
	first.lost.Store(true)
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("job context ended with %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the job kept running after the lease was lost")
	}
	waitFor(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(leases) >= 2 && first.released.Load() == 1
	})
	waitFor(t, func() bool { return calls.Load() >= 2 }) // leader again, runs in a later slot
	if got := testutil.ToFloat64(m.Runs("blocking", "lost")); got != 1 {
		t.Fatalf("lost runs %v, want 1", got)
	}
}

func TestLeaseLostBetweenRuns(t *testing.T) {
	lease := &fakeLease{}
	var acquired atomic.Int32
	lock := fakeLocker{acquire: func(string) (leader.Lease, bool, error) {
		if acquired.Add(1) == 1 {
			return lease, true, nil
		}
		return nil, false, nil // someone else has it now
	}}
	var ran atomic.Int32
	start(t, lock, "job", 30*time.Millisecond, func(context.Context) error { ran.Add(1); return nil },
		leader.WithCheckEvery(5*time.Millisecond))
	waitFor(t, func() bool { return ran.Load() >= 1 })
	lease.lost.Store(true)
	waitFor(t, func() bool { return lease.released.Load() == 1 })
	after := ran.Load()
	time.Sleep(150 * time.Millisecond)
	if ran.Load() > after+1 { // at most a run that was already starting
		t.Fatalf("kept running (%d → %d) after losing the lease", after, ran.Load())
	}
}

func TestJobErrorsAndPanicsAreContained(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	reg := prometheus.NewPedanticRegistry()
	m, err := leader.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	start(t, leader.Local(), "flaky", 20*time.Millisecond, func(context.Context) error {
		switch calls.Add(1) {
		case 1:
			return errors.New("backend down")
		case 2:
			panic("boom")
		}
		return nil
	}, leader.WithCheckEvery(5*time.Millisecond), leader.WithLogger(logger), leader.WithMetrics(m))
	waitFor(t, func() bool { return calls.Load() >= 3 })
	waitFor(t, func() bool { return testutil.ToFloat64(m.Runs("flaky", "ok")) >= 1 })
	if got := testutil.ToFloat64(m.Runs("flaky", "error")); got != 2 {
		t.Fatalf("error runs %v, want 2 (an error and a panic)", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "backend down") || !strings.Contains(buf.String(), "job panicked: boom") {
		t.Fatalf("log does not report the failures:\n%s", buf.String())
	}
}

func TestAcquireErrorsAreLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	var tries atomic.Int32
	lock := fakeLocker{acquire: func(string) (leader.Lease, bool, error) {
		tries.Add(1)
		return nil, false, errors.New("database unreachable")
	}}
	start(t, lock, "job", time.Hour, func(context.Context) error { return nil },
		leader.WithCheckEvery(5*time.Millisecond), leader.WithLogger(logger))
	waitFor(t, func() bool { return tries.Load() >= 10 })
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(buf.String(), "database unreachable"); n != 1 {
		t.Fatalf("the same error was logged %d times", n)
	}
}

func TestInvalidArguments(t *testing.T) {
	job := func(context.Context) error { return nil }
	ctx := context.Background()
	for _, tc := range []struct {
		lock     leader.Locker
		name     string
		interval time.Duration
		job      func(context.Context) error
		opts     []leader.Option
	}{
		{nil, "a", time.Second, job, nil},
		{leader.Local(), "", time.Second, job, nil},
		{leader.Local(), "a", 0, job, nil},
		{leader.Local(), "a", time.Second, nil, nil},
		{leader.Local(), "a", time.Second, job, []leader.Option{leader.WithCheckEvery(0)}},
	} {
		if err := leader.Run(ctx, tc.lock, tc.name, tc.interval, tc.job, tc.opts...); err == nil || errors.Is(err, context.Canceled) {
			t.Fatalf("Run(%q, %s) = %v, want an argument error", tc.name, tc.interval, err)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}
