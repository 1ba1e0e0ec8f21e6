// Package smstest is a loopback stand-in for Twilio's Messages API, for
// tests and local demos. It speaks the REST API the twilio-go SDK uses:
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP Basic auth
// and a form body, answering 201 with a message resource or Twilio's error
// JSON. Point sms.Options.BaseURL at Server.URL.
package smstest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Credentials the fake accepts unless told otherwise. They have Twilio's
// shapes (AC + 32 hex digits, 32 hex digits) but are not real.
const (
	AccountSID = "AC00000000000000000000000000000001"
	AuthToken  = "0123456789abcdef0123456789abcdef"
)

// Twilio's test-credential "magic" numbers: sending to them fails with the
// given code, as with Twilio's test credentials.
var magicTo = map[string]Failure{
	"+15005550001": {Status: http.StatusBadRequest, Code: 21211, Message: "The 'To' number +15005550001 is not a valid phone number."},
	"+15005550002": {Status: http.StatusBadRequest, Code: 21612, Message: "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number via SMS."},
	"+15005550003": {Status: http.StatusBadRequest, Code: 21408, Message: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003."},
	"+15005550004": {Status: http.StatusBadRequest, Code: 21610, Message: "Attempt to send to unsubscribed recipient"},
	"+15005550009": {Status: http.StatusBadRequest, Code: 21614, Message: "'To' number is not a valid mobile number"},
}

var (
	messagesPath = regexp.MustCompile(`^/2010-04-01/Accounts/([^/]+)/Messages\.json$`)
	e164         = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)
	serviceSID   = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
)

// Message is one message the fake accepted.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // empty when sent through a messaging service
	MessagingServiceSID string
	Body                string
	// Form is the whole decoded request body, as the SDK sent it.
	Form      url.Values
	UserAgent string
	Created   time.Time
}

// Failure makes the fake answer with an error instead of accepting.
type Failure struct {
	Status  int    // HTTP status, e.g. 400 or 500
	Code    int    // Twilio error code; 0 answers a non-JSON body
	Message string // Twilio's message
}

// Server is the loopback Twilio. Its methods are safe for concurrent use.
type Server struct {
	// URL is the base URL to give sms.Options.BaseURL.
	URL string

	srv        *httptest.Server
	accountSID string
	authToken  string
	closing    chan struct{}
	closeOnce  sync.Once

	mu       sync.Mutex
	messages []Message
	failure  *Failure
	delay    time.Duration
	requests int
}

// NewServer starts a fake accepting accountSID / authToken. Close it when
// done; tests can use Start instead.
func NewServer(accountSID, authToken string) *Server {
	s := &Server{accountSID: accountSID, authToken: authToken, closing: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Start starts a fake with AccountSID and AuthToken and closes it when the
// test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer(AccountSID, AuthToken)
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing requests held by SetDelay.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	copy(out, s.messages)
	return out
}

// LastTo returns the latest message accepted for the number to.
func (s *Server) LastTo(to string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.messages) - 1; i >= 0; i-- {
		if s.messages[i].To == to {
			return s.messages[i], true
		}
	}
	return Message{}, false
}

// Requests counts every request received, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailWith makes every following authenticated message request fail with f
// until ClearFailure. Authentication is still checked first, as by Twilio.
func (s *Server) FailWith(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = &f
}

// ClearFailure makes the fake accept messages again.
func (s *Server) ClearFailure() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = nil
}

// SetDelay holds every following request for d before answering (or until
// the client gives up or the server closes), to exercise timeouts.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Reset forgets messages and clears failures and delays.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages, s.failure, s.delay, s.requests = nil, nil, 0, 0
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay, failure := s.delay, s.failure
	s.mu.Unlock()

	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}

	m := messagesPath.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		writeError(w, Failure{Status: http.StatusNotFound, Code: 20404,
			Message: fmt.Sprintf("The requested resource %s was not found", r.URL.Path)})
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || !equal(user, s.accountSID) || !equal(pass, s.authToken) || m[1] != s.accountSID {
		writeError(w, Failure{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
		return
	}
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 20001, Message: "Content-Type must be application/x-www-form-urlencoded"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeError(w, Failure{Status: http.StatusBadRequest, Code: 20001, Message: "Unable to parse request body"})
		return
	}
	if failure != nil {
		writeError(w, *failure)
		return
	}

	msg := Message{
		AccountSID:          m[1],
		To:                  r.PostForm.Get("To"),
		From:                r.PostForm.Get("From"),
		MessagingServiceSID: r.PostForm.Get("MessagingServiceSid"),
		Body:                r.PostForm.Get("Body"),
		Form:                r.PostForm,
		UserAgent:           r.UserAgent(),
		Created:             time.Now().UTC(),
	}
	if f, bad := validate(msg); bad {
		writeError(w, f)
		return
	}
	msg.SID = newSID("SM")

	s.mu.Lock()
	s.messages = append(s.messages, msg)
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, resource(msg))
}

// validate applies the checks Twilio makes on a new message.
func validate(m Message) (Failure, bool) {
	bad := func(code int, msg string) (Failure, bool) {
		return Failure{Status: http.StatusBadRequest, Code: code, Message: msg}, true
	}
	switch {
	case m.To == "":
		return bad(21604, "A 'To' phone number is required.")
	case !e164.MatchString(m.To):
		return bad(21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", m.To))
	case m.From == "" && m.MessagingServiceSID == "":
		return bad(21603, "A 'From' phone number is required.")
	case m.From != "" && !e164.MatchString(m.From):
		return bad(21212, fmt.Sprintf("The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", m.From))
	case m.MessagingServiceSID != "" && !serviceSID.MatchString(m.MessagingServiceSID):
		return bad(21705, "The Messaging Service Sid "+m.MessagingServiceSID+" is invalid.")
	case m.Body == "":
		return bad(21602, "Message body is required.")
	case utf8.RuneCountInString(m.Body) > 1600:
		return bad(21617, "The concatenated message body exceeds the 1600 character limit.")
	}
	if f, ok := magicTo[m.To]; ok {
		return f, true
	}
	return Failure{}, false
}

// resource renders a message as Twilio's API does on creation.
func resource(m Message) map[string]any {
	created := m.Created.Format(time.RFC1123Z)
	uri := fmt.Sprintf("/2010-04-01/Accounts/%s/Messages/%s", m.AccountSID, m.SID)
	status := "queued"
	var from, service any
	if m.From != "" {
		from = m.From
	}
	if m.MessagingServiceSID != "" {
		service = m.MessagingServiceSID
		if m.From == "" {
			status = "accepted" // the service picks the sender later
		}
	}
	segments := (utf8.RuneCountInString(m.Body) + 152) / 153
	if utf8.RuneCountInString(m.Body) <= 160 {
		segments = 1
	}
	return map[string]any{
		"account_sid":           m.AccountSID,
		"api_version":           "2010-04-01",
		"body":                  m.Body,
		"date_created":          created,
		"date_sent":             nil,
		"date_updated":          created,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  from,
		"messaging_service_sid": service,
		"num_media":             "0",
		"num_segments":          fmt.Sprint(segments),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	}
}

func writeError(w http.ResponseWriter, f Failure) {
	if f.Code == 0 {
		// Not every failure comes from Twilio's API layer (proxies, outages).
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>", f.Status, http.StatusText(f.Status))
		return
	}
	writeJSON(w, f.Status, map[string]any{
		"code":      f.Code,
		"message":   f.Message,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", f.Code),
		"status":    f.Status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func newSID(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(hex.EncodeToString(b))
}
