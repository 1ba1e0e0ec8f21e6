package password

import (
	"context"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

// The benchmarks use the production parameters (DefaultParams). HashRaw is
// the baseline the accounts issue compares login throughput against: the
// library called directly, no semaphore. HasherHash and HasherParallel show
// what the semaphore costs; HashRawParallel is the raw rate on all cores.
// Run with -cpu 1,2: each benchmark builds its Hasher after -cpu has set
// GOMAXPROCS, so the default bound matches the cores in use.

const benchPassword = "correct horse battery staple"

// reportRate adds hashes/s (wall clock) and cpu-ms/hash (process CPU time
// since cpu0, all goroutines and GC included) to the benchmark's output.
func reportRate(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
	b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/hash")
}

func BenchmarkHashRaw(b *testing.B) {
	p := DefaultParams().lib()
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := argon2id.CreateHash(benchPassword, p); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, cpu0)
}

func BenchmarkHashRawParallel(b *testing.B) {
	p := DefaultParams().lib()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := argon2id.CreateHash(benchPassword, p); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, cpu0)
}

func BenchmarkHasherHash(b *testing.B) {
	h := newHasherT(b, DefaultParams(), 0)
	ctx := context.Background()
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := h.Hash(ctx, benchPassword); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, cpu0)
}

func BenchmarkHasherParallel(b *testing.B) {
	h := newHasherT(b, DefaultParams(), 0)
	ctx := context.Background()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, benchPassword); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b, cpu0)
}
