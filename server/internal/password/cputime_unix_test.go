//go:build unix

package password

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process has used, user plus system. The
// benchmarks report it per hash because wall-clock rates on a shared 2-core
// machine measure the neighbours as much as the code.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
