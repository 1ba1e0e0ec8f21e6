package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"

	"gatehouse/server/internal/password"
)

// Limits of `gatehouse bench hash`. Each goroutine holds argon2id's memory (19 MiB by default)
// while it hashes, so the concurrency is capped well below what would exhaust a small machine.
const (
	benchMaxConcurrency = 256
	benchMaxDuration    = 5 * time.Minute
)

// benchPassword is what the raw baseline hashes; its length does not change argon2id's cost.
const benchPassword = "correct horse battery staple"

// benchCmd runs `gatehouse bench hash`, the raw argon2id baseline of `make bench`: the login
// endpoints are measured against it (docs/benchmarks.md).
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 || args[0] != "hash" {
		return errUsage
	}
	opts := hashBenchOptions{concurrency: runtime.GOMAXPROCS(0)}
	var jsonOut bool
	cfg, rest, err := loadConfig("bench hash", args[1:], stderr, environ, func(fs *flag.FlagSet) {
		fs.IntVar(&opts.concurrency, "concurrency", opts.concurrency, "goroutines hashing at once (default: GOMAXPROCS)")
		fs.DurationVar(&opts.duration, "duration", 10*time.Second, "measured time (at most 5m)")
		fs.DurationVar(&opts.warmup, "warmup", time.Second, "unmeasured warm-up before it")
		fs.StringVar(&opts.label, "label", "", "name shown in the output (default: \"argon2id hash, N goroutines\")")
		fs.BoolVar(&jsonOut, "json", false, "print one JSON object (the shape of `load -json`, for `load -summary`)")
	})
	if err != nil {
		return err
	}
	var problems []string
	if len(rest) > 0 {
		problems = append(problems, fmt.Sprintf("unexpected arguments %q", rest))
	}
	if opts.concurrency < 1 || opts.concurrency > benchMaxConcurrency {
		problems = append(problems, fmt.Sprintf("--concurrency %d is not between 1 and %d", opts.concurrency, benchMaxConcurrency))
	}
	if opts.duration <= 0 || opts.duration > benchMaxDuration {
		problems = append(problems, fmt.Sprintf("--duration %s must be above 0 and at most %s", opts.duration, benchMaxDuration))
	}
	if opts.warmup < 0 || opts.warmup > benchMaxDuration {
		problems = append(problems, fmt.Sprintf("--warmup %s must be from 0 to %s", opts.warmup, benchMaxDuration))
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintf(stderr, "gatehouse bench hash: %s\n", p)
		}
		return errUsage
	}

	// The server's parameters: DefaultParams with the configured cost (see app.wireAccounts),
	// so GATEHOUSE_ARGON2_* apply here exactly as they do to `serve`.
	opts.params = password.DefaultParams()
	opts.params.MemoryKiB = cfg.Password.MemoryKiB
	opts.params.Iterations = cfg.Password.Iterations
	opts.params.Parallelism = cfg.Password.Parallelism
	if err := opts.params.Validate(); err != nil {
		return err
	}
	if opts.label == "" {
		opts.label = fmt.Sprintf("argon2id hash, %d goroutines", opts.concurrency)
	}
	// The server's garbage-collector target too: each hash allocates and drops m KiB, so the
	// collector's pace is part of what a hash costs, on either side of the comparison.
	opts.gcPercent = tuneRuntime(cfg.Runtime, environ, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	res, err := runHashBench(ctx, opts)
	if err != nil {
		return err
	}
	if jsonOut {
		return json.NewEncoder(stdout).Encode(res)
	}
	_, err = io.WriteString(stdout, res.text())
	return err
}

// hashBenchOptions configures one raw hashing run.
type hashBenchOptions struct {
	params      password.Params
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	label       string
	gcPercent   int
}

// hashBenchResult is one run's outcome. Its JSON names are those of the load tool's results
// (scripts/load), so `load -summary` prints it as a row: a "request" is one hash.
type hashBenchResult struct {
	Label             string  `json:"label"`
	Clients           int     `json:"clients"`
	DurationS         float64 `json:"duration_s"`
	WarmupS           float64 `json:"warmup_s"`
	Requests          int64   `json:"requests"`
	RequestsPerSecond float64 `json:"requests_per_second"`
	MinMS             float64 `json:"min_ms"`
	MeanMS            float64 `json:"mean_ms"`
	P50MS             float64 `json:"p50_ms"`
	P90MS             float64 `json:"p90_ms"`
	P99MS             float64 `json:"p99_ms"`
	MaxMS             float64 `json:"max_ms"`
	Errors            int64   `json:"errors"`
	ErrorRate         float64 `json:"error_rate"`
	Samples           int     `json:"samples"`

	MemoryKiB   uint32 `json:"memory_kib"`
	Iterations  uint32 `json:"iterations"`
	Parallelism uint8  `json:"parallelism"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	GCPercent   int    `json:"gc_percent"`

	duration, warmup time.Duration
}

// runHashBench hashes on opts.concurrency goroutines for the warm-up and then the measured
// window, calling argon2id directly: no semaphore, no database, no HTTP. It counts what the
// load tool counts: a hash started after the warm-up and finished inside the window. argon2id
// cannot be interrupted, so the run ends up to one hash after the window closes.
func runHashBench(ctx context.Context, opts hashBenchOptions) (*hashBenchResult, error) {
	lib := &argon2id.Params{
		Memory: opts.params.MemoryKiB, Iterations: opts.params.Iterations, Parallelism: opts.params.Parallelism,
		SaltLength: opts.params.SaltLength, KeyLength: opts.params.KeyLength,
	}
	start := time.Now()
	measureFrom := start.Add(opts.warmup)
	end := measureFrom.Add(opts.duration)

	var (
		wg   sync.WaitGroup
		perG = make([][]time.Duration, opts.concurrency) // each goroutine's measured latencies
		errs = make([]error, opts.concurrency)
	)
	for i := range perG {
		wg.Go(func() {
			var lat []time.Duration
			for ctx.Err() == nil {
				began := time.Now()
				if !began.Before(end) {
					break
				}
				if _, err := argon2id.CreateHash(benchPassword, lib); err != nil {
					errs[i] = fmt.Errorf("argon2id: %w", err)
					return
				}
				if finished := time.Now(); !began.Before(measureFrom) && !finished.After(end) {
					lat = append(lat, finished.Sub(began))
				}
			}
			perG[i] = lat
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}

	var all []time.Duration
	for _, lat := range perG {
		all = append(all, lat...)
	}
	slices.Sort(all)
	res := &hashBenchResult{
		Label: opts.label, Clients: opts.concurrency,
		DurationS: opts.duration.Seconds(), WarmupS: opts.warmup.Seconds(),
		Requests: int64(len(all)), RequestsPerSecond: float64(len(all)) / opts.duration.Seconds(),
		Samples:   len(all),
		MemoryKiB: opts.params.MemoryKiB, Iterations: opts.params.Iterations, Parallelism: opts.params.Parallelism,
		GOMAXPROCS: runtime.GOMAXPROCS(0), GCPercent: opts.gcPercent,
		duration: opts.duration, warmup: opts.warmup,
	}
	if len(all) > 0 {
		var total time.Duration
		for _, d := range all {
			total += d
		}
		res.MinMS, res.MaxMS = millis(all[0]), millis(all[len(all)-1])
		res.MeanMS = millis(total / time.Duration(len(all)))
		res.P50MS, res.P90MS, res.P99MS = millis(nearestRank(all, 50)), millis(nearestRank(all, 90)), millis(nearestRank(all, 99))
	}
	return res, nil
}

// nearestRank is the p-th percentile of sorted (non-empty) by the nearest-rank method, as the
// load tool computes it.
func nearestRank(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// text is the result for people.
func (r *hashBenchResult) text() string {
	return fmt.Sprintf(`%s
  argon2id   m=%d KiB t=%d p=%d, GOMAXPROCS %d, GOGC %d
  duration   %s (after %s warm-up)
  hashes     %d (%.1f hashes/s)
  latency    p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms
`, r.Label, r.MemoryKiB, r.Iterations, r.Parallelism, r.GOMAXPROCS, r.GCPercent,
		r.duration, r.warmup,
		r.Requests, r.RequestsPerSecond, r.P50MS, r.P90MS, r.P99MS, r.MaxMS)
}
