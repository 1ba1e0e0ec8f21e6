// Package rotationhook is the optional "test" step of a secret rotation (create → set → test →
// finish, as AWS Secrets Manager does it): before a new version becomes current, Gatehouse
// POSTs it to a webhook owned by the secret's consumer, which tries it (logs in to the database
// with the new password, calls the API with the new key) and answers 2xx to accept it. Anything
// else — another status, a redirect, a timeout, a connection failure — refuses the version and
// the rotation stops with the current version untouched.
//
// # Request
//
//	POST <url>
//	Content-Type: application/json
//	X-Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>." + body)>
//
//	{"type":"gatehouse.secret.rotation.test","name":"billing/prod/db","version":"7",
//	 "rotation_id":"…","timestamp":1767225600,"value_base64":"…"}
//
// The new value is included by default, base64-encoded (values may be binary), because the
// hook's whole job is to test it; a hook that can fetch the pending version itself (with its
// own service-account token) can be configured without it (Options.OmitValue). The hook must
// therefore be served over HTTPS in production and treated as a secret reader.
//
// Receivers check the signature with Verify, which also refuses a timestamp outside a
// tolerance window, so a captured request cannot be replayed later. Within the window a
// receiver that must not act twice should remember rotation_id.
package rotationhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// SignatureHeader carries the timestamp and HMAC of a request.
const SignatureHeader = "X-Gatehouse-Signature"

// EventType is the body's "type".
const EventType = "gatehouse.secret.rotation.test"

// DefaultTimeout bounds one call when Options.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// DefaultTolerance is the replay window Verify callers should use unless they know better.
const DefaultTolerance = 5 * time.Minute

// MinKeyLength is the shortest HMAC key accepted.
const MinKeyLength = 16

// maxReasonLength bounds the receiver's reason kept with a refusal.
const maxReasonLength = 200

// Sentinel kinds of a failed test; *Error wraps one of them.
var (
	// ErrRejected: the hook answered, with something other than 2xx.
	ErrRejected = errors.New("rotationhook: the test hook rejected the new version")
	// ErrUnreachable: no answer (timeout, connection or TLS failure).
	ErrUnreachable = errors.New("rotationhook: the test hook did not answer")
)

// Verify errors.
var (
	ErrNoSignature        = errors.New("rotationhook: no signature header")
	ErrMalformedSignature = errors.New("rotationhook: malformed signature header")
	ErrStaleSignature     = errors.New("rotationhook: signature timestamp outside the tolerance window")
	ErrBadSignature       = errors.New("rotationhook: signature does not match")
)

// Error is a failed test. Its message and Reason are safe to record in the rotation's history
// and the audit trail: they never contain the value, the HMAC key or the hook URL (whose query
// may hold a token).
type Error struct {
	Kind   error  // ErrRejected or ErrUnreachable
	Status int    // HTTP status when the hook answered, else 0
	Reason string // what went wrong, for people
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Reason }

// Unwrap makes errors.Is(err, ErrRejected / ErrUnreachable) work.
func (e *Error) Unwrap() error { return e.Kind }

// Options configures a Hook.
type Options struct {
	// URL receives the POST: http or https.
	URL string
	// Key signs every request (HMAC-SHA256), at least MinKeyLength bytes. Share it with the
	// receiver out of band (as a Gatehouse secret, for instance).
	Key []byte
	// Timeout bounds a call, connection and response included; 0 means DefaultTimeout.
	Timeout time.Duration
	// OmitValue leaves the new value out of the body (see the package documentation).
	OmitValue bool
	// Transport overrides the HTTP transport (tests, proxies, custom CAs). Redirects are never
	// followed whatever it does.
	Transport http.RoundTripper
	// Now stamps requests; nil means time.Now.
	Now func() time.Time
}

// Hook calls one configured test webhook. It is safe for concurrent use.
type Hook struct {
	url    string
	key    []byte
	omit   bool
	client *http.Client
	now    func() time.Time
}

// Request is one version to test.
type Request struct {
	Secret     string
	Version    string
	RotationID string
	Value      []byte
}

// body is the JSON sent to the hook.
type body struct {
	Type        string `json:"type"`
	Name        string `json:"name"`
	Version     string `json:"version"`
	RotationID  string `json:"rotation_id"`
	Timestamp   int64  `json:"timestamp"`
	ValueBase64 string `json:"value_base64,omitempty"`
}

// New validates opts. Errors never repeat the URL or the key.
func New(opts Options) (*Hook, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("rotationhook: the URL must be an absolute http or https URL")
	}
	if len(opts.Key) < MinKeyLength {
		return nil, fmt.Errorf("rotationhook: the signing key must be at least %d bytes", MinKeyLength)
	}
	if opts.Timeout < 0 {
		return nil, errors.New("rotationhook: negative timeout")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	rt := opts.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &Hook{
		url:  opts.URL,
		key:  bytes.Clone(opts.Key),
		omit: opts.OmitValue,
		now:  opts.Now,
		client: &http.Client{
			Transport: rt,
			Timeout:   opts.Timeout,
			// A redirect could carry the value to a host nobody configured: never follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Test sends req to the hook and returns nil when it answers 2xx, else an *Error.
func (h *Hook) Test(ctx context.Context, req Request) error {
	ts := h.now().Unix()
	b := body{Type: EventType, Name: req.Secret, Version: req.Version, RotationID: req.RotationID, Timestamp: ts}
	if !h.omit {
		b.ValueBase64 = base64.StdEncoding.EncodeToString(req.Value)
	}
	payload, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("rotationhook: encode request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return &Error{Kind: ErrUnreachable, Reason: "could not build the request"}
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "gatehouse-rotation-hook/1")
	hr.Header.Set(SignatureHeader, Sign(h.key, ts, payload))

	resp, err := h.client.Do(hr)
	if err != nil {
		return &Error{Kind: ErrUnreachable, Reason: transportReason(ctx, err, h.client.Timeout)}
	}
	defer resp.Body.Close()
	// Keep a little of the answer for the reason; drain a bounded amount so the connection
	// can be reused.
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	reason := fmt.Sprintf("answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		reason += " (redirects are not followed)"
	} else if r := h.receiverReason(answer, req.Value); r != "" {
		reason += ": " + r
	}
	return &Error{Kind: ErrRejected, Status: resp.StatusCode, Reason: reason}
}

// receiverReason extracts {"reason": "..."} (or {"error": "..."}) from a refusal, printable
// and short, and drops it entirely if it repeats the value or the key in any usual encoding:
// a receiver echoing what it was sent must not put the secret into Gatehouse's records.
func (h *Hook) receiverReason(answer, value []byte) string {
	var r struct {
		Reason string `json:"reason"`
		Error  string `json:"error"`
	}
	if json.Unmarshal(answer, &r) != nil {
		return ""
	}
	s := r.Reason
	if s == "" {
		s = r.Error
	}
	for _, secret := range [][]byte{value, h.key} {
		if len(secret) == 0 {
			continue
		}
		for _, form := range []string{string(secret), base64.StdEncoding.EncodeToString(secret),
			base64.RawURLEncoding.EncodeToString(secret), hex.EncodeToString(secret)} {
			if strings.Contains(s, form) {
				return "(the hook's reason was withheld: it repeats secret material)"
			}
		}
	}
	s = strings.Map(func(c rune) rune {
		if unicode.IsPrint(c) {
			return c
		}
		return ' '
	}, s)
	if r := []rune(s); len(r) > maxReasonLength {
		s = string(r[:maxReasonLength]) + "…"
	}
	return strings.TrimSpace(s)
}

// transportReason describes a failed round trip without the URL that *url.Error carries.
func transportReason(ctx context.Context, err error, timeout time.Duration) string {
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "the rotation was cancelled while waiting for the hook"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.As(err, &certErr):
		return "the hook's TLS certificate was not accepted"
	case errors.As(err, &dnsErr):
		return "the hook's host name did not resolve"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "could not connect to the hook"
	default:
		return "the request to the hook failed"
	}
}

// Sign returns the signature header value for body sent at unix time ts.
func Sign(key []byte, ts int64, body []byte) string {
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(mac(key, ts, body))
}

func mac(key []byte, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(strconv.AppendInt(nil, ts, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a request a hook received: header is the X-Gatehouse-Signature value, body the
// raw request body, now the receiver's clock, tolerance the accepted difference between the
// signed timestamp and now (DefaultTolerance is a good choice). Several v1 entries are allowed
// (any may match), so a sender can sign with an old and a new key while they are swapped.
func Verify(key []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if header == "" {
		return ErrNoSignature
	}
	var (
		ts     int64
		haveTS bool
		sigs   [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || haveTS {
				return ErrMalformedSignature
			}
			ts, haveTS = n, true
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrMalformedSignature
			}
			sigs = append(sigs, sig)
		}
		// Unknown schemes are ignored, so a future v2 can be added alongside v1.
	}
	if !haveTS || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	want := mac(key, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrBadSignature
}
