// Package txhook defers work until the database transaction a context carries has committed.
//
// Caches that are invalidated on write must not be invalidated before the write is visible:
// a reader could fill the cache from the old row in between and keep it. A store that runs
// several writes in one transaction (store.DB.InTx) begins a hook list in the context it hands
// down; code that only knows it wrote something calls Defer, which runs the work at once
// outside a transaction and after the commit inside one. The package has no database code, so
// caches can use it without depending on the store.
package txhook

import (
	"context"
	"errors"
	"sync"
)

type key struct{}

type hooks struct {
	mu  sync.Mutex
	fns []func(context.Context) error
}

// Begin returns ctx carrying a new, empty hook list, and run, which runs the hooks deferred on
// it in order and joins their errors. Call run once the transaction has committed, with a
// context that no longer carries the transaction; drop it when the transaction rolls back.
// A ctx that already carries a list (a transaction joined by an inner one) keeps it, and run
// is then a no-op: the outermost commit runs everything.
func Begin(ctx context.Context) (context.Context, func(context.Context) error) {
	if _, ok := ctx.Value(key{}).(*hooks); ok {
		return ctx, func(context.Context) error { return nil }
	}
	h := &hooks{}
	return context.WithValue(ctx, key{}, h), h.run
}

// Defer runs fn after the transaction ctx carries commits, or now when it carries none. Its
// error is fn's when fn ran now; deferred errors are returned by Begin's run.
func Defer(ctx context.Context, fn func(context.Context) error) error {
	h, ok := ctx.Value(key{}).(*hooks)
	if !ok {
		return fn(ctx)
	}
	h.mu.Lock()
	h.fns = append(h.fns, fn)
	h.mu.Unlock()
	return nil
}

func (h *hooks) run(ctx context.Context) error {
	h.mu.Lock()
	fns := h.fns
	h.fns = nil
	h.mu.Unlock()
	var errs []error
	for _, fn := range fns {
		errs = append(errs, fn(ctx))
	}
	return errors.Join(errs...)
}
