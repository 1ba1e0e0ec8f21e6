package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"

	"gatehouse/desktop/internal/state"
	"gatehouse/desktop/internal/ui"
)

// runTour signs in with GATEHOUSE_CONSOLE_SERVER/EMAIL/PASSWORD, visits every screen and saves
// a PNG of the window for each into dir (make screenshots: it captures the window when told).
// GATEHOUSE_TOUR_USER names the user to open, GATEHOUSE_TOUR_SECRET the secret to reveal. It
// quits the app at the end; a failure is printed and exits non-zero.
func runTour(a fyne.App, w fyne.Window, c *ui.Console, dir string) {
	fail := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "screenshot tour: "+format+"\n", args...)
		os.Exit(1)
	}
	server, email, password := os.Getenv("GATEHOUSE_CONSOLE_SERVER"), os.Getenv("GATEHOUSE_CONSOLE_EMAIL"), os.Getenv("GATEHOUSE_CONSOLE_PASSWORD")
	if server == "" || email == "" || password == "" {
		fail("set GATEHOUSE_CONSOLE_SERVER, GATEHOUSE_CONSOLE_EMAIL and GATEHOUSE_CONSOLE_PASSWORD")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		fail("%v", err)
	}
	do := func(fn func()) { fyne.DoAndWait(fn) }
	pause := func(d time.Duration) { time.Sleep(d) }
	idle := func() {
		pause(300 * time.Millisecond)
		for range 300 {
			var busy bool
			do(func() { busy = c.Busy() })
			if !busy {
				pause(500 * time.Millisecond) // let the last frame paint
				return
			}
			pause(100 * time.Millisecond)
		}
		fail("the console stayed busy")
	}
	// The window is captured from outside (ImageMagick's import in scripts/screenshots.sh):
	// a GL read-back is blank under Xvfb's software renderer. The tour names the file on
	// stdout and waits for one line on stdin once it is written.
	answers := bufio.NewScanner(os.Stdin)
	shot := func(name string) {
		path := filepath.Join(dir, name)
		fmt.Println("shot", path)
		if !answers.Scan() {
			fail("no answer for %s on standard input", path)
		}
	}
	check := func() {
		var p state.Problem
		do(func() { p = c.Problem() })
		if p.Code != "" {
			fail("the console shows an error: %s (%s)", p.Message, p.Code)
		}
	}

	pause(1500 * time.Millisecond) // the window maps and paints
	do(func() {
		c.TourTheme(false)
		c.TourSignIn(server, email, password, false)
	})
	pause(2 * time.Second) // the server's sign-in providers load once typing pauses
	shot("01-sign-in.png")

	// The second-factor step, with an account that has an authenticator (when the script names
	// one), then back to the administrator.
	if mfaEmail, mfaPass := os.Getenv("GATEHOUSE_TOUR_MFA_EMAIL"), os.Getenv("GATEHOUSE_TOUR_MFA_PASSWORD"); mfaEmail != "" {
		do(func() { c.TourSignIn(server, mfaEmail, mfaPass, true) })
		idle()
		check()
		var asked bool
		do(func() { asked = c.SecondFactorShown() })
		if !asked {
			fail("%s was not asked for a second factor", mfaEmail)
		}
		shot("02-second-factor.png")
		do(c.TourBack)
	}

	do(func() { c.TourSignIn(server, email, password, true) })
	idle()
	check()
	var in bool
	do(func() { in = c.SignedIn() })
	if !in {
		fail("not signed in")
	}
	pause(20 * time.Second) // twenty pool samples
	shot("03-dashboard.png")

	do(func() { c.TourScreen(state.ScreenUsers) })
	idle()
	do(func() { c.TourOpenUser(os.Getenv("GATEHOUSE_TOUR_USER")) })
	idle()
	idle()
	check()
	shot("04-users.png")

	var opened bool
	do(func() { opened = c.TourResetDialog("Lost phone; identity checked on a video call (ticket 4711)") })
	if opened {
		pause(500 * time.Millisecond)
		shot("05-reset-mfa.png")
		do(c.TourCloseDialogs)
	} else {
		fmt.Println("skipped 05-reset-mfa.png: this server does not report second factors")
	}

	do(func() { c.TourScreen(state.ScreenEvents) })
	idle()
	do(func() { c.TourSelectEvent(0) })
	pause(500 * time.Millisecond)
	check()
	shot("06-events.png")

	if os.Getenv("GATEHOUSE_TOUR_SECRET") != "" {
		do(func() { c.TourScreen(state.ScreenSecrets) })
		idle()
		do(func() { c.TourOpenSecret(os.Getenv("GATEHOUSE_TOUR_SECRET")) })
		idle()
		idle()
		var revealed bool
		do(func() { revealed = c.TourRevealSecret() })
		if !revealed {
			fail("no secret to reveal")
		}
		idle()
		check()
		shot("08-secrets.png")
		do(c.TourHideSecret)

		do(c.TourDeletedSecrets)
		idle()
		pause(300 * time.Millisecond)
		check()
		shot("09-secrets-deleted.png")
		do(c.TourLiveSecrets)
		idle()

		do(func() { c.TourScreen(state.ScreenAudit) })
		idle()
		do(func() { c.TourSelectAudit(0) })
		pause(500 * time.Millisecond)
		check()
		shot("10-secret-audit.png")
	}

	var providers bool
	do(func() { providers = c.TourScreen(state.ScreenProviders) })
	if providers {
		idle()
		do(func() { c.TourSelectProvider(os.Getenv("GATEHOUSE_TOUR_PROVIDER")) })
		pause(500 * time.Millisecond)
		check()
		shot("11-providers.png")
	}

	do(func() {
		c.TourTheme(true)
		c.TourScreen(state.ScreenDashboard)
	})
	pause(1500 * time.Millisecond)
	shot("07-dashboard-dark.png")

	do(a.Quit)
}
