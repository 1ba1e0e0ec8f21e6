package ui

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

const allTypes = "All types"

// eventsView: filters, a paged table, the selected event's detail and CSV export.
type eventsView struct {
	c  *Console
	vm *state.Events

	typeSel  *widget.Select
	user     *shortcutEntry
	rangeSel *widget.Select
	since    *widget.Entry
	until    *widget.Entry
	custom   *fyne.Container
	apply    *widget.Button
	export   *widget.Button
	table    *widget.Table
	rows     []api.SecurityEvent
	prev     *widget.Button
	next     *widget.Button
	pageLbl  *widget.Label
	detail   *fyne.Container
	selected int

	loaded   bool
	inflight bool
	content  fyne.CanvasObject
}

func newEventsView(c *Console, vm *state.Events) *eventsView {
	v := &eventsView{c: c, vm: vm, selected: -1}
	v.typeSel = widget.NewSelect(append([]string{allTypes}, api.EventTypes()...), nil)
	v.typeSel.SetSelectedIndex(0)
	v.user = newShortcutEntry(v.refresh)
	v.user.SetPlaceHolder("User email or ID")
	v.user.OnSubmitted = func(string) { v.runFilter() }
	v.since = widget.NewEntry()
	v.since.SetPlaceHolder("From " + state.TimeLayout)
	v.until = widget.NewEntry()
	v.until.SetPlaceHolder("To " + state.TimeLayout)
	v.custom = container.NewGridWithColumns(2, v.since, v.until)
	v.custom.Hide()
	v.rangeSel = widget.NewSelect(state.Ranges(), func(s string) {
		if s == state.RangeCustom {
			v.custom.Show()
		} else {
			v.custom.Hide()
		}
	})
	v.rangeSel.SetSelected(state.RangeDay)
	v.apply = widget.NewButtonWithIcon("Apply", theme.SearchIcon(), v.runFilter)
	v.apply.Importance = widget.HighImportance
	v.export = widget.NewButtonWithIcon("Export CSV", theme.DocumentSaveIcon(), v.exportCSV)

	cols := state.EventColumns()
	v.table = newTable(cols[:], []float32{150, 150, 88, 160, 160, 85},
		func() int { return len(v.rows) },
		func(row, col int) string { return v.vm.EventCells(v.rows[row])[col] })
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.rows) {
			v.selected = id.Row
			v.showDetail()
		}
	}
	v.prev = widget.NewButtonWithIcon("", theme.NavigateBackIcon(), func() { v.load("Loading events", v.vm.Prev) })
	v.next = widget.NewButtonWithIcon("", theme.NavigateNextIcon(), func() { v.load("Loading events", v.vm.Next) })
	v.pageLbl = widget.NewLabel("")
	v.detail = container.NewVBox()

	filters := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(withMinWidth(150, v.rangeSel), v.apply, v.export),
			container.NewGridWithColumns(2, v.typeSel, v.user)),
		v.custom,
	)
	pager := container.NewBorder(nil, nil, nil, container.NewHBox(v.prev, v.next), v.pageLbl)
	list := container.NewBorder(filters, pager, nil, nil, v.table)
	split := container.NewHSplit(container.NewPadded(list), container.NewVScroll(container.NewPadded(v.detail)))
	split.Offset = 0.71
	v.content = split
	v.showPage()
	return v
}

func (v *eventsView) activate() {
	if !v.loaded && !v.inflight {
		v.runFilter()
	}
}

func (v *eventsView) find() bool {
	v.c.win.Canvas().Focus(v.user)
	return true
}

func (v *eventsView) refresh() { v.load("Loading events", v.vm.Reload) }

// filter reads the filter widgets.
func (v *eventsView) filter() (state.EventFilter, error) {
	f := state.EventFilter{User: v.user.Text}
	if v.typeSel.SelectedIndex() > 0 {
		f.Type = v.typeSel.Selected
	}
	if v.rangeSel.Selected == state.RangeCustom {
		var err error
		if f.Since, err = state.ParseTime("since", v.since.Text); err != nil {
			return f, err
		}
		if f.Until, err = state.ParseTime("until", v.until.Text); err != nil {
			return f, err
		}
		return f, nil
	}
	f.Since, f.Until = state.RangeBounds(v.rangeSel.Selected, v.c.opt.Now())
	return f, nil
}

func (v *eventsView) runFilter() {
	f, err := v.filter()
	v.load("Loading events", func(ctx context.Context) error {
		if err != nil {
			return err
		}
		return v.vm.Apply(ctx, f)
	})
}

func (v *eventsView) load(label string, work func(context.Context) error) {
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

func (v *eventsView) showPage() {
	v.rows = v.vm.Rows()
	v.selected = -1
	v.table.UnselectAll()
	v.table.Refresh()
	p := v.vm.Page()
	switch {
	case !v.loaded:
		v.pageLbl.SetText("")
	case p.Total == 0:
		v.pageLbl.SetText("No events match.")
	default:
		v.pageLbl.SetText(p.String())
	}
	setEnabled(v.prev, p.HasPrev())
	setEnabled(v.next, p.HasNext())
	v.showDetail()
}

func (v *eventsView) showDetail() {
	if v.selected < 0 || v.selected >= len(v.rows) {
		v.detail.Objects = []fyne.CanvasObject{muted("Select an event to see everything recorded about it.")}
		v.detail.Refresh()
		return
	}
	ev := v.rows[v.selected]
	who := func(id string) string {
		if id == "" {
			return "—"
		}
		if n := v.vm.Name(id); n != id {
			return n + "\n" + id
		}
		return id
	}
	details := "—"
	if len(ev.Details) > 0 {
		if b, err := json.MarshalIndent(ev.Details, "", "  "); err == nil {
			details = string(b)
		}
	}
	det := widget.NewLabel(details)
	det.TextStyle = fyne.TextStyle{Monospace: true}
	det.Wrapping = fyne.TextWrapBreak
	det.Selectable = true
	v.detail.Objects = []fyne.CanvasObject{
		heading(ev.Type),
		keyValue(
			"Time", state.Stamp(ev.CreatedAt),
			"Outcome", state.Title(ev.Outcome),
			"Actor", who(ev.ActorID),
			"Subject", who(ev.SubjectUserID),
			"IP", dashIfEmpty(ev.IP),
			"User agent", dashIfEmpty(ev.UserAgent),
			"Request ID", dashIfEmpty(ev.RequestID),
			"Event ID", ev.ID,
		),
		heading("Details"),
		det,
	}
	v.detail.Refresh()
}

// exportCSV fetches every matching event, asks where to save, and writes the CSV.
func (v *eventsView) exportCSV() {
	var all []api.SecurityEvent
	v.export.Disable()
	v.c.call("Collecting events for export", func(ctx context.Context) error {
		var err error
		all, err = v.vm.Export(ctx)
		return err
	}, func(err error) {
		v.export.Enable()
		if err != nil {
			return
		}
		name := state.ExportFileName(v.c.opt.Now())
		v.c.opt.SaveFile(name, func(w io.WriteCloser) {
			if w == nil {
				return // cancelled
			}
			v.c.call("Writing "+name, func(context.Context) error {
				werr := state.WriteEventsCSV(w, all, v.vm.Name)
				return errors.Join(werr, w.Close())
			}, func(err error) {
				if err == nil {
					v.c.say("Exported " + strconv.Itoa(len(all)) + " events to " + name + ".")
				}
			})
		})
	})
}

// newSaveDialog is the file save dialog, filtered to CSV, suggesting name.
func newSaveDialog(win fyne.Window, name string, save func(io.WriteCloser)) *dialog.FileDialog {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			save(nil)
			return
		}
		save(w)
	}, win)
	d.SetFileName(name)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".csv"}))
	d.Resize(fyne.NewSize(820, 560))
	return d
}
