package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
)

// problemView is the one way the console shows an error: the server's message, its code and
// the request ID, on a tinted strip. The window has one (the banner) and each dialog that can
// fail has its own, so an error appears once, where the action was taken.
type problemView struct {
	widget.BaseWidget
	message *widget.Label
	detail  *widget.Label
	close   *widget.Button
	bg      *canvas.Rectangle
	shown   state.Problem
}

func newProblemView(closable bool) *problemView {
	p := &problemView{
		message: widget.NewLabel(""),
		detail:  widget.NewLabel(""),
		bg:      canvas.NewRectangle(color.Transparent),
	}
	p.message.Wrapping = fyne.TextWrapWord
	p.message.TextStyle = fyne.TextStyle{Bold: true}
	p.detail.TextStyle = fyne.TextStyle{Monospace: true}
	p.detail.SizeName = theme.SizeNameCaptionText
	if closable {
		p.close = widget.NewButtonWithIcon("", theme.CancelIcon(), p.Clear)
		p.close.Importance = widget.LowImportance
	}
	p.ExtendBaseWidget(p)
	p.Hide()
	return p
}

func (p *problemView) CreateRenderer() fyne.WidgetRenderer {
	icon := widget.NewIcon(theme.NewErrorThemedResource(theme.ErrorIcon()))
	text := container.NewVBox(p.message, p.detail)
	var right fyne.CanvasObject
	if p.close != nil {
		right = container.NewVBox(p.close)
	}
	row := container.NewBorder(nil, nil, container.NewPadded(icon), right, text)
	p.bg.CornerRadius = theme.InputRadiusSize()
	return widget.NewSimpleRenderer(container.NewStack(p.bg, row))
}

func (p *problemView) Refresh() {
	tint := color.NRGBAModel.Convert(theme.Color(theme.ColorNameError)).(color.NRGBA)
	tint.A = 0x33
	p.bg.FillColor = tint
	p.bg.Refresh()
	p.BaseWidget.Refresh()
}

// Report displays a problem (replacing the previous one: never a stack of old errors).
func (p *problemView) Report(pr state.Problem) {
	p.shown = pr
	p.message.SetText(pr.Message)
	d := "code: " + pr.Code
	if pr.RequestID != "" {
		d += "  ·  request: " + pr.RequestID
	}
	p.detail.SetText(d)
	p.Refresh()
	p.Show()
}

// Clear hides the problem.
func (p *problemView) Clear() {
	p.shown = state.Problem{}
	p.Hide()
}

// Problem is what is shown ("" code when nothing).
func (p *problemView) Problem() state.Problem { return p.shown }
