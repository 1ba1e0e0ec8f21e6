package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// dashboardView: server build and health, the live pool chart, the latest security events.
type dashboardView struct {
	c    *Console
	vm   *state.Dashboard
	pool *state.Pool
	caps state.Caps

	server   *fyne.Container
	health   *fyne.Container
	conns    *lineChart
	waits    *lineChart
	poolNow  *note
	latest   *widget.Table
	rows     []api.SecurityEvent
	loaded   bool
	inflight bool
	content  fyne.CanvasObject
}

func newDashboardView(c *Console, vm *state.Dashboard, pool *state.Pool, caps state.Caps) *dashboardView {
	d := &dashboardView{c: c, vm: vm, pool: pool, caps: caps}
	d.server = container.NewVBox(muted("Loading…"))
	d.health = container.NewVBox(muted("Loading…"))
	top := container.NewGridWithColumns(2,
		section("Server", nil, d.server),
		section("Health", nil, d.health),
	)
	parts := []fyne.CanvasObject{top}
	if caps.ViewPool {
		d.conns = newLineChart("Connections", "", state.PoolWindow)
		d.conns.whole = true
		d.waits = newLineChart("Waiting", "", state.PoolWindow)
		d.poolNow = muted("Connecting to the live feed…")
		charts := container.NewGridWithColumns(2, withMinHeight(190, d.conns), withMinHeight(190, d.waits))
		parts = append(parts, section("Database pool · live", nil, container.NewBorder(d.poolNow, nil, nil, nil, charts)))
	}
	if caps.ViewEvents {
		cols := state.EventColumns()
		d.latest = newTable(cols[:], []float32{170, 180, 90, 250, 250, 110},
			func() int { return len(d.rows) },
			func(row, col int) string { return d.vm.EventCells(d.rows[row])[col] })
		parts = append(parts, section("Latest security events", nil, withMinHeight(float32(40+state.LatestEvents*38), d.latest)))
	}
	if !caps.ViewPool && !caps.ViewEvents {
		parts = append(parts, section("Your access", nil, muted(
			"Support staff find users, check their status, lock and unlock accounts, end sessions, "+
				"forget trusted devices and reset second factors. Use Users (Ctrl+F) to find someone.")))
	}
	d.content = container.NewVScroll(container.NewPadded(container.NewVBox(parts...)))
	return d
}

func (d *dashboardView) activate() {
	if !d.loaded && !d.inflight {
		d.refresh()
	}
}

func (d *dashboardView) find() bool { return false }

func (d *dashboardView) refresh() {
	d.inflight = true
	d.c.call("Loading the dashboard", d.vm.Refresh, func(err error) {
		d.inflight = false
		if err == nil {
			d.loaded = true
			d.show()
		}
	})
}

func (d *dashboardView) show() {
	s := d.vm.Snapshot()
	v := s.Version
	commit := v.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	d.server.Objects = []fyne.CanvasObject{keyValue(
		"Address", d.c.opt.Session.Server(),
		"Version", v.Version+"  ·  "+v.GoVersion,
		"Build", strings.TrimSpace(v.BuildDate+"  ·  commit "+commit),
	)}
	d.server.Refresh()

	rows := []fyne.CanvasObject{healthRow("Process is alive (livez)", s.Live.Status, "")}
	rows = append(rows, healthRow("Ready for traffic (readyz)", s.Ready.Status, ""))
	names := make([]string, 0, len(s.Ready.Checks))
	for n := range s.Ready.Checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ch := s.Ready.Checks[n]
		detail := fmt.Sprintf("%.1f ms", ch.DurationMS)
		if ch.Error != "" {
			detail = ch.Error
		}
		rows = append(rows, healthRow("Check: "+n, ch.Status, detail))
	}
	d.health.Objects = rows
	d.health.Refresh()

	if d.latest != nil {
		d.rows = s.Latest
		d.latest.Refresh()
	}
}

func healthRow(name, status, detail string) fyne.CanvasObject {
	var icon fyne.Resource = theme.NewSuccessThemedResource(theme.ConfirmIcon())
	word := "OK"
	if status != api.StatusOK {
		icon = theme.NewErrorThemedResource(theme.ErrorIcon())
		word = "Failing"
		if status == "" {
			word = "Unknown"
		}
	}
	text := widget.NewLabel(name)
	right := muted(strings.TrimSpace(word + "   " + detail))
	right.Wrapping = fyne.TextWrapOff
	return container.NewBorder(nil, nil, widget.NewIcon(icon), right, text)
}

// refreshPool redraws the charts from the pool's samples (on the UI thread).
func (d *dashboardView) refreshPool() {
	if d.conns == nil {
		return
	}
	pts := d.pool.Points()
	times := make([]time.Time, len(pts))
	inUse, idle, waits, waitMs := make([]float64, len(pts)), make([]float64, len(pts)), make([]float64, len(pts)), make([]float64, len(pts))
	for i, p := range pts {
		times[i] = p.At
		inUse[i], idle[i] = float64(p.InUse), float64(p.Idle)
		waits[i], waitMs[i] = p.WaitsPerSec, p.WaitMsPerSec
	}
	d.conns.set(times, []series{
		{name: "in use", color: theme.ColorNamePrimary, values: inUse},
		{name: "idle", color: theme.ColorNameSuccess, values: idle},
	})
	d.waits.set(times, []series{
		{name: "waits / s", color: theme.ColorNameWarning, values: waits},
		{name: "ms waited / s", color: theme.ColorNameError, values: waitMs},
	})
	status, _ := d.pool.Status()
	caption := "Live feed: " + status.String()
	if last, ok := d.pool.Latest(); ok {
		caption = fmt.Sprintf("%s · %s · %d open of %d max · %d in use · %d idle · %d waits in all (%.2f s)",
			caption, last.Dialect, last.OpenConnections, last.MaxOpenConnections, last.InUse, last.Idle, last.WaitCount, last.WaitDurationSec)
	}
	setNote(d.poolNow, caption)
}

func (d *dashboardView) themeChanged() {
	if d.conns != nil {
		d.conns.Refresh()
		d.waits.Refresh()
	}
}
