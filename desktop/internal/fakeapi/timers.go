package fakeapi

import (
	"sync"
	"time"
)

// Timers is a state.AfterFunc that never fires by itself: tests fire it, so the 30-second
// reveal and clipboard timers are tested without sleeping.
type Timers struct {
	mu      sync.Mutex
	pending []*timer
}

type timer struct {
	d       time.Duration
	f       func()
	stopped bool
}

// After implements state.AfterFunc.
func (t *Timers) After(d time.Duration, f func()) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	tm := &timer{d: d, f: f}
	t.pending = append(t.pending, tm)
	return func() {
		t.mu.Lock()
		tm.stopped = true
		t.mu.Unlock()
	}
}

// Pending lists the durations of the armed timers.
func (t *Timers) Pending() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []time.Duration
	for _, tm := range t.pending {
		if !tm.stopped {
			out = append(out, tm.d)
		}
	}
	return out
}

// FireAll runs every armed timer (as if their time had passed) and reports how many ran.
func (t *Timers) FireAll() int {
	t.mu.Lock()
	var run []*timer
	for _, tm := range t.pending {
		if !tm.stopped {
			run = append(run, tm)
		}
	}
	t.pending = nil
	t.mu.Unlock()
	for _, tm := range run {
		tm.f()
	}
	return len(run)
}

// Clipboard is an in-memory clipboard (state.Clipboard).
type Clipboard struct {
	mu sync.Mutex
	v  string
}

// Content implements state.Clipboard.
func (c *Clipboard) Content() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

// SetContent implements state.Clipboard.
func (c *Clipboard) SetContent(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.v = s
}
