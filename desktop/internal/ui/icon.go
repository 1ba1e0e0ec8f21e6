package ui

import (
	"fyne.io/fyne/v2"

	"gatehouse/desktop/assets"
)

var iconResource = fyne.NewStaticResource("gatehouse.png", assets.Icon)

// appIcon is the Gatehouse icon (also the window's icon, set by cmd/console).
func appIcon() fyne.Resource { return iconResource }

// AppIcon is the Gatehouse icon for cmd/console.
func AppIcon() fyne.Resource { return iconResource }
