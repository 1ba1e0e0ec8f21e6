package ui

import (
	"context"
	"errors"
	"io"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// auditView is the whole secrets audit trail (administrators): since, actor and secret
// filters, a paged table, the selected record's detail and CSV export, like the events screen.
type auditView struct {
	c  *Console
	vm *state.SecretAudit

	actor    *shortcutEntry
	secret   *widget.Entry
	rangeSel *widget.Select
	since    *widget.Entry
	apply    *widget.Button
	export   *widget.Button
	table    *widget.Table
	rows     []api.SecretAuditRecord
	prev     *widget.Button
	next     *widget.Button
	pageLbl  *widget.Label
	detail   *fyne.Container
	selected int

	loaded   bool
	inflight bool
	content  fyne.CanvasObject
}

func newAuditView(c *Console, vm *state.SecretAudit) *auditView {
	v := &auditView{c: c, vm: vm, selected: -1}
	v.actor = newShortcutEntry(v.refresh)
	v.actor.SetPlaceHolder("Actor email or ID  (Ctrl+F)")
	v.actor.OnSubmitted = func(string) { v.runFilter() }
	v.secret = widget.NewEntry()
	v.secret.SetPlaceHolder("Secret name, e.g. billing/prod/db-password")
	v.secret.OnSubmitted = func(string) { v.runFilter() }
	v.since = widget.NewEntry()
	v.since.SetPlaceHolder("Since " + state.TimeLayout)
	v.since.Hide()
	// The server filters on a start only: the ranges are "since"; Custom takes a start time.
	v.rangeSel = widget.NewSelect(state.Ranges(), func(s string) {
		if s == state.RangeCustom {
			v.since.Show()
		} else {
			v.since.Hide()
		}
	})
	v.rangeSel.SetSelected(state.RangeWeek)
	v.apply = widget.NewButtonWithIcon("Apply", theme.SearchIcon(), v.runFilter)
	v.apply.Importance = widget.HighImportance
	v.export = widget.NewButtonWithIcon("Export CSV", theme.DocumentSaveIcon(), v.exportCSV)

	cols := state.SecretAuditColumns()
	v.table = newTable(cols[:], []float32{156, 82, 170, 72, 160, 88, 86},
		func() int { return len(v.rows) },
		func(row, col int) string { return v.vm.Cells(v.rows[row])[col] })
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.rows) {
			v.selected = id.Row
			v.showDetail()
		}
	}
	v.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { v.load("Loading the audit trail", v.vm.Prev) })
	v.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { v.load("Loading the audit trail", v.vm.Next) })
	v.pageLbl = widget.NewLabel("")
	v.detail = container.NewVBox()

	filters := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(withMinWidth(150, v.rangeSel), v.apply, v.export),
			container.NewGridWithColumns(2, v.actor, v.secret)),
		v.since,
	)
	pager := container.NewBorder(nil, nil, nil, container.NewHBox(v.prev, v.next), v.pageLbl)
	list := container.NewBorder(filters, pager, nil, nil, v.table)
	split := container.NewHSplit(container.NewPadded(list), container.NewVScroll(container.NewPadded(v.detail)))
	split.Offset = 0.74
	v.content = split
	v.showPage()
	return v
}

func (v *auditView) activate() {
	if !v.loaded && !v.inflight {
		v.runFilter()
	}
}

func (v *auditView) find() bool {
	v.c.win.Canvas().Focus(v.actor)
	return true
}

func (v *auditView) refresh() { v.load("Loading the audit trail", v.vm.Reload) }

// filter reads the filter widgets.
func (v *auditView) filter() (state.SecretAuditFilter, error) {
	f := state.SecretAuditFilter{Actor: v.actor.Text, Secret: v.secret.Text}
	if v.rangeSel.Selected == state.RangeCustom {
		var err error
		f.Since, err = state.ParseTime("since", v.since.Text)
		return f, err
	}
	f.Since, _ = state.RangeBounds(v.rangeSel.Selected, v.c.opt.Now())
	return f, nil
}

func (v *auditView) runFilter() {
	f, err := v.filter()
	v.load("Loading the audit trail", func(ctx context.Context) error {
		if err != nil {
			return err
		}
		return v.vm.Apply(ctx, f)
	})
}

func (v *auditView) load(label string, work func(context.Context) error) {
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

func (v *auditView) showPage() {
	v.rows = v.vm.Rows()
	v.selected = -1
	v.table.UnselectAll()
	v.table.Refresh()
	p := v.vm.Page()
	switch {
	case !v.loaded:
		v.pageLbl.SetText("")
	case p.Total == 0:
		v.pageLbl.SetText("Nothing recorded matches.")
	default:
		v.pageLbl.SetText(p.String())
	}
	setEnabled(v.prev, p.HasPrev())
	setEnabled(v.next, p.HasNext())
	v.showDetail()
}

func (v *auditView) showDetail() {
	if v.selected < 0 || v.selected >= len(v.rows) {
		v.detail.Objects = []fyne.CanvasObject{muted("Every read, write, rotation and delete of a secret is recorded here, never a value. Select a line for everything recorded about it.")}
		v.detail.Refresh()
		return
	}
	r := v.rows[v.selected]
	version := "—"
	if r.Version > 0 {
		version = "v" + strconv.Itoa(r.Version)
	}
	actor := v.vm.Actor(r)
	if full := r.ActorType + ":" + r.ActorID; actor != full {
		actor += "\n" + full
	}
	v.detail.Objects = []fyne.CanvasObject{
		heading(r.Action + " " + r.Secret),
		keyValue(
			"Time", state.Stamp(r.Time),
			"Secret", r.Secret,
			"Version", version,
			"Backend", dashIfEmpty(r.Backend),
			"Outcome", state.Title(r.Outcome),
			"Reason", dashIfEmpty(r.Reason),
			"Actor", actor,
			"IP", dashIfEmpty(r.IP),
			"Request ID", dashIfEmpty(r.RequestID),
			"Record", strconv.FormatInt(r.ID, 10),
		),
	}
	v.detail.Refresh()
}

// exportCSV fetches every matching record, asks where to save, and writes the CSV.
func (v *auditView) exportCSV() {
	var all []api.SecretAuditRecord
	v.export.Disable()
	v.c.call("Collecting the audit trail for export", func(ctx context.Context) error {
		var err error
		all, err = v.vm.Export(ctx)
		return err
	}, func(err error) {
		v.export.Enable()
		if err != nil {
			return
		}
		name := state.SecretAuditFileName(v.c.opt.Now())
		v.c.opt.SaveFile(name, func(w io.WriteCloser) {
			if w == nil {
				return // cancelled
			}
			v.c.call("Writing "+name, func(context.Context) error {
				werr := state.WriteSecretAuditCSV(w, all, v.vm.Email)
				return errors.Join(werr, w.Close())
			}, func(err error) {
				if err == nil {
					v.c.say("Exported " + strconv.Itoa(len(all)) + " audit records to " + name + ".")
				}
			})
		})
	})
}
