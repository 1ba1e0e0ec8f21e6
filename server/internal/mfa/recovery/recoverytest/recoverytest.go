// Package recoverytest checks recovery.Store implementations by driving recovery.Codes over
// them: the SEC-22 behaviours are proven on the in-memory fake and on the database store,
// SQLite and PostgreSQL alike.
package recoverytest

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/mfa/recovery"
)

// Harness is one empty store and what the suite needs around it.
type Harness struct {
	// Store must be empty.
	Store recovery.Store
	// NewUser creates a user the store accepts codes for and returns its ID.
	NewUser func(t *testing.T) string
	// StoredHashes reads the code column of the user's rows, bypassing the Store interface.
	StoredHashes func(t *testing.T, userID string) []string
}

var format = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)

// Exercise runs the suite; newHarness is called once per subtest.
func Exercise(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()
	setup := func(t *testing.T) (Harness, *recovery.Codes, string) {
		t.Helper()
		h := newHarness(t)
		return h, recovery.New(h.Store, recovery.Options{}), h.NewUser(t)
	}
	generate := func(t *testing.T, c *recovery.Codes, uid string) []string {
		t.Helper()
		codes, err := c.Generate(ctx, uid)
		if err != nil {
			t.Fatal(err)
		}
		return codes
	}
	remaining := func(t *testing.T, c *recovery.Codes, uid string, want int) {
		t.Helper()
		if n, err := c.Remaining(ctx, uid); err != nil || n != want {
			t.Fatalf("remaining %d (%v), want %d", n, err, want)
		}
	}

	// SEC-22: ≥10 codes of ≥50 bits, grouped for reading, stored hashed.
	t.Run("SEC-22 ten codes of 50 bits stored hashed", func(t *testing.T) {
		h, c, uid := setup(t)
		codes := generate(t, c, uid)
		if len(codes) < 10 || recovery.Count < 10 {
			t.Fatalf("%d codes", len(codes))
		}
		if recovery.Bits < 50 || len(recovery.Alphabet) != 32 {
			t.Fatalf("%d bits per code", recovery.Bits)
		}
		seen := map[string]bool{}
		var want []string
		for _, code := range codes {
			if !format.MatchString(code) {
				t.Fatalf("code %q is not xxxxx-xxxxx in the alphabet", code)
			}
			if seen[code] {
				t.Fatalf("duplicate code %q", code)
			}
			seen[code] = true
			norm, ok := recovery.Normalize(code)
			if !ok {
				t.Fatalf("own code %q does not normalise", code)
			}
			want = append(want, recovery.Hash(uid, norm))
		}
		stored := h.StoredHashes(t, uid)
		slices.Sort(stored)
		slices.Sort(want)
		if !slices.Equal(stored, want) {
			t.Fatalf("stored %v, want the hashes %v", stored, want)
		}
		for _, s := range stored {
			for _, code := range codes {
				norm, _ := recovery.Normalize(code)
				if strings.Contains(s, norm) || strings.Contains(s, code) {
					t.Fatalf("stored value %q holds a code", s)
				}
			}
		}
		remaining(t, c, uid, len(codes))
	})

	// SEC-22: each code works once; remaining count goes down.
	t.Run("SEC-22 single use and remaining count", func(t *testing.T) {
		_, c, uid := setup(t)
		codes := generate(t, c, uid)
		if err := c.Use(ctx, uid, codes[0]); err != nil {
			t.Fatal(err)
		}
		remaining(t, c, uid, 9)
		if err := c.Use(ctx, uid, codes[0]); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("second use: %v", err)
		}
		// Typed input: upper case, spaces, no dash.
		if err := c.Use(ctx, uid, " "+strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))+" "); err != nil {
			t.Fatalf("typed input: %v", err)
		}
		if err := c.Use(ctx, uid, strings.ReplaceAll(codes[2], "-", "")); err != nil {
			t.Fatalf("without dash: %v", err)
		}
		remaining(t, c, uid, 7)
		for _, bad := range []string{"", "abcde", "abcde-abcde-a", "uuuuu-uuuuu", "!!!!!-!!!!!", "00000-00000"} {
			if err := c.Use(ctx, uid, bad); !errors.Is(err, recovery.ErrInvalidCode) {
				t.Fatalf("code %q: %v", bad, err)
			}
		}
		remaining(t, c, uid, 7)
	})

	t.Run("SEC-22 codes are per user", func(t *testing.T) {
		h, c, uid := setup(t)
		codes := generate(t, c, uid)
		other := h.NewUser(t)
		generate(t, c, other)
		if err := c.Use(ctx, other, codes[0]); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("another user's code: %v", err)
		}
		remaining(t, c, uid, 10)
		remaining(t, c, other, 10)
	})

	// SEC-22: a concurrent double use succeeds once.
	t.Run("SEC-22 concurrent double use succeeds once", func(t *testing.T) {
		_, c, uid := setup(t)
		codes := generate(t, c, uid)
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = c.Use(ctx, uid, codes[3])
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, recovery.ErrInvalidCode):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent uses succeeded, want 1", ok, n)
		}
		remaining(t, c, uid, 9)
	})

	// SEC-22: regenerating invalidates the old set.
	t.Run("SEC-22 regenerate invalidates the old set", func(t *testing.T) {
		h, c, uid := setup(t)
		old := generate(t, c, uid)
		if err := c.Use(ctx, uid, old[0]); err != nil {
			t.Fatal(err)
		}
		fresh := generate(t, c, uid)
		for _, code := range old[1:] {
			if err := c.Use(ctx, uid, code); !errors.Is(err, recovery.ErrInvalidCode) {
				t.Fatalf("old code %q after regenerate: %v", code, err)
			}
		}
		if got := len(h.StoredHashes(t, uid)); got != len(fresh) {
			t.Fatalf("%d rows after regenerate, want %d", got, len(fresh))
		}
		remaining(t, c, uid, 10)
		if err := c.Use(ctx, uid, fresh[9]); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SEC-22 concurrent regenerate leaves one set", func(t *testing.T) {
		h, c, uid := setup(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Generate(ctx, uid); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := len(h.StoredHashes(t, uid)); got != recovery.Count {
			t.Fatalf("%d rows after concurrent regenerations, want %d", got, recovery.Count)
		}
	})

	t.Run("SEC-22 delete for MFA reset", func(t *testing.T) {
		_, c, uid := setup(t)
		codes := generate(t, c, uid)
		if err := c.Delete(ctx, uid); err != nil {
			t.Fatal(err)
		}
		remaining(t, c, uid, 0)
		if err := c.Use(ctx, uid, codes[0]); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("code after delete: %v", err)
		}
		if err := c.Delete(ctx, uid); err != nil {
			t.Fatalf("delete without codes: %v", err)
		}
	})
}

type memCode struct {
	hash   string
	usedAt *time.Time
}

// MemStore is an in-memory recovery.Store.
type MemStore struct {
	mu    sync.Mutex
	codes map[string][]memCode
}

var _ recovery.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{codes: map[string][]memCode{}} }

// Replace implements recovery.Store.
func (m *MemStore) Replace(_ context.Context, userID string, hashes []string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := make([]memCode, 0, len(hashes))
	for _, h := range hashes {
		set = append(set, memCode{hash: h})
	}
	m.codes[userID] = set
	return nil
}

// Use implements recovery.Store.
func (m *MemStore) Use(_ context.Context, userID, hash string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, c := range m.codes[userID] {
		if c.hash == hash && c.usedAt == nil {
			m.codes[userID][i].usedAt = &at
			return true, nil
		}
	}
	return false, nil
}

// Remaining implements recovery.Store.
func (m *MemStore) Remaining(_ context.Context, userID string) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, c := range m.codes[userID] {
		if c.usedAt == nil {
			n++
		}
	}
	return n, nil
}

// Delete implements recovery.Store.
func (m *MemStore) Delete(_ context.Context, userID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.codes, userID)
	return nil
}

// Hashes returns what the fake stores for a user.
func (m *MemStore) Hashes(userID string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, c := range m.codes[userID] {
		out = append(out, c.hash)
	}
	return out
}
