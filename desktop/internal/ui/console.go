package ui

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/loopback"
	"gatehouse/desktop/internal/state"
)

// Options are the console's dependencies.
type Options struct {
	Session  *state.Session
	Settings *state.Settings
	// Runner moves calls off the UI thread (nil: goroutines with fyne.Do).
	Runner Runner
	// Now is the clock for "5 min ago" (nil: time.Now).
	Now func() time.Time
	// SaveFile asks where to save name and hands over a writer, or nil when cancelled (nil: the
	// file save dialog).
	SaveFile func(name string, save func(io.WriteCloser))
	// PoolSleep waits between pool stream reconnects (nil: real time).
	PoolSleep func(context.Context, time.Duration) error
	// After arms the timers that hide a revealed secret and clear the clipboard; f must run on
	// the UI thread (nil: real timers whose f is posted with fyne.Do).
	After state.AfterFunc
	// Listen opens the loopback listener of a provider sign-in (nil: internal/loopback).
	Listen state.ListenFunc
	// OpenURL opens an address in the system browser (nil: the app's OpenURL).
	OpenURL func(string) error
}

// Console is the window's content: sign-in, then the workspace.
type Console struct {
	app fyne.App
	win fyne.Window
	opt Options

	activity state.Activity
	banner   *problemView
	progress *widget.ProgressBarInfinite
	status   *widget.Label
	notice   string
	body     *fyne.Container

	signIn *signInView
	ws     *workspace
	gen    int           // bumped whenever the workspace goes: late answers for an old one are dropped
	resume []func()      // calls to retry after signing in again
	stepUp *stepUpDialog // the open step-up dialog (tests)
	idle   []func()      // run once no call is in flight
	closed bool
}

// New builds the console into win. Call Start to show it.
func New(a fyne.App, win fyne.Window, opt Options) *Console {
	if opt.Runner == nil {
		opt.Runner = goRunner{}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.After == nil {
		opt.After = func(d time.Duration, f func()) func() { return state.RealAfter(d, func() { fyne.Do(f) }) }
	}
	if opt.Listen == nil {
		opt.Listen = func() (state.Loopback, error) {
			l, err := loopback.Listen()
			if err != nil {
				return nil, err
			}
			return l, nil
		}
	}
	c := &Console{app: a, win: win, opt: opt}
	if opt.OpenURL == nil {
		c.opt.OpenURL = c.openURL
	}
	if opt.SaveFile == nil {
		c.opt.SaveFile = c.saveDialog
	}
	c.banner = newProblemView(true)
	c.progress = widget.NewProgressBarInfinite()
	c.progress.Hide()
	c.status = widget.NewLabel("")
	c.status.SizeName = theme.SizeNameCaptionText
	c.body = container.NewStack()
	c.signIn = newSignInView(c)

	statusBar := container.NewBorder(nil, nil, nil, container.NewGridWrap(fyne.NewSize(160, 12), c.progress), c.status)
	win.SetContent(container.NewBorder(container.NewPadded(c.banner), statusBar, nil, nil, c.body))
	c.applyTheme()
	w, h := opt.Settings.WindowSize()
	win.Resize(fyne.NewSize(w, h))
	win.SetCloseIntercept(c.closeWindow)
	c.installShortcuts()
	return c
}

// Start shows the sign-in screen.
func (c *Console) Start() { c.showSignIn() }

// Close stops background work (the pool stream) and remembers the window size.
func (c *Console) Close() {
	if c.closed {
		return
	}
	c.closed = true
	c.dropWorkspace()
	sz := c.win.Canvas().Size()
	if sz.Width > 0 && sz.Height > 0 {
		c.opt.Settings.SetWindowSize(sz.Width, sz.Height)
	}
}

func (c *Console) closeWindow() {
	c.Close()
	c.win.Close()
}

// call runs work off the UI thread with a progress label, then settles the result on the UI
// thread: a 401 returns to sign-in (and retries after it), a step-up requirement asks for a
// second factor (and retries), anything else is shown once in the banner. done (may be nil)
// gets the final error after it was shown.
func (c *Console) call(label string, work func(context.Context) error, done func(error)) {
	c.banner.Clear()
	c.notice = ""
	c.run(label, work, done)
}

// background is call for work the user did not ask for (filling in a column): it leaves the
// banner and the status notice alone.
func (c *Console) background(label string, work func(context.Context) error, done func(error)) {
	c.run(label, work, done)
}

func (c *Console) run(label string, work func(context.Context) error, done func(error)) {
	end := c.activity.Begin(label)
	c.refreshStatus()
	gen := c.gen
	var err error
	c.opt.Runner.Go(func() {
		err = work(context.Background())
	}, func() {
		end()
		if gen == c.gen { // else the workspace this was for is gone
			c.settle(err, func() { c.run(label, work, done) }, done)
		}
		c.refreshStatus()
	})
}

func (c *Console) settle(err error, retry func(), done func(error)) {
	finish := func(err error) {
		if done != nil {
			done(err)
		}
	}
	switch {
	case err == nil:
		finish(nil)
	case state.IsUnauthorized(err) && (c.opt.Session.Stage() == state.SignedIn || c.opt.Session.Expired()):
		c.expire(retry)
	case state.IsStepUpRequired(err) && c.opt.Session.Stage() == state.SignedIn:
		c.askStepUp(retry, func() {
			c.report(err)
			finish(err)
		})
	default:
		c.report(err)
		finish(err)
	}
}

// report shows an error in the banner.
func (c *Console) report(err error) {
	c.banner.Report(state.Describe(err))
}

// say puts a short notice in the status bar (an export finished, a code was sent).
func (c *Console) say(msg string) {
	c.notice = msg
	c.refreshStatus()
}

func (c *Console) refreshStatus() {
	busy, label := c.activity.Busy()
	switch {
	case busy:
		c.progress.Show()
		c.progress.Start()
		c.status.SetText(label + "…")
		return
	case c.notice != "":
		c.status.SetText(c.notice)
	case c.opt.Session.Stage() == state.SignedIn:
		u := c.opt.Session.User()
		c.status.SetText("Signed in to " + c.opt.Session.Server() + " as " + u.Email + " (" + state.Roles(u.Roles) + ", " + c.opt.Session.AAL() + ")")
	default:
		c.status.SetText("Not signed in")
	}
	c.progress.Stop()
	c.progress.Hide()
	if fns := c.idle; len(fns) > 0 {
		c.idle = nil
		for _, fn := range fns {
			fn()
		}
	}
}

// Busy reports whether a call is in flight (the screenshot tour waits on it).
func (c *Console) Busy() bool {
	busy, _ := c.activity.Busy()
	return busy
}

// expire handles a 401: back to sign-in, remembering where the user was and what to retry.
// Other calls that were in flight land here too and are queued behind the first.
func (c *Console) expire(retry func()) {
	if retry != nil {
		c.resume = append(c.resume, retry)
	}
	if c.opt.Session.Stage() != state.SignedIn {
		return // already back at sign-in
	}
	c.opt.Session.Expire(c.place())
	c.ws.hideSecrets() // a value stays hidden behind the sign-in screen and after it
	c.showSignIn()
}

func (c *Console) place() state.Place {
	if c.ws == nil {
		return state.Place{}
	}
	return c.ws.place()
}

func (c *Console) showSignIn() {
	c.signIn.reset()
	c.body.Objects = []fyne.CanvasObject{c.signIn.content}
	c.body.Refresh()
	c.win.SetMainMenu(nil)
	c.refreshStatus()
	c.signIn.focus()
}

// signedIn is called by the sign-in view once the session is fully signed in.
func (c *Console) signedIn() {
	s := c.opt.Session
	c.opt.Settings.Remember(s.Server(), s.Email())
	place, resumed := s.Resume()
	retries := c.resume
	c.resume = nil
	if !resumed || c.ws == nil {
		c.dropWorkspace()
		c.ws = newWorkspace(c)
		retries = nil
	}
	c.body.Objects = []fyne.CanvasObject{c.ws.content}
	c.body.Refresh()
	c.win.SetMainMenu(c.mainMenu())
	c.refreshStatus()
	if resumed {
		c.ws.goTo(place)
		c.ws.startStreams()
		for _, retry := range retries {
			retry()
		}
		return
	}
	c.ws.start()
}

func (c *Console) dropWorkspace() {
	if c.ws != nil {
		c.ws.stop()
		c.ws = nil
	}
	c.gen++
}

// signOut ends the session and returns to sign-in.
func (c *Console) signOut() {
	c.call("Signing out", c.opt.Session.SignOut, func(error) {
		c.dropWorkspace()
		c.resume = nil
		c.showSignIn()
	})
}

// Shortcuts: Ctrl+F finds, Ctrl+R and F5 refresh, Ctrl+Shift+L switches light/dark. They sit in
// the main menu too, which is where the window looks first, so they work while an entry has
// the focus.
var (
	shortcutFind    = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutRefresh = &desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutTheme   = &desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault | fyne.KeyModifierShift}
)

func (c *Console) installShortcuts() {
	cv := c.win.Canvas()
	cv.AddShortcut(shortcutFind, func(fyne.Shortcut) { c.find() })
	cv.AddShortcut(shortcutRefresh, func(fyne.Shortcut) { c.refresh() })
	cv.AddShortcut(shortcutTheme, func(fyne.Shortcut) { c.toggleTheme() })
	cv.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		if ev.Name == fyne.KeyF5 {
			c.refresh()
		}
	})
}

func (c *Console) mainMenu() *fyne.MainMenu {
	find := fyne.NewMenuItem("Find…", c.find)
	find.Shortcut = shortcutFind
	refresh := fyne.NewMenuItem("Refresh", c.refresh)
	refresh.Shortcut = shortcutRefresh
	dark := fyne.NewMenuItem("Dark theme", c.toggleTheme)
	dark.Shortcut = shortcutTheme
	dark.Checked = isDark(c.app)
	view := fyne.NewMenu("View", find, refresh, fyne.NewMenuItemSeparator(), dark)
	if c.ws != nil {
		for _, t := range c.ws.tabs.Items {
			view.Items = append(view.Items, fyne.NewMenuItem(t.Text, func() { c.ws.tabs.Select(t) }))
		}
	}
	account := fyne.NewMenu("Account", fyne.NewMenuItem("Sign out", c.signOut))
	return fyne.NewMainMenu(account, view)
}

// find focuses the current screen's search box (the users search from the dashboard).
func (c *Console) find() {
	if c.ws != nil {
		c.ws.find()
	}
}

// refresh reloads the current screen.
func (c *Console) refresh() {
	if c.ws != nil {
		c.ws.refresh()
	}
}

func (c *Console) applyTheme() {
	dark, chosen := c.opt.Settings.Dark()
	if !chosen {
		return // follow the system
	}
	c.app.Settings().SetTheme(newTheme(dark, true))
}

// toggleTheme switches between light and dark and remembers the choice.
func (c *Console) toggleTheme() {
	dark := !isDark(c.app)
	c.opt.Settings.SetDark(dark)
	c.app.Settings().SetTheme(newTheme(dark, true))
	if c.ws != nil {
		c.win.SetMainMenu(c.mainMenu())
		c.ws.themeChanged()
	}
}

// openURL opens u in the browser; it may be called from any goroutine.
func (c *Console) openURL(u string) error {
	parsed, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("browser address: %w", err)
	}
	fyne.Do(func() {
		if err := c.app.OpenURL(parsed); err != nil {
			c.report(fmt.Errorf("open the browser at %s: %w", u, err))
		}
	})
	return nil
}

func (c *Console) saveDialog(name string, save func(io.WriteCloser)) {
	d := newSaveDialog(c.win, name, save)
	d.Show()
}
