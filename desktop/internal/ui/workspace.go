package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
)

// screen is one tab of the workspace.
type screen interface {
	// activate is called when the tab is shown (load on first view).
	activate()
	// refresh reloads the screen (Ctrl+R, F5).
	refresh()
	// find focuses the screen's search box; false when it has none.
	find() bool
}

// workspace is what a signed-in account sees: a header, the tabs its role allows.
type workspace struct {
	c    *Console
	caps state.Caps

	tabs    *container.AppTabs
	screens map[*container.TabItem]screen
	names   map[string]*container.TabItem
	dash    *dashboardView
	users   *usersView
	events  *eventsView
	secrets *secretsView
	audit   *auditView
	provs   *providersView

	themeBtn *widget.Button
	signOut  *widget.Button
	content  fyne.CanvasObject

	stopStream context.CancelFunc
}

func newWorkspace(c *Console) *workspace {
	s := c.opt.Session
	b := s.Backend()
	w := &workspace{c: c, caps: s.Caps(), screens: map[*container.TabItem]screen{}, names: map[string]*container.TabItem{}}
	w.tabs = container.NewAppTabs()
	w.tabs.SetTabLocation(container.TabLocationLeading)

	w.dash = newDashboardView(c, state.NewDashboard(b, b, b, w.caps), state.NewPool(b, nil, c.opt.PoolSleep), w.caps)
	w.add(state.ScreenDashboard, "Dashboard", theme.HomeIcon(), w.dash, w.dash.content)
	if w.caps.ViewUsers {
		w.users = newUsersView(c, state.NewUsers(b), state.NewUserDetail(b, b, w.caps), w.caps)
		w.add(state.ScreenUsers, "Users", theme.AccountIcon(), w.users, w.users.content)
	}
	if w.caps.ViewEvents {
		w.events = newEventsView(c, state.NewEvents(b, b))
		w.add(state.ScreenEvents, "Events", theme.ListIcon(), w.events, w.events.content)
	}
	if w.caps.ViewSecrets {
		w.secrets = newSecretsView(c, state.NewSecrets(b), state.NewSecretDetail(b, c.opt.After), state.NewSecretOps(b))
		w.add(state.ScreenSecrets, "Secrets", theme.StorageIcon(), w.secrets, w.secrets.content)
		w.audit = newAuditView(c, state.NewSecretAudit(b, b))
		w.add(state.ScreenAudit, "Secret audit", theme.DocumentIcon(), w.audit, w.audit.content)
	}
	if w.caps.ManageProviders {
		ops := state.NewSecretOps(b)
		if w.secrets != nil {
			ops = w.secrets.ops // one view model: both screens show the same health
		}
		w.provs = newProvidersView(c, state.NewOAuthProviders(b), ops)
		w.add(state.ScreenProviders, "Providers", theme.LoginIcon(), w.provs, w.provs.content)
	}
	w.tabs.OnSelected = func(t *container.TabItem) {
		if sc := w.screens[t]; sc != nil {
			sc.activate()
		}
	}

	u := s.User()
	name := u.DisplayName
	if name == "" {
		name = u.Email
	}
	who := widget.NewLabel(name + "  ·  " + state.Roles(u.Roles))
	who.TextStyle = fyne.TextStyle{Bold: true}
	w.themeBtn = widget.NewButtonWithIcon("", theme.ColorPaletteIcon(), c.toggleTheme)
	w.themeBtn.Importance = widget.LowImportance
	w.signOut = widget.NewButtonWithIcon("Sign out", theme.LogoutIcon(), c.signOut)
	logo := canvas.NewImageFromResource(appIcon())
	logo.FillMode = canvas.ImageFillContain
	logo.SetMinSize(fyne.NewSize(28, 28))
	brand := widget.NewLabel("Gatehouse")
	brand.TextStyle = fyne.TextStyle{Bold: true}
	server := muted(s.Server())
	server.Wrapping = fyne.TextWrapOff
	header := container.NewBorder(nil, nil,
		container.NewHBox(logo, brand, server),
		container.NewHBox(who, w.themeBtn, w.signOut))
	w.themeChanged()
	w.content = container.NewBorder(container.NewVBox(container.NewPadded(header), widget.NewSeparator()), nil, nil, nil, w.tabs)
	return w
}

func (w *workspace) add(name, title string, icon fyne.Resource, sc screen, content fyne.CanvasObject) {
	t := container.NewTabItemWithIcon(title, icon, content)
	w.tabs.Append(t)
	w.screens[t] = sc
	w.names[name] = t
}

// start shows the dashboard and starts the live feeds.
func (w *workspace) start() {
	w.tabs.SelectIndex(0)
	w.dash.activate()
	w.startStreams()
}

// startStreams (re)starts the pool stream for accounts that may see it.
func (w *workspace) startStreams() {
	w.stopStreams()
	if !w.caps.ViewPool {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stopStream = cancel
	pool := w.dash.pool
	w.c.opt.Runner.Loop(func(post func(func())) {
		err := pool.Follow(ctx, func() { post(w.dash.refreshPool) })
		if state.IsUnauthorized(err) {
			post(func() {
				if w.c.ws == w && w.c.opt.Session.Stage() == state.SignedIn {
					w.c.expire(nil)
				}
			})
		}
	})
}

func (w *workspace) stopStreams() {
	if w.stopStream != nil {
		w.stopStream()
		w.stopStream = nil
	}
}

// hideSecrets hides a revealed secret value.
func (w *workspace) hideSecrets() {
	if w != nil && w.secrets != nil {
		w.secrets.detail.Hide()
		w.secrets.pane.show()
	}
}

// stop ends the live feeds, hides any revealed secret value and clears a copied one.
func (w *workspace) stop() {
	w.stopStreams()
	if w.secrets != nil {
		w.secrets.detail.ForgetClipboard(w.c.app.Clipboard())
		w.secrets.detail.Close()
	}
}

func (w *workspace) current() screen { return w.screens[w.tabs.Selected()] }

func (w *workspace) refresh() {
	if sc := w.current(); sc != nil {
		sc.refresh()
	}
}

// find focuses the current screen's search; from a screen without one, it goes to Users.
func (w *workspace) find() {
	if sc := w.current(); sc != nil && sc.find() {
		return
	}
	if t := w.names[state.ScreenUsers]; t != nil {
		w.tabs.Select(t)
		w.users.find()
	}
}

// place is where the user is now.
func (w *workspace) place() state.Place {
	p := state.Place{Screen: state.ScreenDashboard}
	for name, t := range w.names {
		if t == w.tabs.Selected() {
			p.Screen = name
		}
	}
	if p.Screen == state.ScreenUsers && w.users != nil {
		p.UserID, _ = w.users.detail.ID()
	}
	if p.Screen == state.ScreenSecrets && w.secrets != nil {
		p.Secret, _ = w.secrets.detail.Name()
	}
	return p
}

// goTo returns to a place after signing in again.
func (w *workspace) goTo(p state.Place) {
	if t := w.names[p.Screen]; t != nil {
		w.tabs.Select(t)
	}
	if p.Screen == state.ScreenUsers && p.UserID != "" && w.users != nil {
		w.users.open(p.UserID)
	}
	if p.Screen == state.ScreenSecrets && p.Secret != "" && w.secrets != nil {
		w.secrets.open(p.Secret)
	}
}

// selectScreen shows a tab by name (the screenshot tour).
func (w *workspace) selectScreen(name string) bool {
	t := w.names[name]
	if t == nil {
		return false
	}
	w.tabs.Select(t)
	return true
}

func (w *workspace) themeChanged() {
	if isDark(w.c.app) {
		w.themeBtn.SetText("Light")
	} else {
		w.themeBtn.SetText("Dark")
	}
	w.dash.themeChanged()
}
