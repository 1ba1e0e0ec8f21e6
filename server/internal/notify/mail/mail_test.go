package mail_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/notify/mail"
	"gatehouse/server/internal/notify/mail/mailtest"
)

const secret = "s3cret-Pa55word!"

func senderFor(t *testing.T, srv *mailtest.Server, mutate ...func(*mail.Options)) *mail.Sender {
	t.Helper()
	opts := mail.Options{
		Host:      srv.Host,
		Port:      srv.Port,
		TLS:       mail.TLSNone,
		From:      "Gatehouse <security@gatehouse.test>",
		Timeout:   5 * time.Second,
		HelloName: "gatehouse.test",
	}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := mail.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func textMessage() mail.Message {
	return mail.Message{To: "Ada <ada@example.test>", Subject: "Hello", Text: "Your code is 123456.\n"}
}

func TestSendPlain(t *testing.T) {
	srv := mailtest.Start(t)
	s := senderFor(t, srv)
	if err := s.Send(context.Background(), textMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Last(t)
	if got.From != "security@gatehouse.test" {
		t.Errorf("MAIL FROM = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "ada@example.test" {
		t.Errorf("RCPT TO = %q", got.To)
	}
	if got.Subject != "Hello" {
		t.Errorf("Subject = %q", got.Subject)
	}
	if !strings.Contains(got.Text, "Your code is 123456.") {
		t.Errorf("Text = %q", got.Text)
	}
	if got.HTML != "" {
		t.Errorf("HTML part in a text-only mail: %q", got.HTML)
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if from := got.Header.Get("From"); !strings.Contains(from, "Gatehouse") || !strings.Contains(from, "<security@gatehouse.test>") {
		t.Errorf("From header = %q", from)
	}
	if id := got.Header.Get("Message-Id"); !strings.HasSuffix(id, "@gatehouse.test>") || got.Header.Get("Date") == "" {
		t.Errorf("missing Message-Id or Date: %v", got.Header)
	}
	if got.Auth != "" || got.TLS {
		t.Errorf("Auth = %q, TLS = %v; want neither", got.Auth, got.TLS)
	}
}

func TestSendAuth(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithAuth("gatehouse", secret))
	s := senderFor(t, srv, func(o *mail.Options) { o.Username, o.Password = "gatehouse", secret })
	if err := s.Send(context.Background(), textMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.Last(t); got.Auth != "gatehouse" {
		t.Errorf("authenticated as %q", got.Auth)
	}

	t.Run("wrong password", func(t *testing.T) {
		wrong := secret + "-wrong"
		s := senderFor(t, srv, func(o *mail.Options) { o.Username, o.Password = "gatehouse", wrong })
		err := s.Send(context.Background(), textMessage())
		if !errors.Is(err, mail.ErrDelivery) {
			t.Fatalf("err = %v, want ErrDelivery", err)
		}
		if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the password: %v", err)
		}
		if !strings.Contains(err.Error(), "535") {
			t.Errorf("error does not say why: %v", err)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		s := senderFor(t, srv)
		if err := s.Send(context.Background(), textMessage()); !errors.Is(err, mail.ErrDelivery) {
			t.Fatalf("err = %v, want ErrDelivery", err)
		}
	})
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("server accepted %d messages, want 1", n)
	}
}

func TestSendStartTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.WithStartTLS(), mailtest.WithAuth("gatehouse", secret))
	s := senderFor(t, srv, func(o *mail.Options) {
		o.TLS = mail.TLSStartTLS
		o.Username, o.Password = "gatehouse", secret
		o.TLSConfig = srv.TLSConfig()
	})
	if err := s.Send(context.Background(), textMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := srv.Last(t); !got.TLS || got.Auth != "gatehouse" {
		t.Errorf("TLS = %v, Auth = %q; want encrypted and authenticated", got.TLS, got.Auth)
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		s := senderFor(t, srv, func(o *mail.Options) {
			o.TLS = mail.TLSStartTLS
			o.Username, o.Password = "gatehouse", secret
		})
		err := s.Send(context.Background(), textMessage())
		if !errors.Is(err, mail.ErrDelivery) || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("err = %v, want ErrDelivery about the certificate", err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the password: %v", err)
		}
	})

	t.Run("server without STARTTLS", func(t *testing.T) {
		plain := mailtest.Start(t)
		s := senderFor(t, plain, func(o *mail.Options) { o.TLS = mail.TLSStartTLS })
		err := s.Send(context.Background(), textMessage())
		if !errors.Is(err, mail.ErrDelivery) || !strings.Contains(err.Error(), "STARTTLS") {
			t.Fatalf("err = %v, want ErrDelivery about STARTTLS", err)
		}
		if len(plain.Messages()) != 0 {
			t.Fatal("mail was sent in clear although STARTTLS is required")
		}
	})
}

func TestSendMultipart(t *testing.T) {
	srv := mailtest.Start(t)
	s := senderFor(t, srv)
	msg, err := mail.Render(mail.TemplateCode, mail.Data{DisplayName: "Ada", Code: "482913", ExpiresIn: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	msg.To = "ada@example.test"
	if err := s.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Last(t)
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if got.Subject != msg.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, msg.Subject)
	}
	if !strings.Contains(got.Text, "482913") || !strings.Contains(got.HTML, "482913") {
		t.Errorf("code missing: text %q, html %q", got.Text, got.HTML)
	}
	if !strings.Contains(got.HTML, "<!DOCTYPE html>") {
		t.Errorf("HTML part = %q", got.HTML)
	}
}

func TestSendRefused(t *testing.T) {
	msg := textMessage()
	msg.Text = "body-marker 123456"
	tests := []struct {
		name      string
		fail      func(*mailtest.Server)
		code      int
		temporary bool
	}{
		{"MAIL 550", func(s *mailtest.Server) { s.FailMail(550, "sender rejected") }, 550, false},
		{"RCPT 550", func(s *mailtest.Server) { s.FailRcpt(550, "no such user") }, 550, false},
		{"DATA 451", func(s *mailtest.Server) { s.FailData(451, "try again later") }, 451, true},
		{"DATA 554", func(s *mailtest.Server) { s.FailData(554, "spam") }, 554, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := mailtest.Start(t, mailtest.WithAuth("gatehouse", secret))
			tt.fail(srv)
			s := senderFor(t, srv, func(o *mail.Options) { o.Username, o.Password = "gatehouse", secret })
			err := s.Send(context.Background(), msg)
			if !errors.Is(err, mail.ErrDelivery) {
				t.Fatalf("err = %v, want ErrDelivery", err)
			}
			if got := mail.StatusCode(err); got != tt.code {
				t.Errorf("StatusCode = %d, want %d (err %v)", got, tt.code, err)
			}
			if got := mail.Temporary(err); got != tt.temporary {
				t.Errorf("Temporary = %v, want %v", got, tt.temporary)
			}
			text := err.Error()
			for _, want := range []string{"ada@example.test", srv.Addr()} {
				if !strings.Contains(text, want) {
					t.Errorf("error %q does not mention %q", text, want)
				}
			}
			for _, leak := range []string{secret, "body-marker"} {
				if strings.Contains(text, leak) {
					t.Errorf("error %q contains %q", text, leak)
				}
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server recorded %d messages", n)
			}
		})
	}
}

func TestSendUnreachable(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		s, err := mail.New(mail.Options{Host: "127.0.0.1", Port: port, TLS: mail.TLSNone, From: "a@gatehouse.test", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.Send(context.Background(), textMessage())
		if !errors.Is(err, mail.ErrDelivery) {
			t.Fatalf("err = %v, want ErrDelivery", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %s", d)
		}
	})

	t.Run("server never answers", func(t *testing.T) {
		// A listener that never accepts: TCP connects, the SMTP greeting never comes.
		var lc net.ListenConfig
		l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		timeout := 300 * time.Millisecond
		s, err := mail.New(mail.Options{
			Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: mail.TLSNone,
			From: "a@gatehouse.test", Timeout: timeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = s.Send(context.Background(), textMessage())
		elapsed := time.Since(start)
		if !errors.Is(err, mail.ErrDelivery) {
			t.Fatalf("err = %v, want ErrDelivery", err)
		}
		if elapsed < timeout/2 || elapsed > timeout+2*time.Second {
			t.Errorf("gave up after %s with timeout %s", elapsed, timeout)
		}
	})
}

func TestSendContext(t *testing.T) {
	t.Run("cancelled before", func(t *testing.T) {
		srv := mailtest.Start(t)
		s := senderFor(t, srv)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Send(ctx, textMessage())
		if !errors.Is(err, context.Canceled) || !errors.Is(err, mail.ErrDelivery) {
			t.Fatalf("err = %v, want context.Canceled and ErrDelivery", err)
		}
		if len(srv.Messages()) != 0 {
			t.Fatal("message delivered with a cancelled context")
		}
	})

	t.Run("cancelled during DATA", func(t *testing.T) {
		srv := mailtest.Start(t)
		srv.SetDelay(10 * time.Second)
		s := senderFor(t, srv, func(o *mail.Options) { o.Timeout = 20 * time.Second })
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		err := s.Send(ctx, textMessage())
		if !errors.Is(err, context.Canceled) || !errors.Is(err, mail.ErrDelivery) {
			t.Fatalf("err = %v, want context.Canceled and ErrDelivery", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("cancellation took %s", d)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		srv := mailtest.Start(t)
		srv.SetDelay(10 * time.Second)
		s := senderFor(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := s.Send(ctx, textMessage()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
	})
}

func TestSendConcurrent(t *testing.T) {
	srv := mailtest.Start(t)
	s := senderFor(t, srv)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := s.Send(context.Background(), textMessage()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(srv.Messages()); n != 8 {
		t.Errorf("received %d messages, want 8", n)
	}
}

func TestSendInvalidMessage(t *testing.T) {
	srv := mailtest.Start(t)
	s := senderFor(t, srv)
	for name, msg := range map[string]mail.Message{
		"bad recipient":     {To: "not an address", Subject: "x", Text: "x"},
		"two recipients":    {To: "a@example.test, b@example.test", Subject: "x", Text: "x"},
		"subject injection": {To: "a@example.test", Subject: "x\r\nBcc: evil@example.test", Text: "x"},
		"empty text":        {To: "a@example.test", Subject: "x", Text: " \n"},
	} {
		t.Run(name, func(t *testing.T) {
			if err := s.Send(context.Background(), msg); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Fatalf("err = %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d messages", n)
	}
}

func TestOptionsValidate(t *testing.T) {
	valid := mail.Options{Host: "smtp.example.test", Port: 587, TLS: mail.TLSStartTLS, Username: "u", Password: secret, From: "Gatehouse <no-reply@example.test>"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*mail.Options)
		want   string
	}{
		{"no host", func(o *mail.Options) { o.Host = "" }, "host is required"},
		{"bad host", func(o *mail.Options) { o.Host = "smtp example" }, "not a host name"},
		{"port zero", func(o *mail.Options) { o.Port = 0 }, "port 0"},
		{"port too big", func(o *mail.Options) { o.Port = 70000 }, "port 70000"},
		{"tls empty", func(o *mail.Options) { o.TLS = "" }, "tls"},
		{"tls unknown", func(o *mail.Options) { o.TLS = "ssl" }, `"ssl"`},
		{"password without user", func(o *mail.Options) { o.Username = "" }, "username is empty"},
		{"user without password", func(o *mail.Options) { o.Password = "" }, "password is empty"},
		{"credentials in clear", func(o *mail.Options) { o.TLS = mail.TLSNone }, "unencrypted"},
		{"no from", func(o *mail.Options) { o.From = "" }, "from is required"},
		{"bad from", func(o *mail.Options) { o.From = "Gatehouse" }, "not a mail address"},
		{"negative timeout", func(o *mail.Options) { o.Timeout = -time.Second }, "timeout"},
		{"bad hello", func(o *mail.Options) { o.HelloName = "a b" }, "hello name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid
			tt.mutate(&o)
			err := o.Validate()
			if !errors.Is(err, mail.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalidOptions mentioning %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error leaks the password: %v", err)
			}
			if _, err := mail.New(o); !errors.Is(err, mail.ErrInvalidOptions) {
				t.Fatalf("New err = %v, want ErrInvalidOptions", err)
			}
		})
	}

	t.Run("credentials in clear on loopback", func(t *testing.T) {
		for _, host := range []string{"127.0.0.1", "localhost", "::1"} {
			o := valid
			o.Host, o.TLS = host, mail.TLSNone
			if err := o.Validate(); err != nil {
				t.Errorf("%s: %v", host, err)
			}
		}
	})

	t.Run("all problems at once", func(t *testing.T) {
		err := mail.Options{Port: -1, TLS: "x", Password: secret, Timeout: -1}.Validate()
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"host is required", "port -1", `tls "x"`, "username is empty", "from is required", "timeout"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not report %q", err, want)
			}
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error leaks the password: %v", err)
		}
	})
}
