// Package buildinfo carries the version stamped into the binary at link time
// (-ldflags "-X gatehouse/server/internal/buildinfo.Version=...").
package buildinfo

import (
	"runtime"
	"runtime/debug"

	"gatehouse/shared/api"
)

// Set by the linker; see the Makefile.
var (
	Version   = "dev"
	Commit    = ""
	BuildDate = ""
)

// Get returns the build information, falling back to what the Go toolchain recorded.
func Get() api.Version {
	v := api.Version{Version: Version, Commit: Commit, BuildDate: BuildDate, GoVersion: runtime.Version()}
	if v.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					v.Commit = s.Value
				}
			}
		}
	}
	return v
}
