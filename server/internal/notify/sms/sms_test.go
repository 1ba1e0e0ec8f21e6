package sms_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/notify/sms"
	"gatehouse/server/internal/notify/sms/smstest"
)

const (
	sender     = "+15017122661"
	serviceSID = "MG0123456789abcdef0123456789abcdef"
	recipient  = "+16502530000"
)

func newSender(t *testing.T, fake *smstest.Server, mutate func(*sms.Options)) *sms.Sender {
	t.Helper()
	opts := sms.Options{
		AccountSID: smstest.AccountSID,
		AuthToken:  smstest.AuthToken,
		From:       sender,
		BaseURL:    fake.URL,
		Timeout:    5 * time.Second,
	}
	if mutate != nil {
		mutate(&opts)
	}
	s, err := sms.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func deliveryError(t *testing.T, err error) *sms.DeliveryError {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	if !errors.Is(err, sms.ErrDelivery) {
		t.Fatalf("errors.Is(%v, ErrDelivery) = false", err)
	}
	var de *sms.DeliveryError
	if !errors.As(err, &de) {
		t.Fatalf("error %T is not a *DeliveryError: %v", err, err)
	}
	if strings.Contains(err.Error(), smstest.AuthToken) || strings.Contains(de.Message, smstest.AuthToken) {
		t.Fatalf("error contains the auth token: %v", err)
	}
	return de
}

func TestSendThroughSDKIsRecordedWithFieldsAndAuth(t *testing.T) {
	fake := smstest.Start(t)
	s := newSender(t, fake, nil)

	sid, err := s.Send(t.Context(), recipient, "Your Gatehouse code is 123456")
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := fake.Messages()
	if len(msgs) != 1 {
		t.Fatalf("fake recorded %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.SID != sid || !strings.HasPrefix(sid, "SM") || len(sid) != 34 {
		t.Errorf("sid = %q, recorded %q; want the same SM… SID", sid, m.SID)
	}
	if m.AccountSID != smstest.AccountSID || m.To != recipient || m.From != sender ||
		m.Body != "Your Gatehouse code is 123456" || m.MessagingServiceSID != "" {
		t.Errorf("recorded %+v", m)
	}
	// Exactly the fields the SDK sends for To/From/Body, nothing else.
	if len(m.Form) != 3 {
		t.Errorf("form = %v, want To, From, Body only", m.Form)
	}
	if !strings.HasPrefix(m.UserAgent, "twilio-go/") {
		t.Errorf("User-Agent = %q, want the SDK's", m.UserAgent)
	}
	if got, ok := fake.LastTo(recipient); !ok || got.Body != m.Body {
		t.Errorf("LastTo = %+v, %v", got, ok)
	}
}

func TestSendWithMessagingService(t *testing.T) {
	fake := smstest.Start(t)
	s := newSender(t, fake, func(o *sms.Options) { o.From = serviceSID })

	if _, err := s.Send(t.Context(), recipient, "code 654321"); err != nil {
		t.Fatalf("Send: %v", err)
	}
	m, ok := fake.LastTo(recipient)
	if !ok || m.MessagingServiceSID != serviceSID || m.From != "" || m.Form.Has("From") {
		t.Errorf("recorded %+v, want MessagingServiceSid and no From", m)
	}
}

func TestSendWrongTokenIs401(t *testing.T) {
	fake := smstest.Start(t)
	const wrong = "ffffffffffffffffffffffffffffffff"
	s := newSender(t, fake, func(o *sms.Options) { o.AuthToken = wrong })

	_, err := s.Send(t.Context(), recipient, "hello")
	de := deliveryError(t, err)
	if de.Status != http.StatusUnauthorized || de.Code != 20003 {
		t.Errorf("got status %d code %d, want 401 / 20003", de.Status, de.Code)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("error contains the (wrong) token: %v", err)
	}
	if de.Temporary() {
		t.Error("401 reported as temporary")
	}
	if n := len(fake.Messages()); n != 0 {
		t.Errorf("fake recorded %d messages", n)
	}
}

func TestSendTwilioErrors(t *testing.T) {
	tests := []struct {
		name      string
		failure   *smstest.Failure
		to        string
		status    int
		code      int
		temporary bool
	}{
		{
			name:    "invalid To, 21211",
			failure: &smstest.Failure{Status: 400, Code: 21211, Message: "The 'To' number is not a valid phone number."},
			to:      recipient, status: 400, code: 21211,
		},
		{
			name: "magic number rejected by the fake's own validation",
			to:   "+15005550001", status: 400, code: 21211,
		},
		{
			name:    "rate limited",
			failure: &smstest.Failure{Status: 429, Code: 20429, Message: "Too Many Requests"},
			to:      recipient, status: 429, code: 20429, temporary: true,
		},
		{
			name:    "500 with Twilio error JSON",
			failure: &smstest.Failure{Status: 500, Code: 20500, Message: "Internal Server Error"},
			to:      recipient, status: 500, code: 20500, temporary: true,
		},
		{
			name:    "502 with an HTML body",
			failure: &smstest.Failure{Status: 502},
			to:      recipient, status: 502, code: 0, temporary: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := smstest.Start(t)
			if tc.failure != nil {
				fake.FailWith(*tc.failure)
			}
			s := newSender(t, fake, nil)

			_, err := s.Send(t.Context(), tc.to, "hello")
			de := deliveryError(t, err)
			if de.Status != tc.status || de.Code != tc.code {
				t.Errorf("got status %d code %d, want %d / %d (%v)", de.Status, de.Code, tc.status, tc.code, err)
			}
			if de.Message == "" {
				t.Error("empty message")
			}
			if de.Temporary() != tc.temporary {
				t.Errorf("Temporary() = %v, want %v", de.Temporary(), tc.temporary)
			}
			if n := len(fake.Messages()); n != 0 {
				t.Errorf("fake recorded %d messages", n)
			}

			fake.ClearFailure()
			if tc.failure != nil {
				if _, err := s.Send(t.Context(), tc.to, "again"); err != nil {
					t.Errorf("after ClearFailure: %v", err)
				}
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	fake := smstest.Start(t)
	fake.SetDelay(10 * time.Second)
	s := newSender(t, fake, func(o *sms.Options) { o.Timeout = 100 * time.Millisecond })

	start := time.Now()
	_, err := s.Send(t.Context(), recipient, "hello")
	de := deliveryError(t, err)
	if !errors.Is(err, context.DeadlineExceeded) || de.Status != 0 || !de.Temporary() {
		t.Errorf("got %v (status %d), want a temporary deadline error", err, de.Status)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("Send took %v with a 100ms timeout", elapsed)
	}
}

func TestSendHonoursCallerContext(t *testing.T) {
	fake := smstest.Start(t)
	fake.SetDelay(10 * time.Second)
	s := newSender(t, fake, nil)

	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := s.Send(ctx, recipient, "hello")
	if de := deliveryError(t, err); de.Status != 0 {
		t.Errorf("status = %d, want 0 (no answer)", de.Status)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestSendTwilioUnreachable(t *testing.T) {
	fake := smstest.NewServer(smstest.AccountSID, smstest.AuthToken)
	url := fake.URL
	fake.Close()
	s := newSender(t, &smstest.Server{URL: url}, nil)

	_, err := s.Send(t.Context(), recipient, "hello")
	if de := deliveryError(t, err); de.Status != 0 || !de.Temporary() {
		t.Errorf("got %+v", de)
	}
}

func TestSendRejectsBadInputBeforeCallingTwilio(t *testing.T) {
	fake := smstest.Start(t)
	s := newSender(t, fake, nil)

	for _, to := range []string{"", "6502530000", "+1 650 253 0000", "+1555", "+15551234567"} {
		if _, err := s.Send(t.Context(), to, "hello"); !errors.Is(err, sms.ErrInvalidPhone) {
			t.Errorf("Send(%q) = %v, want ErrInvalidPhone", to, err)
		}
	}
	for _, body := range []string{"", strings.Repeat("x", sms.MaxBodyLength+1)} {
		if _, err := s.Send(t.Context(), recipient, body); !errors.Is(err, sms.ErrInvalidMessage) {
			t.Errorf("Send(body of %d) = %v, want ErrInvalidMessage", len(body), err)
		}
	}
	if n := fake.Requests(); n != 0 {
		t.Errorf("fake received %d requests", n)
	}
}

func TestTokenEchoedByTwilioIsRedacted(t *testing.T) {
	fake := smstest.Start(t)
	fake.FailWith(smstest.Failure{Status: 400, Code: 21999, Message: "bad credentials " + smstest.AuthToken})
	s := newSender(t, fake, nil)

	_, err := s.Send(t.Context(), recipient, "hello")
	de := deliveryError(t, err) // fails the test if the token is present
	if !strings.Contains(de.Message, "[redacted]") {
		t.Errorf("message = %q", de.Message)
	}
}

func TestSendConcurrently(t *testing.T) {
	fake := smstest.Start(t)
	s := newSender(t, fake, nil)

	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := s.Send(t.Context(), recipient, "hello"); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()
	if n := len(fake.Messages()); n != 16 {
		t.Errorf("recorded %d messages, want 16", n)
	}
}

func TestOptionsValidateReportsEverything(t *testing.T) {
	const token = "s3cr3t-with-dash"
	err := sms.Options{AccountSID: "XY1", AuthToken: token, From: "12345", BaseURL: "ftp://x", Timeout: -1}.Validate()
	if !errors.Is(err, sms.ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"account SID", "auth token", "sender", "base URL", "timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error contains the token: %v", err)
	}

	if _, err := sms.New(sms.Options{}); !errors.Is(err, sms.ErrInvalidOptions) {
		t.Errorf("New(empty) = %v", err)
	}
	for _, from := range []string{sender, serviceSID} {
		ok := sms.Options{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, From: from}
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(From=%s) = %v", from, err)
		}
	}
	bad := []sms.Options{
		{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, From: "MG123"},
		{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, From: sender, BaseURL: "http://user:pw@127.0.0.1"},
		{AccountSID: smstest.AccountSID, From: sender},
	}
	for _, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", o)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		raw, region, want string
	}{
		{"+16502530000", "", "+16502530000"},
		{"+1 650-253-0000", "", "+16502530000"},
		{"  +1 (650) 253 0000 ", "", "+16502530000"},
		{"(650) 253-0000", "US", "+16502530000"},
		{"020 7946 0018", "GB", "+442079460018"},
		{"020 7946 0018", "gb", "+442079460018"},
		{"+44 20 7946 0018", "US", "+442079460018"}, // explicit country wins
		{"030 1234567", "DE", "+49301234567"},
		{"+49 170 1234567", "", "+491701234567"},
		// invalid
		{"", "US", ""},
		{"650 253 0000", "", ""}, // national format without a region
		{"+4420", "", ""},        // too short
		{"12345", "US", ""},      // too short
		{"+1 555 0100", "", ""},
		{"+15551234567", "", ""}, // unassigned range
		{"not a number", "US", ""},
		{"+1" + strings.Repeat("0", 80), "", ""},
	}
	for _, tc := range tests {
		got, err := sms.NormalizePhone(tc.raw, tc.region)
		if tc.want == "" {
			if !errors.Is(err, sms.ErrInvalidPhone) {
				t.Errorf("NormalizePhone(%q, %q) = %q, %v; want ErrInvalidPhone", tc.raw, tc.region, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizePhone(%q, %q) = %q, %v; want %q", tc.raw, tc.region, got, err, tc.want)
		}
	}
}
