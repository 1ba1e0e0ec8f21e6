package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// fixedWidth lays its objects out stacked at a fixed width (forms that should not stretch
// across a wide window).
type fixedWidth struct{ width float32 }

func (l fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		if o.Visible() {
			h = max(h, o.MinSize().Height)
		}
	}
	return fyne.NewSize(l.width, h)
}

func (l fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

// minSize makes an object at least w×h (tables collapse to one row, selects truncate).
type minSize struct{ size fyne.Size }

func (l minSize) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := l.size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (l minSize) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Resize(size)
		o.Move(fyne.NewPos(0, 0))
	}
}

func withMinHeight(h float32, o fyne.CanvasObject) *fyne.Container {
	return container.New(minSize{fyne.NewSize(0, h)}, o)
}

func withMinWidth(w float32, o fyne.CanvasObject) *fyne.Container {
	return container.New(minSize{fyne.NewSize(w, 0)}, o)
}

// panel is content on a rounded background that follows the theme (a canvas rectangle with a
// fixed colour would stay light in the dark theme).
type panel struct {
	widget.BaseWidget
	content fyne.CanvasObject
	color   fyne.ThemeColorName
	radius  float32
}

func newPanel(color fyne.ThemeColorName, radius float32, content fyne.CanvasObject) *panel {
	p := &panel{content: content, color: color, radius: radius}
	p.ExtendBaseWidget(p)
	return p
}

func (p *panel) CreateRenderer() fyne.WidgetRenderer {
	r := &panelRenderer{p: p, bg: canvas.NewRectangle(theme.Color(p.color))}
	r.Refresh()
	return r
}

type panelRenderer struct {
	p  *panel
	bg *canvas.Rectangle
}

func (r *panelRenderer) Destroy() {}

func (r *panelRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.p.content.Resize(size)
	r.p.content.Move(fyne.NewPos(0, 0))
}

func (r *panelRenderer) MinSize() fyne.Size { return r.p.content.MinSize() }

func (r *panelRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.bg, r.p.content}
}

func (r *panelRenderer) Refresh() {
	r.bg.FillColor = theme.Color(r.p.color)
	r.bg.CornerRadius = r.p.radius
	r.bg.Refresh()
	r.p.content.Refresh()
}

// note is secondary text: readable, quieter than a label, and following the theme. It is a
// RichText with one segment (setNote, noteText).
type note = widget.RichText

func newNote(text string) *note {
	rt := widget.NewRichText(&widget.TextSegment{Text: text, Style: widget.RichTextStyle{ColorName: theme.ColorNamePlaceHolder}})
	rt.Wrapping = fyne.TextWrapWord
	return rt
}

func noteSegment(n *note) *widget.TextSegment { return n.Segments[0].(*widget.TextSegment) }

// setNote replaces a note's text.
func setNote(n *note, text string) {
	noteSegment(n).Text = text
	n.Refresh()
}

// noteText is a note's text.
func noteText(n *note) string { return noteSegment(n).Text }

// muted is secondary text (see note).
func muted(text string) *note { return newNote(text) }

// heading is a section title.
func heading(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.TextStyle = fyne.TextStyle{Bold: true}
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// section is a titled panel: a heading, an optional line under it, and the content.
func section(title string, subtitle fyne.CanvasObject, content fyne.CanvasObject) fyne.CanvasObject {
	head := fyne.CanvasObject(heading(title))
	if subtitle != nil {
		head = container.NewBorder(nil, nil, head, subtitle)
	}
	return newPanel(theme.ColorNameInputBackground, theme.InputRadiusSize()*2,
		container.NewPadded(container.NewBorder(head, nil, nil, nil, content)))
}

// keyValue lays out label/value pairs in two columns: quiet keys, selectable values.
func keyValue(pairs ...string) *fyne.Container {
	objs := make([]fyne.CanvasObject, 0, len(pairs))
	for i := 0; i+1 < len(pairs); i += 2 {
		k := newNote(pairs[i])
		k.Wrapping = fyne.TextWrapOff
		v := widget.NewLabel(pairs[i+1])
		v.Wrapping = fyne.TextWrapBreak
		v.Selectable = true
		objs = append(objs, k, v)
	}
	return container.New(&formLayout{}, objs...)
}

// formLayout: a fixed label column (its widest label) and a stretching value column.
type formLayout struct{}

func (formLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	lw, vw, h := float32(0), float32(0), float32(0)
	for i := 0; i+1 < len(objs); i += 2 {
		lm, vm := objs[i].MinSize(), objs[i+1].MinSize()
		lw, vw = max(lw, lm.Width), max(vw, vm.Width)
		h += max(lm.Height, vm.Height)
	}
	return fyne.NewSize(lw+vw, h)
}

func (formLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	lw := float32(0)
	for i := 0; i+1 < len(objs); i += 2 {
		lw = max(lw, objs[i].MinSize().Width)
	}
	y := float32(0)
	for i := 0; i+1 < len(objs); i += 2 {
		vw := max(size.Width-lw, 0)
		objs[i+1].Resize(fyne.NewSize(vw, objs[i+1].MinSize().Height))
		h := max(objs[i].MinSize().Height, objs[i+1].MinSize().Height)
		objs[i].Move(fyne.NewPos(0, y))
		objs[i].Resize(fyne.NewSize(lw, h))
		objs[i+1].Move(fyne.NewPos(lw, y))
		objs[i+1].Resize(fyne.NewSize(vw, h))
		y += h
	}
}
