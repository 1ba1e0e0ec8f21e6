package ui

import (
	"context"
	"errors"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// signInView is the server/email/password form, then the second-factor step.
type signInView struct {
	c *Console

	server   *widget.SelectEntry
	email    *widget.Entry
	password *widget.Entry
	submit   *widget.Button
	expired  *widget.Label
	pwForm   *fyne.Container

	who      *widget.Label
	factor   *widget.RadioGroup
	factors  map[string]string // label -> factor
	send     *widget.Button
	code     *widget.Entry
	remember *widget.Check
	verify   *widget.Button
	back     *widget.Button
	mfaForm  *fyne.Container

	// Social sign-in: a button per enabled provider of the server typed, and the wait for the
	// browser with its Cancel.
	providers    []api.PublicProvider
	providersFor string // the server the buttons are for
	providerBox  *fyne.Container
	providerBtns map[string]*widget.Button // by slug (tests, tour)
	waiting      *fyne.Container
	waitingLbl   *widget.Label
	cancelWait   *widget.Button
	cancelFlow   context.CancelFunc
	stopDebounce func()

	content fyne.CanvasObject
}

func newSignInView(c *Console) *signInView {
	v := &signInView{c: c, factors: map[string]string{}}
	v.server = widget.NewSelectEntry(nil)
	v.server.SetPlaceHolder("https://gatehouse.example.com")
	v.server.OnChanged = func(s string) {
		if e := c.opt.Settings.EmailFor(s); e != "" && v.email.Text == "" {
			v.email.SetText(e)
		}
		v.providersSoon()
	}
	v.email = widget.NewEntry()
	v.email.SetPlaceHolder("you@example.com")
	v.password = widget.NewPasswordEntry()
	v.password.SetPlaceHolder("Password")
	v.password.OnSubmitted = func(string) { v.signIn() }
	v.submit = widget.NewButtonWithIcon("Sign in", theme.LoginIcon(), v.signIn)
	v.submit.Importance = widget.HighImportance
	v.expired = widget.NewLabel("Your session ended. Sign in again to continue where you left off.")
	v.expired.Wrapping = fyne.TextWrapWord
	v.expired.Importance = widget.WarningImportance
	v.expired.Hide()

	form := widget.NewForm(
		widget.NewFormItem("Server", v.server),
		widget.NewFormItem("Email", v.email),
		widget.NewFormItem("Password", v.password),
	)
	v.providerBox = container.NewVBox()
	v.providerBtns = map[string]*widget.Button{}
	v.waitingLbl = widget.NewLabel("")
	v.waitingLbl.Wrapping = fyne.TextWrapWord
	v.cancelWait = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if v.cancelFlow != nil {
			v.cancelFlow()
		}
	})
	v.waiting = container.NewVBox(widget.NewProgressBarInfinite(), v.waitingLbl, container.NewHBox(v.cancelWait))
	v.waiting.Hide()
	v.pwForm = container.NewVBox(v.expired, form, v.submit, v.providerBox, v.waiting)

	v.who = widget.NewLabel("")
	v.who.Wrapping = fyne.TextWrapWord
	v.factor = widget.NewRadioGroup(nil, func(string) { v.factorChanged() })
	v.factor.Required = true
	v.send = widget.NewButtonWithIcon("Send code", theme.MailSendIcon(), v.sendCode)
	v.code = widget.NewEntry()
	v.code.SetPlaceHolder("Code")
	v.code.OnSubmitted = func(string) { v.verifyCode() }
	v.remember = widget.NewCheck("Remember this device for 30 days", nil)
	v.verify = widget.NewButtonWithIcon("Verify", theme.ConfirmIcon(), v.verifyCode)
	v.verify.Importance = widget.HighImportance
	v.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() {
		c.opt.Session.CancelSecondFactor()
		v.showPassword()
	})
	v.back.Importance = widget.LowImportance
	v.mfaForm = container.NewVBox(
		heading("Second factor"), v.who, v.factor, v.send,
		widget.NewForm(widget.NewFormItem("Code", v.code)), v.remember,
		container.NewBorder(nil, nil, v.back, nil, v.verify),
	)
	v.mfaForm.Hide()

	logo := canvas.NewImageFromResource(appIcon())
	logo.FillMode = canvas.ImageFillContain
	logo.SetMinSize(fyne.NewSize(72, 72))
	title := widget.NewLabel("Gatehouse Console")
	title.TextStyle = fyne.TextStyle{Bold: true}
	title.SizeName = theme.SizeNameHeadingText
	title.Alignment = fyne.TextAlignCenter
	sub := muted("Users, sessions, second factors and security events.")
	noteSegment(sub).Style.Alignment = fyne.TextAlignCenter
	card := container.NewVBox(logo, title, sub, widget.NewSeparator(), v.pwForm, v.mfaForm)
	v.content = container.NewCenter(container.New(fixedWidth{460},
		newPanel(theme.ColorNameInputBackground, 12, container.NewPadded(container.NewPadded(card)))))
	return v
}

// reset prepares the form: the last server and its email, the expiry note, the password step.
func (v *signInView) reset() {
	s := v.c.opt.Settings
	v.server.SetOptions(s.Servers())
	if v.server.Text == "" {
		last := s.Last()
		v.server.SetText(last.Server)
		v.email.SetText(last.Email)
	}
	v.password.SetText("")
	v.providersFor = "" // the server's providers may have changed since
	v.loadProviders()
	v.stopProvidersSoon()
	if v.c.opt.Session.Expired() {
		v.expired.Show()
	} else {
		v.expired.Hide()
	}
	v.showPassword()
}

func (v *signInView) focus() {
	target := v.password
	switch {
	case v.mfaForm.Visible():
		target = v.code
	case v.server.Text == "":
		v.c.win.Canvas().Focus(v.server)
		return
	case v.email.Text == "":
		target = v.email
	}
	v.c.win.Canvas().Focus(target)
}

func (v *signInView) showPassword() {
	v.mfaForm.Hide()
	v.pwForm.Show()
	v.submit.Enable()
}

func (v *signInView) busy(b bool) {
	ws := []fyne.Disableable{v.submit, v.verify, v.send}
	for _, btn := range v.providerBtns {
		ws = append(ws, btn)
	}
	for _, w := range ws {
		if b {
			w.Disable()
		} else {
			w.Enable()
		}
	}
}

func (v *signInView) signIn() {
	v.stopProvidersSoon()
	server, email, pw := v.server.Text, v.email.Text, v.password.Text
	var stage state.Stage
	v.busy(true)
	v.c.call("Signing in", func(ctx context.Context) error {
		var err error
		stage, err = v.c.opt.Session.SignIn(ctx, server, email, pw)
		return err
	}, func(err error) {
		v.busy(false)
		if err != nil {
			v.password.SetText("")
			v.c.win.Canvas().Focus(v.password)
			return
		}
		v.password.SetText("")
		if stage == state.NeedSecondFactor {
			v.showSecondFactor()
			return
		}
		v.c.signedIn()
	})
}

func (v *signInView) showSecondFactor() {
	s := v.c.opt.Session
	who := "as " + s.Email()
	if s.Email() == "" {
		who = "with " + s.Provider()
	}
	v.who.SetText("Signing in " + who + ". Confirm it is you with a second factor.")
	labels := make([]string, 0, len(s.Factors()))
	clear(v.factors)
	for _, f := range s.Factors() {
		l := state.FactorLabel(f)
		v.factors[l] = f
		labels = append(labels, l)
	}
	v.factor.Options = labels
	v.factor.SetSelected(labels[0])
	v.code.SetText("")
	v.remember.SetChecked(false)
	v.pwForm.Hide()
	v.mfaForm.Show()
	v.factorChanged()
	v.c.win.Canvas().Focus(v.code)
}

func (v *signInView) selectedFactor() string { return v.factors[v.factor.Selected] }

func (v *signInView) factorChanged() {
	f := v.selectedFactor()
	if state.FactorSendsCode(f) {
		v.send.Show()
	} else {
		v.send.Hide()
	}
	if f == state.FactorRecovery {
		v.code.SetPlaceHolder("xxxxx-xxxxx")
	} else {
		v.code.SetPlaceHolder("6-digit code")
	}
}

func (v *signInView) sendCode() {
	f := v.selectedFactor()
	v.send.Disable()
	v.c.call("Sending the code", func(ctx context.Context) error {
		return v.c.opt.Session.SendCode(ctx, f)
	}, func(err error) {
		v.send.Enable()
		if err == nil {
			v.c.say("Code sent by " + state.FactorLabel(f) + ".")
			v.c.win.Canvas().Focus(v.code)
		}
	})
}

func (v *signInView) verifyCode() {
	f, code, remember := v.selectedFactor(), v.code.Text, v.remember.Checked
	v.busy(true)
	v.c.call("Verifying", func(ctx context.Context) error {
		return v.c.opt.Session.Verify(ctx, f, code, remember)
	}, func(err error) {
		v.busy(false)
		v.code.SetText("")
		switch {
		case err == nil:
			v.c.signedIn()
		case state.IsLoginExpired(err):
			v.showPassword() // the message says why; the email is still there
			v.c.win.Canvas().Focus(v.password)
		}
	})
}

// providerDebounce is how long typing in the server field pauses before its providers load.
const providerDebounce = 700 * time.Millisecond

// providersSoon loads the typed server's providers once typing pauses.
func (v *signInView) providersSoon() {
	v.stopProvidersSoon()
	v.stopDebounce = v.c.opt.After(providerDebounce, func() {
		v.stopDebounce = nil
		v.loadProviders()
	})
}

func (v *signInView) stopProvidersSoon() {
	if v.stopDebounce != nil {
		v.stopDebounce()
		v.stopDebounce = nil
	}
}

// loadProviders fetches the enabled providers of the server typed. The buttons are a
// convenience: a server that cannot be reached (yet) just shows none, no error.
func (v *signInView) loadProviders() {
	server := strings.TrimSpace(v.server.Text)
	if server == v.providersFor {
		return
	}
	v.providersFor = server
	if server == "" {
		v.showProviders(nil)
		return
	}
	var list []api.PublicProvider
	v.c.background("Looking for sign-in providers", func(ctx context.Context) error {
		list, _ = v.c.opt.Session.Providers(ctx, server)
		return nil
	}, func(error) {
		if strings.TrimSpace(v.server.Text) == server { // else the field changed meanwhile
			v.showProviders(list)
		}
	})
}

func (v *signInView) showProviders(list []api.PublicProvider) {
	v.providers = list
	clear(v.providerBtns)
	var objs []fyne.CanvasObject
	if len(list) > 0 {
		or := muted("or")
		noteSegment(or).Style.Alignment = fyne.TextAlignCenter
		objs = append(objs, or)
	}
	for _, p := range list {
		b := widget.NewButtonWithIcon(state.ProviderButtonLabel(p), theme.AccountIcon(), func() { v.signInWith(p) })
		v.providerBtns[p.Slug] = b
		objs = append(objs, b)
	}
	v.providerBox.Objects = objs
	v.providerBox.Refresh()
}

// signInWith runs the loopback flow: the browser signs in with the provider and comes back to
// the console on 127.0.0.1; a second factor follows as after a password.
func (v *signInView) signInWith(p api.PublicProvider) {
	v.stopProvidersSoon()
	server := v.server.Text
	ctx, cancel := context.WithCancel(context.Background())
	v.cancelFlow = cancel
	v.waitingLbl.SetText("Continue in your browser: sign in with " + p.DisplayName + ", then come back here.")
	v.waiting.Show()
	v.busy(true)
	var stage state.Stage
	v.c.call("Waiting for the browser", func(context.Context) error {
		var err error
		stage, err = v.c.opt.Session.SignInWithProvider(ctx, server, p, v.c.opt.Listen, v.c.opt.OpenURL)
		if errors.Is(err, context.Canceled) {
			return nil // the user cancelled: nothing to report
		}
		return err
	}, func(err error) {
		cancelled := ctx.Err() != nil
		cancel()
		v.cancelFlow = nil
		v.waiting.Hide()
		v.busy(false)
		switch {
		case err != nil:
		case stage == state.NeedSecondFactor:
			v.showSecondFactor()
		case stage == state.SignedIn:
			v.c.signedIn()
		case cancelled:
			v.c.say("Sign-in with " + p.DisplayName + " cancelled.")
		}
	})
}
