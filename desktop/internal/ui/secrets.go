package ui

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// secretsView: a prefix/label filter, the list with due rotations highlighted, the backends'
// health and the master key re-wrap, and the open secret's pane (administrators only).
type secretsView struct {
	c      *Console
	vm     *state.Secrets
	detail *state.SecretDetail
	ops    *state.SecretOps

	prefix    *shortcutEntry
	label     *shortcutEntry
	filterBtn *widget.Button
	newSecret *widget.Button
	deleted   *widget.Check // show soft-deleted secrets (restorable) instead of live ones
	table     *widget.Table
	rows      []api.Secret
	prev      *widget.Button
	next      *widget.Button
	pageLbl   *widget.Label
	opsBox    *fyne.Container
	rewrap    *widget.ProgressBar
	pane      *secretPane

	loaded   bool
	inflight bool
	content  fyne.CanvasObject
}

func newSecretsView(c *Console, vm *state.Secrets, detail *state.SecretDetail, ops *state.SecretOps) *secretsView {
	v := &secretsView{c: c, vm: vm, detail: detail, ops: ops}
	v.prefix = newShortcutEntry(v.refresh)
	v.prefix.SetPlaceHolder("Name prefix, e.g. billing/  (Ctrl+F)")
	v.prefix.OnSubmitted = func(string) { v.runFilter() }
	v.label = newShortcutEntry(v.refresh)
	v.label.SetPlaceHolder("Label key=value")
	v.label.OnSubmitted = func(string) { v.runFilter() }
	v.filterBtn = widget.NewButtonWithIcon("Filter", theme.SearchIcon(), v.runFilter)
	v.newSecret = widget.NewButtonWithIcon("New secret", theme.ContentAddIcon(), v.showCreate)
	v.deleted = widget.NewCheck("Show deleted", func(on bool) {
		v.pane.deletedRow = nil
		v.detail.Close()
		v.pane.show()
		v.load("Loading secrets", func(ctx context.Context) error { return v.vm.ShowDeleted(ctx, on) })
	})

	v.table = v.newTable()
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row < 0 || id.Row >= len(v.rows) {
			return
		}
		if row := v.rows[id.Row]; row.DeletedAt != nil {
			v.pane.showDeleted(row) // a deleted secret cannot be opened, only restored
			return
		}
		if cur, ok := v.detail.Name(); !ok || cur != v.rows[id.Row].Name {
			v.open(v.rows[id.Row].Name)
		}
	}
	v.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { v.load("Loading secrets", v.vm.Prev) })
	v.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { v.load("Loading secrets", v.vm.Next) })
	v.pageLbl = widget.NewLabel("")
	v.rewrap = widget.NewProgressBar()
	v.opsBox = container.NewVBox()
	v.pane = newSecretPane(c, v)

	filters := container.NewBorder(nil, nil, nil,
		container.NewHBox(withMinWidth(150, v.label), v.filterBtn, v.deleted, v.newSecret), v.prefix)
	pager := container.NewBorder(nil, nil, nil, container.NewHBox(v.prev, v.next), v.pageLbl)
	list := container.NewBorder(filters, container.NewVBox(pager, v.opsBox), nil, nil, v.table)
	split := container.NewHSplit(container.NewPadded(list), v.pane.content)
	split.Offset = 0.52
	v.content = split
	v.showPage()
	v.showOps()
	return v
}

// newTable highlights rows whose rotation is due (warning) or overdue (danger).
func (v *secretsView) newTable() *widget.Table {
	cols := state.SecretColumns()
	t := newTable(cols[:], []float32{220, 72, 175, 100},
		func() int { return len(v.rows) },
		func(row, col int) string { return state.SecretCells(v.rows[row], v.c.opt.Now())[col] })
	t.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		heads := state.SecretColumns()
		if v.vm.Deleted() {
			heads = state.DeletedSecretColumns()
		}
		if id.Col >= 0 && id.Col < len(heads) {
			o.(*widget.Label).SetText(heads[id.Col])
		}
	}
	t.UpdateCell = func(id widget.TableCellID, o fyne.CanvasObject) {
		l := o.(*widget.Label)
		if id.Row < 0 || id.Row >= len(v.rows) {
			l.SetText("")
			return
		}
		s := v.rows[id.Row]
		urgency := state.SecretUrgency(s, v.c.opt.Now())
		if s.DeletedAt != nil {
			urgency = state.RestoreUrgency(s, v.c.opt.Now())
		}
		switch urgency {
		case state.UrgencyOverdue:
			l.Importance = widget.DangerImportance
		case state.UrgencyDue:
			l.Importance = widget.WarningImportance
		default:
			l.Importance = widget.MediumImportance
		}
		l.SetText(state.SecretCells(s, v.c.opt.Now())[id.Col])
	}
	return t
}

func (v *secretsView) activate() {
	if !v.loaded && !v.inflight {
		v.runFilter()
		v.loadOps()
	}
}

func (v *secretsView) find() bool {
	v.c.win.Canvas().Focus(v.prefix)
	return true
}

func (v *secretsView) refresh() {
	v.load("Loading secrets", v.vm.Reload)
	v.loadOps()
	if _, ok := v.detail.Name(); ok {
		v.pane.reload()
	}
}

func (v *secretsView) runFilter() {
	prefix, label := v.prefix.Text, v.label.Text
	v.load("Filtering secrets", func(ctx context.Context) error { return v.vm.Filter(ctx, prefix, label) })
}

func (v *secretsView) load(label string, work func(context.Context) error) {
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

func (v *secretsView) loadOps() {
	v.c.background("Checking secret backends", v.ops.Load, func(error) { v.showOps() })
}

func (v *secretsView) showPage() {
	v.rows = v.vm.Rows()
	v.table.UnselectAll()
	v.table.Refresh()
	p := v.vm.Page()
	switch {
	case !v.loaded:
		v.pageLbl.SetText("")
	case p.Total == 0 && v.vm.Deleted():
		v.pageLbl.SetText("No deleted secrets match: nothing to restore.")
	case p.Total == 0:
		v.pageLbl.SetText("No secrets match.")
	case v.vm.Deleted():
		v.pageLbl.SetText(p.String() + " · deleted, select one to restore it")
	default:
		due := 0
		for _, s := range v.rows {
			if s.RotationDue {
				due++
			}
		}
		text := p.String()
		if due > 0 {
			text += " · " + strconv.Itoa(due) + " due for rotation"
		}
		v.pageLbl.SetText(text)
	}
	setEnabled(v.prev, p.HasPrev())
	setEnabled(v.next, p.HasNext())
}

// showOps draws the backends' health and the master key re-wrap under the list.
func (v *secretsView) showOps() {
	var objs []fyne.CanvasObject
	backends, bst := v.ops.Backends()
	var rows []fyne.CanvasObject
	switch bst {
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
	objs = append(objs, section("Secret backends", nil, container.NewVBox(rows...)))

	keys, kst := v.ops.Keys()
	switch kst {
	case state.SectionReady:
		v.rewrap.SetValue(state.RewrapProgress(keys.Rewrap))
		line := widget.NewLabel(state.RewrapSummary(keys, v.c.opt.Now()))
		line.Wrapping = fyne.TextWrapWord
		if keys.Rewrap.State == api.RewrapFailed {
			line.Importance = widget.DangerImportance
		}
		objs = append(objs, section("Master key", nil, container.NewVBox(line, v.rewrap)))
	case state.SectionUnavailable:
		objs = append(objs, section("Master key", nil, muted("This server does not report the master key re-wrap.")))
	case state.SectionFailed:
		objs = append(objs, section("Master key", nil, muted("Could not read the master key status.")))
	case state.SectionLoading:
	}
	v.opsBox.Objects = objs
	v.opsBox.Refresh()
}

func backendRow(b api.SecretBackend) fyne.CanvasObject {
	icon := widget.NewIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon()))
	health := "healthy"
	if !b.Healthy {
		icon = widget.NewIcon(theme.NewErrorThemedResource(theme.ErrorIcon()))
		health = "unhealthy"
		if b.Error != "" {
			health += ": " + b.Error
		}
	}
	var tags []string
	if b.Default {
		tags = append(tags, "default")
	}
	if b.Writable {
		tags = append(tags, "writable")
	} else {
		tags = append(tags, "read-only")
	}
	name := widget.NewLabel(b.Kind)
	name.TextStyle = fyne.TextStyle{Bold: true}
	text := muted(strings.Join(tags, ", ") + " · " + health)
	return container.NewBorder(nil, nil, container.NewHBox(icon, name), nil, text)
}

// open loads a secret into the pane.
func (v *secretsView) open(name string) {
	v.pane.deletedRow = nil
	v.pane.loading()
	v.c.call("Opening the secret", func(ctx context.Context) error { return v.detail.Open(ctx, name) }, func(error) {
		v.pane.show()
	})
}

// changed is called after the pane changed the open secret.
func (v *secretsView) changed() {
	if s, ok := v.detail.Secret(); ok {
		v.vm.Update(s)
		v.rows = v.vm.Rows()
		v.table.Refresh()
	}
}

// generatorForm is a generator type and size, for New secret and the rotation policy.
type generatorForm struct {
	kind   *widget.Select
	size   *widget.Entry
	prefix *widget.Entry
}

func newGeneratorForm(g api.GeneratorSpec) *generatorForm {
	f := &generatorForm{kind: widget.NewSelect(state.GeneratorTypes(), nil), size: widget.NewEntry(), prefix: widget.NewEntry()}
	f.prefix.SetPlaceHolder("prefix (apikey), e.g. app_")
	f.kind.SetSelected(g.Type)
	f.size.SetText(strconv.Itoa(state.GeneratorSize(g)))
	f.prefix.SetText(g.Prefix)
	return f
}

func (f *generatorForm) spec() api.GeneratorSpec {
	n, _ := strconv.Atoi(strings.TrimSpace(f.size.Text))
	g := state.NewGenerator(f.kind.Selected, n)
	if f.kind.Selected == "apikey" {
		g.Prefix = strings.TrimSpace(f.prefix.Text)
	}
	return g
}

func (f *generatorForm) widget() fyne.CanvasObject {
	return container.NewBorder(nil, nil, withMinWidth(130, f.kind), nil,
		container.NewGridWithColumns(2, f.size, f.prefix))
}

func (v *secretsView) showCreate() {
	name := widget.NewEntry()
	name.SetPlaceHolder("billing/prod/db-password")
	desc := widget.NewEntry()
	owner := widget.NewEntry()
	labels := widget.NewEntry()
	labels.SetPlaceHolder("team=billing, env=prod")
	value := widget.NewPasswordEntry()
	gen := newGeneratorForm(state.NewGenerator("password", 32))
	source := widget.NewRadioGroup([]string{"Enter a value", "Generate"}, func(s string) {
		if s == "Generate" {
			value.Disable()
		} else {
			value.Enable()
		}
	})
	source.Horizontal = true
	source.SetSelected("Generate")
	problem := newProblemView(false)
	items := []*widget.FormItem{
		widget.NewFormItem("Name", name),
		widget.NewFormItem("Description", desc),
		widget.NewFormItem("Owner", owner),
		widget.NewFormItem("Labels", labels),
		widget.NewFormItem("Value", source),
		widget.NewFormItem("", value),
		widget.NewFormItem("Generator", gen.widget()),
	}
	var dlg dialog.Dialog
	create := func() {
		d := state.SecretDraft{Name: name.Text, Description: desc.Text, Owner: owner.Text, Labels: labels.Text,
			Generate: source.Selected == "Generate", Value: value.Text, Generator: gen.spec()}
		if _, err := d.Request(); err != nil {
			problem.Report(state.Describe(err)) // a form problem stays in the form
			return
		}
		dlg.Hide()
		var created api.Secret
		v.c.call("Creating the secret", func(ctx context.Context) error {
			var err error
			created, err = v.vm.Create(ctx, d)
			return err
		}, func(err error) {
			if err == nil {
				v.c.say("Created " + created.Name + ".")
				v.load("Loading secrets", v.vm.Reload)
				v.open(created.Name)
			}
		})
	}
	form := widget.NewForm(items...)
	createBtn := widget.NewButtonWithIcon("Create", theme.ConfirmIcon(), create)
	createBtn.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", func() { dlg.Hide() })
	cd := dialog.NewCustomWithoutButtons("New secret", container.NewVBox(problem, form), v.c.win)
	cd.SetButtons([]fyne.CanvasObject{cancel, createBtn})
	cd.Resize(fyne.NewSize(560, 0))
	dlg = cd
	v.pane.form = &secretForm{dlg: cd, submit: createBtn, problem: problem, entries: map[string]*widget.Entry{
		"name": name, "description": desc, "owner": owner, "labels": labels, "value": value, "size": gen.size,
	}, source: source, kind: gen.kind}
	cd.Show()
}

// secretForm is the open dialog of the pane (tests and the tour fill it in).
type secretForm struct {
	dlg     *dialog.CustomDialog
	submit  *widget.Button
	problem *problemView
	entries map[string]*widget.Entry
	source  *widget.RadioGroup
	kind    *widget.Select
}

// secretPane shows the open secret and what an administrator can do with it.
type secretPane struct {
	c *Console
	v *secretsView

	box     *fyne.Container
	content fyne.CanvasObject

	// The current widgets, rebuilt on every show (kept for tests and the tour).
	reveal, hide, copyBtn, newVersion, rotate, policy *widget.Button
	value                                             *widget.Label
	rollback                                          map[int]*widget.Button
	lastConfirm                                       *dialog.ConfirmDialog
	form                                              *secretForm
	del, restore                                      *widget.Button

	deletedRow *api.Secret // the deleted secret on screen (the list shows deleted ones)
}

func newSecretPane(c *Console, v *secretsView) *secretPane {
	p := &secretPane{c: c, v: v}
	p.box = container.NewVBox()
	p.content = container.NewVScroll(container.NewPadded(p.box))
	p.show()
	return p
}

func (p *secretPane) set(objs ...fyne.CanvasObject) {
	p.box.Objects = objs
	p.box.Refresh()
}

func (p *secretPane) loading() { p.set(muted("Loading…")) }

func (p *secretPane) reload() {
	p.c.call("Loading the secret", p.v.detail.Refresh, func(error) { p.show() })
}

// act runs an action on the open secret, then redraws the pane and the list row.
func (p *secretPane) act(label string, work func(context.Context) error, success string) {
	p.c.call(label, work, func(err error) {
		p.show()
		p.v.changed()
		if err == nil && success != "" {
			p.c.say(success)
		}
	})
}

func (p *secretPane) confirm(title, message, action string, danger bool, onYes func()) {
	d := dialog.NewConfirm(title, message, func(ok bool) {
		if ok {
			onYes()
		}
	}, p.c.win)
	d.SetConfirmText(action)
	if danger {
		d.SetConfirmImportance(widget.DangerImportance)
	}
	p.lastConfirm = d
	d.Show()
}

func (p *secretPane) show() {
	p.reveal, p.hide, p.copyBtn, p.newVersion, p.rotate, p.policy, p.value = nil, nil, nil, nil, nil, nil, nil
	p.del, p.restore = nil, nil
	p.rollback = map[int]*widget.Button{}
	d := p.v.detail
	s, ok := d.Secret()
	if !ok && p.deletedRow != nil {
		p.set(p.deletedCard(*p.deletedRow)...)
		return
	}
	if !ok {
		hint := "Select a secret to see its versions, rotation and audit trail."
		if p.v.vm.Deleted() {
			hint = "Select a deleted secret to restore it."
		}
		p.set(container.NewCenter(muted(hint)))
		return
	}
	now := p.c.opt.Now()
	title := heading(s.Name)
	title.SizeName = theme.SizeNameHeadingText
	title.Wrapping = fyne.TextWrapBreak
	badge := widget.NewLabel("v" + strconv.Itoa(s.CurrentVersion))
	badge.TextStyle = fyne.TextStyle{Bold: true}
	sub := dashIfEmpty(s.Description)
	if s.Owner != "" {
		sub += "  ·  owner " + s.Owner
	}
	objs := []fyne.CanvasObject{
		container.NewBorder(nil, nil, nil, badge, title),
		muted(sub + "  ·  backend " + s.Backend + "  ·  updated " + state.Ago(s.UpdatedAt, now)),
	}

	p.newVersion = widget.NewButtonWithIcon("New version…", theme.DocumentCreateIcon(), p.showNewVersion)
	p.rotate = widget.NewButtonWithIcon("Rotate now", theme.ViewRefreshIcon(), func() {
		p.confirm("Rotate "+s.Name+" now?", "A new value is generated by the rotation policy and becomes current"+hookNote(s)+".", "Rotate", false, func() {
			p.act("Rotating the secret", d.Rotate, "Rotated "+s.Name+".")
		})
	})
	if s.RotationDue {
		p.rotate.Importance = widget.WarningImportance // the highlighted thing to do
	}
	if !d.CanRotate() {
		p.rotate.Disable() // the server rotates by the policy's generator: none, nothing to rotate with
	}
	p.policy = widget.NewButtonWithIcon("Rotation policy…", theme.SettingsIcon(), func() { p.showPolicy(s) })
	p.del = widget.NewButtonWithIcon("Delete…", theme.DeleteIcon(), func() {
		p.confirm("Delete "+s.Name+"?", d.DeleteConfirmation(), "Delete", true, p.doDelete)
	})
	p.del.Importance = widget.DangerImportance
	objs = append(objs, container.NewBorder(nil, nil, container.NewHBox(p.newVersion, p.rotate, p.policy), p.del))

	objs = append(objs, p.valueSection(), p.rotationSection(s, now), p.versionsSection(s, now))
	labels := make([]string, 0, len(s.Labels))
	for k, val := range s.Labels {
		labels = append(labels, k+"="+val)
	}
	sort.Strings(labels)
	objs = append(objs, section("Metadata", nil, keyValue(
		"Backend", s.Backend,
		"Owner", dashIfEmpty(s.Owner),
		"Labels", dashIfEmpty(strings.Join(labels, ", ")),
		"Created", state.Stamp(s.CreatedAt)+" by "+dashIfEmpty(state.ShortActor(s.CreatedBy)),
		"Updated", state.Stamp(s.UpdatedAt),
	)), p.auditSection(now))
	p.set(objs...)
}

// showDeleted puts a deleted secret (a list row: it cannot be opened) in the pane.
func (p *secretPane) showDeleted(row api.Secret) {
	p.v.detail.Close()
	p.deletedRow = &row
	p.show()
}

// deletedCard: when it was deleted, until when it can be restored, and Restore.
func (p *secretPane) deletedCard(s api.Secret) []fyne.CanvasObject {
	now := p.c.opt.Now()
	title := heading(s.Name)
	title.SizeName = theme.SizeNameHeadingText
	title.Wrapping = fyne.TextWrapBreak
	deadline := widget.NewLabel("Restorable " + state.RecoveryDeadline(s, now) + ". After that the server purges it with every version.")
	deadline.Wrapping = fyne.TextWrapWord
	deadline.TextStyle = fyne.TextStyle{Bold: true}
	if u := state.RestoreUrgency(s, now); u != state.UrgencyNone {
		deadline.Importance = widget.WarningImportance
		if u == state.UrgencyOverdue {
			deadline.Importance = widget.DangerImportance
		}
	}
	name := s.Name
	p.restore = widget.NewButtonWithIcon("Restore", theme.ContentUndoIcon(), func() { p.doRestore(name) })
	p.restore.Importance = widget.HighImportance
	deletedAt, purge := "—", "—"
	if s.DeletedAt != nil {
		deletedAt = state.Stamp(*s.DeletedAt) + " (" + state.Ago(*s.DeletedAt, now) + ")"
	}
	if s.PurgeAfter != nil {
		purge = state.Stamp(*s.PurgeAfter)
	}
	return []fyne.CanvasObject{
		container.NewBorder(nil, nil, nil, widget.NewLabel("deleted"), title),
		muted(dashIfEmpty(s.Description)),
		section("Deleted secret", nil, container.NewVBox(deadline, container.NewHBox(p.restore))),
		section("Metadata", nil, keyValue(
			"Deleted", deletedAt,
			"Purged after", purge,
			"Versions", strconv.Itoa(s.CurrentVersion),
			"Backend", s.Backend,
			"Owner", dashIfEmpty(s.Owner),
			"Created", state.Stamp(s.CreatedAt)+" by "+dashIfEmpty(state.ShortActor(s.CreatedBy)),
		)),
	}
}

// doDelete soft-deletes the open secret; the status line says until when it can be restored.
func (p *secretPane) doDelete() {
	var gone api.Secret
	p.c.call("Deleting the secret", func(ctx context.Context) error {
		var err error
		gone, err = p.v.detail.Delete(ctx)
		return err
	}, func(err error) {
		p.show()
		if err != nil {
			return
		}
		p.c.background("Loading secrets", p.v.vm.Reload, func(error) { p.v.showPage() })
		p.c.say("Deleted " + gone.Name + "; restorable " + state.RecoveryDeadline(gone, p.c.opt.Now()) + ".")
	})
}

// doRestore undoes a delete, then shows the live list with the restored secret open.
func (p *secretPane) doRestore(name string) {
	p.c.call("Restoring the secret", func(ctx context.Context) error {
		_, err := p.v.vm.Restore(ctx, name)
		return err
	}, func(err error) {
		if err != nil {
			p.v.showPage()
			return
		}
		p.deletedRow = nil
		p.v.deleted.SetChecked(false) // back to the live list (loads it)
		p.v.open(name)
		p.c.say("Restored " + name + ".")
	})
}

func hookNote(s api.Secret) string {
	if s.Rotation != nil && s.Rotation.HookURL != "" {
		return " once the hook at " + s.Rotation.HookURL + " accepts it"
	}
	return ""
}

// valueSection: the value stays hidden until an explicit Reveal (audited), and hides itself
// again after state.SecretExposure.
func (p *secretPane) valueSection() fyne.CanvasObject {
	d := p.v.detail
	rv, shown := d.Revealed()
	p.value = widget.NewLabel("••••••••••••")
	p.value.TextStyle = fyne.TextStyle{Monospace: true}
	p.value.Wrapping = fyne.TextWrapBreak
	var hint string
	if shown {
		p.value.SetText(rv.Value)
		p.value.Selectable = true
		hint = fmt.Sprintf("Version %d, shown for %d s. ", rv.Version, int(state.SecretExposure/time.Second))
		if rv.Encoding == api.EncodingBase64 {
			hint += "Binary value, shown base64-encoded. "
		}
		p.hide = widget.NewButtonWithIcon("Hide", theme.VisibilityOffIcon(), func() {
			d.Hide()
			p.show()
		})
	} else {
		hint = "Hidden. Revealing or copying it is recorded in the audit trail. "
		p.reveal = widget.NewButtonWithIcon("Reveal", theme.VisibilityIcon(), func() { p.doReveal(0) })
		p.reveal.Importance = widget.HighImportance
	}
	p.copyBtn = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), p.doCopy)
	hint += fmt.Sprintf("A copied value is cleared from the clipboard after %d s.", int(state.SecretExposure/time.Second))
	buttons := []fyne.CanvasObject{p.copyBtn}
	if p.reveal != nil {
		buttons = append([]fyne.CanvasObject{p.reveal}, buttons...)
	} else {
		buttons = append([]fyne.CanvasObject{p.hide}, buttons...)
	}
	return section("Value", container.NewHBox(buttons...), container.NewVBox(p.value, muted(hint)))
}

func (p *secretPane) doReveal(version int) {
	d := p.v.detail
	name, _ := d.Name()
	p.c.call("Reading the value", func(ctx context.Context) error {
		return d.Reveal(ctx, version, func() {
			// The timer hid it: redraw only if this secret is still on screen.
			if cur, ok := d.Name(); ok && cur == name && p.v.c.ws != nil {
				p.show()
			}
		})
	}, func(err error) {
		p.show()
		if err == nil {
			p.refreshAudit()
		}
	})
}

func (p *secretPane) doCopy() {
	d := p.v.detail
	var value string
	p.c.call("Reading the value", func(ctx context.Context) error {
		var err error
		value, err = d.ValueToCopy(ctx, 0)
		return err
	}, func(err error) {
		if err != nil {
			return
		}
		// The clipboard is only touched here, on the UI thread.
		d.CopyValue(p.c.app.Clipboard(), value, func() { p.c.say("Clipboard cleared.") })
		p.c.say(fmt.Sprintf("Copied; the clipboard is cleared in %d s.", int(state.SecretExposure/time.Second)))
		p.refreshAudit()
	})
}

func (p *secretPane) refreshAudit() {
	p.c.background("Loading the audit trail", p.v.detail.RefreshAudit, func(error) { p.show() })
}

func (p *secretPane) rotationSection(s api.Secret, now time.Time) fyne.CanvasObject {
	if s.Rotation == nil {
		return section("Rotation", nil, muted("No rotation policy: the value changes only when someone writes a new version."))
	}
	r := s.Rotation
	every := "on demand only"
	if r.IntervalSeconds > 0 {
		every = "every " + state.FormatInterval(time.Duration(r.IntervalSeconds)*time.Second)
		if r.WindowSeconds > 0 {
			every += ", due " + state.FormatInterval(time.Duration(r.WindowSeconds)*time.Second) + " before"
		}
	}
	next, last := "—", "never"
	if s.NextRotationAt != nil {
		next = state.Stamp(*s.NextRotationAt) + " (" + state.In(*s.NextRotationAt, now) + ")"
	}
	if s.LastRotatedAt != nil {
		last = state.Stamp(*s.LastRotatedAt)
	}
	var objs []fyne.CanvasObject
	if u := state.SecretUrgency(s, now); u != state.UrgencyNone {
		l := widget.NewLabel(state.RotationSummary(s, now) + ": rotate it now or check the rotation job.")
		l.Wrapping = fyne.TextWrapWord
		l.TextStyle = fyne.TextStyle{Bold: true}
		l.Importance = widget.WarningImportance
		if u == state.UrgencyOverdue {
			l.Importance = widget.DangerImportance
		}
		objs = append(objs, l)
	}
	objs = append(objs, keyValue(
		"Schedule", every,
		"Generator", state.DescribeGenerator(r.Generator),
		"Hook", dashIfEmpty(r.HookURL),
		"Next rotation", next,
		"Last rotated", last,
	))
	return section("Rotation", nil, container.NewVBox(objs...))
}

func (p *secretPane) versionsSection(s api.Secret, now time.Time) fyne.CanvasObject {
	d := p.v.detail
	list, st := d.Versions()
	var rows []fyne.CanvasObject
	switch st {
	case state.SectionUnavailable:
		return section("Versions", nil, muted("This server does not list versions."))
	case state.SectionFailed:
		rows = append(rows, muted("Could not load the versions."))
	case state.SectionLoading, state.SectionReady:
	}
	for _, ver := range list {
		text := "v" + strconv.Itoa(ver.Version)
		lbl := widget.NewLabel(text)
		lbl.TextStyle = fyne.TextStyle{Bold: ver.Stage == api.StageCurrent}
		stage := ""
		if ver.Stage != "" {
			stage = ver.Stage + " · "
		}
		info := muted(stage + "by " + dashIfEmpty(state.ShortActor(ver.CreatedBy)) + " · " + state.Ago(ver.CreatedAt, now))
		var right fyne.CanvasObject
		if ver.Stage != api.StageCurrent {
			n := ver.Version
			b := widget.NewButtonWithIcon("Roll back", theme.HistoryIcon(), func() {
				p.confirm("Roll back to version "+strconv.Itoa(n)+"?", d.RollbackConfirmation(n), "Roll back", true, func() {
					p.act("Rolling back", func(ctx context.Context) error { return d.Rollback(ctx, n) }, "Version "+strconv.Itoa(n)+" of "+s.Name+" is current again.")
				})
			})
			p.rollback[n] = b
			right = b
		}
		rows = append(rows, container.NewBorder(nil, nil, withMinWidth(48, lbl), right, info))
	}
	return section("Versions ("+strconv.Itoa(len(list))+")", nil, container.NewVBox(rows...))
}

func (p *secretPane) auditSection(now time.Time) fyne.CanvasObject {
	list, total, st := p.v.detail.Audit()
	var rows []fyne.CanvasObject
	switch st {
	case state.SectionUnavailable:
		return section("Audit trail", nil, muted("This server does not report the audit trail."))
	case state.SectionFailed:
		rows = append(rows, muted("Could not load the audit trail."))
	case state.SectionLoading, state.SectionReady:
		if len(list) == 0 {
			rows = append(rows, muted("Nothing recorded yet."))
		}
	}
	for _, r := range list {
		what := r.Action
		if r.Version > 0 {
			what += " v" + strconv.Itoa(r.Version)
		}
		if r.Outcome != "" && r.Outcome != "success" {
			what += " (" + r.Outcome + ")"
		}
		who := state.ShortActor(r.ActorType + ":" + r.ActorID)
		rows = append(rows, container.NewBorder(nil, nil, withMinWidth(120, widget.NewLabel(what)), nil,
			muted(who+" · "+dashIfEmpty(r.IP)+" · "+state.Ago(r.Time, now))))
	}
	title := "Audit trail"
	if total > len(list) {
		title += " (latest " + strconv.Itoa(len(list)) + " of " + strconv.Itoa(total) + ")"
	}
	return section(title, nil, container.NewVBox(rows...))
}

func (p *secretPane) showNewVersion() {
	d := p.v.detail
	s, _ := d.Secret()
	value := widget.NewPasswordEntry()
	value.SetPlaceHolder("The new value")
	problem := newProblemView(false)
	var cd *dialog.CustomDialog
	save := widget.NewButtonWithIcon("Save as v"+strconv.Itoa(s.CurrentVersion+1), theme.DocumentSaveIcon(), func() {
		val := value.Text
		if val == "" {
			problem.Report(state.Describe(&state.InputError{Field: "value", Message: "Enter the new value."}))
			return
		}
		cd.Hide()
		p.act("Saving the new version", func(ctx context.Context) error { return d.NewVersion(ctx, val) }, "New version of "+s.Name+" saved.")
	})
	save.Importance = widget.HighImportance
	cancel := widget.NewButton("Cancel", func() { cd.Hide() })
	cd = dialog.NewCustomWithoutButtons("New version of "+s.Name, container.NewVBox(problem,
		muted("It becomes the current version; the current one stays readable as previous."),
		widget.NewForm(widget.NewFormItem("Value", value))), p.c.win)
	cd.SetButtons([]fyne.CanvasObject{cancel, save})
	cd.Resize(fyne.NewSize(480, 0))
	p.form = &secretForm{dlg: cd, submit: save, problem: problem, entries: map[string]*widget.Entry{"value": value}}
	cd.Show()
}

func (p *secretPane) showPolicy(s api.Secret) {
	d := p.v.detail
	draft := state.DraftFor(s.Rotation)
	interval := widget.NewEntry()
	interval.SetText(draft.Interval)
	interval.SetPlaceHolder("30d, 12h, or 0 for on demand only")
	window := widget.NewEntry()
	window.SetText(draft.Window)
	hook := widget.NewEntry()
	hook.SetText(draft.HookURL)
	hook.SetPlaceHolder("https://… (optional: must accept the new value first)")
	gen := newGeneratorForm(draft.Generator)
	problem := newProblemView(false)
	var cd *dialog.CustomDialog
	save := widget.NewButtonWithIcon("Save policy", theme.DocumentSaveIcon(), func() {
		pol, err := state.RotationDraft{Interval: interval.Text, Window: window.Text, Generator: gen.spec(), HookURL: hook.Text}.Policy()
		if err != nil {
			problem.Report(state.Describe(err))
			return
		}
		cd.Hide()
		p.act("Saving the rotation policy", func(ctx context.Context) error { return d.SetRotation(ctx, pol) }, "Rotation policy of "+s.Name+" saved.")
	})
	save.Importance = widget.HighImportance
	buttons := []fyne.CanvasObject{widget.NewButton("Cancel", func() { cd.Hide() })}
	if s.Rotation != nil {
		remove := widget.NewButtonWithIcon("Remove policy", theme.DeleteIcon(), func() {
			cd.Hide()
			p.act("Removing the rotation policy", func(ctx context.Context) error { return d.SetRotation(ctx, nil) }, "Rotation policy of "+s.Name+" removed.")
		})
		remove.Importance = widget.DangerImportance
		buttons = append(buttons, remove)
	}
	buttons = append(buttons, save)
	cd = dialog.NewCustomWithoutButtons("Rotation policy of "+s.Name, container.NewVBox(problem, widget.NewForm(
		widget.NewFormItem("Interval", interval),
		widget.NewFormItem("Warn before", window),
		widget.NewFormItem("Generator", gen.widget()),
		widget.NewFormItem("Hook URL", hook),
	)), p.c.win)
	cd.SetButtons(buttons)
	cd.Resize(fyne.NewSize(560, 0))
	p.form = &secretForm{dlg: cd, submit: save, problem: problem, entries: map[string]*widget.Entry{
		"interval": interval, "window": window, "hook": hook, "size": gen.size,
	}, kind: gen.kind}
	cd.Show()
}
