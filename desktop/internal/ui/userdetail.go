package ui

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// detailPane shows the open user and the actions the signed-in account may take on it.
// Forbidden actions are not drawn at all.
type detailPane struct {
	c *Console
	v *usersView

	box     *fyne.Container
	content fyne.CanvasObject

	// The current widgets, rebuilt on every show (kept for tests and the tour).
	lock, unlock, endAll, forgetAll, resetMFA, saveRoles, rename *widget.Button
	roles                                                        *widget.CheckGroup
	revokeSession, revokeDevice                                  map[string]*widget.Button
	lastConfirm                                                  *dialog.ConfirmDialog
	lastForm                                                     *dialog.FormDialog
	lastFormEntries                                              []*widget.Entry
}

func newDetailPane(c *Console, v *usersView) *detailPane {
	p := &detailPane{c: c, v: v}
	p.box = container.NewVBox()
	p.content = container.NewVScroll(container.NewPadded(p.box))
	p.show()
	return p
}

func (p *detailPane) set(objs ...fyne.CanvasObject) {
	p.box.Objects = objs
	p.box.Refresh()
}

func (p *detailPane) loading() { p.set(muted("Loading…")) }

func (p *detailPane) reload() {
	p.c.call("Loading the user", p.v.detail.Refresh, func(error) { p.show() })
}

// act runs an action on the open user, then redraws the pane and the table row.
func (p *detailPane) act(label string, work func(context.Context) error, success string) {
	p.c.call(label, work, func(err error) {
		p.show()
		p.v.changed()
		if err == nil && success != "" {
			p.c.say(success)
		}
	})
}

func (p *detailPane) confirm(title, message, action string, onYes func()) {
	d := dialog.NewConfirm(title, message, func(ok bool) {
		if ok {
			onYes()
		}
	}, p.c.win)
	d.SetConfirmText(action)
	d.SetConfirmImportance(widget.DangerImportance)
	p.lastConfirm = d
	d.Show()
}

func (p *detailPane) show() {
	p.lock, p.unlock, p.endAll, p.forgetAll, p.resetMFA, p.saveRoles, p.rename, p.roles = nil, nil, nil, nil, nil, nil, nil, nil
	p.revokeSession, p.revokeDevice = map[string]*widget.Button{}, map[string]*widget.Button{}
	d := p.v.detail
	u, ok := d.User()
	if !ok {
		p.set(container.NewCenter(muted("Select a user to see their profile, sessions, trusted devices and second factors.")))
		return
	}
	acts := d.Actions()
	now := p.c.opt.Now()
	who := u.Email

	name := u.DisplayName
	if name == "" {
		name = u.Email
	}
	title := heading(name)
	title.SizeName = theme.SizeNameHeadingText
	status := widget.NewLabel(state.Title(u.Status))
	status.TextStyle = fyne.TextStyle{Bold: true}
	switch u.Status {
	case api.UserActive:
		status.Importance = widget.SuccessImportance
	case api.UserLocked:
		status.Importance = widget.DangerImportance
	default:
		status.Importance = widget.WarningImportance
	}
	last := "never signed in"
	if u.LastLoginAt != nil {
		last = "last signed in " + state.Ago(*u.LastLoginAt, now)
	}
	objs := []fyne.CanvasObject{
		container.NewBorder(nil, nil, nil, status, title),
		muted(u.Email + "  ·  " + state.Roles(u.Roles) + "  ·  " + last),
	}

	var buttons []fyne.CanvasObject
	if acts.Lock {
		p.lock = widget.NewButtonWithIcon("Lock account", theme.VisibilityOffIcon(), func() {
			p.confirm("Lock "+who+"?", "They are signed out everywhere and cannot sign in until the account is unlocked.", "Lock", func() {
				p.act("Locking the account", d.Lock, "Locked "+who+".")
			})
		})
		p.lock.Importance = widget.DangerImportance
		buttons = append(buttons, p.lock)
	}
	if acts.Unlock {
		p.unlock = widget.NewButtonWithIcon("Unlock account", theme.VisibilityIcon(), func() {
			p.act("Unlocking the account", d.Unlock, "Unlocked "+who+".")
		})
		p.unlock.Importance = widget.HighImportance
		buttons = append(buttons, p.unlock)
	}
	if acts.EditName {
		p.rename = widget.NewButtonWithIcon("Rename", theme.DocumentCreateIcon(), p.showRename)
		buttons = append(buttons, p.rename)
	}
	if len(buttons) > 0 {
		objs = append(objs, container.NewHBox(buttons...))
	}

	// What support staff act on comes first: second factors, devices, sessions.
	objs = append(objs, p.mfaSection(acts, u), p.devicesSection(acts), p.sessionsSection(acts, who), p.identitiesSection())

	lastStamp := "never"
	if u.LastLoginAt != nil {
		lastStamp = state.Stamp(*u.LastLoginAt)
	}
	objs = append(objs, section("Profile", nil, keyValue(
		"Email verified", yesNo(u.EmailVerified),
		"Password", map[bool]string{true: "Set", false: "None (social sign-in only)"}[u.HasPassword],
		"Created", state.Stamp(u.CreatedAt),
		"Last sign-in", lastStamp,
		"ID", u.ID,
	)))

	if acts.EditRoles {
		p.roles = widget.NewCheckGroup(state.AssignableRoles(), nil)
		p.roles.Horizontal = true
		p.roles.SetSelected(u.Roles)
		p.saveRoles = widget.NewButtonWithIcon("Save roles", theme.DocumentSaveIcon(), func() {
			roles := slices.Clone(p.roles.Selected)
			p.act("Saving roles", func(ctx context.Context) error { return d.SetRoles(ctx, roles) }, "Roles of "+who+" saved.")
		})
		p.saveRoles.Disable()
		p.roles.OnChanged = func(sel []string) {
			a, b := slices.Clone(sel), slices.Clone(u.Roles)
			slices.Sort(a)
			slices.Sort(b)
			setEnabled(p.saveRoles, !slices.Equal(a, b))
		}
		objs = append(objs, section("Roles", muted("Admins do everything; support finds users, locks and unlocks, ends sessions, forgets devices and resets second factors."),
			container.NewBorder(nil, nil, nil, p.saveRoles, p.roles)))
	}
	p.set(objs...)
}

func (p *detailPane) sessionsSection(acts state.Actions, who string) fyne.CanvasObject {
	d := p.v.detail
	list, st := d.Sessions()
	now := p.c.opt.Now()
	var rows []fyne.CanvasObject
	switch {
	case st == state.SectionFailed:
		rows = append(rows, muted("Could not load the sessions."))
	case len(list) == 0:
		rows = append(rows, muted("No live sessions."))
	}
	for _, s := range list {
		desc := fmt.Sprintf("%s · %s · %s", dashIfEmpty(s.UserAgent), dashIfEmpty(s.IP), strings.ToUpper(s.AAL))
		when := "started " + state.Ago(s.CreatedAt, now) + ", last seen " + state.Ago(s.LastSeenAt, now)
		text := container.NewVBox(widget.NewLabel(desc), muted(when))
		var right fyne.CanvasObject
		if acts.RevokeSessions {
			sid := s.ID
			b := widget.NewButtonWithIcon("End", theme.CancelIcon(), func() {
				p.act("Ending the session", func(ctx context.Context) error { return d.RevokeSession(ctx, sid) }, "Session ended.")
			})
			p.revokeSession[sid] = b
			right = container.NewCenter(b)
		}
		rows = append(rows, container.NewBorder(nil, nil, nil, right, text))
	}
	var head fyne.CanvasObject
	if acts.RevokeSessions && len(list) > 0 {
		p.endAll = widget.NewButtonWithIcon("End all sessions", theme.LogoutIcon(), func() {
			p.confirm("End every session of "+who+"?", "They are signed out on every device and browser now.", "End all", func() {
				p.act("Ending every session", d.RevokeAllSessions, "Every session of "+who+" ended.")
			})
		})
		p.endAll.Importance = widget.WarningImportance
		head = container.NewHBox(p.endAll)
	}
	return section("Sessions ("+strconv.Itoa(len(list))+")", head, container.NewVBox(rows...))
}

// identitiesSection lists the provider accounts the user signs in with (read-only here: the
// user links and unlinks them; deleting a provider unlinks its identities).
func (p *detailPane) identitiesSection() fyne.CanvasObject {
	list, st := p.v.detail.Identities()
	now := p.c.opt.Now()
	var rows []fyne.CanvasObject
	switch st {
	case state.SectionUnavailable:
		return section("Linked identities", nil, muted("This server does not offer social sign-in."))
	case state.SectionFailed:
		rows = append(rows, muted("Could not load the linked identities."))
	case state.SectionLoading, state.SectionReady:
		if len(list) == 0 {
			rows = append(rows, muted("None: this account signs in with its password only."))
		}
	}
	for _, id := range list {
		last := "never signed in with it"
		if id.LastLoginAt != nil {
			last = "last sign-in " + state.Ago(*id.LastLoginAt, now)
		}
		email := dashIfEmpty(id.Email)
		if id.Email != "" && !id.EmailVerified {
			email += " (unverified)"
		}
		name := widget.NewLabel(state.ProviderTypeLabel(id.ProviderType) + " · " + id.Provider)
		name.TextStyle = fyne.TextStyle{Bold: true}
		rows = append(rows, container.NewVBox(name, muted(email+" · linked "+state.Ago(id.CreatedAt, now)+" · "+last)))
	}
	return section("Linked identities ("+strconv.Itoa(len(list))+")", nil, container.NewVBox(rows...))
}

func (p *detailPane) devicesSection(acts state.Actions) fyne.CanvasObject {
	d := p.v.detail
	list, st := d.Devices()
	now := p.c.opt.Now()
	var rows []fyne.CanvasObject
	switch st {
	case state.SectionUnavailable:
		return section("Trusted devices", nil, muted("This server does not list trusted devices yet."))
	case state.SectionFailed:
		rows = append(rows, muted("Could not load the trusted devices."))
	case state.SectionLoading, state.SectionReady:
		if len(list) == 0 {
			rows = append(rows, muted("No trusted devices: every sign-in asks for the second factor."))
		}
	}
	for _, dv := range list {
		desc := dashIfEmpty(dv.Name) + " · " + dashIfEmpty(dv.IP)
		when := "trusted " + state.Ago(dv.CreatedAt, now) + ", last used " + state.Ago(dv.LastUsedAt, now) + ", expires " + state.Stamp(dv.ExpiresAt)
		var right fyne.CanvasObject
		if acts.RevokeDevices {
			did := dv.ID
			b := widget.NewButtonWithIcon("Forget", theme.DeleteIcon(), func() {
				p.act("Forgetting the device", func(ctx context.Context) error { return d.RevokeDevice(ctx, did) }, "Device forgotten: its next sign-in asks for the second factor.")
			})
			p.revokeDevice[did] = b
			right = container.NewCenter(b)
		}
		rows = append(rows, container.NewBorder(nil, nil, nil, right, container.NewVBox(widget.NewLabel(desc), muted(when))))
	}
	var head fyne.CanvasObject
	if acts.RevokeDevices && len(list) > 1 {
		who := p.userEmail()
		p.forgetAll = widget.NewButtonWithIcon("Forget all devices", theme.DeleteIcon(), func() {
			p.confirm("Forget every trusted device of "+who+"?", "Each of their devices asks for the second factor at its next sign-in.", "Forget all", func() {
				p.act("Forgetting every device", d.RevokeAllDevices, "Every trusted device of "+who+" forgotten.")
			})
		})
		p.forgetAll.Importance = widget.WarningImportance
		head = container.NewHBox(p.forgetAll)
	}
	return section("Trusted devices ("+strconv.Itoa(len(list))+")", head, container.NewVBox(rows...))
}

func (p *detailPane) mfaSection(acts state.Actions, u api.User) fyne.CanvasObject {
	st, sec := p.v.detail.MFA()
	if sec == state.SectionUnavailable {
		return section("Multi-factor authentication", nil, muted("This server does not report second factors yet."))
	}
	var rows []fyne.CanvasObject
	enrolled := 0
	for _, f := range st.Factors {
		if !f.Enrolled {
			continue
		}
		enrolled++
		text := state.FactorLabel(f.Factor)
		if f.Address != "" {
			text += " · " + f.Address
		}
		if f.EnrolledAt != nil {
			text += " · since " + f.EnrolledAt.Local().Format("2006-01-02")
		}
		rows = append(rows, container.NewBorder(nil, nil, widget.NewIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon())), nil, widget.NewLabel(text)))
	}
	if enrolled == 0 {
		msg := "No second factor enrolled."
		if st.Required {
			msg += " One is required for this account"
			if st.GraceEndsAt != nil {
				msg += " from " + state.Stamp(*st.GraceEndsAt)
			}
			msg += "."
		}
		l := widget.NewLabel(msg)
		l.Importance = widget.WarningImportance
		l.Wrapping = fyne.TextWrapWord
		rows = append(rows, l)
	}
	rows = append(rows, keyValue(
		"Recovery codes left", strconv.Itoa(st.RecoveryCodesRemaining),
		"Trusted devices", strconv.Itoa(st.TrustedDevices),
	))
	if acts.ResetMFA {
		p.resetMFA = widget.NewButtonWithIcon("Reset MFA…", theme.WarningIcon(), func() { p.showReset(u) })
		p.resetMFA.Importance = widget.DangerImportance
		rows = append(rows, container.NewHBox(p.resetMFA))
	}
	return section("Multi-factor authentication", nil, container.NewVBox(rows...))
}

// showReset asks for the reason (required, audited), then for a confirmation that names the
// user, and only then resets.
func (p *detailPane) showReset(u api.User) {
	d := p.v.detail
	reason := widget.NewMultiLineEntry()
	reason.SetPlaceHolder("Why? e.g. lost phone; identity checked on a video call (ticket #1234)")
	reason.SetMinRowsVisible(3)
	reason.Validator = func(s string) error {
		_, err := state.CheckResetReason(s)
		if err != nil {
			return errText(state.Describe(err).Message)
		}
		return nil
	}
	form := dialog.NewForm("Reset MFA for "+u.Email, "Continue", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Reason", reason),
	}, func(ok bool) {
		if !ok {
			return
		}
		why := reason.Text
		p.confirm("Reset MFA?", d.ResetConfirmation(), "Reset MFA", func() {
			p.act("Resetting MFA", func(ctx context.Context) error { return d.ResetMFA(ctx, why) }, "MFA of "+u.Email+" reset.")
		})
	}, p.c.win)
	form.Resize(fyne.NewSize(520, 0))
	p.lastForm = form
	p.lastFormEntries = []*widget.Entry{reason}
	form.Show()
}

func (p *detailPane) showRename() {
	d := p.v.detail
	u, _ := d.User()
	name := widget.NewEntry()
	name.SetText(u.DisplayName)
	form := dialog.NewForm("Rename "+u.Email, "Save", "Cancel", []*widget.FormItem{widget.NewFormItem("Name", name)}, func(ok bool) {
		if ok {
			n := name.Text
			p.act("Renaming", func(ctx context.Context) error { return d.SetDisplayName(ctx, n) }, "Renamed.")
		}
	}, p.c.win)
	form.Resize(fyne.NewSize(420, 0))
	p.lastForm = form
	p.lastFormEntries = []*widget.Entry{name}
	form.Show()
}

func (p *detailPane) userEmail() string {
	u, _ := p.v.detail.User()
	return u.Email
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
