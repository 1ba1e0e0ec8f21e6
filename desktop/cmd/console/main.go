// Command console is the Gatehouse desktop console for security officers and support staff.
// It is the only package that creates the Fyne app (and so needs the GL driver).
package main

import (
	"flag"
	"fmt"
	"os"

	"fyne.io/fyne/v2/app"

	"gatehouse/desktop/internal/remote"
	"gatehouse/desktop/internal/state"
	"gatehouse/desktop/internal/ui"
)

// AppID names the console for preferences and desktop integration (also in FyneApp.toml).
const AppID = "org.gatehouse.console"

func main() {
	fs := flag.NewFlagSet("console", flag.ExitOnError)
	server := fs.String("server", "", "server to offer on the sign-in screen, e.g. http://127.0.0.1:8080")
	tour := fs.String("screenshot-tour", "", "")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: console [--server URL]")
		fmt.Fprintln(fs.Output(), "  --server URL   server to offer on the sign-in screen")
	}
	_ = fs.Parse(os.Args[1:])

	a := app.NewWithID(AppID)
	a.SetIcon(ui.AppIcon())
	w := a.NewWindow("Gatehouse Console")
	c := ui.New(a, w, ui.Options{
		Session:  state.NewSession(remote.Dial),
		Settings: state.NewSettings(a.Preferences()),
	})
	c.Start()
	c.Prefill(*server, "")
	if *tour != "" {
		go runTour(a, w, c, *tour)
	}
	w.ShowAndRun()
	c.Close()
}
