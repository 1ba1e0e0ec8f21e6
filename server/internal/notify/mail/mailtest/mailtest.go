// Package mailtest runs an in-process SMTP server (github.com/emersion/go-smtp)
// on 127.0.0.1 for tests: it records every message it accepts, parses the
// subject and the text and HTML parts, and can be told to refuse commands.
package mailtest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Message is one accepted mail.
type Message struct {
	From    string   // MAIL FROM
	To      []string // RCPT TO, in order
	Data    []byte   // the raw message as received after DATA
	Header  netmail.Header
	Subject string // decoded Subject header
	Text    string // decoded text/plain part (or body of a single-part text mail)
	HTML    string // decoded text/html part, if any
	Auth    string // user name the client authenticated as, if any
	TLS     bool   // whether the session was encrypted
}

// Option configures a Server.
type Option func(*config)

type config struct {
	username, password string
	startTLS           bool
}

// WithAuth requires AUTH PLAIN with these credentials before MAIL FROM.
func WithAuth(username, password string) Option {
	return func(c *config) { c.username, c.password = username, password }
}

// WithStartTLS offers STARTTLS with a fresh self-signed certificate for
// 127.0.0.1 and localhost; clients trust it through Server.TLSConfig.
func WithStartTLS() Option {
	return func(c *config) { c.startTLS = true }
}

// Server is a running test SMTP server.
type Server struct {
	Host string // 127.0.0.1
	Port int

	cfg       config
	srv       *smtp.Server
	roots     *x509.CertPool
	arrived   chan struct{}
	closed    chan struct{}
	stop      func()
	closeOnce sync.Once

	mu       sync.Mutex
	messages []Message
	failMail *smtp.SMTPError
	failRcpt *smtp.SMTPError
	failData *smtp.SMTPError
	delay    time.Duration
}

// Start runs a server on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Listen(opts...)
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Listen runs a server on 127.0.0.1:0 until Close (the demo delivery of `make run` uses it
// outside tests).
func Listen(opts ...Option) (*Server, error) {
	s := &Server{Host: "127.0.0.1", arrived: make(chan struct{}, 1), closed: make(chan struct{})}
	for _, o := range opts {
		o(&s.cfg)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "mailtest.localhost"
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.MaxMessageBytes = 10 << 20
	s.srv.MaxRecipients = 50
	s.srv.AllowInsecureAuth = !s.cfg.startTLS
	if s.cfg.startTLS {
		cert, roots, err := selfSigned()
		if err != nil {
			return nil, fmt.Errorf("certificate: %w", err)
		}
		s.roots = roots
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}

	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s.Port = l.Addr().(*net.TCPAddr).Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(l)
	}()
	s.stop = func() {
		close(s.closed)
		_ = s.srv.Close()
		// Serve may not have registered l yet when the caller is quick, in which case
		// Close does not see it: close it here too.
		_ = l.Close()
		<-done
	}
	return s, nil
}

// Close stops the server; calling it again does nothing.
func (s *Server) Close() { s.closeOnce.Do(s.stop) }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// TLSConfig returns a client configuration that trusts the server's
// certificate, or nil without WithStartTLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.roots == nil {
		return nil
	}
	return &tls.Config{RootCAs: s.roots, ServerName: s.Host, MinVersion: tls.VersionTLS12}
}

// FailMail makes MAIL FROM answer code (e.g. 451 or 550) until cleared with code 0.
func (s *Server) FailMail(code int, msg string) { s.setFail(&s.failMail, code, msg) }

// FailRcpt makes RCPT TO answer code (e.g. 550) until cleared with code 0.
func (s *Server) FailRcpt(code int, msg string) { s.setFail(&s.failRcpt, code, msg) }

// FailData makes the end of DATA answer code (e.g. 451) until cleared with code 0.
func (s *Server) FailData(code int, msg string) { s.setFail(&s.failData, code, msg) }

func (s *Server) setFail(dst **smtp.SMTPError, code int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		*dst = nil
		return
	}
	*dst = &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: msg}
}

// SetDelay makes the server wait d before answering DATA, so tests can cancel
// or time out a delivery in progress. The wait ends early when the server closes.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Messages returns a copy of the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Last returns the most recent message, failing the test when there is none.
func (s *Server) Last(t testing.TB) Message {
	t.Helper()
	msgs := s.Messages()
	if len(msgs) == 0 {
		t.Fatal("mailtest: no message received")
	}
	return msgs[len(msgs)-1]
}

// Wait returns the n-th message (counting from 1), waiting up to timeout for
// it to arrive; it fails the test on timeout. Useful when mail is sent from
// another goroutine.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) Message {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if msgs := s.Messages(); len(msgs) >= n {
			return msgs[n-1]
		}
		select {
		case <-s.arrived:
		case <-deadline.C:
			t.Fatalf("mailtest: message %d did not arrive within %s (have %d)", n, timeout, len(s.Messages()))
		}
	}
}

// Reset forgets the recorded messages and clears failures and delay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
	s.failMail, s.failRcpt, s.failData, s.delay = nil, nil, nil, 0
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

type session struct {
	srv  *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.srv.cfg.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.srv.cfg.username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return smtp.ErrAuthFailed
		}
		if username != ss.srv.cfg.username || password != ss.srv.cfg.password {
			return smtp.ErrAuthFailed
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.srv.cfg.username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	if err := ss.srv.failure(&ss.srv.failMail); err != nil {
		return err
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.srv.failure(&ss.srv.failRcpt); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.srv.mu.Lock()
	delay := ss.srv.delay
	ss.srv.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-ss.srv.closed:
		}
		timer.Stop()
	}
	if err := ss.srv.failure(&ss.srv.failData); err != nil {
		return err
	}
	m := Message{From: ss.from, To: append([]string(nil), ss.to...), Data: raw, Auth: ss.user}
	_, m.TLS = ss.conn.TLSConnectionState()
	if err := parse(&m); err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "mailtest: " + err.Error()}
	}
	ss.srv.mu.Lock()
	ss.srv.messages = append(ss.srv.messages, m)
	ss.srv.mu.Unlock()
	select {
	case ss.srv.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (ss *session) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *session) Logout() error { return nil }

func (s *Server) failure(p **smtp.SMTPError) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if *p == nil {
		return nil
	}
	return *p
}

// parse fills the header, subject and text parts of m from m.Data.
func parse(m *Message) error {
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return fmt.Errorf("read message: %w", err)
	}
	m.Header = msg.Header
	var dec mime.WordDecoder
	if m.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	return parsePart(m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func parsePart(m *Message, contentType, encoding string, body io.Reader) error {
	if contentType == "" {
		contentType = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("multipart: %w", err)
			}
			if err := parsePart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	text, err := decodeBody(encoding, body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		if m.Text == "" {
			m.Text = text
		}
	case "text/html":
		if m.HTML == "" {
			m.HTML = text
		}
	}
	return nil
}

func decodeBody(encoding string, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("decode %s body: %w", encoding, err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots, nil
}
