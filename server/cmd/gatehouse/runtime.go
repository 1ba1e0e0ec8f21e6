package main

import (
	"log/slog"
	"runtime/debug"
	"strings"

	"gatehouse/server/internal/config"
)

// tuneRuntime applies runtime.gc_percent and returns the GC target in effect. A GOGC variable
// wins: the Go runtime has already applied it, and an operator who set it meant it.
func tuneRuntime(rt config.Runtime, environ []string, logger *slog.Logger) int {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GOGC="); ok {
			logger.Info("runtime.gc_percent not applied: GOGC is set", "gogc", v)
			return currentGCPercent()
		}
	}
	debug.SetGCPercent(rt.GCPercent)
	return rt.GCPercent
}

// currentGCPercent reads the GC target, which the runtime only reports by swapping it.
func currentGCPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}
