package rewrap_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/rewrap"
	"gatehouse/shared/api"
)

// fakeKeyring is a versioned Fernet keyring without the key derivation (the real one runs
// PBKDF2 on every Open, which is slow under the race detector; the database test uses it).
// Like the real one it is shared by "replicas": Reload picks up versions another instance
// added to the same keySource.
type fakeKeyring struct {
	src     *keySource
	mu      sync.Mutex
	keys    map[int]*fernet.Key
	current int
}

// keySource is the shared key table (the keyring_keys rows).
type keySource struct {
	mu    sync.Mutex
	keys  []*fernet.Key
	times []time.Time
	now   func() time.Time
}

func (s *keySource) add() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var k fernet.Key
	if err := k.Generate(); err != nil {
		panic(err)
	}
	s.keys, s.times = append(s.keys, &k), append(s.times, s.now())
	return len(s.keys)
}

// Keys makes keySource a rewrap.KeyLister (no key material is needed there).
func (s *keySource) Keys(context.Context) ([]keyring.WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]keyring.WrappedKey, len(s.keys))
	for i := range s.keys {
		out[i] = keyring.WrappedKey{Version: i + 1, CreatedAt: s.times[i]}
	}
	return out, nil
}

func newFakeKeyring(src *keySource) *fakeKeyring {
	k := &fakeKeyring{src: src, keys: map[int]*fernet.Key{}}
	_ = k.Reload(context.Background())
	return k
}

func (k *fakeKeyring) Reload(context.Context) error {
	k.src.mu.Lock()
	defer k.src.mu.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, key := range k.src.keys {
		k.keys[i+1] = key
		k.current = max(k.current, i+1)
	}
	return nil
}

// Rotate adds a version and makes it current here (other instances see it after Reload).
func (k *fakeKeyring) Rotate(ctx context.Context) (int, error) {
	v := k.src.add()
	return v, k.Reload(ctx)
}

func (k *fakeKeyring) CurrentVersion() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.current
}

func (k *fakeKeyring) Encrypt(p []byte) (string, error) {
	k.mu.Lock()
	v, key := k.current, k.keys[k.current]
	k.mu.Unlock()
	tok, err := fernet.EncryptAndSign(p, key)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("v%d:%s", v, tok), nil
}

func (k *fakeKeyring) Decrypt(ct string) ([]byte, error) {
	v := version(ct)
	k.mu.Lock()
	key := k.keys[v]
	k.mu.Unlock()
	_, tok, _ := strings.Cut(ct, ":")
	if key == nil {
		return nil, keyring.ErrUnknownKeyVersion
	}
	msg := fernet.VerifyAndDecrypt([]byte(tok), 0, []*fernet.Key{key})
	if msg == nil {
		return nil, keyring.ErrDecrypt
	}
	return msg, nil
}

func (k *fakeKeyring) EncryptString(p string) (string, error) { return k.Encrypt([]byte(p)) }

func (k *fakeKeyring) DecryptString(ct string) (string, error) {
	b, err := k.Decrypt(ct)
	return string(b), err
}

// memColumn is an in-memory rewrap.ColumnStore.
type memColumn struct {
	mu   sync.Mutex
	rows map[string]string
	// beforeReplace, when set, runs before each Replace (to simulate concurrent writers).
	beforeReplace func(id string)
}

func (c *memColumn) Name() string { return "mem" }

func version(ct string) int {
	var v int
	if _, err := fmt.Sscanf(ct, "v%d:", &v); err != nil {
		return 0
	}
	return v
}

func (c *memColumn) Count(_ context.Context, current int) (int, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stale := 0
	for _, ct := range c.rows {
		if version(ct) < current {
			stale++
		}
	}
	return len(c.rows), stale, nil
}

func (c *memColumn) Stale(_ context.Context, current int, after string, limit int) ([]rewrap.Sealed, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.rows))
	for id, ct := range c.rows {
		if id > after && version(ct) < current {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]rewrap.Sealed, len(ids))
	for i, id := range ids {
		out[i] = rewrap.Sealed{ID: id, Ciphertext: c.rows[id]}
	}
	return out, nil
}

func (c *memColumn) Replace(_ context.Context, id, old, sealed string) (bool, error) {
	if c.beforeReplace != nil {
		c.beforeReplace(id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rows[id] != old {
		return false, nil
	}
	c.rows[id] = sealed
	return true, nil
}

func (c *memColumn) set(id, ct string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rows[id] = ct
}

func (c *memColumn) get(id string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rows[id]
}

// fixture is a keyring and a column of n values sealed by it.
type fixture struct {
	kr    *fakeKeyring
	store *keySource
	col   *memColumn
	plain map[string]string
	clock *clocktest.Clock
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	clock := clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	src := &keySource{now: clock.Now}
	src.add()
	f := &fixture{store: src, kr: newFakeKeyring(src), col: &memColumn{rows: map[string]string{}}, plain: map[string]string{}, clock: clock}
	for i := range n {
		id := fmt.Sprintf("row-%03d", i)
		p := fmt.Sprintf("seed-%d", i)
		ct, err := f.kr.EncryptString(p)
		if err != nil {
			t.Fatal(err)
		}
		f.col.rows[id], f.plain[id] = ct, p
	}
	return f
}

// rotate adds a key version and moves the clock past the grace period.
func (f *fixture) rotate(t *testing.T) int {
	t.Helper()
	v, err := f.kr.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(rewrap.DefaultGrace)
	return v
}

func (f *fixture) job(opts rewrap.Options, rws ...rewrap.Rewrapper) *rewrap.Job {
	if len(rws) == 0 {
		rws = []rewrap.Rewrapper{rewrap.Column(f.col, f.kr)}
	}
	opts.Now = f.clock.Now
	return rewrap.New(f.kr, f.store, rws, opts)
}

// assertReadable decrypts every row and compares it with what was stored (SEC-43).
func (f *fixture) assertReadable(t *testing.T) {
	t.Helper()
	if len(f.col.rows) != len(f.plain) {
		t.Fatalf("%d rows, want %d", len(f.col.rows), len(f.plain))
	}
	for id, want := range f.plain {
		got, err := f.kr.DecryptString(f.col.get(id))
		if err != nil || got != want {
			t.Fatalf("row %s: %q, %v; want %q", id, got, err, want)
		}
	}
}

func TestNothingToDoOnFirstVersion(t *testing.T) {
	f := newFixture(t, 3)
	j := f.job(rewrap.Options{})
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, err := j.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.CurrentVersion != 1 || st.Rewrap.State != api.RewrapDone || st.Rewrap.Total != 3 || st.Rewrap.Remaining != 0 || st.Rewrap.LastRun != nil {
		t.Fatalf("status %+v", st)
	}
}

func TestRewrapMovesEverythingAndKeepsItReadable(t *testing.T) { // SEC-43
	f := newFixture(t, 25)
	target := f.rotate(t)
	j := f.job(rewrap.Options{BatchSize: 4})
	st, err := j.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rewrap.State != api.RewrapPending || st.Rewrap.Remaining != 25 || len(st.Versions) != 2 {
		t.Fatalf("before: %+v", st.Rewrap)
	}
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for id := range f.plain {
		if v := version(f.col.get(id)); v != target {
			t.Fatalf("row %s is on version %d, want %d", id, v, target)
		}
	}
	f.assertReadable(t)
	st, err = j.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := st.Rewrap
	if r.State != api.RewrapDone || r.Done != 25 || r.Remaining != 0 || r.LastRun == nil || r.LastRun.Rewrapped != 25 ||
		r.LastRun.TargetVersion != target || r.LastRun.FinishedAt == nil || r.LastRun.Error != "" {
		t.Fatalf("after: %+v / %+v", r, r.LastRun)
	}
	if len(r.Tables) != 1 || r.Tables[0] != (api.RewrapTable{Name: "mem", Total: 25, Done: 25}) {
		t.Fatalf("tables %+v", r.Tables)
	}
}

// TestGracePeriod: values do not move to a version other replicas may not have loaded yet.
func TestGracePeriod(t *testing.T) {
	f := newFixture(t, 5)
	if _, err := f.kr.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	j := f.job(rewrap.Options{Grace: time.Minute})
	if err := j.Run(context.Background()); !errors.Is(err, rewrap.ErrTooEarly) {
		t.Fatalf("Run inside the grace period = %v, want ErrTooEarly", err)
	}
	st, _ := j.Status(context.Background())
	if st.Rewrap.State != api.RewrapWaiting || st.Rewrap.StartsAfter == nil || st.Rewrap.Remaining != 5 {
		t.Fatalf("status %+v", st.Rewrap)
	}
	for id := range f.plain {
		if version(f.col.get(id)) != 1 {
			t.Fatal("a value moved during the grace period")
		}
	}
	f.clock.Advance(time.Minute)
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.assertReadable(t)
}

// TestCrashMidwayThenResume cancels a run half-way: everything stays readable, the status
// says what is left, and the next run finishes. SEC-43
func TestCrashMidwayThenResume(t *testing.T) {
	f := newFixture(t, 30)
	target := f.rotate(t)
	ctx, cancel := context.WithCancel(context.Background())
	batches := 0
	stopper := &hooked{Rewrapper: rewrap.Column(f.col, f.kr), after: func() {
		if batches++; batches == 2 {
			cancel()
		}
	}}
	j := f.job(rewrap.Options{BatchSize: 5}, stopper)
	if err := j.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	f.assertReadable(t)
	st, _ := j.Status(context.Background())
	if st.Rewrap.State != api.RewrapFailed || st.Rewrap.Done != 10 || st.Rewrap.Remaining != 20 || st.Rewrap.LastRun.Error == "" {
		t.Fatalf("after the crash: %+v / %+v", st.Rewrap, st.Rewrap.LastRun)
	}
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.assertReadable(t)
	for id := range f.plain {
		if version(f.col.get(id)) != target {
			t.Fatal("the second run did not finish the job")
		}
	}
	st, _ = j.Status(context.Background())
	if st.Rewrap.State != api.RewrapDone || st.Rewrap.LastRun.Rewrapped != 20 {
		t.Fatalf("after resuming: %+v / %+v", st.Rewrap, st.Rewrap.LastRun)
	}
}

// TestConcurrentWriterWins: a row changed between read and write is not overwritten.
func TestConcurrentWriterWins(t *testing.T) {
	f := newFixture(t, 3)
	f.rotate(t)
	fresh, err := f.kr.EncryptString("re-enrolled")
	if err != nil {
		t.Fatal(err)
	}
	f.col.beforeReplace = func(id string) {
		if id == "row-001" {
			f.col.set(id, fresh) // the user re-enrolled while the job ran
		}
	}
	j := f.job(rewrap.Options{})
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.col.get("row-001"); got != fresh {
		t.Fatal("the job overwrote a concurrent change")
	}
	st, _ := j.Status(context.Background())
	if st.Rewrap.LastRun.Rewrapped != 2 || st.Rewrap.LastRun.Skipped != 1 || st.Rewrap.Remaining != 0 {
		t.Fatalf("%+v", st.Rewrap.LastRun)
	}
}

// TestDamagedRowDoesNotBlockTheRest: a value that does not decrypt stays as it is, is
// reported, and the others move.
func TestDamagedRowDoesNotBlockTheRest(t *testing.T) {
	f := newFixture(t, 4)
	target := f.rotate(t)
	f.col.set("row-002", "v1:not-a-fernet-token")
	j := f.job(rewrap.Options{BatchSize: 2})
	if err := j.Run(context.Background()); err == nil {
		t.Fatal("Run reported success with an undecryptable row")
	}
	for _, id := range []string{"row-000", "row-001", "row-003"} {
		if version(f.col.get(id)) != target {
			t.Fatalf("%s did not move", id)
		}
	}
	st, _ := j.Status(context.Background())
	if st.Rewrap.Remaining != 1 || st.Rewrap.LastRun.Failed != 1 || st.Rewrap.State != api.RewrapFailed {
		t.Fatalf("%+v / %+v", st.Rewrap, st.Rewrap.LastRun)
	}
}

// TestRotationByAnotherReplica: Run reloads the keyring, so a version added elsewhere is the target.
func TestRotationByAnotherReplica(t *testing.T) {
	f := newFixture(t, 6)
	f.rotate(t)
	// Another replica (same database, its own keyring instance) rotates again.
	other := newFakeKeyring(f.store)
	v3, err := other.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(rewrap.DefaultGrace)
	j := f.job(rewrap.Options{})
	if err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for id := range f.plain {
		if version(f.col.get(id)) != v3 {
			t.Fatalf("row %s not on version %d (Run must reload the keyring)", id, v3)
		}
	}
	f.assertReadable(t)
}

// hooked calls after once each batch.
type hooked struct {
	rewrap.Rewrapper
	after func()
}

func (h *hooked) RewrapBatch(ctx context.Context, current int, after string, n int) (rewrap.Batch, error) {
	b, err := h.Rewrapper.RewrapBatch(ctx, current, after, n)
	h.after()
	return b, err
}
