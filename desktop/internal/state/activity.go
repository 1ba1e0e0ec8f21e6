package state

import (
	"sort"
	"sync"
)

// Activity counts the calls in flight, so the window can show that something is happening and
// what it is.
type Activity struct {
	mu      sync.Mutex
	next    int
	running map[int]string
}

// Begin records a call; the returned func ends it (once).
func (a *Activity) Begin(label string) (end func()) {
	a.mu.Lock()
	if a.running == nil {
		a.running = map[int]string{}
	}
	id := a.next
	a.next++
	a.running[id] = label
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.running, id)
			a.mu.Unlock()
		})
	}
}

// Busy reports whether a call is in flight and names the oldest one.
func (a *Activity) Busy() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.running) == 0 {
		return false, ""
	}
	ids := make([]int, 0, len(a.running))
	for id := range a.running {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return true, a.running[ids[0]]
}
