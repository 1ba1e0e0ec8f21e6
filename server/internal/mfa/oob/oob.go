// Package oob is the out-of-band second factor: a one-time code sent to an address the user
// enrolled, by SMS or by email (SEC-21). One Factor per channel; the channel's transport is a
// Sender, so the factor does not know Twilio or SMTP.
//
// Codes are 6 digits from crypto/rand, stored only as SHA-256 hashes that include the user,
// channel and binding, expire after 10 minutes, work once (a conditional update, so of two
// concurrent uses one wins), allow at most 5 wrong attempts and are bound to what they were sent
// for: a pending login, a session stepping up, or an enrollment. A new code may be requested
// only after a cooldown.
package oob

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/google/uuid"
)

// Channels.
const (
	ChannelSMS   = "sms"
	ChannelEmail = "email"
)

// BindingEnroll binds a code to the enrollment of the channel itself.
const BindingEnroll = "enroll"

// Defaults for Options.
const (
	DefaultTTL         = 10 * time.Minute
	DefaultCooldown    = 30 * time.Second
	DefaultMaxAttempts = 5
	CodeDigits         = 6
)

// Errors at the package boundary.
var (
	// ErrNotEnrolled: the user has no confirmed address on this channel.
	ErrNotEnrolled = errors.New("oob: factor not enrolled")
	// ErrAlreadyEnrolled: a confirmed address exists; remove it before adding another.
	ErrAlreadyEnrolled = errors.New("oob: factor already enrolled")
	// ErrInvalidCode: wrong, expired, used, or never sent for this binding.
	ErrInvalidCode = errors.New("oob: invalid code")
	// ErrTooManyAttempts: the code took its maximum of wrong attempts and is dead.
	ErrTooManyAttempts = errors.New("oob: too many attempts")
	// ErrInvalidAddress: the address is not acceptable for the channel.
	ErrInvalidAddress = errors.New("oob: invalid address")
	// ErrDelivery: the transport refused or failed to deliver the code.
	ErrDelivery = errors.New("oob: delivery failed")
)

// CooldownError refuses a new code before the cooldown since the last one has passed.
type CooldownError struct{ RetryAfter time.Duration }

func (e *CooldownError) Error() string {
	return fmt.Sprintf("oob: a code was sent recently; retry in %s", e.RetryAfter.Round(time.Second))
}

// RetryAfterDuration lets the HTTP layer set Retry-After.
func (e *CooldownError) RetryAfterDuration() time.Duration { return e.RetryAfter }

// Enrollment is a user's address on a channel.
type Enrollment struct {
	UserID      string
	Channel     string
	Address     string
	ConfirmedAt *time.Time
	CreatedAt   time.Time
}

// Code is a stored one-time code (its hash only).
type Code struct {
	ID        string
	UserID    string
	Channel   string
	Binding   string
	Hash      string
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Store keeps enrollments and codes; the store layer implements it.
type Store interface {
	// PutPendingChannel stores an unconfirmed address, replacing an unconfirmed one;
	// ErrAlreadyEnrolled when a confirmed one exists.
	PutPendingChannel(ctx context.Context, e Enrollment) error
	// Channel returns the user's enrollment on channel or ErrNotEnrolled.
	Channel(ctx context.Context, userID, channel string) (Enrollment, error)
	// ConfirmChannel confirms the pending address if it is still address; false otherwise.
	ConfirmChannel(ctx context.Context, userID, channel, address string, at time.Time) (bool, error)
	// DeleteChannel removes the enrollment (and its codes), reporting whether there was one.
	DeleteChannel(ctx context.Context, userID, channel string) (bool, error)
	// CreateCode stores a new code.
	CreateCode(ctx context.Context, c Code) error
	// LatestCode returns the newest code for (user, channel, binding) or ErrInvalidCode.
	LatestCode(ctx context.Context, userID, channel, binding string) (Code, error)
	// FailCode counts a wrong attempt if fewer than max were made; false when none was left.
	FailCode(ctx context.Context, id string, max int) (bool, error)
	// UseCode marks an unused code used; false when it was used already (a concurrent use won).
	UseCode(ctx context.Context, id string, at time.Time) (bool, error)
	// DeleteCode removes a code that could not be delivered, so it neither works nor holds
	// back a retry.
	DeleteCode(ctx context.Context, id string) error
}

// Sender delivers a code to an address.
type Sender interface {
	SendCode(ctx context.Context, to, code string, ttl time.Duration) error
}

// Options tune a Factor; zero values take the defaults.
type Options struct {
	TTL         time.Duration
	Cooldown    time.Duration
	MaxAttempts int
	// Normalize validates an address and returns its canonical form (E.164 for SMS, a
	// lower-cased address for email), wrapping ErrInvalidAddress when it is not acceptable.
	Normalize func(address string) (string, error)
	// Mask shortens an address for display (+1 *** *** 4567, a***@example.com).
	Mask func(address string) string
	Now  func() time.Time
	Rand io.Reader
}

// Factor is one out-of-band channel.
type Factor struct {
	channel string
	store   Store
	sender  Sender
	o       Options
}

// New returns the factor for channel.
func New(channel string, store Store, sender Sender, o Options) *Factor {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Cooldown <= 0 {
		o.Cooldown = DefaultCooldown
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Normalize == nil {
		o.Normalize = func(a string) (string, error) { return a, nil }
	}
	if o.Mask == nil {
		o.Mask = MaskTail
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Factor{channel: channel, store: store, sender: sender, o: o}
}

// Name is the factor's name on the wire: the channel.
func (f *Factor) Name() string { return f.channel }

func (f *Factor) now() time.Time { return f.o.Now().UTC().Truncate(time.Microsecond) }

// Enrolled reports whether the user has a confirmed address on this channel.
func (f *Factor) Enrolled(ctx context.Context, userID string) (bool, error) {
	e, err := f.store.Channel(ctx, userID, f.channel)
	if errors.Is(err, ErrNotEnrolled) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s enrollment: %w", f.channel, err)
	}
	return e.ConfirmedAt != nil, nil
}

// Status returns the masked address and whether it is confirmed; ErrNotEnrolled when none.
func (f *Factor) Status(ctx context.Context, userID string) (masked string, confirmedAt *time.Time, err error) {
	e, err := f.store.Channel(ctx, userID, f.channel)
	if err != nil {
		return "", nil, err
	}
	return f.o.Mask(e.Address), e.ConfirmedAt, nil
}

// BeginEnroll stores address as pending and sends it a code. When delivery fails the pending
// address is removed again, so nothing half-enrolled remains.
func (f *Factor) BeginEnroll(ctx context.Context, userID, address string) (masked string, err error) {
	addr, err := f.o.Normalize(address)
	if err != nil {
		return "", err
	}
	now := f.now()
	if err := f.store.PutPendingChannel(ctx, Enrollment{UserID: userID, Channel: f.channel, Address: addr, CreatedAt: now}); err != nil {
		return "", fmt.Errorf("enroll %s: %w", f.channel, err)
	}
	if err := f.send(ctx, userID, addr, BindingEnroll, now); err != nil {
		if _, derr := f.store.DeleteChannel(ctx, userID, f.channel); derr != nil {
			return "", errors.Join(err, fmt.Errorf("remove pending %s enrollment: %w", f.channel, derr))
		}
		return "", err
	}
	return f.o.Mask(addr), nil
}

// ConfirmEnroll activates the pending address with the code sent to it.
func (f *Factor) ConfirmEnroll(ctx context.Context, userID, code string) error {
	e, err := f.store.Channel(ctx, userID, f.channel)
	if errors.Is(err, ErrNotEnrolled) {
		return ErrInvalidCode
	}
	if err != nil {
		return fmt.Errorf("confirm %s: %w", f.channel, err)
	}
	if e.ConfirmedAt != nil {
		return ErrAlreadyEnrolled
	}
	if err := f.Verify(ctx, userID, BindingEnroll, code); err != nil {
		return err
	}
	ok, err := f.store.ConfirmChannel(ctx, userID, f.channel, e.Address, f.now())
	if err != nil {
		return fmt.Errorf("confirm %s: %w", f.channel, err)
	}
	if !ok {
		return ErrInvalidCode // replaced or removed meanwhile
	}
	return nil
}

// Disable removes the user's address on this channel; ErrNotEnrolled when there is none.
func (f *Factor) Disable(ctx context.Context, userID string) error {
	ok, err := f.store.DeleteChannel(ctx, userID, f.channel)
	if err != nil {
		return fmt.Errorf("disable %s: %w", f.channel, err)
	}
	if !ok {
		return ErrNotEnrolled
	}
	return nil
}

// Challenge sends a code for binding to the user's confirmed address and returns the masked
// address.
func (f *Factor) Challenge(ctx context.Context, userID, binding string) (masked string, err error) {
	e, err := f.store.Channel(ctx, userID, f.channel)
	if err != nil {
		return "", err
	}
	if e.ConfirmedAt == nil {
		return "", ErrNotEnrolled
	}
	if err := f.send(ctx, userID, e.Address, binding, f.now()); err != nil {
		return "", err
	}
	return f.o.Mask(e.Address), nil
}

// SendTo sends a code for binding to an address that need not be enrolled on this channel
// (email verification); the same rules hold: cooldown, expiry, attempts, single use.
func (f *Factor) SendTo(ctx context.Context, userID, address, binding string) (masked string, err error) {
	if err := f.send(ctx, userID, address, binding, f.now()); err != nil {
		return "", err
	}
	return f.o.Mask(address), nil
}

// send enforces the cooldown, stores a new code and delivers it.
func (f *Factor) send(ctx context.Context, userID, address, binding string, now time.Time) error {
	last, err := f.store.LatestCode(ctx, userID, f.channel, binding)
	switch {
	case err == nil:
		if wait := last.CreatedAt.Add(f.o.Cooldown).Sub(now); wait > 0 {
			return &CooldownError{RetryAfter: wait}
		}
	case !errors.Is(err, ErrInvalidCode):
		return fmt.Errorf("%s code: %w", f.channel, err)
	}
	code, err := f.newCode()
	if err != nil {
		return err
	}
	c := Code{ID: uuid.NewString(), UserID: userID, Channel: f.channel, Binding: binding,
		Hash: Hash(userID, f.channel, binding, code), CreatedAt: now, ExpiresAt: now.Add(f.o.TTL)}
	if err := f.store.CreateCode(ctx, c); err != nil {
		return fmt.Errorf("store %s code: %w", f.channel, err)
	}
	if err := f.sender.SendCode(ctx, address, code, f.o.TTL); err != nil {
		derr := f.store.DeleteCode(context.WithoutCancel(ctx), c.ID)
		return errors.Join(fmt.Errorf("%w: %w", ErrDelivery, err), derr)
	}
	return nil
}

// Verify checks code against the newest code sent for binding and spends it.
func (f *Factor) Verify(ctx context.Context, userID, binding, code string) error {
	c, err := f.store.LatestCode(ctx, userID, f.channel, binding)
	if errors.Is(err, ErrInvalidCode) {
		return ErrInvalidCode
	}
	if err != nil {
		return fmt.Errorf("%s code: %w", f.channel, err)
	}
	now := f.now()
	switch {
	case c.UsedAt != nil, !now.Before(c.ExpiresAt):
		return ErrInvalidCode
	case c.Attempts >= f.o.MaxAttempts:
		return ErrTooManyAttempts
	}
	if subtle.ConstantTimeCompare([]byte(Hash(userID, f.channel, binding, code)), []byte(c.Hash)) != 1 {
		counted, err := f.store.FailCode(ctx, c.ID, f.o.MaxAttempts)
		if err != nil {
			return fmt.Errorf("%s code: %w", f.channel, err)
		}
		if !counted {
			return ErrTooManyAttempts
		}
		return ErrInvalidCode
	}
	used, err := f.store.UseCode(ctx, c.ID, now)
	if err != nil {
		return fmt.Errorf("%s code: %w", f.channel, err)
	}
	if !used {
		return ErrInvalidCode
	}
	return nil
}

// newCode draws CodeDigits uniform decimal digits from the CSPRNG.
func (f *Factor) newCode() (string, error) {
	n, err := rand.Int(f.o.Rand, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("generate code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// Hash is how a code is stored: bound to its user, channel and binding, so a hash copied to
// another row matches nothing.
func Hash(userID, channel, binding, code string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + channel + "\x00" + binding + "\x00" + code))
	return hex.EncodeToString(h[:])
}

// MaskTail shows the last four characters of an address.
func MaskTail(a string) string {
	r := []rune(a)
	if len(r) <= 4 {
		return "****"
	}
	return "****" + string(r[len(r)-4:])
}
