package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// consoleTheme is the default theme with a chosen light or dark variant (or the system's).
type consoleTheme struct {
	fyne.Theme
	variant fyne.ThemeVariant
	forced  bool
}

func newTheme(dark, forced bool) fyne.Theme {
	v := theme.VariantLight
	if dark {
		v = theme.VariantDark
	}
	return &consoleTheme{Theme: theme.DefaultTheme(), variant: v, forced: forced}
}

func (t *consoleTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.forced {
		v = t.variant
	}
	return t.Theme.Color(n, v)
}

// isDark reports the variant the window shows now.
func isDark(a fyne.App) bool {
	if t, ok := a.Settings().Theme().(*consoleTheme); ok && t.forced {
		return t.variant == theme.VariantDark
	}
	return a.Settings().ThemeVariant() == theme.VariantDark
}
