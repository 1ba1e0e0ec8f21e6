package password

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cheapParams keep tests that do not measure cost fast; 64 KiB is the
// smallest memory Validate accepts for one lane times eight.
var cheapParams = Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func newHasherT(t testing.TB, p Params, maxConcurrent int) *Hasher {
	t.Helper()
	h, err := NewHasher(p, maxConcurrent)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

// countComputations installs the test hook and returns the counter it
// increments once per argon2id computation.
func countComputations(h *Hasher) *atomic.Int64 {
	var n atomic.Int64
	h.onCompute = func() { n.Add(1) }
	return &n
}

func hashT(t testing.TB, h *Hasher, pw string) string {
	t.Helper()
	phc, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return phc
}

func verifyT(t testing.TB, h *Hasher, pw, phc string) (ok, needsRehash bool) {
	t.Helper()
	ok, needsRehash, err := h.Verify(context.Background(), pw, phc)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return ok, needsRehash
}

// SEC-01: a hash verifies with its password and only with it.
func TestHashVerifyRoundTrip_SEC01(t *testing.T) {
	h := newHasherT(t, DefaultParams(), 0)
	phc := hashT(t, h, "correct horse battery staple")
	if ok, rehash := verifyT(t, h, "correct horse battery staple", phc); !ok || rehash {
		t.Fatalf("right password: ok=%v needsRehash=%v, want true false", ok, rehash)
	}
	for _, wrong := range []string{"Correct horse battery staple", "correct horse battery staple "} {
		if ok, rehash := verifyT(t, h, wrong, phc); ok || rehash {
			t.Errorf("wrong password (%d bytes): ok=%v needsRehash=%v, want false false", len(wrong), ok, rehash)
		}
	}
}

// SEC-01: the output is a PHC string with the OWASP parameters, a 16-byte
// salt and a 32-byte key, in unpadded standard base64.
// SEC-01
func TestHashPHCFormat_SEC01(t *testing.T) {
	h := newHasherT(t, DefaultParams(), 1)
	phc := hashT(t, h, "correct horse battery staple")
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Fatalf("hash %q does not match %s", phc, re)
	}
	if p := DefaultParams(); p != (Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}) {
		t.Fatalf("DefaultParams() = %+v", p)
	}
}

// SEC-01: every hash has its own salt, so equal passwords do not give equal
// hashes.
// SEC-01
func TestHashFreshSalt_SEC01(t *testing.T) {
	h := newHasherT(t, cheapParams, 0)
	a, b := hashT(t, h, "same password twice"), hashT(t, h, "same password twice")
	if a == b {
		t.Fatal("two hashes of one password are equal")
	}
	if sa, sb := strings.Split(a, "$")[4], strings.Split(b, "$")[4]; sa == sb {
		t.Fatalf("salts equal: %s", sa)
	}
	for _, phc := range []string{a, b} {
		if ok, _ := verifyT(t, h, "same password twice", phc); !ok {
			t.Fatal("hash does not verify")
		}
	}
}

// SEC-01: a hash made with other parameters still verifies, and asks to be
// rehashed, but only when the password was right.
// SEC-01
func TestNeedsRehash_SEC01(t *testing.T) {
	t.Run("weaker params, default hasher", func(t *testing.T) {
		weak := Params{MemoryKiB: 8192, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
		phc := hashT(t, newHasherT(t, weak, 1), "an old but good password")
		current := newHasherT(t, DefaultParams(), 0)
		if ok, rehash := verifyT(t, current, "an old but good password", phc); !ok || !rehash {
			t.Errorf("right password: ok=%v needsRehash=%v, want true true", ok, rehash)
		}
		if ok, rehash := verifyT(t, current, "a wrong password entirely", phc); ok || rehash {
			t.Errorf("wrong password: ok=%v needsRehash=%v, want false false", ok, rehash)
		}
		if ok, rehash := verifyT(t, current, "an old but good password", hashT(t, current, "an old but good password")); !ok || rehash {
			t.Errorf("current params: ok=%v needsRehash=%v, want true false", ok, rehash)
		}
	})
	// Each field on its own triggers a rehash (cheap parameters keep this fast).
	base := Params{MemoryKiB: 256, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	current := newHasherT(t, base, 0)
	variants := map[string]func(p *Params){
		"memory":      func(p *Params) { p.MemoryKiB = 512 },
		"iterations":  func(p *Params) { p.Iterations = 3 },
		"parallelism": func(p *Params) { p.Parallelism = 2 },
		"salt length": func(p *Params) { p.SaltLength = 8 },
		"key length":  func(p *Params) { p.KeyLength = 16 },
	}
	for name, change := range variants {
		t.Run(name, func(t *testing.T) {
			p := base
			change(&p)
			phc := hashT(t, newHasherT(t, p, 1), "an old but good password")
			if ok, rehash := verifyT(t, current, "an old but good password", phc); !ok || !rehash {
				t.Errorf("ok=%v needsRehash=%v, want true true", ok, rehash)
			}
		})
	}
}

// SEC-02: the full 1024 bytes count; nothing is truncated.
func TestLongPasswordNoTruncation_SEC02(t *testing.T) {
	h := newHasherT(t, cheapParams, 0)
	long := strings.Repeat("x", MaxBytes-1) + "a"
	lastChanged := strings.Repeat("x", MaxBytes-1) + "b"
	phc := hashT(t, h, long)
	if ok, _ := verifyT(t, h, long, phc); !ok {
		t.Fatal("1024-byte password does not verify")
	}
	for name, other := range map[string]string{
		"last byte changed":   lastChanged,
		"first 1023 bytes":    long[:MaxBytes-1],
		"first 72 (bcrypt)":   long[:72],
		"first 128 bytes":     long[:128],
		"one more byte (cap)": long + "a",
	} {
		if ok, _ := verifyT(t, h, other, phc); ok {
			t.Errorf("%s verifies against the 1024-byte hash", name)
		}
	}
	if ok, _ := verifyT(t, h, long, hashT(t, h, lastChanged)); ok {
		t.Error("1024-byte password verifies against the hash of the one with its last byte changed")
	}
	n := countComputations(h)
	if _, err := h.Hash(context.Background(), long+"a"); !errors.Is(err, ErrTooLong) {
		t.Errorf("Hash(1025 bytes) err = %v, want ErrTooLong", err)
	}
	if n.Load() != 0 {
		t.Errorf("Hash(1025 bytes) ran %d computations, want 0", n.Load())
	}
}

// SEC-02: any Unicode works, byte for byte.
func TestUnicodePasswords_SEC02(t *testing.T) {
	h := newHasherT(t, cheapParams, 0)
	pws := []string{
		"🔐🦄🌈🔑🐉🎲🧩🪐🛸🎻🌋🧊",                 // emoji, 12 runes, 48 bytes
		"正確な馬のバッテリーの定番です",              // CJK
		"correct horse battery staple", // spaces
		"пароль с пробелами и ёжиком",
		"tab\tand\nnewline and NUL\x00 too",
		strings.Repeat("é", MaxBytes/2), // 1024 bytes of two-byte runes
	}
	phcs := make([]string, len(pws))
	for i, pw := range pws {
		phcs[i] = hashT(t, h, pw)
	}
	for i, pw := range pws {
		for j, phc := range phcs {
			if ok, _ := verifyT(t, h, pw, phc); ok != (i == j) {
				t.Errorf("password %d against hash %d: ok=%v", i, j, ok)
			}
		}
	}
}

// SEC-06: with one slot, never more than one computation runs, however
// many callers there are, and every caller is served.
// SEC-06
func TestConcurrencyBounded_SEC06(t *testing.T) {
	h := newHasherT(t, cheapParams, 1)
	var active, maxActive, total atomic.Int64
	h.onCompute = func() {
		cur := active.Add(1)
		for {
			m := maxActive.Load()
			if cur <= m || maxActive.CompareAndSwap(m, cur) {
				break
			}
		}
		if got := h.InFlight(); got != 1 {
			t.Errorf("InFlight() = %d inside a computation, want 1", got)
		}
		time.Sleep(time.Millisecond) // widen the window a broken semaphore would show in
		total.Add(1)
		active.Add(-1)
	}
	const callers = 32
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if i%2 == 0 {
				if _, err := h.Hash(context.Background(), "a perfectly fine password"); err != nil {
					t.Error(err)
				}
			} else if err := h.VerifyDummy(context.Background(), "a perfectly fine password"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if maxActive.Load() != 1 || total.Load() != callers {
		t.Fatalf("max concurrent computations %d (want 1), total %d (want %d)", maxActive.Load(), total.Load(), callers)
	}
	if h.InFlight() != 0 || h.Waiting() != 0 {
		t.Fatalf("after all calls: InFlight %d Waiting %d, want 0 0", h.InFlight(), h.Waiting())
	}
}

// SEC-06: the bound is a bound, not a mutex: all slots are used at once and
// the rest queue.
// SEC-06
func TestConcurrencyUsesAllSlots_SEC06(t *testing.T) {
	const slots, callers = 2, 5
	h := newHasherT(t, cheapParams, slots)
	arrived, release := make(chan struct{}, callers), make(chan struct{})
	h.onCompute = func() { arrived <- struct{}{}; <-release }
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "a perfectly fine password"); err != nil {
				t.Error(err)
			}
		})
	}
	for range slots {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("slots not all used")
		}
	}
	waitFor(t, func() bool { return h.Waiting() == callers-slots }, "queued callers")
	if got := h.InFlight(); got != slots {
		t.Errorf("InFlight() = %d, want %d", got, slots)
	}
	select {
	case <-arrived:
		t.Fatal("a computation started beyond the bound")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	wg.Wait()
	if h.Capacity() != slots {
		t.Errorf("Capacity() = %d, want %d", h.Capacity(), slots)
	}
}

// SEC-06: a caller queued behind a full semaphore leaves as soon as its
// context ends, with the context's error, and does no hashing.
// SEC-06
func TestCancelWhileWaiting_SEC06(t *testing.T) {
	h := newHasherT(t, cheapParams, 1)
	entered, release := make(chan struct{}), make(chan struct{})
	var computations atomic.Int64
	h.onCompute = func() {
		if computations.Add(1) == 1 {
			close(entered)
			<-release
		}
	}
	holder := make(chan error, 1)
	go func() { _, err := h.Hash(context.Background(), "holds the only slot"); holder <- err }()
	<-entered

	cases := map[string]func(ctx context.Context) error{
		"Hash": func(ctx context.Context) error { _, err := h.Hash(ctx, "queued password"); return err },
		"Verify": func(ctx context.Context) error {
			_, _, err := h.Verify(ctx, "queued password", h.dummy)
			return err
		},
		"VerifyDummy": func(ctx context.Context) error { return h.VerifyDummy(ctx, "queued password") },
	}
	for name, call := range cases {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- call(ctx) }()
			waitFor(t, func() bool { return h.Waiting() == 1 }, "caller queued")
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err = %v, want context.Canceled", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("queued caller did not return after its context was cancelled")
			}
			if h.Waiting() != 0 {
				t.Fatalf("Waiting() = %d after cancel, want 0", h.Waiting())
			}
		})
	}
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := h.Hash(ctx, "queued password")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("returned %v after a 50ms deadline", d)
		}
	})
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	if got := computations.Load(); got != 1 {
		t.Fatalf("%d computations, want only the holder's", got)
	}

	// A context that has already ended does no work even with a free slot.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "too late"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(cancelled ctx) err = %v", err)
	}
	if got := computations.Load(); got != 1 {
		t.Fatalf("cancelled caller computed: %d computations", got)
	}
}

// SEC-04: an unknown user costs exactly what a known one does: one argon2id
// computation with the current parameters, through the same semaphore.
// SEC-04
func TestVerifyDummyDoesVerifyWork_SEC04(t *testing.T) {
	h := newHasherT(t, DefaultParams(), 0)
	phc := hashT(t, h, "the user's real password")
	n := countComputations(h)

	if err := h.VerifyDummy(context.Background(), "a guess at the password"); err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("VerifyDummy ran %d computations, want 1", got)
	}
	verifyT(t, h, "a guess at the password", phc)
	if got := n.Load(); got != 2 {
		t.Fatalf("Verify ran %d computations, want 1", got-1)
	}
	if p, err := decode(h.dummy); err != nil || p != h.Params() {
		t.Fatalf("dummy hash params %+v (err %v), want %+v", p, err, h.Params())
	}
	// Oversized input: both skip the work alike.
	tooLong := strings.Repeat("z", MaxBytes+1)
	_ = h.VerifyDummy(context.Background(), tooLong)
	verifyT(t, h, tooLong, phc)
	if got := n.Load(); got != 2 {
		t.Fatalf("oversized passwords ran %d computations, want 0", got-2)
	}
}

// SEC-04: timing sanity check on top of the computation count. Interleaved
// runs share the machine's noise; the factor is loose on purpose.
func TestVerifyDummyTiming_SEC04(t *testing.T) {
	h := newHasherT(t, DefaultParams(), 1)
	phc := hashT(t, h, "the user's real password")
	ctx := context.Background()
	const runs = 5
	var real, dummy []time.Duration
	for range runs {
		start := time.Now()
		if _, _, err := h.Verify(ctx, "a wrong guess here", phc); err != nil {
			t.Fatal(err)
		}
		real = append(real, time.Since(start))
		start = time.Now()
		if err := h.VerifyDummy(ctx, "a wrong guess here"); err != nil {
			t.Fatal(err)
		}
		dummy = append(dummy, time.Since(start))
	}
	slices.Sort(real)
	slices.Sort(dummy)
	mr, md := real[runs/2], dummy[runs/2]
	ratio := float64(md) / float64(mr)
	t.Logf("median Verify %v, VerifyDummy %v, ratio %.2f", mr, md, ratio)
	if ratio < 0.5 || ratio > 2 {
		t.Fatalf("VerifyDummy/Verify median ratio %.2f outside 0.5..2", ratio)
	}
}

// Malformed stored hashes give ErrMalformedHash, never a panic, and cost no
// argon2 work (a corrupt row must not allocate what it claims).
func TestVerifyMalformedHash(t *testing.T) {
	h := newHasherT(t, cheapParams, 1)
	good := hashT(t, h, "a perfectly fine password")
	f := strings.Split(good, "$") // "", argon2id, v=19, m=64,t=1,p=1, salt, key
	join := func(fields ...string) string { return strings.Join(fields, "$") }
	bad := map[string]string{
		"empty":                "",
		"dollar":               "$",
		"plain text":           "a perfectly fine password",
		"bcrypt":               "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"argon2i":              join("", "argon2i", f[2], f[3], f[4], f[5]),
		"version 16":           join("", "argon2id", "v=16", f[3], f[4], f[5]),
		"version garbage":      join("", "argon2id", "v=19x", f[3], f[4], f[5]),
		"text before":          "x" + good,
		"too few fields":       join("", "argon2id", f[2], f[3], f[4]),
		"too many fields":      good + "$extra",
		"memory zero":          join("", "argon2id", f[2], "m=0,t=1,p=1", f[4], f[5]),
		"memory 4 TiB":         join("", "argon2id", f[2], "m=4294967295,t=1,p=1", f[4], f[5]),
		"memory overflow":      join("", "argon2id", f[2], "m=99999999999,t=1,p=1", f[4], f[5]),
		"memory negative":      join("", "argon2id", f[2], "m=-1,t=1,p=1", f[4], f[5]),
		"iterations zero":      join("", "argon2id", f[2], "m=64,t=0,p=1", f[4], f[5]),
		"iterations huge":      join("", "argon2id", f[2], "m=64,t=4294967295,p=1", f[4], f[5]),
		"parallelism zero":     join("", "argon2id", f[2], "m=64,t=1,p=0", f[4], f[5]),
		"parallelism 256":      join("", "argon2id", f[2], "m=4096,t=1,p=256", f[4], f[5]),
		"memory below 8p":      join("", "argon2id", f[2], "m=8,t=1,p=2", f[4], f[5]),
		"params trailing text": join("", "argon2id", f[2], f[3]+"x", f[4], f[5]),
		"params reordered":     join("", "argon2id", f[2], "t=1,m=64,p=1", f[4], f[5]),
		"params missing":       join("", "argon2id", f[2], "m=64,t=1", f[4], f[5]),
		"salt empty":           join("", "argon2id", f[2], f[3], "", f[5]),
		"salt short":           join("", "argon2id", f[2], f[3], "c2FsdA", f[5]),
		"salt bad base64":      join("", "argon2id", f[2], f[3], "!!!!", f[5]),
		"salt padded":          join("", "argon2id", f[2], f[3], f[4]+"==", f[5]),
		"key empty":            join("", "argon2id", f[2], f[3], f[4], ""),
		"key short":            join("", "argon2id", f[2], f[3], f[4], "a2V5"),
		"key bad base64":       join("", "argon2id", f[2], f[3], f[4], "*"+f[5][1:]),
		"huge":                 good + strings.Repeat("A", 1<<20),
	}
	n := countComputations(h)
	for name, phc := range bad {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "a perfectly fine password", phc)
			if !errors.Is(err, ErrMalformedHash) || ok || rehash {
				t.Fatalf("ok=%v needsRehash=%v err=%v, want false false ErrMalformedHash", ok, rehash, err)
			}
			if strings.Contains(err.Error(), "a perfectly fine password") {
				t.Fatalf("error message contains the password: %v", err)
			}
		})
	}
	if n.Load() != 0 {
		t.Fatalf("malformed hashes ran %d computations", n.Load())
	}
	if ok, _ := verifyT(t, h, "a perfectly fine password", good); !ok {
		t.Fatal("the well-formed hash the cases were built from does not verify")
	}
}

// FuzzDecode: no input makes the stored-hash parser panic, and whatever it
// accepts is within the bounds Verify may compute with.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0000000000000000000000000000000000000000000",
		"$argon2id$v=19$m=0,t=0,p=0$$", "$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$$$$$", "$argon2id$v=19$m=-1,t=1,p=1$a$b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phc string) {
		p, err := decode(phc)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("error %v does not wrap ErrMalformedHash", err)
			}
			return
		}
		if verr := p.Validate(); verr != nil {
			t.Fatalf("decode accepted params it should refuse: %v", verr)
		}
	})
}

func TestNewHasher(t *testing.T) {
	h := newHasherT(t, cheapParams, 0)
	if h.Capacity() != runtime.GOMAXPROCS(0) {
		t.Errorf("Capacity() = %d with maxConcurrent 0, want GOMAXPROCS %d", h.Capacity(), runtime.GOMAXPROCS(0))
	}
	if h.Params() != cheapParams {
		t.Errorf("Params() = %+v", h.Params())
	}
	for name, p := range map[string]Params{
		"zero":         {},
		"no lanes":     {MemoryKiB: 64, Iterations: 1, SaltLength: 16, KeyLength: 32},
		"no passes":    {MemoryKiB: 64, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		"memory huge":  {MemoryKiB: maxMemoryKiB + 1, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
		"short salt":   {MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 4, KeyLength: 32},
		"short key":    {MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 8},
		"memory < 8*p": {MemoryKiB: 15, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32},
	} {
		if _, err := NewHasher(p, 1); !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: err = %v, want ErrInvalidParams", name, err)
		}
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
