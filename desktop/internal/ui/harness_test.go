package ui

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// syncRunner runs calls inline on the test goroutine: deterministic and race-free. Loops are
// kept until a test starts them.
type syncRunner struct {
	loops []func(post func(func()))
}

func (r *syncRunner) Go(work, done func()) {
	work()
	done()
}

func (r *syncRunner) Loop(l func(post func(func()))) { r.loops = append(r.loops, l) }

const (
	adminEmail   = "officer@example.com"
	adminPass    = "correct horse battery"
	supportEmail = "helper@example.com"
	supportPass  = "staple gun lighthouse"
	aliceEmail   = "alice@example.com"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t      *testing.T
	app    fyne.App
	win    fyne.Window
	fake   *fakeapi.API
	prefs  *state.MemPrefs
	runner *syncRunner
	timers *fakeapi.Timers
	c      *Console
	alice  api.User
	saved  *bytes.Buffer
	// browser plays the system browser for provider sign-ins (nil: opening fails the test).
	browser func(url string) error
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func newHarness(t *testing.T) *harness {
	t.Helper()
	f := fakeapi.New()
	f.AddUser(adminEmail, "Olivia Officer", adminPass, api.RoleAdmin)
	f.AddUser(supportEmail, "Hal Helper", supportPass, api.RoleSupport)
	alice := f.AddUser(aliceEmail, "Alice Liddell", "long enough password", api.RoleUser)
	f.AddSession(alice.ID, "s1", "192.0.2.1")
	f.AddSession(alice.ID, "s2", "192.0.2.2")
	f.AddDevice(alice.ID, "d1", "Firefox on Linux")
	f.SetMFA(alice.ID, api.MFAStatus{Factors: []api.MFAFactor{{Factor: api.FactorTOTP, Enrolled: true}}, RecoveryCodesRemaining: 9})
	for i := range 30 {
		f.AddEvent(api.SecurityEvent{Type: api.EventLoginSucceeded, Outcome: api.OutcomeSuccess, ActorID: alice.ID, SubjectUserID: alice.ID, IP: "192.0.2.1", CreatedAt: now.Add(-time.Duration(i) * time.Minute)})
	}
	h := &harness{t: t, fake: f, prefs: state.NewMemPrefs(), runner: &syncRunner{}, timers: &fakeapi.Timers{}, alice: alice, saved: &bytes.Buffer{}}
	h.app = test.NewTempApp(t)
	h.start()
	return h
}

// start builds a console (again: a restart keeps the preferences).
func (h *harness) start() {
	if h.c != nil {
		h.c.Close()
	}
	h.win = h.app.NewWindow("Gatehouse Console")
	h.c = New(h.app, h.win, Options{
		Session:  state.NewSession(h.fake.Dialer()),
		Settings: state.NewSettings(h.prefs),
		Runner:   h.runner,
		Now:      func() time.Time { return now },
		SaveFile: func(_ string, save func(io.WriteCloser)) { save(nopCloser{h.saved}) },
		After:    h.timers.After,
		OpenURL: func(u string) error {
			if h.browser == nil {
				h.t.Errorf("unexpected browser: %s", u)
				return nil
			}
			return h.browser(u)
		},
	})
	h.c.Start()
	h.t.Cleanup(h.c.Close)
}

func (h *harness) signIn(email, password string) {
	h.t.Helper()
	v := h.c.signIn
	v.server.SetText("")
	test.Type(v.server, "localhost:8080")
	v.email.SetText("")
	test.Type(v.email, email)
	test.Type(v.password, password)
	test.Tap(v.submit)
}

func (h *harness) mustSignIn(email, password string) {
	h.t.Helper()
	h.signIn(email, password)
	if h.c.ws == nil || h.c.opt.Session.Stage() != state.SignedIn {
		h.t.Fatalf("not signed in: %+v", h.c.Problem())
	}
}

func (h *harness) noProblem() {
	h.t.Helper()
	if p := h.c.Problem(); p.Code != "" {
		h.t.Fatalf("unexpected problem %+v", p)
	}
}

func (h *harness) tabTitles() []string {
	var out []string
	for _, t := range h.c.ws.tabs.Items {
		out = append(out, t.Text)
	}
	return out
}

func (h *harness) openUser(email string) {
	h.t.Helper()
	h.c.ws.selectScreen(state.ScreenUsers)
	v := h.c.ws.users
	for i, u := range v.rows {
		if u.Email == email {
			v.table.Select(widget.TableCellID{Row: i, Col: 0})
			return
		}
	}
	h.t.Fatalf("%s is not in the table: %v", email, v.rows)
}

func (h *harness) count(method string) int {
	n := 0
	for _, m := range h.fake.Methods() {
		if m == method {
			n++
		}
	}
	return n
}

// overlayTexts returns the text of every label in the dialogs on screen.
func (h *harness) overlayTexts() string {
	var b strings.Builder
	for _, o := range h.win.Canvas().Overlays().List() {
		walk(o, func(obj fyne.CanvasObject) {
			switch w := obj.(type) {
			case *widget.Label:
				b.WriteString(w.Text + "\n")
			case *widget.RichText:
				b.WriteString(w.String() + "\n")
			}
		})
	}
	return b.String()
}

func walk(o fyne.CanvasObject, fn func(fyne.CanvasObject)) {
	fn(o)
	switch w := o.(type) {
	case *fyne.Container:
		for _, c := range w.Objects {
			walk(c, fn)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(w).Objects() {
			walk(c, fn)
		}
	}
}

func widgetCell(row int) widget.TableCellID { return widget.TableCellID{Row: row, Col: 0} }

// texts joins the text of every label and rich text under o.
func texts(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(obj fyne.CanvasObject) {
		switch w := obj.(type) {
		case *widget.Label:
			b.WriteString(w.Text + "\n")
		case *widget.RichText:
			b.WriteString(w.String() + "\n")
		}
	})
	return b.String()
}
