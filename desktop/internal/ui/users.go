package ui

import (
	"context"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// shortcutEntry is an Entry that passes F5 on (a focused entry swallows plain keys).
type shortcutEntry struct {
	widget.Entry
	onRefresh func()
}

func newShortcutEntry(onRefresh func()) *shortcutEntry {
	e := &shortcutEntry{onRefresh: onRefresh}
	e.ExtendBaseWidget(e)
	return e
}

func (e *shortcutEntry) TypedKey(ev *fyne.KeyEvent) {
	if ev.Name == fyne.KeyF5 && e.onRefresh != nil {
		e.onRefresh()
		return
	}
	e.Entry.TypedKey(ev)
}

const (
	anyStatus = "Any status"
	anyRole   = "Any role"
)

// usersView: search, a paged table, and the detail pane of the selected user.
type usersView struct {
	c      *Console
	vm     *state.Users
	detail *state.UserDetail
	caps   state.Caps

	search  *shortcutEntry
	status  *widget.Select
	role    *widget.Select
	find_   *widget.Button
	newUser *widget.Button
	table   *widget.Table
	rows    []api.User
	prev    *widget.Button
	next    *widget.Button
	pageLbl *widget.Label
	pane    *detailPane

	loaded   bool
	inflight bool
	content  fyne.CanvasObject
}

func newUsersView(c *Console, vm *state.Users, detail *state.UserDetail, caps state.Caps) *usersView {
	v := &usersView{c: c, vm: vm, detail: detail, caps: caps}
	v.search = newShortcutEntry(v.refresh)
	v.search.SetPlaceHolder("Search by email or name  (Ctrl+F)")
	v.search.OnSubmitted = func(string) { v.runSearch() }
	v.status = widget.NewSelect([]string{anyStatus, state.Title(api.UserActive), state.Title(api.UserLocked), state.Title(api.UserDisabled)}, func(string) {
		if v.loaded {
			v.runSearch()
		}
	})
	v.status.SetSelectedIndex(0)
	roles := append([]string{anyRole}, state.AssignableRoles()...)
	v.role = widget.NewSelect(roles, func(string) {
		if v.loaded {
			v.runSearch()
		}
	})
	v.role.SetSelectedIndex(0)
	v.find_ = widget.NewButtonWithIcon("Search", theme.SearchIcon(), v.runSearch)
	v.newUser = widget.NewButtonWithIcon("New user", theme.ContentAddIcon(), v.showCreate)
	if !caps.CreateUsers {
		v.newUser.Hide()
	}

	cols := state.UserColumns()
	v.table = newTable(cols[:], []float32{195, 120, 110, 65, 110, 85},
		func() int { return len(v.rows) },
		func(row, col int) string { return state.UserCells(v.rows[row], v.c.opt.Now())[col] })
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.rows) {
			if cur, ok := v.detail.ID(); !ok || cur != v.rows[id.Row].ID {
				v.open(v.rows[id.Row].ID)
			}
		}
	}
	v.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { v.page(v.vm.Prev) })
	v.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { v.page(v.vm.Next) })
	v.pageLbl = widget.NewLabel("")
	v.pane = newDetailPane(c, v)

	filters := container.NewBorder(nil, nil, nil,
		container.NewHBox(withMinWidth(120, v.status), withMinWidth(110, v.role), v.find_, v.newUser), v.search)
	pager := container.NewBorder(nil, nil, nil, container.NewHBox(v.prev, v.next), v.pageLbl)
	list := container.NewBorder(filters, pager, nil, nil, v.table)
	split := container.NewHSplit(container.NewPadded(list), v.pane.content)
	split.Offset = 0.6
	v.content = split
	v.showPage()
	return v
}

func (v *usersView) activate() {
	if !v.loaded && !v.inflight {
		v.runSearch()
	}
}

func (v *usersView) find() bool {
	v.c.win.Canvas().Focus(v.search)
	return true
}

func (v *usersView) refresh() {
	v.load("Loading users", v.vm.Reload)
	if _, ok := v.detail.ID(); ok {
		v.pane.reload()
	}
}

func (v *usersView) filter() (status, role string) {
	if v.status.SelectedIndex() > 0 {
		status = strings.ToLower(v.status.Selected)
	}
	if v.role.SelectedIndex() > 0 {
		role = v.role.Selected
	}
	return status, role
}

func (v *usersView) runSearch() {
	text := v.search.Text
	status, role := v.filter()
	v.load("Searching users", func(ctx context.Context) error { return v.vm.Search(ctx, text, status, role) })
}

func (v *usersView) page(move func(context.Context) error) { v.load("Loading users", move) }

func (v *usersView) load(label string, work func(context.Context) error) {
	v.inflight = true
	v.prev.Disable()
	v.next.Disable()
	v.c.call(label, work, func(err error) {
		v.inflight = false
		if err == nil {
			v.loaded = true
		}
		v.showPage()
	})
}

func (v *usersView) showPage() {
	v.rows = v.vm.Rows()
	v.table.UnselectAll()
	v.table.Refresh()
	p := v.vm.Page()
	switch {
	case !v.loaded:
		v.pageLbl.SetText("")
	case p.Total == 0:
		v.pageLbl.SetText("No users match.")
	default:
		v.pageLbl.SetText(p.String())
	}
	setEnabled(v.prev, p.HasPrev())
	setEnabled(v.next, p.HasNext())
}

func setEnabled(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// open loads a user into the detail pane.
func (v *usersView) open(id string) {
	v.pane.loading()
	v.c.call("Opening the user", func(ctx context.Context) error { return v.detail.Open(ctx, id) }, func(error) {
		v.pane.show()
	})
}

// changed is called after the pane changed the open user.
func (v *usersView) changed() {
	if u, ok := v.detail.User(); ok {
		v.vm.Update(u)
		v.rows = v.vm.Rows()
		v.table.Refresh()
	}
}

func (v *usersView) showCreate() {
	email := widget.NewEntry()
	email.Validator = func(s string) error {
		if !strings.Contains(s, "@") {
			return errText("an email address")
		}
		return nil
	}
	name := widget.NewEntry()
	pw := widget.NewPasswordEntry()
	pw.Validator = func(s string) error {
		if len(s) < 12 {
			return errText("at least 12 characters")
		}
		return nil
	}
	roles := widget.NewCheckGroup(state.AssignableRoles(), nil)
	roles.Horizontal = true
	roles.SetSelected([]string{api.RoleUser})
	d := dialog.NewForm("New user", "Create", "Cancel", []*widget.FormItem{
		widget.NewFormItem("Email", email),
		widget.NewFormItem("Name", name),
		widget.NewFormItem("Initial password", pw),
		widget.NewFormItem("Roles", roles),
	}, func(ok bool) {
		if !ok {
			return
		}
		req := api.CreateUserRequest{Email: email.Text, DisplayName: name.Text, Password: pw.Text, Roles: roles.Selected}
		var created api.User
		v.c.call("Creating the user", func(ctx context.Context) error {
			var err error
			created, err = v.vm.Create(ctx, req)
			return err
		}, func(err error) {
			v.showPage()
			if err == nil {
				v.c.say("Created " + created.Email + ".")
				v.open(created.ID)
			}
		})
	}, v.c.win)
	d.Resize(fyne.NewSize(480, 0))
	v.pane.lastForm = d
	v.pane.lastFormEntries = []*widget.Entry{email, name, pw}
	d.Show()
}

// errText is a validation message shown under an entry.
type errText string

func (e errText) Error() string { return string(e) }
