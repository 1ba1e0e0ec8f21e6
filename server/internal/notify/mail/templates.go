package mail

import (
	"bytes"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"path"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"gatehouse/assets"
)

// templateFS is where the templates live: the assets module (assets/mail).
var templateFS = assets.Mail

// Template names accepted by Render.
const (
	TemplateCode            = "code"             // one-time sign-in code: Code, ExpiresIn
	TemplateVerifyEmail     = "verify_email"     // email verification: Code, ExpiresIn
	TemplateFactorAdded     = "factor_added"     // Factor, Time, IP
	TemplateFactorRemoved   = "factor_removed"   // Factor, Time, IP
	TemplateMFAReset        = "mfa_reset"        // Time, Reason
	TemplateNewDevice       = "new_device"       // Device, Time, IP
	TemplatePasswordChanged = "password_changed" // Time, IP
)

// ErrUnknownTemplate is returned by Render for a name without templates.
var ErrUnknownTemplate = errors.New("mail: unknown template")

// Data is what the templates read. Every template uses DisplayName (falling
// back to a neutral greeting when empty); the other fields are listed beside
// the template names. All fields are escaped in the HTML variant.
type Data struct {
	DisplayName string        // the recipient's display name, user-supplied
	Code        string        // one-time code (code)
	ExpiresIn   time.Duration // validity of a code or link (code, verify_email)
	Factor      string        // factor name on the wire: totp, sms, email, recovery_code
	Device      string        // device name parsed from the user agent (new_device)
	IP          string        // client address the change came from
	Time        time.Time     // when it happened
	Reason      string        // support's reason for an MFA reset (mfa_reset)
}

// mailTemplate is the pair of templates for one message. The text template
// also defines "subject".
type mailTemplate struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

var funcs = map[string]any{
	"duration": formatDuration,
	"when":     formatTime,
	"factor":   factorName,
}

var templates = mustParseTemplates()

func mustParseTemplates() map[string]mailTemplate {
	ts, err := parseTemplates(templateFS)
	if err != nil {
		panic(err) // embedded at build time; covered by tests
	}
	return ts
}

func parseTemplates(fsys fs.FS) (map[string]mailTemplate, error) {
	names, err := fs.Glob(fsys, "mail/*.txt")
	if err != nil {
		return nil, err
	}
	out := make(map[string]mailTemplate, len(names))
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".txt")
		text, err := texttemplate.New(path.Base(file)).Funcs(funcs).Option("missingkey=error").ParseFS(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		if text.Lookup("subject") == nil {
			return nil, fmt.Errorf("parse %s: no subject template", file)
		}
		htmlFile := "mail/" + name + ".html"
		html, err := htmltemplate.New(name+".html").Funcs(funcs).Option("missingkey=error").ParseFS(fsys, htmlFile)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", htmlFile, err)
		}
		out[name] = mailTemplate{text: text, html: html}
	}
	return out, nil
}

// Templates returns the names Render accepts, sorted.
func Templates() []string {
	names := make([]string, 0, len(templates))
	for name := range templates {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Render executes the named template's subject, text and HTML variants with
// data (usually a Data). The returned Message has no recipient.
func Render(name string, data any) (Message, error) {
	t, ok := templates[name]
	if !ok {
		return Message{}, fmt.Errorf("%w: %q", ErrUnknownTemplate, name)
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", data); err != nil {
		return Message{}, fmt.Errorf("render %s subject: %w", name, err)
	}
	if err := t.text.Execute(&text, data); err != nil {
		return Message{}, fmt.Errorf("render %s text: %w", name, err)
	}
	if err := t.html.Execute(&html, data); err != nil {
		return Message{}, fmt.Errorf("render %s html: %w", name, err)
	}
	return Message{
		// A subject is one line whatever the data holds.
		Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text:    strings.TrimSpace(text.String()) + "\n",
		HTML:    html.String(),
	}, nil
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "a short time"
	case d < time.Minute:
		return plural(int(d/time.Second), "second")
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(int(d/(24*time.Hour)), "day")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "just now"
	}
	return t.UTC().Format("2 January 2006 at 15:04 UTC")
}

func factorName(f string) string {
	switch f {
	case "totp":
		return "authenticator app"
	case "sms":
		return "text message (SMS)"
	case "email":
		return "email code"
	case "recovery_code":
		return "recovery codes"
	case "webauthn":
		return "security key"
	default:
		return f
	}
}
