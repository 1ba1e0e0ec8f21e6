package oob_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/mfa/oob"
)

// memStore is the Store contract in memory.
type memStore struct {
	mu       sync.Mutex
	channels map[string]oob.Enrollment
	codes    map[string]oob.Code
}

func newMemStore() *memStore {
	return &memStore{channels: map[string]oob.Enrollment{}, codes: map[string]oob.Code{}}
}

func key(u, ch string) string { return u + "/" + ch }

func (m *memStore) PutPendingChannel(_ context.Context, e oob.Enrollment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.channels[key(e.UserID, e.Channel)]; ok && old.ConfirmedAt != nil {
		return oob.ErrAlreadyEnrolled
	}
	m.channels[key(e.UserID, e.Channel)] = e
	return nil
}

func (m *memStore) Channel(_ context.Context, u, ch string) (oob.Enrollment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.channels[key(u, ch)]
	if !ok {
		return oob.Enrollment{}, oob.ErrNotEnrolled
	}
	return e, nil
}

func (m *memStore) ConfirmChannel(_ context.Context, u, ch, addr string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.channels[key(u, ch)]
	if !ok || e.Address != addr || e.ConfirmedAt != nil {
		return false, nil
	}
	e.ConfirmedAt = &at
	m.channels[key(u, ch)] = e
	return true, nil
}

func (m *memStore) DeleteChannel(_ context.Context, u, ch string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.channels[key(u, ch)]
	delete(m.channels, key(u, ch))
	return ok, nil
}

func (m *memStore) CreateCode(_ context.Context, c oob.Code) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.codes[c.ID] = c
	return nil
}

func (m *memStore) LatestCode(_ context.Context, u, ch, binding string) (oob.Code, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []oob.Code
	for _, c := range m.codes {
		if c.UserID == u && c.Channel == ch && c.Binding == binding {
			all = append(all, c)
		}
	}
	if len(all) == 0 {
		return oob.Code{}, oob.ErrInvalidCode
	}
	sort.Slice(all, func(i, j int) bool { return all[i].CreatedAt.After(all[j].CreatedAt) })
	return all[0], nil
}

func (m *memStore) FailCode(_ context.Context, id string, limit int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.codes[id]
	if c.Attempts >= limit || c.UsedAt != nil {
		return false, nil
	}
	c.Attempts++
	m.codes[id] = c
	return true, nil
}

func (m *memStore) UseCode(_ context.Context, id string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.codes[id]
	if c.UsedAt != nil {
		return false, nil
	}
	c.UsedAt = &at
	m.codes[id] = c
	return true, nil
}

func (m *memStore) DeleteCode(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.codes, id)
	return nil
}

// outbox is a Sender that keeps what it sent, or fails.
type outbox struct {
	mu   sync.Mutex
	sent []string // "to code"
	fail error
}

func (o *outbox) SendCode(_ context.Context, to, code string, _ time.Duration) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, to+" "+code)
	return nil
}

func (o *outbox) last(t *testing.T) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("nothing sent")
	}
	_, code, _ := strings.Cut(o.sent[len(o.sent)-1], " ")
	return code
}

const user = "8d0f3f7e-4a8f-4d0c-9a3a-0a4f6c1f2b11"

func setup(t *testing.T) (*oob.Factor, *memStore, *outbox, *clocktest.Clock) {
	t.Helper()
	st, box := newMemStore(), &outbox{}
	clock := clocktest.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	f := oob.New(oob.ChannelSMS, st, box, oob.Options{Now: clock.Now, Normalize: func(a string) (string, error) {
		if !strings.HasPrefix(a, "+") {
			return "", fmt.Errorf("%w: not E.164", oob.ErrInvalidAddress)
		}
		return a, nil
	}})
	return f, st, box, clock
}

func enrolled(t *testing.T) (*oob.Factor, *memStore, *outbox, *clocktest.Clock) {
	t.Helper()
	f, st, box, clock := setup(t)
	ctx := context.Background()
	if _, err := f.BeginEnroll(ctx, user, "+14155550100"); err != nil {
		t.Fatal(err)
	}
	if err := f.ConfirmEnroll(ctx, user, box.last(t)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	return f, st, box, clock
}

// SEC-21: six CSPRNG digits, stored only as a hash bound to user, channel and binding.
func TestCodesAreSixDigitsStoredHashed_SEC21(t *testing.T) {
	f, st, box, _ := enrolled(t)
	if _, err := f.Challenge(context.Background(), user, "login:1"); err != nil {
		t.Fatal(err)
	}
	code := box.last(t)
	if !regexp.MustCompile(`^\d{6}$`).MatchString(code) {
		t.Fatalf("code %q", code)
	}
	c, err := st.LatestCode(context.Background(), user, oob.ChannelSMS, "login:1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash == code || strings.Contains(c.Hash, code) || c.Hash != oob.Hash(user, oob.ChannelSMS, "login:1", code) {
		t.Fatalf("stored %q for code %q", c.Hash, code)
	}
	if oob.Hash(user, oob.ChannelSMS, "login:2", code) == c.Hash {
		t.Fatal("the hash does not bind the code to its login")
	}
}

// SEC-21: single use, bound to the login it was sent for, expires after 10 minutes.
func TestCodeSingleUseBoundAndExpiring_SEC21(t *testing.T) {
	ctx := context.Background()
	f, _, box, clock := enrolled(t)
	if _, err := f.Challenge(ctx, user, "login:1"); err != nil {
		t.Fatal(err)
	}
	code := box.last(t)
	if err := f.Verify(ctx, user, "login:2", code); !errors.Is(err, oob.ErrInvalidCode) {
		t.Fatalf("other binding: %v", err)
	}
	if err := f.Verify(ctx, user, "login:1", code); err != nil {
		t.Fatal(err)
	}
	if err := f.Verify(ctx, user, "login:1", code); !errors.Is(err, oob.ErrInvalidCode) {
		t.Fatalf("second use: %v", err)
	}

	clock.Advance(time.Minute)
	if _, err := f.Challenge(ctx, user, "login:3"); err != nil {
		t.Fatal(err)
	}
	code = box.last(t)
	clock.Advance(oob.DefaultTTL)
	if err := f.Verify(ctx, user, "login:3", code); !errors.Is(err, oob.ErrInvalidCode) {
		t.Fatalf("expired code: %v", err)
	}
}

// SEC-21: at most 5 attempts; after them even the right code is refused.
func TestAttemptLimit_SEC21(t *testing.T) {
	ctx := context.Background()
	f, _, box, _ := enrolled(t)
	if _, err := f.Challenge(ctx, user, "login:1"); err != nil {
		t.Fatal(err)
	}
	code := box.last(t)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	for i := range oob.DefaultMaxAttempts {
		if err := f.Verify(ctx, user, "login:1", wrong); !errors.Is(err, oob.ErrInvalidCode) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if err := f.Verify(ctx, user, "login:1", code); !errors.Is(err, oob.ErrTooManyAttempts) {
		t.Fatalf("right code after the limit: %v", err)
	}
}

// SEC-21: a resend waits out the cooldown, and the new code replaces the old.
func TestResendCooldown_SEC21(t *testing.T) {
	ctx := context.Background()
	f, _, box, clock := enrolled(t)
	if _, err := f.Challenge(ctx, user, "login:1"); err != nil {
		t.Fatal(err)
	}
	first := box.last(t)
	clock.Advance(10 * time.Second)
	_, err := f.Challenge(ctx, user, "login:1")
	var cd *oob.CooldownError
	if !errors.As(err, &cd) || cd.RetryAfter != 20*time.Second {
		t.Fatalf("resend inside the cooldown: %v", err)
	}
	clock.Advance(20 * time.Second)
	if _, err := f.Challenge(ctx, user, "login:1"); err != nil {
		t.Fatal(err)
	}
	second := box.last(t)
	if first != second {
		if err := f.Verify(ctx, user, "login:1", first); !errors.Is(err, oob.ErrInvalidCode) {
			t.Fatalf("replaced code: %v", err)
		}
	}
	if err := f.Verify(ctx, user, "login:1", second); err != nil {
		t.Fatal(err)
	}
}

// A failed delivery leaves nothing enrolled and holds back no retry.
func TestDeliveryFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	f, st, box, _ := setup(t)
	box.fail = errors.New("twilio said 500")
	if _, err := f.BeginEnroll(ctx, user, "+14155550100"); !errors.Is(err, oob.ErrDelivery) {
		t.Fatalf("enroll with delivery down: %v", err)
	}
	if _, err := st.Channel(ctx, user, oob.ChannelSMS); !errors.Is(err, oob.ErrNotEnrolled) {
		t.Fatalf("half-enrolled: %v", err)
	}
	box.fail = nil
	if _, err := f.BeginEnroll(ctx, user, "+14155550100"); err != nil {
		t.Fatalf("retry right after a failed delivery: %v", err)
	}
	if _, err := f.BeginEnroll(ctx, user, "4155550100"); !errors.Is(err, oob.ErrInvalidAddress) {
		t.Fatalf("invalid address: %v", err)
	}
}

func TestEnrollmentStates(t *testing.T) {
	ctx := context.Background()
	f, _, box, _ := setup(t)
	if _, err := f.Challenge(ctx, user, "login:1"); !errors.Is(err, oob.ErrNotEnrolled) {
		t.Fatalf("challenge without enrollment: %v", err)
	}
	masked, err := f.BeginEnroll(ctx, user, "+14155550100")
	if err != nil || masked != "****0100" {
		t.Fatalf("begin: %q %v", masked, err)
	}
	if ok, _ := f.Enrolled(ctx, user); ok {
		t.Fatal("enrolled before confirmation")
	}
	if _, err := f.Challenge(ctx, user, "login:1"); !errors.Is(err, oob.ErrNotEnrolled) {
		t.Fatalf("challenge of a pending enrollment: %v", err)
	}
	if err := f.ConfirmEnroll(ctx, user, box.last(t)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.Enrolled(ctx, user); !ok {
		t.Fatal("not enrolled after confirmation")
	}
	if _, err := f.BeginEnroll(ctx, user, "+14155550199"); !errors.Is(err, oob.ErrAlreadyEnrolled) {
		t.Fatalf("second phone: %v", err)
	}
	if err := f.Disable(ctx, user); err != nil {
		t.Fatal(err)
	}
	if err := f.Disable(ctx, user); !errors.Is(err, oob.ErrNotEnrolled) {
		t.Fatalf("disable twice: %v", err)
	}
}
