// Package totp is the authenticator-app factor (RFC 6238, SEC-20): enrollment with an otpauth://
// URI and QR code, confirmation, and verification that accepts each code once. Seeds are kept
// encrypted; the store only ever sees ciphertext.
package totp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	otptotp "github.com/pquerna/otp/totp"
)

// Parameters fixed by SEC-20: what every authenticator app understands.
const (
	Period     = 30 * time.Second
	Digits     = 6
	Skew       = 1 // steps accepted either side of the current one
	secretSize = 20
	qrSize     = 256
)

// Errors.
var (
	// ErrNotEnrolled: the user has no TOTP secret (for Verify: no confirmed one; for Confirm: no
	// pending one).
	ErrNotEnrolled = errors.New("totp: not enrolled")
	// ErrAlreadyEnrolled: Begin or Confirm while a confirmed secret exists; disable it first.
	ErrAlreadyEnrolled = errors.New("totp: already enrolled")
	// ErrInvalidCode: the code is malformed or matches no accepted time step.
	ErrInvalidCode = errors.New("totp: invalid code")
	// ErrReplay: the code's time step was already used (or an earlier one was).
	ErrReplay = errors.New("totp: code already used")
)

// Encrypter seals secrets at rest; *keyring.Keyring satisfies it.
type Encrypter interface {
	EncryptString(plaintext string) (string, error)
	DecryptString(ciphertext string) (string, error)
}

// Secret is a stored TOTP secret.
type Secret struct {
	UserID      string
	SecretEnc   string     // ciphertext from the Encrypter
	ConfirmedAt *time.Time // nil while enrollment is pending
	LastStep    int64      // last accepted time step; 0 when none
	CreatedAt   time.Time
}

// Store keeps one TOTP secret per user.
type Store interface {
	// PutPending stores an unconfirmed secret with LastStep 0, replacing an unconfirmed one.
	// It returns ErrAlreadyEnrolled when the user has a confirmed secret.
	PutPending(ctx context.Context, userID, secretEnc string, at time.Time) error
	// Get returns the user's secret or ErrNotEnrolled.
	Get(ctx context.Context, userID string) (Secret, error)
	// Confirm activates the pending secret whose ciphertext is secretEnc and records step as
	// used, in one conditional update. It reports false when no such pending secret exists
	// (confirmed meanwhile, replaced or deleted).
	Confirm(ctx context.Context, userID, secretEnc string, at time.Time, step int64) (bool, error)
	// UseStep records step as used if it is later than the last used one, for a confirmed
	// secret, in one conditional update; of concurrent calls with the same step exactly one
	// reports true.
	UseStep(ctx context.Context, userID string, step int64) (bool, error)
	// Delete removes the user's secret, reporting whether there was one.
	Delete(ctx context.Context, userID string) (bool, error)
}

// Options are the injectable dependencies; zero values take the real ones.
type Options struct {
	Now  func() time.Time
	Rand io.Reader
}

// Factor is the TOTP factor.
type Factor struct {
	store Store
	enc   Encrypter
	now   func() time.Time
	rand  io.Reader
}

// New returns the TOTP factor over store, sealing secrets with enc.
func New(store Store, enc Encrypter, opts Options) *Factor {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Factor{store: store, enc: enc, now: opts.Now, rand: opts.Rand}
}

// Enrollment is shown to the user once, to load the secret into an authenticator app.
type Enrollment struct {
	URI    string // otpauth://totp/...
	QRPNG  []byte // QR code of URI
	Secret string // base32, for manual entry
}

// Begin starts (or restarts) enrollment: a new secret, stored encrypted and unconfirmed.
func (f *Factor) Begin(ctx context.Context, userID, accountName, issuer string) (Enrollment, error) {
	key, err := otptotp.Generate(otptotp.GenerateOpts{
		Issuer: issuer, AccountName: accountName, Period: uint(Period / time.Second), SecretSize: secretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: f.rand,
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("generate totp secret: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("encode totp qr code: %w", err)
	}
	sealed, err := f.enc.EncryptString(key.Secret())
	if err != nil {
		return Enrollment{}, fmt.Errorf("encrypt totp secret: %w", err)
	}
	if err := f.store.PutPending(ctx, userID, sealed, f.now().UTC()); err != nil {
		return Enrollment{}, fmt.Errorf("store totp secret: %w", err)
	}
	return Enrollment{URI: key.URL(), QRPNG: buf.Bytes(), Secret: key.Secret()}, nil
}

// Confirm activates a pending enrollment with a code from the app. The code's step counts as
// used, so the same code cannot then log in.
func (f *Factor) Confirm(ctx context.Context, userID, code string) error {
	s, err := f.store.Get(ctx, userID)
	if err != nil {
		return err
	}
	if s.ConfirmedAt != nil {
		return ErrAlreadyEnrolled
	}
	now := f.now().UTC()
	step, err := f.match(s, code, now)
	if err != nil {
		return err
	}
	ok, err := f.store.Confirm(ctx, userID, s.SecretEnc, now, step)
	if err != nil {
		return fmt.Errorf("confirm totp: %w", err)
	}
	if !ok {
		return ErrNotEnrolled
	}
	return nil
}

// Verify checks a code for login or step-up. A code is accepted once: a second use of the
// same time step, or of an earlier one, returns ErrReplay, also when the uses race.
func (f *Factor) Verify(ctx context.Context, userID, code string) error {
	s, err := f.store.Get(ctx, userID)
	if err != nil {
		return err
	}
	if s.ConfirmedAt == nil {
		return ErrNotEnrolled
	}
	step, err := f.match(s, code, f.now())
	if err != nil {
		return err
	}
	ok, err := f.store.UseStep(ctx, userID, step)
	if err != nil {
		return fmt.Errorf("record totp step: %w", err)
	}
	if !ok {
		// Another verification took this step (or a later one) first, or the factor went.
		return ErrReplay
	}
	return nil
}

// Disable removes the user's secret, confirmed or pending.
func (f *Factor) Disable(ctx context.Context, userID string) error {
	ok, err := f.store.Delete(ctx, userID)
	if err != nil {
		return fmt.Errorf("delete totp secret: %w", err)
	}
	if !ok {
		return ErrNotEnrolled
	}
	return nil
}

// Status reports whether the user has a confirmed secret, and since when.
func (f *Factor) Status(ctx context.Context, userID string) (enrolled bool, confirmedAt time.Time, err error) {
	s, err := f.store.Get(ctx, userID)
	if errors.Is(err, ErrNotEnrolled) {
		return false, time.Time{}, nil
	}
	if err != nil {
		return false, time.Time{}, err
	}
	if s.ConfirmedAt == nil {
		return false, time.Time{}, nil
	}
	return true, s.ConfirmedAt.UTC(), nil
}

// match finds the time step within ±Skew of now whose code is code and that is later than the
// last used step. It returns ErrReplay when the code matches only used steps.
func (f *Factor) match(s Secret, code string, now time.Time) (int64, error) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != Digits || strings.Trim(code, "0123456789") != "" {
		return 0, ErrInvalidCode
	}
	secret, err := f.enc.DecryptString(s.SecretEnc)
	if err != nil {
		return 0, fmt.Errorf("decrypt totp secret: %w", err)
	}
	current := Step(now)
	replayed := false
	for step := current - Skew; step <= current+Skew; step++ {
		want, err := CodeAt(secret, step)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) != 1 {
			continue
		}
		if step <= s.LastStep {
			replayed = true
			continue
		}
		return step, nil
	}
	if replayed {
		return 0, ErrReplay
	}
	return 0, ErrInvalidCode
}

// Step is the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// CodeAt is the code of a base32 secret at a time step (for tests and tools).
func CodeAt(secret string, step int64) (string, error) {
	code, err := otptotp.GenerateCodeCustom(secret, time.Unix(step*int64(Period/time.Second), 0), otptotp.ValidateOpts{
		Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", fmt.Errorf("totp code: %w", err)
	}
	return code, nil
}
