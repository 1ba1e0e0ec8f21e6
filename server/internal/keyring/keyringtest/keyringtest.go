// Package keyringtest checks keyring.Store implementations against the
// contract the keyring relies on. Every implementation (the in-memory fake,
// the GORM store on SQLite and PostgreSQL) should pass ExerciseStore.
package keyringtest

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/keyring"
)

// ExerciseStore runs the Store contract against stores made by newStore.
// newStore must return an empty store (no keyring yet) on every call.
func ExerciseStore(t *testing.T, newStore func(t *testing.T) keyring.Store) {
	t.Helper()
	ctx := context.Background()
	created := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	params := keyring.KDFParams{Salt: bytes.Repeat([]byte{0xA5}, 32), Iterations: 600_000, CreatedAt: created}
	first := keyring.WrappedKey{Version: 1, Wrapped: "gAAAAAfirst", CreatedAt: created}

	t.Run("empty store", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.LoadKDF(ctx); !errors.Is(err, keyring.ErrNotInitialised) {
			t.Fatalf("LoadKDF on empty store: err = %v, want ErrNotInitialised", err)
		}
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 0 {
			t.Fatalf("Keys on empty store = %v, %v; want none, nil", keys, err)
		}
	})

	t.Run("initialise then load", func(t *testing.T) {
		s := newStore(t)
		if err := s.Initialise(ctx, params, first); err != nil {
			t.Fatalf("Initialise: %v", err)
		}
		got, err := s.LoadKDF(ctx)
		if err != nil {
			t.Fatalf("LoadKDF: %v", err)
		}
		if !bytes.Equal(got.Salt, params.Salt) || got.Iterations != params.Iterations {
			t.Fatalf("LoadKDF = salt %x, %d iterations; want %x, %d", got.Salt, got.Iterations, params.Salt, params.Iterations)
		}
		if got.CreatedAt.IsZero() {
			t.Error("LoadKDF: CreatedAt not stored")
		}
		wantKeys(t, s, first)
	})

	t.Run("initialise twice", func(t *testing.T) {
		s := newStore(t)
		if err := s.Initialise(ctx, params, first); err != nil {
			t.Fatalf("Initialise: %v", err)
		}
		other := keyring.KDFParams{Salt: bytes.Repeat([]byte{0x5A}, 32), Iterations: 700_000, CreatedAt: created}
		err := s.Initialise(ctx, other, keyring.WrappedKey{Version: 1, Wrapped: "gAAAAAother", CreatedAt: created})
		if !errors.Is(err, keyring.ErrAlreadyInitialised) {
			t.Fatalf("second Initialise: err = %v, want ErrAlreadyInitialised", err)
		}
		got, err := s.LoadKDF(ctx)
		if err != nil || !bytes.Equal(got.Salt, params.Salt) || got.Iterations != params.Iterations {
			t.Fatalf("second Initialise changed the KDF row: %+v, %v", got, err)
		}
		wantKeys(t, s, first)
	})

	t.Run("add key", func(t *testing.T) {
		s := newStore(t)
		if err := s.Initialise(ctx, params, first); err != nil {
			t.Fatalf("Initialise: %v", err)
		}
		second := keyring.WrappedKey{Version: 2, Wrapped: "gAAAAAsecond", CreatedAt: created.Add(time.Hour)}
		if err := s.AddKey(ctx, second); err != nil {
			t.Fatalf("AddKey v2: %v", err)
		}
		err := s.AddKey(ctx, keyring.WrappedKey{Version: 2, Wrapped: "gAAAAAimpostor", CreatedAt: created})
		if !errors.Is(err, keyring.ErrKeyVersionExists) {
			t.Fatalf("AddKey v2 again: err = %v, want ErrKeyVersionExists", err)
		}
		wantKeys(t, s, first, second)
	})

	t.Run("concurrent initialise", func(t *testing.T) {
		s := newStore(t)
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				p := params
				p.Salt = []byte("salt-of-replica-" + strconv.Itoa(i))
				errs[i] = s.Initialise(ctx, p, keyring.WrappedKey{Version: 1, Wrapped: "gAAAAA-replica-" + strconv.Itoa(i), CreatedAt: created})
			})
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, keyring.ErrAlreadyInitialised):
				t.Errorf("Initialise %d: err = %v, want nil or ErrAlreadyInitialised", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d concurrent Initialise calls succeeded, want exactly 1", wins)
		}
		got, err := s.LoadKDF(ctx)
		if err != nil {
			t.Fatalf("LoadKDF: %v", err)
		}
		keys, err := s.Keys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("Keys = %v, %v; want exactly the winner's key", keys, err)
		}
		// The stored key must belong to the stored salt: both came from the winner.
		winner, ok := strings.CutPrefix(string(got.Salt), "salt-of-replica-")
		if !ok {
			t.Fatalf("stored salt %q is none of the candidates", got.Salt)
		}
		if want := "gAAAAA-replica-" + winner; keys[0].Wrapped != want {
			t.Fatalf("stored key %q does not match stored salt (want %q): Initialise is not atomic", keys[0].Wrapped, want)
		}
	})

	t.Run("concurrent add key", func(t *testing.T) {
		s := newStore(t)
		if err := s.Initialise(ctx, params, first); err != nil {
			t.Fatalf("Initialise: %v", err)
		}
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.AddKey(ctx, keyring.WrappedKey{Version: 2, Wrapped: "gAAAAA-replica-" + strconv.Itoa(i), CreatedAt: created})
			})
		}
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, keyring.ErrKeyVersionExists):
				t.Errorf("AddKey %d: err = %v, want nil or ErrKeyVersionExists", i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d concurrent AddKey calls for version 2 succeeded, want exactly 1", wins)
		}
	})
}

// wantKeys checks that s holds exactly want (by version and wrapped text), in any order.
func wantKeys(t *testing.T, s keyring.Store, want ...keyring.WrappedKey) {
	t.Helper()
	got, err := s.Keys(context.Background())
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Keys returned %d keys, want %d", len(got), len(want))
	}
	byVersion := make(map[int]keyring.WrappedKey, len(got))
	for _, k := range got {
		byVersion[k.Version] = k
	}
	for _, w := range want {
		g, ok := byVersion[w.Version]
		if !ok {
			t.Fatalf("Keys: version %d missing", w.Version)
		}
		if g.Wrapped != w.Wrapped {
			t.Fatalf("Keys: version %d wrapped = %q, want %q", w.Version, g.Wrapped, w.Wrapped)
		}
		if g.CreatedAt.IsZero() {
			t.Errorf("Keys: version %d CreatedAt not stored", w.Version)
		}
	}
}
