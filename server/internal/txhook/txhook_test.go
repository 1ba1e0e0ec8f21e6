package txhook

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestDeferRunsAtOnceOutsideATransaction(t *testing.T) {
	ran := 0
	err := Defer(context.Background(), func(context.Context) error { ran++; return errors.New("boom") })
	if ran != 1 || err == nil || err.Error() != "boom" {
		t.Fatalf("ran %d times, err %v; want once, with fn's error", ran, err)
	}
}

func TestDeferWaitsForRunAndKeepsOrder(t *testing.T) {
	ctx, run := Begin(context.Background())
	var order []int
	for i := range 3 {
		if err := Defer(ctx, func(context.Context) error { order = append(order, i); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(order) != 0 {
		t.Fatalf("ran before the commit: %v", order)
	}
	if err := run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []int{0, 1, 2}) {
		t.Fatalf("order %v, want 0 1 2", order)
	}
	// run empties the list: a second call does nothing.
	if err := run(context.Background()); err != nil || len(order) != 3 {
		t.Fatalf("second run: err %v, order %v", err, order)
	}
}

func TestRunJoinsErrorsAndRunsEveryHook(t *testing.T) {
	ctx, run := Begin(context.Background())
	first, second := errors.New("first"), errors.New("second")
	ran := 0
	_ = Defer(ctx, func(context.Context) error { ran++; return first })
	_ = Defer(ctx, func(context.Context) error { ran++; return second })
	err := run(context.Background())
	if ran != 2 || !errors.Is(err, first) || !errors.Is(err, second) {
		t.Fatalf("ran %d, err %v; want both hooks run and both errors", ran, err)
	}
}

func TestNestedBeginJoinsTheOuterList(t *testing.T) {
	outer, runOuter := Begin(context.Background())
	inner, runInner := Begin(outer)
	ran := false
	_ = Defer(inner, func(context.Context) error { ran = true; return nil })
	if err := runInner(context.Background()); err != nil || ran {
		t.Fatalf("the inner run ran the hook (ran %v, err %v); only the outermost commit may", ran, err)
	}
	if err := runOuter(context.Background()); err != nil || !ran {
		t.Fatalf("outer run: ran %v, err %v", ran, err)
	}
}

func TestHooksGetTheContextRunIsGiven(t *testing.T) {
	type k struct{}
	ctx, run := Begin(context.Background())
	var got any
	_ = Defer(ctx, func(c context.Context) error { got = c.Value(k{}); return nil })
	if err := run(context.WithValue(context.Background(), k{}, "after")); err != nil || got != "after" {
		t.Fatalf("hook saw %v (err %v), want the context given to run", got, err)
	}
}
