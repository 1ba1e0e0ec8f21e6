package rotationhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var testKey = []byte("hook-signing-key-0123456789abcdef")

const testValue = "n3w-Pa55word-for-billing-db"

// received is one request a test hook saw.
type received struct {
	header string
	body   []byte
}

// receiver is a hook built as a real consumer would build it: verify, then decide.
type receiver struct {
	mu      sync.Mutex
	got     []received
	now     func() time.Time
	respond func(w http.ResponseWriter, b body)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.got = append(rc.got, received{header: r.Header.Get(SignatureHeader), body: raw})
	rc.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	now := time.Now()
	if rc.now != nil {
		now = rc.now()
	}
	if err := Verify(testKey, r.Header.Get(SignatureHeader), raw, now, DefaultTolerance); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var b body
	if err := json.Unmarshal(raw, &b); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	if rc.respond != nil {
		rc.respond(w, b)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func newHook(t *testing.T, url string, mod ...func(*Options)) *Hook {
	t.Helper()
	o := Options{URL: url, Key: testKey, Timeout: 2 * time.Second}
	for _, m := range mod {
		m(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var testReq = Request{Secret: "billing/prod/db", Version: "7", RotationID: "rot-1", Value: []byte(testValue)}

// assertSafe checks that a refusal can be recorded: no value, key or URL in it.
func assertSafe(t *testing.T, err error, url string) {
	t.Helper()
	msg := err.Error()
	for _, leak := range []string{testValue, base64.StdEncoding.EncodeToString([]byte(testValue)), string(testKey), url, "token="} {
		if strings.Contains(msg, leak) {
			t.Fatalf("error %q contains %q", msg, leak)
		}
	}
}

func TestAccepted(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	now := time.Unix(1_767_225_600, 0)
	h := newHook(t, srv.URL+"/hook?token=abc", func(o *Options) { o.Now = func() time.Time { return now } })
	rc.now = func() time.Time { return now.Add(30 * time.Second) }

	if err := h.Test(context.Background(), testReq); err != nil {
		t.Fatalf("Test: %v", err)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	var b body
	if err := json.Unmarshal(got[0].body, &b); err != nil {
		t.Fatal(err)
	}
	want := body{Type: EventType, Name: "billing/prod/db", Version: "7", RotationID: "rot-1", Timestamp: now.Unix(),
		ValueBase64: base64.StdEncoding.EncodeToString([]byte(testValue))}
	if b != want {
		t.Fatalf("body %+v, want %+v", b, want)
	}
	if !strings.HasPrefix(got[0].header, "t=1767225600,v1=") {
		t.Fatalf("signature header %q", got[0].header)
	}
}

func TestOmitValue(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	h := newHook(t, srv.URL, func(o *Options) { o.OmitValue = true })
	if err := h.Test(context.Background(), testReq); err != nil {
		t.Fatal(err)
	}
	raw := rc.requests()[0].body
	if bytes.Contains(raw, []byte("value")) || bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString([]byte(testValue)))) {
		t.Fatalf("body %s carries the value although OmitValue is set", raw)
	}
}

func TestRejected(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		answer     string
		wantReason string
		notReason  string
	}{
		{"refusal with reason", http.StatusConflict, `{"reason":"login to billing-db failed with the new password"}`, "answered 409 Conflict: login to billing-db failed with the new password", ""},
		{"error field", http.StatusUnprocessableEntity, `{"error":"too weak"}`, "answered 422 Unprocessable Entity: too weak", ""},
		{"server error, no JSON", http.StatusInternalServerError, `oops`, "answered 500 Internal Server Error", ":"},
		{"echoes the value", http.StatusBadRequest, `{"reason":"password ` + testValue + ` refused"}`, "withheld", testValue},
		{"echoes the value in base64", http.StatusBadRequest, `{"reason":"got ` + base64.StdEncoding.EncodeToString([]byte(testValue)) + `"}`, "withheld", "got"},
		{"echoes the key", http.StatusBadRequest, `{"reason":"key ` + string(testKey) + `"}`, "withheld", string(testKey)},
		{"long reason", http.StatusBadRequest, `{"reason":"` + strings.Repeat("é", 500) + `"}`, strings.Repeat("é", maxReasonLength) + "…", strings.Repeat("é", maxReasonLength+1)},
		{"control characters", http.StatusBadRequest, `{"reason":"line1\nline2\u001b[31m"}`, "line1 line2 [31m", "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &receiver{respond: func(w http.ResponseWriter, _ body) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.answer)
			}}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			url := srv.URL + "/hook?token=abc"
			err := newHook(t, url).Test(context.Background(), testReq)
			var he *Error
			if !errors.As(err, &he) || !errors.Is(err, ErrRejected) {
				t.Fatalf("err = %v, want *Error wrapping ErrRejected", err)
			}
			if he.Status != tt.status {
				t.Fatalf("status %d, want %d", he.Status, tt.status)
			}
			if !strings.Contains(he.Reason, tt.wantReason) {
				t.Fatalf("reason %q does not contain %q", he.Reason, tt.wantReason)
			}
			if tt.notReason != "" && strings.Contains(he.Reason, tt.notReason) {
				t.Fatalf("reason %q contains %q", he.Reason, tt.notReason)
			}
			assertSafe(t, err, url)
		})
	}
}

func TestWrongKeyIsRefusedByReceiver(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	h := newHook(t, srv.URL, func(o *Options) { o.Key = []byte("another-key-of-sufficient-length") })
	err := h.Test(context.Background(), testReq)
	var he *Error
	if !errors.As(err, &he) || he.Status != http.StatusUnauthorized {
		t.Fatalf("err = %v, want a 401 refusal", err)
	}
}

func TestSlowServerTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	url := srv.URL + "/?token=abc"
	h := newHook(t, url, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	start := time.Now()
	err := h.Test(context.Background(), testReq)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Test took %s with a 200ms timeout", elapsed)
	}
	var he *Error
	if !errors.As(err, &he) || !errors.Is(err, ErrUnreachable) || he.Status != 0 {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(he.Reason, "no answer within 200ms") {
		t.Fatalf("reason %q", he.Reason)
	}
	assertSafe(t, err, url)
}

func TestCallerCancellation(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client going away.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := newHook(t, srv.URL).Test(ctx, testReq)
	var he *Error
	if !errors.As(err, &he) || !errors.Is(err, ErrUnreachable) || !strings.Contains(he.Reason, "cancelled") {
		t.Fatalf("err = %v", err)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	err := newHook(t, srv.URL).Test(context.Background(), testReq)
	var he *Error
	if !errors.As(err, &he) || !errors.Is(err, ErrRejected) || he.Status != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want a 307 refusal", err)
	}
	if !strings.Contains(he.Reason, "redirects are not followed") {
		t.Fatalf("reason %q", he.Reason)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect target received %d requests", n)
	}
	assertSafe(t, err, other.URL)
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/?token=abc"
	srv.Close()
	err := newHook(t, url).Test(context.Background(), testReq)
	var he *Error
	if !errors.As(err, &he) || !errors.Is(err, ErrUnreachable) || he.Reason != "could not connect to the hook" {
		t.Fatalf("err = %v", err)
	}
	assertSafe(t, err, url)
}

func TestUntrustedTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	err := newHook(t, srv.URL).Test(context.Background(), testReq)
	var he *Error
	if !errors.As(err, &he) || !errors.Is(err, ErrUnreachable) || !strings.Contains(he.Reason, "certificate") {
		t.Fatalf("err = %v", err)
	}
	// With the server's CA it works.
	h := newHook(t, srv.URL, func(o *Options) { o.Transport = srv.Client().Transport })
	if err := h.Test(context.Background(), testReq); !errors.Is(err, ErrRejected) {
		t.Fatalf("err = %v, want the 404 refusal", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{
		{URL: "ftp://example.com/hook?token=secret-token", Key: testKey},
		{URL: "/relative", Key: testKey},
		{URL: "https://example.com/hook?token=secret-token", Key: []byte("short")},
		{URL: "https://example.com/hook", Key: testKey, Timeout: -time.Second},
	} {
		_, err := New(o)
		if err == nil {
			t.Fatalf("New(%q) accepted", o.URL)
		}
		if strings.Contains(err.Error(), "secret-token") || strings.Contains(err.Error(), string(o.Key)) {
			t.Fatalf("error %q repeats the URL or key", err)
		}
	}
}

// TestReplayWindow captures a real request and replays it to Verify later.
func TestReplayWindow(t *testing.T) {
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sent := time.Unix(1_767_225_600, 0)
	rc.now = func() time.Time { return sent }
	if err := newHook(t, srv.URL, func(o *Options) { o.Now = func() time.Time { return sent } }).Test(context.Background(), testReq); err != nil {
		t.Fatal(err)
	}
	captured := rc.requests()[0]
	for _, tt := range []struct {
		at   time.Time
		want error
	}{
		{sent, nil},
		{sent.Add(DefaultTolerance), nil},
		{sent.Add(-DefaultTolerance), nil}, // receiver clock behind
		{sent.Add(DefaultTolerance + time.Second), ErrStaleSignature},
		{sent.Add(-DefaultTolerance - time.Second), ErrStaleSignature},
		{sent.Add(24 * time.Hour), ErrStaleSignature},
	} {
		if err := Verify(testKey, captured.header, captured.body, tt.at, DefaultTolerance); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
			t.Fatalf("Verify at %s after sending: %v, want %v", tt.at.Sub(sent), err, tt.want)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_767_225_600, 0)
	b := []byte(`{"type":"gatehouse.secret.rotation.test","name":"a","version":"1"}`)
	good := Sign(testKey, now.Unix(), b)
	otherSig := Sign([]byte("some-other-key-0123456789"), now.Unix(), b)
	_, otherV1, _ := strings.Cut(otherSig, ",")
	_, goodV1, _ := strings.Cut(good, ",")
	tests := []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{"valid", good, b, nil},
		{"tampered body", good, bytes.Replace(b, []byte(`"1"`), []byte(`"2"`), 1), ErrBadSignature},
		{"wrong key", otherSig, b, ErrBadSignature},
		{"timestamp moved", strings.Replace(good, "t=1767225600", "t=1767225601", 1), b, ErrBadSignature},
		{"key rollover: second v1 matches", "t=1767225600," + otherV1 + "," + goodV1, b, nil},
		{"unknown scheme ignored", good + ",v2=abc", b, nil},
		{"missing", "", b, ErrNoSignature},
		{"no timestamp", goodV1, b, ErrMalformedSignature},
		{"no v1", "t=1767225600", b, ErrMalformedSignature},
		{"two timestamps", "t=1767225600,t=1767225600," + goodV1, b, ErrMalformedSignature},
		{"bad timestamp", "t=yesterday," + goodV1, b, ErrMalformedSignature},
		{"bad hex", "t=1767225600,v1=zz", b, ErrMalformedSignature},
		{"short mac", "t=1767225600,v1=abcd", b, ErrMalformedSignature},
		{"no equals", "t=1767225600,v1", b, ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(testKey, tt.header, tt.body, now, DefaultTolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}
