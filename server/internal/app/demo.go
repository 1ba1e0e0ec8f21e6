package app

import (
	"fmt"
	"regexp"
	"sync"
	"time"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/notify/mail/mailtest"
	"gatehouse/server/internal/notify/sms/smstest"
)

// demoDelivery is `make run`'s stand-in for Twilio and an SMTP server: the loopback servers
// the tests use, reached by the real twilio-go and go-mail clients (only the addresses
// differ from production), with every delivered message printed on the terminal so a
// newcomer can try SMS and email factors without accounts anywhere.
type demoDelivery struct {
	sms    *smstest.Server
	mail   *mailtest.Server
	stop   chan struct{}
	done   sync.WaitGroup
	closed sync.Once
}

// startDemoDelivery points the unset transports of cfg at in-process fakes.
func (a *App) startDemoDelivery(cfg *config.Config) error {
	d := &demoDelivery{stop: make(chan struct{})}
	if cfg.Twilio.AccountSID == "" {
		d.sms = smstest.NewServer(smstest.AccountSID, smstest.AuthToken)
		cfg.Twilio = config.Twilio{AccountSID: smstest.AccountSID, AuthToken: smstest.AuthToken, From: "+15005550006", BaseURL: d.sms.URL}
	}
	if cfg.SMTP.Host == "" {
		ms, err := mailtest.Listen()
		if err != nil {
			d.close()
			return fmt.Errorf("demo mail sink: %w", err)
		}
		d.mail = ms
		cfg.SMTP = config.SMTP{Host: ms.Host, Port: ms.Port, TLS: "none", From: "Gatehouse demo <no-reply@gatehouse.localhost>", Timeout: 5 * time.Second}
	}
	a.Logger.Warn("demo delivery is on: SMS and mail go to in-process fakes and are printed on the terminal (GATEHOUSE_DEMO_DELIVERY)")
	d.done.Add(1)
	go d.print(a)
	a.closers = append(a.closers, func() error { d.close(); return nil })
	return nil
}

var demoCode = regexp.MustCompile(`\b\d{6}\b`)

// print shows each new message once, on the console (never the structured log: it carries
// codes).
func (d *demoDelivery) print(a *App) {
	defer d.done.Done()
	var seenSMS, seenMail int
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-tick.C:
		}
		if d.sms != nil {
			msgs := d.sms.Messages()
			for _, m := range msgs[seenSMS:] {
				fmt.Fprintf(a.Console, "  [demo SMS to %s] %s\n", m.To, m.Body)
			}
			seenSMS = len(msgs)
		}
		if d.mail != nil {
			msgs := d.mail.Messages()
			for _, m := range msgs[seenMail:] {
				line := fmt.Sprintf("  [demo mail to %v] %s", m.To, m.Subject)
				if code := demoCode.FindString(m.Text); code != "" {
					line += ": " + code
				}
				fmt.Fprintln(a.Console, line)
			}
			seenMail = len(msgs)
		}
	}
}

func (d *demoDelivery) close() {
	d.closed.Do(func() {
		close(d.stop)
		d.done.Wait()
		if d.sms != nil {
			d.sms.Close()
		}
		if d.mail != nil {
			d.mail.Close()
		}
	})
}
