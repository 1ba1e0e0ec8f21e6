package keyring

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testPassphrase = "correct horse battery staple"

// countingKDF records every key derivation. It runs real PBKDF2-HMAC-SHA256
// with the iteration count scaled down 100,000-fold, so tests keep the
// semantics (passphrase, salt and count all matter) without paying ~2 s per
// derivation under -race. The production KDF is checked by
// TestDeriveKEKIsPBKDF2SHA256 and TestOpenWrongMasterKeyRealKDF.
type countingKDF struct {
	calls atomic.Int32

	mu         sync.Mutex
	iterations []int
	salts      [][]byte
}

func (c *countingKDF) derive(passphrase string, salt []byte, iterations int) ([]byte, error) {
	c.calls.Add(1)
	c.mu.Lock()
	c.iterations = append(c.iterations, iterations)
	c.salts = append(c.salts, slices.Clone(salt))
	c.mu.Unlock()
	return pbkdf2.Key(sha256.New, passphrase, salt, max(1, iterations/100_000), keyLen)
}

func (c *countingKDF) lastIterations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.iterations[len(c.iterations)-1]
}

func (c *countingKDF) opts() Options { return Options{kdf: c.derive} }

func openT(t testing.TB, s Store, passphrase string, opts Options) *Keyring {
	t.Helper()
	kr, err := Open(context.Background(), s, passphrase, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return kr
}

func newTestKeyring(t testing.TB) (*Keyring, *fakeStore, *countingKDF) {
	t.Helper()
	s, c := newFakeStore(), &countingKDF{}
	return openT(t, s, testPassphrase, c.opts()), s, c
}

func encryptT(t testing.TB, kr *Keyring, plaintext []byte) string {
	t.Helper()
	ct, err := kr.Encrypt(plaintext)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	return ct
}

func wantPlaintext(t testing.TB, kr *Keyring, ct string, want []byte) {
	t.Helper()
	got, err := kr.Decrypt(ct)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Decrypt = %q, want %q", got, want)
	}
}

func TestDeriveKEKIsPBKDF2SHA256(t *testing.T) {
	// RFC 7914 / RFC 6070-style vectors for PBKDF2-HMAC-SHA256, 32-byte output.
	for _, tc := range []struct {
		iterations int
		want       string
	}{
		{1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
		{4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
	} {
		got, err := deriveKEK("password", []byte("salt"), tc.iterations)
		if err != nil {
			t.Fatalf("deriveKEK: %v", err)
		}
		if hex.EncodeToString(got) != tc.want {
			t.Errorf("deriveKEK(%d iterations) = %x, want %s", tc.iterations, got, tc.want)
		}
	}
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	kr, _, _ := newTestKeyring(t)
	for name, pt := range map[string][]byte{
		"empty":  {},
		"text":   []byte("JBSWY3DPEHPK3PXP"),
		"binary": {0, 1, 2, 0xff, 0xfe, 0},
		"1KiB":   bytes.Repeat([]byte{0x42}, 1024),
	} {
		t.Run(name, func(t *testing.T) {
			ct := encryptT(t, kr, pt)
			if !strings.HasPrefix(ct, "v1:gAAAAA") {
				t.Fatalf("ciphertext %q does not start with v1:<fernet token>", ct)
			}
			wantPlaintext(t, kr, ct, pt)
		})
	}

	ct, err := kr.EncryptString("totp-seed")
	if err != nil {
		t.Fatalf("EncryptString: %v", err)
	}
	if got, err := kr.DecryptString(ct); err != nil || got != "totp-seed" {
		t.Fatalf("DecryptString = %q, %v; want totp-seed", got, err)
	}
	if _, err := kr.DecryptString("junk"); !errors.Is(err, ErrMalformedCiphertext) {
		t.Fatalf("DecryptString(junk): err = %v, want ErrMalformedCiphertext", err)
	}
}

func TestEncryptIsRandomised(t *testing.T) {
	kr, _, _ := newTestKeyring(t)
	a := encryptT(t, kr, []byte("same"))
	b := encryptT(t, kr, []byte("same"))
	if a == b {
		t.Fatal("two encryptions of the same plaintext are identical")
	}
}

// flipBit flips one bit of a Fernet token's raw bytes (offset < 0 counts
// from the end) and re-encodes it.
func flipBit(t *testing.T, tok string, offset int) string {
	t.Helper()
	raw, err := base64.URLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatalf("decode token: %v", err)
	}
	if offset < 0 {
		offset += len(raw)
	}
	raw[offset] ^= 0x01
	return base64.URLEncoding.EncodeToString(raw)
}

// tamper is flipBit for a whole ciphertext.
func tamper(t *testing.T, ct string, offset int) string {
	t.Helper()
	prefix, tok, _ := strings.Cut(ct, ":")
	return prefix + ":" + flipBit(t, tok, offset)
}

func TestDecryptTampered(t *testing.T) {
	kr, _, _ := newTestKeyring(t)
	secret := []byte("client-secret-value")
	ct := encryptT(t, kr, secret)

	other, _, _ := newTestKeyring(t) // also has a version 1, with a different key
	cases := map[string]string{
		"version byte":  tamper(t, ct, 0),
		"timestamp":     tamper(t, ct, 5),
		"iv":            tamper(t, ct, 12),
		"ciphertext":    tamper(t, ct, 30),
		"hmac":          tamper(t, ct, -1),
		"truncated":     ct[:len(ct)-8],
		"not base64":    "v1:!!!!",
		"other keyring": encryptT(t, other, secret),
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := kr.Decrypt(bad)
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Decrypt: err = %v, want ErrDecrypt", err)
			}
			if got != nil {
				t.Fatalf("Decrypt returned %q with an error", got)
			}
			_, tok, _ := strings.Cut(bad, ":")
			if msg := err.Error(); strings.Contains(msg, tok) || strings.Contains(msg, string(secret)) {
				t.Fatalf("error message leaks the ciphertext or plaintext: %q", msg)
			}
		})
	}
}

func TestDecryptMalformed(t *testing.T) {
	kr, _, _ := newTestKeyring(t)
	tok := strings.TrimPrefix(encryptT(t, kr, []byte("x")), "v1:")
	for _, bad := range []string{
		"", "v", "v1", "v1:", tok, "1:" + tok, "x1:" + tok, "V1:" + tok,
		"v:" + tok, "v0:" + tok, "v01:" + tok, "v-1:" + tok, "v+1:" + tok, "v1 :" + tok,
		"v1x:" + tok, "v9999999999:" + tok, "v99999999999999999999:" + tok,
	} {
		if _, err := kr.Decrypt(bad); !errors.Is(err, ErrMalformedCiphertext) {
			t.Errorf("Decrypt(%.12q...): err = %v, want ErrMalformedCiphertext", bad, err)
		}
	}
}

func TestDecryptUnknownVersion(t *testing.T) {
	kr, _, _ := newTestKeyring(t)
	ct := encryptT(t, kr, []byte("x"))
	if _, err := kr.Decrypt("v2" + strings.TrimPrefix(ct, "v1")); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("Decrypt with version 2: err = %v, want ErrUnknownKeyVersion", err)
	}
}

// Stored values must stay readable forever: neither data tokens nor wrapped
// keys expire, however old their Fernet timestamp.
func TestDecryptIgnoresTokenAge(t *testing.T) {
	s, c := newFakeStore(), &countingKDF{}
	opts := c.opts()
	opts.Now = func() time.Time { return time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC) }
	old := openT(t, s, testPassphrase, opts)
	ct := encryptT(t, old, []byte("from 2015"))

	now := c.opts() // today's clock
	wantPlaintext(t, openT(t, s, testPassphrase, now), ct, []byte("from 2015"))
}

func TestOpenNewKeyringDefaults(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	s, c := newFakeStore(), &countingKDF{}
	opts := c.opts()
	opts.Now = func() time.Time { return now }
	kr := openT(t, s, testPassphrase, opts)

	st := s.snapshot()
	if st.KDF == nil {
		t.Fatal("Open did not store KDF parameters")
	}
	if st.KDF.Iterations != MinIterations || c.lastIterations() != MinIterations {
		t.Errorf("iterations: stored %d, derived with %d; want default %d", st.KDF.Iterations, c.lastIterations(), MinIterations)
	}
	if len(st.KDF.Salt) != 32 || bytes.Equal(st.KDF.Salt, make([]byte, 32)) {
		t.Errorf("salt = %x, want 32 random bytes", st.KDF.Salt)
	}
	if !st.KDF.CreatedAt.Equal(now) || !st.Keys[1].CreatedAt.Equal(now) {
		t.Errorf("CreatedAt not taken from Options.Now: kdf %v, key %v", st.KDF.CreatedAt, st.Keys[1].CreatedAt)
	}
	if len(st.Keys) != 1 || st.Keys[1].Wrapped == "" {
		t.Fatalf("stored keys = %+v, want version 1 only", st.Keys)
	}
	if kr.CurrentVersion() != 1 || !slices.Equal(kr.Versions(), []int{1}) {
		t.Fatalf("CurrentVersion %d, Versions %v; want 1, [1]", kr.CurrentVersion(), kr.Versions())
	}
}

func TestReopenSamePassphrase(t *testing.T) {
	s, c := newFakeStore(), &countingKDF{}
	opts := c.opts()
	opts.Iterations = 700_000
	kr := openT(t, s, testPassphrase, opts)
	ct := encryptT(t, kr, []byte("seed"))

	before := s.snapshot()
	if before.KDF.Iterations != 700_000 {
		t.Fatalf("stored iterations = %d, want 700000", before.KDF.Iterations)
	}
	if !bytes.Equal(before.KDF.Salt, c.salts[0]) {
		t.Fatal("stored salt is not the salt the KEK was derived with")
	}

	// A different configured count must not change how an existing keyring's
	// KEK is derived: the stored count wins.
	opts.Iterations = MinIterations
	again := openT(t, s, testPassphrase, opts)
	if got := c.lastIterations(); got != 700_000 {
		t.Fatalf("reopen derived with %d iterations, want the stored 700000", got)
	}
	if !bytes.Equal(c.salts[1], before.KDF.Salt) {
		t.Fatal("reopen did not derive with the stored salt")
	}
	wantPlaintext(t, again, ct, []byte("seed"))
	wantPlaintext(t, kr, encryptT(t, again, []byte("back")), []byte("back"))
	if after := s.snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("reopen changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

// SEC-43: a wrong master key fails start-up loudly and leaves the store as it was.
func TestOpenWrongMasterKey(t *testing.T) {
	kr, s, c := newTestKeyring(t)
	if _, err := kr.Rotate(context.Background()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	before := s.snapshot()

	const wrong = "not the master key"
	got, err := Open(context.Background(), s, wrong, c.opts())
	if !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Open with wrong passphrase: err = %v, want ErrWrongMasterKey", err)
	}
	if got != nil {
		t.Fatal("Open returned a keyring along with the error")
	}
	if msg := err.Error(); !strings.Contains(msg, "does not match") || strings.Contains(msg, wrong) || strings.Contains(msg, testPassphrase) {
		t.Fatalf("error message unclear or leaks a passphrase: %q", msg)
	}
	if after := s.snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("failed Open changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

// SEC-43, with the production KDF (600,000 PBKDF2 iterations) end to end.
func TestOpenWrongMasterKeyRealKDF(t *testing.T) {
	s := newFakeStore()
	kr := openT(t, s, testPassphrase, Options{})
	ct := encryptT(t, kr, []byte("seed"))
	if st := s.snapshot(); st.KDF.Iterations != MinIterations {
		t.Fatalf("stored iterations = %d, want %d", st.KDF.Iterations, MinIterations)
	}
	before := s.snapshot()

	if _, err := Open(context.Background(), s, testPassphrase+"!", Options{}); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("Open with wrong passphrase: err = %v, want ErrWrongMasterKey", err)
	}
	if after := s.snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatal("failed Open changed the store")
	}
	wantPlaintext(t, kr, ct, []byte("seed"))
}

// A row that fails to unwrap while others succeed is damage, not a wrong key;
// either way Open refuses.
func TestOpenCorruptKeyRow(t *testing.T) {
	kr, s, c := newTestKeyring(t)
	if _, err := kr.Rotate(context.Background()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	s.setWrapped(2, flipBit(t, s.snapshot().Keys[2].Wrapped, 30))
	_, err := Open(context.Background(), s, testPassphrase, c.opts())
	if err == nil || errors.Is(err, ErrWrongMasterKey) || !strings.Contains(err.Error(), "[2]") {
		t.Fatalf("Open with a damaged key row: err = %v, want a corruption error naming version 2", err)
	}
}

func TestOpenRejectsBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		store      Store
		passphrase string
		iterations int
	}{
		"iterations below minimum": {newFakeStore(), testPassphrase, MinIterations - 1},
		"tiny iterations":          {newFakeStore(), testPassphrase, 1000},
		"negative iterations":      {newFakeStore(), testPassphrase, -1},
		"empty passphrase":         {newFakeStore(), "", 0},
		"nil store":                {nil, testPassphrase, 0},
	} {
		t.Run(name, func(t *testing.T) {
			c := &countingKDF{}
			opts := c.opts()
			opts.Iterations = tc.iterations
			kr, err := Open(context.Background(), tc.store, tc.passphrase, opts)
			if err == nil || kr != nil {
				t.Fatalf("Open = %v, %v; want an error", kr, err)
			}
			if c.calls.Load() != 0 {
				t.Error("Open ran the KDF before rejecting its input")
			}
			if fs, ok := tc.store.(*fakeStore); ok && fs.snapshot().KDF != nil {
				t.Error("Open wrote to the store before rejecting its input")
			}
		})
	}
}

// Two replicas starting on an empty database: both try to create the
// keyring, one wins, the other must adopt the winner's keyring.
func TestOpenConcurrentInitialise(t *testing.T) {
	s, c := newFakeStore(), &countingKDF{}
	// Hold each Initialise until both have arrived, so both Opens have seen an
	// empty store and both really try to create it.
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	s.beforeInitialise = func() {
		arrived <- struct{}{}
		<-release
	}
	go func() {
		for range 2 {
			select {
			case <-arrived:
			case <-time.After(10 * time.Second):
			}
		}
		close(release)
	}()

	var krs [2]*Keyring
	var errs [2]error
	var wg sync.WaitGroup
	for i := range krs {
		wg.Go(func() { krs[i], errs[i] = Open(context.Background(), s, testPassphrase, c.opts()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
	}
	if s.initialiseCalls != 2 {
		t.Fatalf("Initialise called %d times, want 2 (the race did not happen)", s.initialiseCalls)
	}
	// Two creations plus the loser's derivation with the winner's salt.
	if n := c.calls.Load(); n != 3 {
		t.Errorf("KDF ran %d times, want 3", n)
	}
	a, b := encryptT(t, krs[0], []byte("from a")), encryptT(t, krs[1], []byte("from b"))
	wantPlaintext(t, krs[1], a, []byte("from a"))
	wantPlaintext(t, krs[0], b, []byte("from b"))
	if len(s.snapshot().Keys) != 1 {
		t.Fatal("the losing replica's key was stored")
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	kr, s, c := newTestKeyring(t)
	old := encryptT(t, kr, []byte("old"))

	v, err := kr.Rotate(ctx)
	if err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2, nil", v, err)
	}
	if kr.CurrentVersion() != 2 || !slices.Equal(kr.Versions(), []int{1, 2}) {
		t.Fatalf("CurrentVersion %d, Versions %v; want 2, [1 2]", kr.CurrentVersion(), kr.Versions())
	}
	fresh := encryptT(t, kr, []byte("new"))
	if !strings.HasPrefix(fresh, "v2:") {
		t.Fatalf("ciphertext after rotate = %.8q..., want version 2", fresh)
	}
	wantPlaintext(t, kr, old, []byte("old"))
	wantPlaintext(t, kr, fresh, []byte("new"))
	if len(s.snapshot().Keys) != 2 {
		t.Fatal("rotated key was not stored")
	}

	again := openT(t, s, testPassphrase, c.opts())
	if again.CurrentVersion() != 2 {
		t.Fatalf("reopened CurrentVersion = %d, want 2", again.CurrentVersion())
	}
	wantPlaintext(t, again, old, []byte("old"))
	wantPlaintext(t, again, fresh, []byte("new"))
}

// Another replica rotated first: Rotate reloads, takes the next number and
// can read the other replica's newest ciphertexts.
func TestRotateAfterOtherReplica(t *testing.T) {
	ctx := context.Background()
	a, s, c := newTestKeyring(t)
	b := openT(t, s, testPassphrase, c.opts())

	if v, err := a.Rotate(ctx); err != nil || v != 2 {
		t.Fatalf("a.Rotate = %d, %v; want 2", v, err)
	}
	fromA := encryptT(t, a, []byte("a's v2"))
	if _, err := b.Decrypt(fromA); !errors.Is(err, ErrUnknownKeyVersion) {
		t.Fatalf("b.Decrypt before reload: err = %v, want ErrUnknownKeyVersion", err)
	}

	v, err := b.Rotate(ctx)
	if err != nil || v != 3 {
		t.Fatalf("b.Rotate = %d, %v; want 3 after losing version 2", v, err)
	}
	wantPlaintext(t, b, fromA, []byte("a's v2"))
	if !slices.Equal(b.Versions(), []int{1, 2, 3}) {
		t.Fatalf("b.Versions = %v, want [1 2 3]", b.Versions())
	}

	if err := a.Reload(ctx); err != nil {
		t.Fatalf("a.Reload: %v", err)
	}
	if a.CurrentVersion() != 3 {
		t.Fatalf("a.CurrentVersion after Reload = %d, want 3", a.CurrentVersion())
	}
	wantPlaintext(t, a, encryptT(t, b, []byte("b's v3")), []byte("b's v3"))
	if n := c.calls.Load(); n != 2 {
		t.Errorf("KDF ran %d times for two Opens, want 2 (Rotate and Reload must not derive)", n)
	}
}

func TestRotateGivesUpAfterOneRetry(t *testing.T) {
	kr, s, _ := newTestKeyring(t)
	attempts := 0
	s.beforeAddKey = func(WrappedKey) error {
		attempts++
		return fmt.Errorf("insert: %w", ErrKeyVersionExists)
	}
	if _, err := kr.Rotate(context.Background()); !errors.Is(err, ErrKeyVersionExists) {
		t.Fatalf("Rotate: err = %v, want ErrKeyVersionExists", err)
	}
	if attempts != 2 {
		t.Fatalf("AddKey attempted %d times, want 2", attempts)
	}
	if kr.CurrentVersion() != 1 {
		t.Fatalf("CurrentVersion = %d after a failed rotate, want 1", kr.CurrentVersion())
	}

	boom := errors.New("database is down")
	s.beforeAddKey = func(WrappedKey) error { return boom }
	if _, err := kr.Rotate(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Rotate: err = %v, want the store's error", err)
	}
	wantPlaintext(t, kr, encryptT(t, kr, []byte("still v1")), []byte("still v1"))
}

func TestConcurrentEncryptDecryptRotate(t *testing.T) {
	kr, _, c := newTestKeyring(t)
	old := encryptT(t, kr, []byte("before"))

	const workers, rounds, rotations = 4, 100, 5
	var wg sync.WaitGroup
	cts := make([][]string, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				pt := fmt.Appendf(nil, "worker %d round %d", w, i)
				ct, err := kr.Encrypt(pt)
				if err != nil {
					t.Errorf("Encrypt: %v", err)
					return
				}
				if got, err := kr.Decrypt(ct); err != nil || !bytes.Equal(got, pt) {
					t.Errorf("Decrypt = %q, %v; want %q", got, err, pt)
					return
				}
				if got, err := kr.Decrypt(old); err != nil || string(got) != "before" {
					t.Errorf("Decrypt(old) = %q, %v", got, err)
					return
				}
				cts[w] = append(cts[w], ct)
			}
		})
	}
	wg.Go(func() {
		for range rotations {
			if _, err := kr.Rotate(context.Background()); err != nil {
				t.Errorf("Rotate: %v", err)
			}
		}
	})
	wg.Go(func() {
		for range rounds {
			_ = kr.CurrentVersion()
			_ = kr.Versions()
			_ = kr.String()
		}
	})
	wg.Wait()

	if kr.CurrentVersion() != 1+rotations {
		t.Fatalf("CurrentVersion = %d, want %d", kr.CurrentVersion(), 1+rotations)
	}
	for w := range cts {
		for i, ct := range cts[w] {
			wantPlaintext(t, kr, ct, fmt.Appendf(nil, "worker %d round %d", w, i))
		}
	}
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("KDF ran %d times, want 1", n)
	}
}

// The KDF is the expensive part by design; it must run at Open only, never
// per Encrypt, Decrypt or Rotate.
func TestKDFRunsOnceAtOpen(t *testing.T) {
	kr, _, c := newTestKeyring(t)
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("Open ran the KDF %d times, want 1", n)
	}
	for range 50 {
		wantPlaintext(t, kr, encryptT(t, kr, []byte("x")), []byte("x"))
	}
	if _, err := kr.Rotate(context.Background()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	wantPlaintext(t, kr, encryptT(t, kr, []byte("y")), []byte("y"))
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("KDF ran %d times after Open, want 1 in total", n)
	}
}

func TestFormattingHidesKeyMaterial(t *testing.T) {
	kr, _, _ := newTestKeyring(t)
	secrets := []string{kr.kek.Encode(), hex.EncodeToString(kr.kek[:])}
	for _, k := range kr.keys {
		secrets = append(secrets, k.Encode(), hex.EncodeToString(k[:]))
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, kr)
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("%s of a keyring prints key material: %q", verb, out)
			}
		}
	}
	if got := fmt.Sprint(kr); got != "keyring(current=v1, versions=[1])" {
		t.Fatalf("String() = %q", got)
	}
}
