// Package sms sends text messages through Twilio's Messages API with the
// official github.com/twilio/twilio-go client.
//
// The only difference between production and tests (or a local demo) is
// Options.BaseURL: when set, requests the SDK addresses to *.twilio.com are
// redirected at the HTTP transport to that base URL, typically the loopback
// server in package smstest. Everything above the transport (request
// encoding, authentication, error decoding) is the SDK's own code.
package sms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twilio/twilio-go"
	twclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultTimeout bounds one Send when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// MaxBodyLength is Twilio's limit on a message body, in characters.
const MaxBodyLength = 1600

var (
	// ErrDelivery is matched (errors.Is) by every *DeliveryError: Twilio
	// refused the message or could not be reached.
	ErrDelivery = errors.New("sms delivery failed")
	// ErrInvalidOptions is matched by the error of Options.Validate.
	ErrInvalidOptions = errors.New("invalid sms options")
	// ErrInvalidMessage reports an empty or overlong body.
	ErrInvalidMessage = errors.New("invalid sms message")
)

var (
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	serviceSIDPattern = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	e164Pattern       = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	// The SDK refuses credentials with anything but letters and digits.
	alphanumericPattern = regexp.MustCompile(`^[a-zA-Z0-9]+$`)
)

// Options configure a Sender.
type Options struct {
	// AccountSID is the Twilio account ("AC" + 32 hex digits).
	AccountSID string
	// AuthToken is the account's auth token. It is a secret: it is sent
	// only in the Authorization header and never appears in errors.
	AuthToken string
	// From is the sender: an E.164 number ("+15017122661") or a Messaging
	// Service SID ("MG" + 32 hex digits).
	From string
	// BaseURL replaces https://api.twilio.com when set (tests, demo mode).
	// Empty means Twilio's real API.
	BaseURL string
	// Timeout bounds one Send; zero means DefaultTimeout.
	Timeout time.Duration
}

// Validate reports every problem with o at once. The auth token's value is
// never part of the message.
func (o Options) Validate() error {
	var problems []string
	if !accountSIDPattern.MatchString(o.AccountSID) {
		problems = append(problems, `account SID must be "AC" followed by 32 hex digits`)
	}
	if o.AuthToken == "" {
		problems = append(problems, "auth token is required")
	} else if !alphanumericPattern.MatchString(o.AuthToken) {
		problems = append(problems, "auth token must contain only letters and digits")
	}
	switch {
	case o.From == "":
		problems = append(problems, "sender (From) is required")
	case strings.HasPrefix(o.From, "MG"):
		if !serviceSIDPattern.MatchString(o.From) {
			problems = append(problems, `messaging service SID must be "MG" followed by 32 hex digits`)
		}
	case !e164Pattern.MatchString(o.From):
		problems = append(problems, "sender (From) must be an E.164 number such as +15017122661 or a messaging service SID")
	}
	if o.BaseURL != "" {
		if _, err := parseBaseURL(o.BaseURL); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if o.Timeout < 0 {
		problems = append(problems, "timeout must not be negative")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidOptions, strings.Join(problems, "; "))
	}
	return nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("base URL must be an absolute http(s) URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("base URL must not carry credentials, a query or a fragment")
	}
	return u, nil
}

// Sender sends messages through Twilio. It is safe for concurrent use.
type Sender struct {
	// template is the SDK client built by twilio.NewRestClientWithParams;
	// each Send copies it and gives the copy an HTTP client bound to the
	// call's context (the SDK itself builds requests without one).
	template  twclient.Client
	edge      string
	region    string
	transport http.RoundTripper
	baseURL   *url.URL
	from      string
	token     string
	timeout   time.Duration
}

// New validates opts and returns a Sender.
func New(opts Options) (*Sender, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	rc := twilio.NewRestClientWithParams(twilio.ClientParams{
		Username:   opts.AccountSID,
		Password:   opts.AuthToken,
		AccountSid: opts.AccountSID,
	})
	base, ok := rc.Client.(*twclient.Client)
	if !ok {
		return nil, fmt.Errorf("sms: unexpected twilio client type %T", rc.Client)
	}
	s := &Sender{
		template:  *base,
		edge:      rc.Edge,
		region:    rc.Region,
		transport: http.DefaultTransport,
		from:      opts.From,
		token:     opts.AuthToken,
		timeout:   opts.Timeout,
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	if opts.BaseURL != "" {
		s.baseURL, _ = parseBaseURL(opts.BaseURL) // checked by Validate
	}
	return s, nil
}

// Send sends body to the E.164 number to and returns Twilio's message SID.
// Twilio's refusals and transport failures are *DeliveryError (errors.Is
// ErrDelivery); a number that is not valid E.164 gives ErrInvalidPhone and a
// bad body ErrInvalidMessage, both before anything is sent.
func (s *Sender) Send(ctx context.Context, to, body string) (string, error) {
	e164, err := NormalizePhone(to, "")
	if err != nil || e164 != to {
		return "", fmt.Errorf("sms: recipient: %w", ErrInvalidPhone)
	}
	if body == "" || utf8.RuneCountInString(body) > MaxBodyLength {
		return "", fmt.Errorf("sms: body must have 1 to %d characters: %w", MaxBodyLength, ErrInvalidMessage)
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rt := &callTransport{ctx: ctx, base: s.transport, baseURL: s.baseURL}
	c := s.template // copy: the call gets its own HTTP client
	c.HTTPClient = &http.Client{
		Transport: rt,
		// As the SDK's default client: report redirects, don't follow them.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	api := openapi.NewApiService(&twclient.RequestHandler{Client: &c, Edge: s.edge, Region: s.region})

	params := &openapi.CreateMessageParams{}
	params.SetTo(to)
	params.SetBody(body)
	if strings.HasPrefix(s.from, "MG") {
		params.SetMessagingServiceSid(s.from)
	} else {
		params.SetFrom(s.from)
	}

	msg, err := api.CreateMessage(params)
	if err != nil {
		return "", s.deliveryError(ctx, err, rt.status)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return "", &DeliveryError{Status: rt.status, Message: "twilio answered without a message SID"}
	}
	return *msg.Sid, nil
}

// deliveryError turns what the SDK returned into a *DeliveryError whose
// text never contains the auth token.
func (s *Sender) deliveryError(ctx context.Context, err error, status int) error {
	de := &DeliveryError{Status: status}
	var restErr *twclient.TwilioRestError
	var restErrV1 *twclient.RestErrorV1
	switch {
	case errors.As(err, &restErr):
		de.Code, de.Message = restErr.Code, restErr.Message
		if restErr.Status != 0 {
			de.Status = restErr.Status
		}
	case errors.As(err, &restErrV1):
		de.Code, de.Message = restErrV1.Code, restErrV1.Message
		if restErrV1.HttpStatusCode != 0 {
			de.Status = restErrV1.HttpStatusCode
		}
	case status >= http.StatusBadRequest:
		// An error answer the SDK could not decode (e.g. an HTML 502 page).
		de.Message = http.StatusText(status)
	default:
		// No answer at all: refused connection, timeout, cancellation.
		de.Status = 0
		de.Message = "twilio unreachable"
		if ctxErr := ctx.Err(); ctxErr != nil {
			de.cause = ctxErr
		} else {
			de.cause = err
		}
	}
	if s.token != "" {
		de.Message = strings.ReplaceAll(de.Message, s.token, "[redacted]")
	}
	return de
}

// DeliveryError reports a message Twilio did not accept.
type DeliveryError struct {
	// Status is Twilio's HTTP status, or 0 when no answer came.
	Status int
	// Code is Twilio's error code (https://www.twilio.com/docs/api/errors),
	// e.g. 21211 for an invalid 'To' number; 0 when Twilio gave none.
	Code int
	// Message is Twilio's explanation, safe to log.
	Message string

	cause error
}

func (e *DeliveryError) Error() string {
	switch {
	case e.Status == 0 && e.cause != nil:
		return fmt.Sprintf("sms: %s: %v", e.Message, e.cause)
	case e.Code != 0:
		return fmt.Sprintf("sms: twilio refused message: status %d, code %d: %s", e.Status, e.Code, e.Message)
	default:
		return fmt.Sprintf("sms: twilio refused message: status %d: %s", e.Status, e.Message)
	}
}

// Is makes errors.Is(err, ErrDelivery) true.
func (e *DeliveryError) Is(target error) bool { return target == ErrDelivery }

// Unwrap returns the transport cause (e.g. context.DeadlineExceeded) when
// Twilio could not be reached.
func (e *DeliveryError) Unwrap() error { return e.cause }

// Temporary reports whether trying again later may succeed: Twilio was
// unreachable, rate limited the account, or failed itself.
func (e *DeliveryError) Temporary() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= http.StatusInternalServerError
}

// callTransport carries one Send's context into the SDK's requests, records
// the HTTP status, and redirects *.twilio.com to baseURL when set.
type callTransport struct {
	ctx     context.Context // the SDK builds requests without one; this is how it gets in
	base    http.RoundTripper
	baseURL *url.URL
	status  int
}

func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(t.ctx)
	if t.baseURL != nil && isTwilioHost(out.URL.Hostname()) {
		out.URL.Scheme = t.baseURL.Scheme
		out.URL.Host = t.baseURL.Host
		out.URL.Path = strings.TrimSuffix(t.baseURL.Path, "/") + out.URL.Path
		out.URL.RawPath = ""
		out.Host = ""
	}
	resp, err := t.base.RoundTrip(out)
	if err == nil {
		t.status = resp.StatusCode
	}
	return resp, err
}

func isTwilioHost(host string) bool {
	host = strings.ToLower(host)
	return host == "twilio.com" || strings.HasSuffix(host, ".twilio.com")
}
