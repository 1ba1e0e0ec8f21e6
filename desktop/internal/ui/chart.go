package ui

import (
	"image/color"
	"math"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// series is one line of a chart.
type series struct {
	name   string
	color  fyne.ThemeColorName
	values []float64
}

// lineChart plots series over a fixed time window ending at the newest sample, drawn with
// canvas lines (no chart library): a grid, the lines, y-axis labels and a legend.
type lineChart struct {
	widget.BaseWidget
	title  string
	unit   string
	whole  bool // the values are counts: integer ticks
	window time.Duration
	times  []time.Time
	series []series
}

func newLineChart(title, unit string, window time.Duration) *lineChart {
	c := &lineChart{title: title, unit: unit, window: window}
	c.ExtendBaseWidget(c)
	return c
}

// set replaces the data; times and every series' values have the same length.
func (c *lineChart) set(times []time.Time, s []series) {
	c.times, c.series = times, s
	c.Refresh()
}

func (c *lineChart) CreateRenderer() fyne.WidgetRenderer {
	r := &chartRenderer{c: c, bg: canvas.NewRectangle(color.Transparent)}
	r.title = canvas.NewText(c.title, color.Black)
	r.title.TextStyle = fyne.TextStyle{Bold: true}
	r.empty = canvas.NewText("Waiting for samples…", color.Black)
	for range gridSteps + 1 {
		r.grid = append(r.grid, canvas.NewLine(color.Black))
		r.ylabels = append(r.ylabels, canvas.NewText("", color.Black))
	}
	r.xStart = canvas.NewText("", color.Black)
	r.xEnd = canvas.NewText("now", color.Black)
	r.Refresh()
	return r
}

type chartRenderer struct {
	c       *lineChart
	bg      *canvas.Rectangle
	title   *canvas.Text
	empty   *canvas.Text
	grid    []*canvas.Line
	ylabels []*canvas.Text
	xStart  *canvas.Text
	xEnd    *canvas.Text
	legend  []fyne.CanvasObject // swatch, text pairs
	lines   [][]*canvas.Line    // per series
	objects []fyne.CanvasObject
	size    fyne.Size
}

const (
	chartPadLeft   = 52
	chartPadRight  = 12
	chartPadTop    = 58
	chartPadBottom = 24
	maxChartPoints = 150 // downsample beyond this: a line per pixel pair is plenty
)

func (r *chartRenderer) Destroy() {}

func (r *chartRenderer) MinSize() fyne.Size { return fyne.NewSize(320, 200) }

func (r *chartRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *chartRenderer) Refresh() {
	fg := theme.Color(theme.ColorNameForeground)
	subtle := theme.Color(theme.ColorNamePlaceHolder)
	r.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.bg.CornerRadius = theme.InputRadiusSize()
	r.title.Color = fg
	r.title.TextSize = theme.TextSize()
	r.empty.Color = subtle
	for _, g := range r.grid {
		g.StrokeColor = theme.Color(theme.ColorNameSeparator)
		g.StrokeWidth = 1
	}
	for _, t := range append(append([]*canvas.Text{}, r.ylabels...), r.xStart, r.xEnd) {
		t.Color = subtle
		t.TextSize = theme.CaptionTextSize()
	}
	r.legend = r.legend[:0]
	r.lines = r.lines[:0]
	for _, s := range r.c.series {
		col := theme.Color(s.color)
		sw := canvas.NewRectangle(col)
		sw.SetMinSize(fyne.NewSize(10, 10))
		txt := canvas.NewText(s.name, fg)
		txt.TextSize = theme.CaptionTextSize()
		r.legend = append(r.legend, sw, txt)
		n := min(len(r.c.times), maxChartPoints)
		var segs []*canvas.Line
		for i := 1; i < n; i++ {
			l := canvas.NewLine(col)
			l.StrokeWidth = 2
			segs = append(segs, l)
		}
		r.lines = append(r.lines, segs)
	}
	r.objects = []fyne.CanvasObject{r.bg, r.title}
	for _, g := range r.grid {
		r.objects = append(r.objects, g)
	}
	for _, t := range r.ylabels {
		r.objects = append(r.objects, t)
	}
	r.objects = append(r.objects, r.xStart, r.xEnd)
	r.objects = append(r.objects, r.legend...)
	for _, segs := range r.lines {
		for _, l := range segs {
			r.objects = append(r.objects, l)
		}
	}
	if len(r.c.times) < 2 {
		r.objects = append(r.objects, r.empty)
	}
	r.Layout(r.size)
	canvas.Refresh(r.c)
}

// minSpan is the narrowest time axis: a fresh feed fills a minute before it scrolls.
const minSpan = time.Minute

// span is the time axis: the data's own span rounded up to a whole minute, between a minute
// and the window, so a chart that just started is not a sliver at the right edge.
func (c *lineChart) span() time.Duration {
	if len(c.times) < 2 {
		return c.window
	}
	d := c.times[len(c.times)-1].Sub(c.times[0])
	d = (d + time.Minute - 1).Truncate(time.Minute)
	return min(max(d, minSpan), c.window)
}

func spanLabel(d time.Duration) string {
	return strconv.Itoa(int(d.Round(time.Minute).Minutes())) + " min"
}

// gridSteps is how many bands the y axis has.
const gridSteps = 4

// niceMax is the top of the y axis: gridSteps bands of 1, 2, 2.5 or 5 × 10^n, so the labels
// read well; whole-number series (connections) get bands of at least 1.
func niceMax(v float64, whole bool) float64 {
	if v <= 0 {
		v = 1
	}
	raw := v / gridSteps
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * p
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*p {
			step = m * p
			break
		}
	}
	if whole {
		step = math.Max(math.Ceil(step), 1)
	}
	return step * gridSteps
}

func formatTick(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// downsample picks n evenly spaced indexes, always keeping the newest sample.
func downsample(total, n int) []int {
	if total <= n {
		out := make([]int, total)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, n)
	for i := range n {
		out[i] = int(math.Round(float64(i) * float64(total-1) / float64(n-1)))
	}
	return out
}

func (r *chartRenderer) Layout(size fyne.Size) {
	r.size = size
	r.bg.Resize(size)
	r.bg.Move(fyne.NewPos(0, 0))
	r.title.Move(fyne.NewPos(10, 6))
	r.title.Resize(r.title.MinSize())

	// Legend under the title, left to right.
	x := float32(10)
	for i := 0; i+1 < len(r.legend); i += 2 {
		sw, txt := r.legend[i], r.legend[i+1]
		ts := txt.MinSize()
		sw.Resize(fyne.NewSize(10, 10))
		sw.Move(fyne.NewPos(x, 28+(ts.Height-10)/2))
		txt.Resize(ts)
		txt.Move(fyne.NewPos(x+14, 28))
		x += 14 + ts.Width + 14
	}

	plotX, plotY := float32(chartPadLeft), float32(chartPadTop)
	plotW := max(size.Width-chartPadLeft-chartPadRight, 1)
	plotH := max(size.Height-chartPadTop-chartPadBottom, 1)

	top := 0.0
	for _, s := range r.c.series {
		for _, v := range s.values {
			top = max(top, v)
		}
	}
	top = niceMax(top, r.c.whole)
	for i, g := range r.grid {
		y := plotY + plotH*float32(i)/float32(len(r.grid)-1)
		g.Position1 = fyne.NewPos(plotX, y)
		g.Position2 = fyne.NewPos(plotX+plotW, y)
		lbl := r.ylabels[i]
		lbl.Text = formatTick(top * float64(len(r.grid)-1-i) / float64(len(r.grid)-1))
		if i == 0 && r.c.unit != "" {
			lbl.Text += " " + r.c.unit
		}
		ls := lbl.MinSize()
		lbl.Resize(ls)
		lbl.Move(fyne.NewPos(plotX-ls.Width-6, y-ls.Height/2))
	}
	xs := r.xStart.MinSize()
	r.xStart.Resize(xs)
	r.xStart.Move(fyne.NewPos(plotX, plotY+plotH+4))
	xe := r.xEnd.MinSize()
	r.xEnd.Resize(xe)
	r.xEnd.Move(fyne.NewPos(plotX+plotW-xe.Width, plotY+plotH+4))
	es := r.empty.MinSize()
	r.empty.Resize(es)
	r.empty.Move(fyne.NewPos(plotX+(plotW-es.Width)/2, plotY+(plotH-es.Height)/2))

	times := r.c.times
	span := r.c.span()
	r.xStart.Text = "−" + spanLabel(span)
	xs = r.xStart.MinSize()
	r.xStart.Resize(xs)
	if len(times) < 2 {
		return
	}
	end := times[len(times)-1]
	idx := downsample(len(times), maxChartPoints)
	px := func(t time.Time) float32 {
		f := 1 - float32(end.Sub(t))/float32(span)
		return plotX + plotW*max(min(f, 1), 0)
	}
	py := func(v float64) float32 { return plotY + plotH*(1-float32(v/top)) }
	for si, s := range r.c.series {
		segs := r.lines[si]
		for k := 1; k < len(idx) && k-1 < len(segs); k++ {
			a, b := idx[k-1], idx[k]
			segs[k-1].Position1 = fyne.NewPos(px(times[a]), py(s.values[a]))
			segs[k-1].Position2 = fyne.NewPos(px(times[b]), py(s.values[b]))
		}
	}
}
