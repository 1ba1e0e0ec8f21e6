package ui

import (
	"context"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// providersView (administrators): the OAuth providers with their editor, and the secret
// backends' health (the same view model as the secrets screen's).
type providersView struct {
	c   *Console
	vm  *state.OAuthProviders
	ops *state.SecretOps

	newType  *widget.Select
	newBtn   *widget.Button
	table    *widget.Table
	rows     []api.OAuthProvider
	backends *fyne.Container
	ed       *providerEditor

	loaded   bool
	inflight bool
	content  fyne.CanvasObject
}

func newProvidersView(c *Console, vm *state.OAuthProviders, ops *state.SecretOps) *providersView {
	v := &providersView{c: c, vm: vm, ops: ops}
	labels := make([]string, 0, len(api.ProviderTypes()))
	for _, t := range api.ProviderTypes() {
		labels = append(labels, state.ProviderTypeLabel(t))
	}
	v.newType = widget.NewSelect(labels, nil)
	v.newType.SetSelectedIndex(0)
	v.newBtn = widget.NewButtonWithIcon("New provider", theme.ContentAddIcon(), func() {
		v.table.UnselectAll()
		v.ed.edit(state.NewProviderDraft(api.ProviderTypes()[v.newType.SelectedIndex()]))
	})
	cols := state.ProviderColumns()
	v.table = newTable(cols[:], []float32{150, 120, 100, 80, 170},
		func() int { return len(v.rows) },
		func(row, col int) string { return state.ProviderCells(v.rows[row])[col] })
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.rows) && v.ed.draft.ID != v.rows[id.Row].ID {
			v.ed.edit(state.DraftForProvider(v.rows[id.Row]))
		}
	}
	v.backends = container.NewVBox()
	v.ed = newProviderEditor(c, v)

	top := container.NewBorder(nil, nil, heading("Sign-in providers"), container.NewHBox(withMinWidth(150, v.newType), v.newBtn))
	list := container.NewBorder(top, v.backends, nil, nil, withMinHeight(180, v.table))
	split := container.NewHSplit(container.NewPadded(list), v.ed.content)
	split.Offset = 0.55
	v.content = split
	v.showBackends()
	return v
}

func (v *providersView) activate() {
	if !v.loaded && !v.inflight {
		v.refresh()
	}
}

func (v *providersView) find() bool { return false }

func (v *providersView) refresh() {
	v.load("Loading providers", v.vm.Load)
	v.c.background("Checking secret backends", v.ops.Load, func(error) { v.showBackends() })
}

func (v *providersView) load(label string, work func(context.Context) error) {
	v.inflight = true
	v.c.call(label, work, func(err error) {
		v.inflight = false
		if err == nil {
			v.loaded = true
		}
		v.showList()
	})
}

// showList redraws the table and keeps the editor on the provider it shows.
func (v *providersView) showList() {
	v.rows = v.vm.Rows()
	v.table.Refresh()
	if id := v.ed.draft.ID; id != "" {
		if pr, ok := v.vm.Find(id); ok {
			v.ed.edit(state.DraftForProvider(pr))
		} else {
			v.ed.clear()
		}
	}
}

func (v *providersView) showBackends() {
	backends, st := v.ops.Backends()
	var rows []fyne.CanvasObject
	switch st {
	case state.SectionLoading:
		rows = append(rows, muted("Checking…"))
	case state.SectionUnavailable:
		rows = append(rows, muted("This server does not report its secret backends."))
	case state.SectionFailed:
		rows = append(rows, muted("Could not check the secret backends."))
	case state.SectionReady:
		sort.SliceStable(backends, func(i, j int) bool { return backends[i].Default && !backends[j].Default })
		for _, b := range backends {
			rows = append(rows, backendRow(b))
		}
		if len(backends) == 0 {
			rows = append(rows, muted("No backend configured."))
		}
	}
	v.backends.Objects = []fyne.CanvasObject{section("Secret backends", nil, container.NewVBox(rows...))}
	v.backends.Refresh()
}

// providerEditor edits one provider (or a new one). The client secret is write-only: blank
// keeps the stored one.
type providerEditor struct {
	c *Console
	v *providersView

	draft   state.ProviderDraft
	box     *fyne.Container
	content fyne.CanvasObject

	// The current widgets (tests and the tour fill them in).
	entries               map[string]*widget.Entry
	autoReg, autoLink, on *widget.Check
	save, toggle, del     *widget.Button
	lastConfirm           *dialog.ConfirmDialog
}

func newProviderEditor(c *Console, v *providersView) *providerEditor {
	e := &providerEditor{c: c, v: v, entries: map[string]*widget.Entry{}}
	e.box = container.NewVBox()
	e.content = container.NewVScroll(container.NewPadded(e.box))
	e.clear()
	return e
}

func (e *providerEditor) clear() {
	e.draft = state.ProviderDraft{}
	e.save, e.toggle, e.del = nil, nil, nil
	clear(e.entries)
	e.box.Objects = []fyne.CanvasObject{container.NewCenter(muted("Select a provider to edit it, or add one: people then see “Sign in with …” on the sign-in pages and in this console."))}
	e.box.Refresh()
}

func (e *providerEditor) entry(key, text, placeholder string) *widget.Entry {
	w := widget.NewEntry()
	w.SetText(text)
	w.SetPlaceHolder(placeholder)
	e.entries[key] = w
	return w
}

// edit shows the editor for d.
func (e *providerEditor) edit(d state.ProviderDraft) {
	e.draft = d
	clear(e.entries)
	isNew := d.ID == ""
	name := e.entry("display_name", d.DisplayName, "Shown on the button: Sign in with …")
	slug := e.entry("slug", d.Slug, "In URLs; defaults to the type, e.g. "+d.Type)
	if !isNew {
		slug.Disable()
	}
	clientID := e.entry("client_id", d.ClientID, "From the provider's developer console")
	secret := widget.NewPasswordEntry()
	e.entries["client_secret"] = secret
	if d.HasClientSecret {
		secret.SetPlaceHolder("Stored (never shown): leave blank to keep it")
	} else {
		secret.SetPlaceHolder("Client secret")
	}
	scopes := e.entry("scopes", d.Scopes, "Default for "+state.ProviderTypeLabel(d.Type)+" when blank")
	domains := e.entry("allowed_domains", d.AllowedDomains, "Any domain when blank, e.g. example.com, example.org")
	e.autoReg = widget.NewCheck("Create an account for a new verified email", nil)
	e.autoReg.SetChecked(d.AutoRegister)
	e.autoLink = widget.NewCheck("Link to the existing account with the same verified email", nil)
	e.autoLink.SetChecked(d.AutoLink)
	e.on = widget.NewCheck("Enabled: show the sign-in button", nil)
	e.on.SetChecked(d.Enabled)

	items := []*widget.FormItem{
		widget.NewFormItem("Type", widget.NewLabel(state.ProviderTypeLabel(d.Type))),
		widget.NewFormItem("Display name", name),
		widget.NewFormItem("Slug", slug),
		widget.NewFormItem("Client ID", clientID),
		widget.NewFormItem("Client secret", secret),
	}
	if state.ProviderNeedsTenant(d.Type) {
		items = append(items, widget.NewFormItem("Tenant", e.entry("tenant", d.Tenant, "common, organizations, consumers or a tenant ID")))
	}
	if state.ProviderNeedsIssuer(d.Type) {
		items = append(items, widget.NewFormItem("Issuer URL", e.entry("base_url", d.BaseURL, "https://login.example.com (discovery is read from there)")))
	}
	items = append(items,
		widget.NewFormItem("Scopes", scopes),
		widget.NewFormItem("Email domains", domains),
		widget.NewFormItem("", e.autoReg),
		widget.NewFormItem("", e.autoLink),
		widget.NewFormItem("", e.on),
	)
	title := "New " + state.ProviderTypeLabel(d.Type) + " provider"
	if !isNew {
		title = d.DisplayName
	}
	e.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), e.doSave)
	e.save.Importance = widget.HighImportance
	buttons := []fyne.CanvasObject{e.save}
	var right fyne.CanvasObject
	if !isNew {
		label, icon := "Disable", theme.VisibilityOffIcon()
		if !d.Enabled {
			label, icon = "Enable", theme.VisibilityIcon()
		}
		e.toggle = widget.NewButtonWithIcon(label, icon, e.doToggle)
		buttons = append(buttons, e.toggle)
		e.del = widget.NewButtonWithIcon("Delete…", theme.DeleteIcon(), e.askDelete)
		e.del.Importance = widget.DangerImportance
		right = e.del
	} else {
		buttons = append(buttons, widget.NewButton("Cancel", e.clear))
	}
	// The console's address is the server's, unless a proxy or GATEHOUSE_PUBLIC_URL says otherwise.
	server := strings.TrimRight(e.c.opt.Session.Server(), "/")
	hint := "Register this redirect URI with the provider: " + server + "/api/v1/auth/oauth/" + dashIfEmpty(d.Slug) + "/callback"
	if isNew {
		hint = "Register " + server + "/api/v1/auth/oauth/{slug}/callback as the redirect URI with the provider."
	}
	e.box.Objects = []fyne.CanvasObject{
		heading(title),
		muted(hint),
		section("Provider", nil, widget.NewForm(items...)),
		container.NewBorder(nil, nil, container.NewHBox(buttons...), right),
	}
	e.box.Refresh()
}

// read collects the form into a draft.
func (e *providerEditor) read() state.ProviderDraft {
	d := e.draft
	get := func(k string) string {
		if w := e.entries[k]; w != nil {
			return w.Text
		}
		return ""
	}
	d.DisplayName, d.Slug, d.ClientID, d.ClientSecret = get("display_name"), get("slug"), get("client_id"), get("client_secret")
	d.Scopes, d.AllowedDomains = get("scopes"), get("allowed_domains")
	if state.ProviderNeedsTenant(d.Type) {
		d.Tenant = get("tenant")
	}
	if state.ProviderNeedsIssuer(d.Type) {
		d.BaseURL = get("base_url")
	}
	d.AutoRegister, d.AutoLink, d.Enabled = e.autoReg.Checked, e.autoLink.Checked, e.on.Checked
	return d
}

func (e *providerEditor) doSave() {
	d := e.read()
	var saved api.OAuthProvider
	e.c.call("Saving the provider", func(ctx context.Context) error {
		var err error
		saved, err = e.v.vm.Save(ctx, d)
		return err
	}, func(err error) {
		if err != nil {
			return // the form keeps what was typed; the banner says what to fix
		}
		e.draft.ID = saved.ID
		e.v.showList()
		e.c.say("Saved " + saved.DisplayName + ".")
	})
}

func (e *providerEditor) doToggle() {
	id, on, name := e.draft.ID, !e.draft.Enabled, e.draft.DisplayName
	e.c.call("Saving the provider", func(ctx context.Context) error { return e.v.vm.SetEnabled(ctx, id, on) }, func(err error) {
		e.v.showList()
		if err == nil {
			what := "disabled: its sign-in button is gone"
			if on {
				what = "enabled: its sign-in button is shown"
			}
			e.c.say(name + " " + what + ".")
		}
	})
}

func (e *providerEditor) askDelete() {
	pr, ok := e.v.vm.Find(e.draft.ID)
	if !ok {
		return
	}
	d := dialog.NewConfirm("Delete "+pr.DisplayName+"?", state.DeleteProviderConfirmation(pr), func(yes bool) {
		if !yes {
			return
		}
		e.c.call("Deleting the provider", func(ctx context.Context) error { return e.v.vm.Delete(ctx, pr.ID) }, func(err error) {
			e.v.showList()
			if err == nil {
				e.clear()
				e.c.say("Deleted " + pr.DisplayName + ".")
			}
		})
	}, e.c.win)
	d.SetConfirmText("Delete")
	d.SetConfirmImportance(widget.DangerImportance)
	e.lastConfirm = d
	d.Show()
}
