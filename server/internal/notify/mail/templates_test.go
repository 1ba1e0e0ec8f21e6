package mail_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/notify/mail"
)

func TestTemplatesList(t *testing.T) {
	want := []string{
		mail.TemplateCode, mail.TemplateFactorAdded, mail.TemplateFactorRemoved, mail.TemplateMFAReset,
		mail.TemplateNewDevice, mail.TemplatePasswordChanged, mail.TemplateVerifyEmail,
	}
	slices.Sort(want)
	if got := mail.Templates(); !slices.Equal(got, want) {
		t.Fatalf("Templates() = %v, want %v", got, want)
	}
}

func TestRenderEveryTemplate(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	data := mail.Data{
		DisplayName: "Mallory " + evil,
		Code:        "482913",
		ExpiresIn:   10 * time.Minute,
		Factor:      "totp",
		Device:      "Firefox on Linux " + evil,
		IP:          "203.0.113.7",
		Time:        time.Date(2026, 11, 27, 18, 30, 0, 0, time.UTC),
		Reason:      "lost phone " + evil,
	}
	specific := map[string][]string{
		mail.TemplateCode:            {"482913", "10 minutes"},
		mail.TemplateVerifyEmail:     {"482913", "10 minutes"},
		mail.TemplateFactorAdded:     {"authenticator app", "203.0.113.7", "27 November 2026 at 18:30 UTC"},
		mail.TemplateFactorRemoved:   {"authenticator app", "203.0.113.7"},
		mail.TemplateMFAReset:        {"lost phone", "27 November 2026"},
		mail.TemplateNewDevice:       {"Firefox on Linux", "203.0.113.7"},
		mail.TemplatePasswordChanged: {"203.0.113.7", "27 November 2026"},
	}
	for _, name := range mail.Templates() {
		t.Run(name, func(t *testing.T) {
			msg, err := mail.Render(name, data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if msg.Subject == "" || strings.ContainsAny(msg.Subject, "\r\n<>") {
				t.Errorf("Subject = %q", msg.Subject)
			}
			if strings.TrimSpace(msg.Text) == "" || strings.TrimSpace(msg.HTML) == "" {
				t.Fatalf("empty variant: text %q html %q", msg.Text, msg.HTML)
			}
			if !strings.Contains(msg.Text, "Hello Mallory "+evil) {
				t.Errorf("text variant does not greet by name: %q", msg.Text)
			}
			if strings.Contains(msg.HTML, "<script>") {
				t.Errorf("HTML variant does not escape user input: %q", msg.HTML)
			}
			if !strings.Contains(msg.HTML, "Mallory &lt;script&gt;") {
				t.Errorf("HTML variant lacks the escaped name: %q", msg.HTML)
			}
			for _, want := range specific[name] {
				if !strings.Contains(msg.Text, want) {
					t.Errorf("text lacks %q: %q", want, msg.Text)
				}
				if !strings.Contains(msg.HTML, strings.ReplaceAll(want, "&", "&amp;")) {
					t.Errorf("html lacks %q: %q", want, msg.HTML)
				}
			}
			if strings.Contains(msg.Text, "&lt;") || strings.Contains(msg.Text, "{{") {
				t.Errorf("text variant is HTML-escaped or unexpanded: %q", msg.Text)
			}
		})
	}
}

func TestRenderWithoutName(t *testing.T) {
	msg, err := mail.Render(mail.TemplatePasswordChanged, mail.Data{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.Text, "Hello,\n") || !strings.Contains(msg.Text, "just now") {
		t.Errorf("Text = %q", msg.Text)
	}
}

func TestRenderErrors(t *testing.T) {
	if _, err := mail.Render("nope", mail.Data{}); !errors.Is(err, mail.ErrUnknownTemplate) {
		t.Errorf("unknown template: err = %v", err)
	}
	if _, err := mail.Render(mail.TemplateCode, struct{ Other string }{}); err == nil {
		t.Error("data without the template's fields rendered without error")
	}
}
