package ui

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"gatehouse/desktop/internal/state"
)

// stepUpDialog asks for a second factor when an action needs aal2, then retries the action.
// Its own problem strip shows a wrong code, so the error appears where the code was typed.
type stepUpDialog struct {
	c       *Console
	dlg     *dialog.CustomDialog
	factor  *widget.Select
	byLabel map[string]string
	send    *widget.Button
	code    *widget.Entry
	verify  *widget.Button
	cancel  *widget.Button
	problem *problemView
	done    bool
}

// askStepUp opens the dialog; retry runs after a successful step-up, gaveUp after Cancel.
func (c *Console) askStepUp(retry, gaveUp func()) {
	d := &stepUpDialog{c: c, byLabel: map[string]string{}}
	d.factor = widget.NewSelect(nil, func(string) { d.factorChanged() })
	d.send = widget.NewButtonWithIcon("Send code", theme.MailSendIcon(), d.sendCode)
	d.code = widget.NewEntry()
	d.code.SetPlaceHolder("Code")
	d.problem = newProblemView(false)
	d.verify = widget.NewButtonWithIcon("Verify", theme.ConfirmIcon(), func() { d.submit(retry) })
	d.verify.Importance = widget.HighImportance
	d.code.OnSubmitted = func(string) { d.submit(retry) }
	d.cancel = widget.NewButton("Cancel", func() {
		d.dlg.Hide()
		if !d.done {
			gaveUp()
		}
	})
	intro := muted("This action needs a second factor. Confirm it is you to continue.")
	content := container.NewVBox(intro, d.problem,
		widget.NewForm(widget.NewFormItem("Factor", container.NewBorder(nil, nil, nil, d.send, d.factor)),
			widget.NewFormItem("Code", d.code)))
	d.dlg = dialog.NewCustomWithoutButtons("Confirm it's you", content, c.win)
	d.dlg.SetButtons([]fyne.CanvasObject{d.cancel, d.verify})
	d.dlg.Resize(fyne.NewSize(460, 0))
	c.stepUp = d
	d.dlg.Show()

	var factors []string
	c.call("Looking up your factors", func(ctx context.Context) error {
		factors = c.opt.Session.StepUpFactors(ctx)
		return nil
	}, func(error) {
		labels := make([]string, 0, len(factors))
		for _, f := range factors {
			l := state.FactorLabel(f)
			d.byLabel[l] = f
			labels = append(labels, l)
		}
		d.factor.SetOptions(labels)
		if len(labels) > 0 {
			d.factor.SetSelectedIndex(0)
		}
		c.win.Canvas().Focus(d.code)
	})
}

func (d *stepUpDialog) selected() string { return d.byLabel[d.factor.Selected] }

func (d *stepUpDialog) factorChanged() {
	if state.FactorSendsCode(d.selected()) {
		d.send.Show()
	} else {
		d.send.Hide()
	}
}

func (d *stepUpDialog) sendCode() {
	f := d.selected()
	d.problem.Clear()
	d.send.Disable()
	d.run("Sending the code", func(ctx context.Context) error { return d.c.opt.Session.SendStepUpCode(ctx, f) }, func(err error) {
		d.send.Enable()
		if err == nil {
			d.c.say("Code sent by " + state.FactorLabel(f) + ".")
		}
	})
}

func (d *stepUpDialog) submit(retry func()) {
	f, code := d.selected(), d.code.Text
	d.problem.Clear()
	d.verify.Disable()
	d.run("Verifying", func(ctx context.Context) error { return d.c.opt.Session.StepUp(ctx, f, code) }, func(err error) {
		d.verify.Enable()
		d.code.SetText("")
		if err != nil {
			return
		}
		d.done = true
		d.dlg.Hide()
		d.c.refreshStatus()
		retry()
	})
}

// run is Console.call with the dialog's own problem strip (a 401 still goes to sign-in).
func (d *stepUpDialog) run(label string, work func(context.Context) error, done func(error)) {
	end := d.c.activity.Begin(label)
	d.c.refreshStatus()
	var err error
	d.c.opt.Runner.Go(func() { err = work(context.Background()) }, func() {
		end()
		d.c.refreshStatus()
		if state.IsUnauthorized(err) && d.c.opt.Session.Stage() == state.SignedIn {
			d.dlg.Hide()
			d.c.expire(nil)
			return
		}
		if err != nil {
			d.problem.Report(state.Describe(err))
		}
		done(err)
	})
}
