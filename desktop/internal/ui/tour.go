package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
)

// These methods drive the console like a person would, for cmd/console's screenshot tour.
// Call them on the UI thread (fyne.DoAndWait) and wait for Busy to turn false in between.

// Prefill puts a server and email into the sign-in form.
func (c *Console) Prefill(server, email string) {
	if server != "" {
		c.signIn.server.SetText(server)
	}
	if email != "" {
		c.signIn.email.SetText(email)
	}
}

// TourSignIn fills the sign-in form; submit also presses Sign in.
func (c *Console) TourSignIn(server, email, password string, submit bool) {
	c.Prefill(server, email)
	c.signIn.password.SetText(password)
	if submit {
		c.signIn.signIn()
	}
}

// TourBack leaves the second-factor step for the password form.
func (c *Console) TourBack() {
	if c.signIn.mfaForm.Visible() {
		c.signIn.back.OnTapped()
	}
}

// SecondFactorShown reports whether the sign-in asks for a second factor.
func (c *Console) SecondFactorShown() bool { return c.signIn.mfaForm.Visible() }

// TourScreen shows a screen by name (state.Screen*); false when the role has no such screen.
func (c *Console) TourScreen(name string) bool {
	return c.ws != nil && c.ws.selectScreen(name)
}

// TourOpenUser lists every user and opens the one with this email (else the first).
func (c *Console) TourOpenUser(email string) {
	if c.ws == nil || c.ws.users == nil {
		return
	}
	v := c.ws.users
	v.search.SetText("")
	v.load("Loading users", func(ctx context.Context) error { return v.vm.Search(ctx, "", "", "") })
	c.afterIdle(func() {
		row := 0
		for i, u := range v.rows {
			if strings.EqualFold(u.Email, email) {
				row = i
			}
		}
		if len(v.rows) > 0 {
			v.table.Select(widget.TableCellID{Row: row, Col: 0})
		}
	})
}

// TourResetDialog opens the Reset MFA dialog for the open user, with a reason typed in.
func (c *Console) TourResetDialog(reason string) bool {
	if c.ws == nil || c.ws.users == nil {
		return false
	}
	p := c.ws.users.pane
	if p.resetMFA == nil {
		return false
	}
	p.resetMFA.OnTapped()
	if len(p.lastFormEntries) > 0 {
		p.lastFormEntries[0].SetText(reason)
	}
	return true
}

// TourCloseDialogs closes the dialogs the tour opened.
func (c *Console) TourCloseDialogs() {
	if c.ws != nil && c.ws.users != nil {
		if f := c.ws.users.pane.lastForm; f != nil {
			f.Hide()
		}
		if d := c.ws.users.pane.lastConfirm; d != nil {
			d.Hide()
		}
	}
}

// TourOpenSecret lists every secret and opens the one with this name (else the first).
func (c *Console) TourOpenSecret(name string) {
	if c.ws == nil || c.ws.secrets == nil {
		return
	}
	v := c.ws.secrets
	v.prefix.SetText("")
	v.label.SetText("")
	v.runFilter()
	v.loadOps()
	c.afterIdle(func() {
		row := 0
		for i, s := range v.rows {
			if s.Name == name {
				row = i
			}
		}
		if len(v.rows) > 0 {
			v.table.Select(widget.TableCellID{Row: row, Col: 0})
		}
	})
}

// TourRevealSecret reveals the open secret's current value; false when none is open.
func (c *Console) TourRevealSecret() bool {
	if c.ws == nil || c.ws.secrets == nil || c.ws.secrets.pane.reveal == nil {
		return false
	}
	c.ws.secrets.pane.reveal.OnTapped()
	return true
}

// TourHideSecret hides a revealed value.
func (c *Console) TourHideSecret() { c.ws.hideSecrets() }

// TourSelectEvent selects a row of the events table.
func (c *Console) TourSelectEvent(row int) {
	if c.ws != nil && c.ws.events != nil && row < len(c.ws.events.rows) {
		c.ws.events.table.Select(widget.TableCellID{Row: row, Col: 0})
	}
}

// TourTheme shows the light or the dark theme.
func (c *Console) TourTheme(dark bool) {
	if isDark(c.app) != dark {
		c.toggleTheme()
	}
}

// SignedIn reports whether the workspace is showing.
func (c *Console) SignedIn() bool {
	return c.ws != nil && c.opt.Session.Stage() == state.SignedIn
}

// Problem is the error the banner shows ("" code when none).
func (c *Console) Problem() state.Problem { return c.banner.Problem() }

// afterIdle runs fn once the calls in flight have settled (the inline test runner settles at
// once; the real one needs the tour to wait on Busy).
func (c *Console) afterIdle(fn func()) {
	if !c.Busy() {
		fn()
		return
	}
	c.idle = append(c.idle, fn)
}

// TourDeletedSecrets shows the deleted secrets and selects the first (its Restore card).
func (c *Console) TourDeletedSecrets() {
	if c.ws == nil || c.ws.secrets == nil {
		return
	}
	v := c.ws.secrets
	v.deleted.SetChecked(true)
	c.afterIdle(func() {
		if len(v.rows) > 0 {
			v.table.Select(widget.TableCellID{Row: 0, Col: 0})
		}
	})
}

// TourLiveSecrets returns the secrets screen to the live list.
func (c *Console) TourLiveSecrets() {
	if c.ws != nil && c.ws.secrets != nil && c.ws.secrets.deleted.Checked {
		c.ws.secrets.deleted.SetChecked(false)
	}
}

// TourSelectAudit selects a row of the secrets audit table.
func (c *Console) TourSelectAudit(row int) {
	if c.ws != nil && c.ws.audit != nil && row < len(c.ws.audit.rows) {
		c.ws.audit.table.Select(widget.TableCellID{Row: row, Col: 0})
	}
}

// TourSelectProvider opens the provider with this slug (else the first) in the editor.
func (c *Console) TourSelectProvider(slug string) {
	if c.ws == nil || c.ws.provs == nil {
		return
	}
	v := c.ws.provs
	row := 0
	for i, p := range v.rows {
		if p.Slug == slug {
			row = i
		}
	}
	if len(v.rows) > 0 {
		v.table.Select(widget.TableCellID{Row: row, Col: 0})
	}
}
