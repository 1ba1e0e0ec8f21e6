package mailtest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"gatehouse/server/internal/notify/mail/mailtest"
)

const raw = "From: a@example.test\r\n" +
	"To: b@example.test\r\n" +
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XX\r\n" +
	"\r\n" +
	"--XX\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"Q29kZTogMTIzNDU2\r\n" +
	"--XX\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"<p>Code: <b>123456</b></p>=\r\n" +
	"\r\n" +
	"--XX--\r\n"

// sendMail talks plain SMTP (smtp.SendMail insists on STARTTLS).
func sendMail(addr string, auth sasl.Client) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.SendMail("a@example.test", []string{"b@example.test"}, strings.NewReader(raw)); err != nil {
		return err
	}
	return c.Quit()
}

func TestServerRecordsAndParses(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithAuth("u", "p"))
	go func() {
		_ = sendMail(srv.Addr(), sasl.NewPlainClient("", "u", "p"))
	}()
	m := srv.Wait(t, 1, 5*time.Second)
	if m.From != "a@example.test" || len(m.To) != 1 || m.To[0] != "b@example.test" || m.Auth != "u" {
		t.Errorf("envelope = %q %q auth %q", m.From, m.To, m.Auth)
	}
	if m.Subject != "Grüße" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.Text != "Code: 123456" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.HTML != "<p>Code: <b>123456</b></p>" {
		t.Errorf("HTML = %q", m.HTML)
	}
	if !strings.Contains(string(m.Data), "boundary=XX") {
		t.Errorf("raw data not kept: %q", m.Data)
	}
}

func TestServerFailures(t *testing.T) {
	srv := mailtest.Start(t)
	send := func() error {
		return sendMail(srv.Addr(), nil)
	}
	srv.FailRcpt(550, "no such user")
	var se *smtp.SMTPError
	if err := send(); !errors.As(err, &se) || se.Code != 550 {
		t.Fatalf("RCPT: err = %v, want 550", err)
	}
	srv.FailRcpt(0, "")
	srv.FailData(451, "later")
	if err := send(); !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("DATA: err = %v, want 451", err)
	}
	srv.Reset()
	if err := send(); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("recorded %d messages, want 1", n)
	}
}

func TestServerRequiresAuth(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithAuth("u", "p"))
	err := sendMail(srv.Addr(), nil)
	if err == nil {
		t.Fatal("unauthenticated mail accepted")
	}
	err = sendMail(srv.Addr(), sasl.NewPlainClient("", "u", "wrong"))
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	if len(srv.Messages()) != 0 {
		t.Fatal("message recorded")
	}
}
