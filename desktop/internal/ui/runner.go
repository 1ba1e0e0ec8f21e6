// Package ui is the console's screens and widgets. Widgets call into internal/state; every
// server call runs off the UI thread through a Runner, and its result is applied on the UI
// thread with fyne.Do. The package never imports fyne's app driver, so its tests run headless
// with fyne.io/fyne/v2/test.
package ui

import "fyne.io/fyne/v2"

// Runner moves work off the UI thread and its results back onto it.
type Runner interface {
	// Go runs work on a goroutine, then done on the UI thread.
	Go(work, done func())
	// Loop runs a long-lived loop on a goroutine; post applies a UI update on the UI thread.
	Loop(loop func(post func(func())))
}

// goRunner is the production Runner.
type goRunner struct{}

func (goRunner) Go(work, done func()) {
	go func() {
		work()
		fyne.Do(done)
	}()
}

func (goRunner) Loop(loop func(post func(func()))) { go loop(fyne.Do) }
