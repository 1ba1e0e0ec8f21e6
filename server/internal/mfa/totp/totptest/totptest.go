// Package totptest checks totp.Store implementations by driving a totp.Factor over them: the
// SEC-20 behaviours are proven on the in-memory fake and on the database store, SQLite and
// PostgreSQL alike.
package totptest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"gatehouse/server/internal/mfa/totp"

	"gatehouse/server/internal/clocktest"
)

// Harness is one empty store and what the suite needs around it.
type Harness struct {
	// Store must be empty.
	Store totp.Store
	// NewUser creates a user the store accepts secrets for and returns its ID.
	NewUser func(t *testing.T) string
	// StoredSecret reads the secret column as stored, bypassing the Store interface.
	StoredSecret func(t *testing.T, userID string) string
	// Encrypter seals secrets; nil uses a fake.
	Encrypter totp.Encrypter
}

// Clock is the settable clock injected as Options.Now.
type Clock = clocktest.Clock

// NewClock starts at a fixed instant.
func NewClock() *Clock { return clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) }

// FakeEncrypter is a reversible stand-in for the keyring: not secret, but never the plaintext.
type FakeEncrypter struct{}

// EncryptString hex-encodes the XOR of the text with 0x5a.
func (FakeEncrypter) EncryptString(s string) (string, error) {
	b := []byte(s)
	for i := range b {
		b[i] ^= 0x5a
	}
	return "fake:" + hex.EncodeToString(b), nil
}

// DecryptString reverses EncryptString.
func (FakeEncrypter) DecryptString(s string) (string, error) {
	raw, ok := strings.CutPrefix(s, "fake:")
	if !ok {
		return "", errors.New("fake decrypt: not sealed")
	}
	b, err := hex.DecodeString(raw)
	if err != nil {
		return "", fmt.Errorf("fake decrypt: %w", err)
	}
	for i := range b {
		b[i] ^= 0x5a
	}
	return string(b), nil
}

type fixture struct {
	h     Harness
	enc   totp.Encrypter
	clock *Clock
	f     *totp.Factor
	uid   string
}

func setup(t *testing.T, newHarness func(t *testing.T) Harness) *fixture {
	t.Helper()
	h := newHarness(t)
	enc := h.Encrypter
	if enc == nil {
		enc = FakeEncrypter{}
	}
	clock := NewClock()
	return &fixture{h: h, enc: enc, clock: clock, f: totp.New(h.Store, enc, totp.Options{Now: clock.Now}), uid: h.NewUser(t)}
}

// code is the code for the step offset steps from the clock's current one.
func (fx *fixture) code(t *testing.T, secret string, offset int64) string {
	t.Helper()
	c, err := totp.CodeAt(secret, totp.Step(fx.clock.Now())+offset)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolled begins and confirms enrollment, then moves the clock past the confirming step.
func (fx *fixture) enrolled(t *testing.T) string { return fx.enroll(t, fx.uid) }

func (fx *fixture) enroll(t *testing.T, uid string) string {
	t.Helper()
	e, err := fx.f.Begin(context.Background(), uid, "alice@example.test", "Gatehouse")
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.f.Confirm(context.Background(), uid, fx.code(t, e.Secret, 0)); err != nil {
		t.Fatal(err)
	}
	fx.clock.Advance(3 * totp.Period)
	return e.Secret
}

func wantErr(t *testing.T, got, want error, what string) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

// Exercise runs the suite; newHarness is called once per subtest.
func Exercise(t *testing.T, newHarness func(t *testing.T) Harness) {
	ctx := context.Background()

	// SEC-20: SHA-1, 6 digits, 30 s; the secret is stored encrypted and unconfirmed.
	t.Run("SEC-20 enrollment stores the secret encrypted", func(t *testing.T) {
		fx := setup(t, newHarness)
		e, err := fx.f.Begin(ctx, fx.uid, "alice@example.test", "Gatehouse")
		if err != nil {
			t.Fatal(err)
		}
		key, err := otp.NewKeyFromURL(e.URI)
		if err != nil {
			t.Fatal(err)
		}
		if key.Type() != "totp" || key.Algorithm() != otp.AlgorithmSHA1 || key.Digits() != otp.DigitsSix || key.Period() != 30 ||
			key.Issuer() != "Gatehouse" || key.AccountName() != "alice@example.test" || key.Secret() != e.Secret {
			t.Fatalf("uri %s", e.URI)
		}
		if len(e.Secret) < 32 { // 20 bytes in base32
			t.Fatalf("secret too short: %d", len(e.Secret))
		}
		if _, err := png.Decode(bytes.NewReader(e.QRPNG)); err != nil {
			t.Fatalf("qr code: %v", err)
		}
		col := fx.h.StoredSecret(t, fx.uid)
		if col == "" || col == e.Secret || strings.Contains(col, e.Secret) {
			t.Fatalf("secret column holds the plaintext: %q", col)
		}
		if got, err := fx.enc.DecryptString(col); err != nil || got != e.Secret {
			t.Fatalf("column decrypts to %q (%v)", got, err)
		}
		if ok, _, err := fx.f.Status(ctx, fx.uid); err != nil || ok {
			t.Fatalf("pending enrollment counts as enrolled: %v %v", ok, err)
		}
		wantErr(t, fx.f.Verify(ctx, fx.uid, fx.code(t, e.Secret, 0)), totp.ErrNotEnrolled, "verify before confirm")
	})

	t.Run("SEC-20 begin again replaces a pending secret", func(t *testing.T) {
		fx := setup(t, newHarness)
		first, err := fx.f.Begin(ctx, fx.uid, "a", "Gatehouse")
		if err != nil {
			t.Fatal(err)
		}
		second, err := fx.f.Begin(ctx, fx.uid, "a", "Gatehouse")
		if err != nil {
			t.Fatal(err)
		}
		if first.Secret == second.Secret {
			t.Fatal("same secret twice")
		}
		wantErr(t, fx.f.Confirm(ctx, fx.uid, fx.code(t, first.Secret, 0)), totp.ErrInvalidCode, "confirm with the replaced secret")
		if err := fx.f.Confirm(ctx, fx.uid, fx.code(t, second.Secret, 0)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SEC-20 confirm", func(t *testing.T) {
		fx := setup(t, newHarness)
		wantErr(t, fx.f.Confirm(ctx, fx.uid, "123456"), totp.ErrNotEnrolled, "confirm without enrollment")
		e, err := fx.f.Begin(ctx, fx.uid, "a", "Gatehouse")
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, fx.f.Confirm(ctx, fx.uid, fx.code(t, e.Secret, -2)), totp.ErrInvalidCode, "confirm with a stale code")
		code := fx.code(t, e.Secret, 0)
		if err := fx.f.Confirm(ctx, fx.uid, code); err != nil {
			t.Fatal(err)
		}
		ok, at, err := fx.f.Status(ctx, fx.uid)
		if err != nil || !ok || !at.Equal(fx.clock.Now()) {
			t.Fatalf("status after confirm: %v %v %v", ok, at, err)
		}
		// The confirming code is spent.
		wantErr(t, fx.f.Verify(ctx, fx.uid, code), totp.ErrReplay, "verify with the confirming code")
		wantErr(t, fx.f.Confirm(ctx, fx.uid, code), totp.ErrAlreadyEnrolled, "confirm twice")
		_, err = fx.f.Begin(ctx, fx.uid, "a", "Gatehouse")
		wantErr(t, err, totp.ErrAlreadyEnrolled, "begin over a confirmed secret")
		if got := fx.h.StoredSecret(t, fx.uid); got == "" {
			t.Fatal("confirmed secret lost")
		}
		if err := fx.f.Verify(ctx, fx.uid, fx.code(t, e.Secret, 1)); err != nil {
			t.Fatalf("confirmed secret replaced: %v", err)
		}
	})

	// SEC-20: RFC 6238 with ±1 step.
	t.Run("SEC-20 verify accepts previous, current and next step", func(t *testing.T) {
		fx := setup(t, newHarness)
		secret := fx.enrolled(t)
		for _, offset := range []int64{-1, 0, 1} {
			if err := fx.f.Verify(ctx, fx.uid, fx.code(t, secret, offset)); err != nil {
				t.Fatalf("offset %d: %v", offset, err)
			}
			fx.clock.Advance(3 * totp.Period)
		}
		// Grouped input from an app ("123 456") is accepted.
		c := fx.code(t, secret, 0)
		if err := fx.f.Verify(ctx, fx.uid, c[:3]+" "+c[3:]); err != nil {
			t.Fatalf("spaced code: %v", err)
		}
	})

	t.Run("SEC-20 verify refuses two steps away and malformed codes", func(t *testing.T) {
		fx := setup(t, newHarness)
		secret := fx.enrolled(t)
		for _, offset := range []int64{-2, 2, -10, 10} {
			wantErr(t, fx.f.Verify(ctx, fx.uid, fx.code(t, secret, offset)), totp.ErrInvalidCode, fmt.Sprintf("offset %d", offset))
		}
		for _, bad := range []string{"", "12345", "1234567", "abcdef", "12345x", "１２３４５６"} {
			wantErr(t, fx.f.Verify(ctx, fx.uid, bad), totp.ErrInvalidCode, fmt.Sprintf("code %q", bad))
		}
		if err := fx.f.Verify(ctx, fx.uid, fx.code(t, secret, 0)); err != nil {
			t.Fatalf("failures must not lock the factor here: %v", err)
		}
	})

	// SEC-20: a code is accepted once; an earlier step after a later one is refused too.
	t.Run("SEC-20 replay refused", func(t *testing.T) {
		fx := setup(t, newHarness)
		secret := fx.enrolled(t)
		code := fx.code(t, secret, 0)
		if err := fx.f.Verify(ctx, fx.uid, code); err != nil {
			t.Fatal(err)
		}
		wantErr(t, fx.f.Verify(ctx, fx.uid, code), totp.ErrReplay, "same code again")
		fx.clock.Advance(totp.Period / 2) // still within ±1 step
		wantErr(t, fx.f.Verify(ctx, fx.uid, code), totp.ErrReplay, "same code later in the window")
		fx.clock.Advance(3 * totp.Period)
		if err := fx.f.Verify(ctx, fx.uid, fx.code(t, secret, 1)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, fx.f.Verify(ctx, fx.uid, fx.code(t, secret, 0)), totp.ErrReplay, "earlier step after a later one")
		wantErr(t, fx.f.Verify(ctx, fx.uid, fx.code(t, secret, -1)), totp.ErrReplay, "previous step after a later one")
	})

	// SEC-20: of N simultaneous verifications of one code exactly one succeeds.
	t.Run("SEC-20 concurrent verify succeeds once", func(t *testing.T) {
		fx := setup(t, newHarness)
		secret := fx.enrolled(t)
		code := fx.code(t, secret, 0)
		const n = 16
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = fx.f.Verify(ctx, fx.uid, code)
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, totp.ErrReplay):
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent verifications succeeded, want 1", ok, n)
		}
	})

	t.Run("SEC-20 disable", func(t *testing.T) {
		fx := setup(t, newHarness)
		secret := fx.enrolled(t)
		otherUser := fx.h.NewUser(t)
		otherSecret := fx.enroll(t, otherUser)
		if err := fx.f.Disable(ctx, fx.uid); err != nil {
			t.Fatal(err)
		}
		wantErr(t, fx.f.Verify(ctx, fx.uid, fx.code(t, secret, 0)), totp.ErrNotEnrolled, "verify after disable")
		wantErr(t, fx.f.Disable(ctx, fx.uid), totp.ErrNotEnrolled, "disable twice")
		if ok, _, err := fx.f.Status(ctx, fx.uid); err != nil || ok {
			t.Fatalf("status after disable: %v %v", ok, err)
		}
		// Another user's factor is untouched, and the user can enroll afresh.
		if err := fx.f.Verify(ctx, otherUser, fx.code(t, otherSecret, 0)); err != nil {
			t.Fatalf("other user's factor: %v", err)
		}
		if _, err := fx.f.Begin(ctx, fx.uid, "a", "Gatehouse"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("SEC-20 codes are per user", func(t *testing.T) {
		fx := setup(t, newHarness)
		secret := fx.enrolled(t)
		wantErr(t, fx.f.Verify(ctx, fx.h.NewUser(t), fx.code(t, secret, 0)), totp.ErrNotEnrolled, "user without a factor")
	})
}

// MemStore is an in-memory totp.Store.
type MemStore struct {
	mu   sync.Mutex
	rows map[string]totp.Secret
}

var _ totp.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{rows: map[string]totp.Secret{}} }

// PutPending implements totp.Store.
func (m *MemStore) PutPending(_ context.Context, userID, secretEnc string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.rows[userID]; ok && r.ConfirmedAt != nil {
		return totp.ErrAlreadyEnrolled
	}
	m.rows[userID] = totp.Secret{UserID: userID, SecretEnc: secretEnc, CreatedAt: at}
	return nil
}

// Get implements totp.Store.
func (m *MemStore) Get(_ context.Context, userID string) (totp.Secret, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[userID]
	if !ok {
		return totp.Secret{}, totp.ErrNotEnrolled
	}
	return r, nil
}

// Confirm implements totp.Store.
func (m *MemStore) Confirm(_ context.Context, userID, secretEnc string, at time.Time, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[userID]
	if !ok || r.ConfirmedAt != nil || r.SecretEnc != secretEnc || r.LastStep >= step {
		return false, nil
	}
	r.ConfirmedAt, r.LastStep = &at, step
	m.rows[userID] = r
	return true, nil
}

// UseStep implements totp.Store.
func (m *MemStore) UseStep(_ context.Context, userID string, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[userID]
	if !ok || r.ConfirmedAt == nil || r.LastStep >= step {
		return false, nil
	}
	r.LastStep = step
	m.rows[userID] = r
	return true, nil
}

// Delete implements totp.Store.
func (m *MemStore) Delete(_ context.Context, userID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.rows[userID]
	delete(m.rows, userID)
	return ok, nil
}

// SecretColumn returns what the fake stores for a user's secret.
func (m *MemStore) SecretColumn(userID string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows[userID].SecretEnc
}
