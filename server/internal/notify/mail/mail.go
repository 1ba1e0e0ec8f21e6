// Package mail sends security mail (sign-in codes, verification links and
// account notifications) over SMTP through github.com/wneessen/go-mail.
//
// A Sender is built from Options, which the configuration layer fills in; the
// messages themselves come from Render, which executes the embedded text and
// HTML templates. Errors are typed: ErrInvalidOptions for configuration,
// ErrInvalidMessage for a message that cannot be sent as given, and
// ErrDelivery (wrapping the SMTP or network error) when the server could not
// be reached or refused the message. Errors never contain the SMTP password
// or the message body.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes accepted in Options.TLS.
const (
	TLSNone     = "none"     // plain SMTP; credentials only allowed on a loopback host
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
)

// DefaultTimeout bounds a whole delivery (dial, TLS, AUTH and the SMTP
// conversation) when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

var (
	// ErrInvalidOptions is returned by Options.Validate and New.
	ErrInvalidOptions = errors.New("mail: invalid options")
	// ErrInvalidMessage is returned by Send for a message that cannot be sent.
	ErrInvalidMessage = errors.New("mail: invalid message")
	// ErrDelivery is returned by Send when the SMTP server could not be reached
	// or refused the message; it wraps the underlying error.
	ErrDelivery = errors.New("mail: delivery failed")
)

// Options configure a Sender.
type Options struct {
	Host      string        // SMTP server host name or IP address
	Port      int           // SMTP server port
	TLS       string        // "none", "starttls" or "tls"
	Username  string        // AUTH PLAIN user; empty for no authentication
	Password  string        // AUTH PLAIN password; never logged or returned in errors
	From      string        // sender, "addr@example.com" or "Name <addr@example.com>"
	Timeout   time.Duration // bound on one delivery; 0 means DefaultTimeout
	HelloName string        // name sent in EHLO; empty means the local host name

	// TLSConfig overrides the TLS client configuration (for example a private
	// CA). ServerName defaults to Host and MinVersion to TLS 1.2.
	TLSConfig *tls.Config
}

// Validate reports every problem with the options at once, wrapped in
// ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch {
	case strings.TrimSpace(o.Host) == "":
		add("host is required")
	case strings.ContainsAny(o.Host, " \t\r\n/"):
		add("host %q is not a host name or address", o.Host)
	}
	if o.Port < 1 || o.Port > 65535 {
		add("port %d is out of range 1-65535", o.Port)
	}
	switch o.TLS {
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		add("tls %q must be one of %q, %q, %q", o.TLS, TLSNone, TLSStartTLS, TLSImplicit)
	}
	switch {
	case o.Username == "" && o.Password != "":
		add("password is set but username is empty")
	case o.Username != "" && o.Password == "":
		add("username is set but password is empty")
	case o.Username != "" && o.TLS == TLSNone && !isLoopback(o.Host):
		add("credentials would be sent unencrypted: use tls %q or %q for host %q", TLSStartTLS, TLSImplicit, o.Host)
	}
	if strings.ContainsAny(o.Username, "\r\n\x00") {
		add("username contains control characters")
	}
	if strings.TrimSpace(o.From) == "" {
		add("from is required")
	} else if _, err := netmail.ParseAddress(o.From); err != nil {
		add("from %q is not a mail address: %v", o.From, err)
	}
	if o.Timeout < 0 {
		add("timeout %s must not be negative", o.Timeout)
	}
	if o.HelloName != "" && strings.ContainsAny(o.HelloName, " \t\r\n") {
		add("hello name %q must not contain spaces", o.HelloName)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidOptions, errors.Join(errs...))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Message is one mail to one recipient. HTML is optional; when it is set the
// mail is multipart/alternative with Text as the plain-text part.
type Message struct {
	To      string // recipient address, optionally with a display name
	Subject string
	Text    string
	HTML    string
}

// Sender delivers Messages over SMTP. It is safe for concurrent use: every
// Send opens its own connection.
type Sender struct {
	opts Options
	from *netmail.Address
}

// New validates opts and returns a Sender.
func New(opts Options) (*Sender, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	from, err := netmail.ParseAddress(opts.From)
	if err != nil { // already checked by Validate
		return nil, fmt.Errorf("%w: from: %w", ErrInvalidOptions, err)
	}
	s := &Sender{opts: opts, from: from}
	if _, err := s.client(context.Background()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, s.redact(err))
	}
	return s, nil
}

// Send delivers msg. The context bounds the whole SMTP conversation, as does
// Options.Timeout; cancelling it aborts a delivery in progress.
func (s *Sender) Send(ctx context.Context, msg Message) error {
	to, err := netmail.ParseAddress(msg.To)
	if err != nil {
		return fmt.Errorf("%w: recipient %q: %w", ErrInvalidMessage, msg.To, err)
	}
	switch {
	case strings.ContainsAny(msg.Subject, "\r\n"):
		return fmt.Errorf("%w: subject contains a line break", ErrInvalidMessage)
	case strings.TrimSpace(msg.Text) == "":
		return fmt.Errorf("%w: text body is empty", ErrInvalidMessage)
	}

	m := gomail.NewMsg()
	m.FromMailAddress(s.from)
	m.ToMailAddress(to)
	m.Subject(msg.Subject)
	m.SetMessageIDWithValue(s.messageID())
	m.SetDate()
	m.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		m.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}

	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	c, err := s.client(ctx)
	if err != nil {
		return fmt.Errorf("%w: to %s: %w", ErrInvalidOptions, to.Address, s.redact(err))
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			// The connection was closed under the conversation; the
			// context says why, the I/O error after it adds nothing.
			return fmt.Errorf("%w: to %s via %s: %w", ErrDelivery, to.Address, s.addr(), ctxErr)
		}
		return fmt.Errorf("%w: to %s via %s: %w", ErrDelivery, to.Address, s.addr(), s.redact(err))
	}
	return nil
}

// messageID is random and names the sender's domain rather than this
// machine's host name, which need not be public.
func (s *Sender) messageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails, see crypto/rand.Read
	domain := s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	return hex.EncodeToString(b[:]) + "@" + domain
}

func (s *Sender) addr() string {
	return net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// client builds a go-mail client for one delivery. Its dialer ties the
// connection to ctx, so cancelling ctx closes the connection mid-conversation.
func (s *Sender) client(ctx context.Context) (*gomail.Client, error) {
	tlsConf := &tls.Config{ServerName: s.opts.Host, MinVersion: tls.VersionTLS12}
	if s.opts.TLSConfig != nil {
		tlsConf = s.opts.TLSConfig.Clone()
		if tlsConf.ServerName == "" {
			tlsConf.ServerName = s.opts.Host
		}
		if tlsConf.MinVersion == 0 {
			tlsConf.MinVersion = tls.VersionTLS12
		}
	}
	implicit := s.opts.TLS == TLSImplicit
	dial := func(dialCtx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(dialCtx, network, address)
		if err != nil {
			return nil, err
		}
		conn := closeOnDone(ctx, raw)
		if !implicit {
			return conn, nil
		}
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(dialCtx); err != nil {
			_ = tc.Close()
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		return tc, nil
	}

	opts := []gomail.Option{
		gomail.WithPort(s.opts.Port),
		gomail.WithTimeout(s.opts.Timeout),
		gomail.WithTLSConfig(tlsConf),
		gomail.WithDialContextFunc(dial),
	}
	switch s.opts.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if s.opts.HelloName != "" {
		opts = append(opts, gomail.WithHELO(s.opts.HelloName))
	}
	if s.opts.Username != "" {
		auth := gomail.SMTPAuthPlain
		if s.opts.TLS == TLSNone { // only reachable on loopback, see Validate
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts,
			gomail.WithSMTPAuth(auth),
			gomail.WithUsername(s.opts.Username),
			gomail.WithPassword(s.opts.Password))
	}
	return gomail.NewClient(s.opts.Host, opts...)
}

// redact makes sure the password never leaves the package inside an error.
// The SMTP libraries do not put it in errors today; this keeps it that way.
func (s *Sender) redact(err error) error {
	if err == nil || s.opts.Password == "" || !strings.Contains(err.Error(), s.opts.Password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), s.opts.Password, "[redacted]"))
}

// ctxConn closes the connection when ctx is done, which unblocks any read or
// write in progress.
type ctxConn struct {
	net.Conn
	stop func() bool
}

func closeOnDone(ctx context.Context, c net.Conn) net.Conn {
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	return &ctxConn{Conn: c, stop: stop}
}

func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// Temporary reports whether a delivery error is a temporary (4xx) SMTP
// failure that may succeed when retried.
func Temporary(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.IsTemp()
}

// StatusCode returns the SMTP reply code behind a delivery error (for example
// 550), or 0 when there is none (network errors, timeouts).
func StatusCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return 0
}
