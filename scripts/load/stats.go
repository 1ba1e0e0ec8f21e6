package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// result is one run's outcome; its JSON form is what -json prints and -summary reads.
type result struct {
	Label             string           `json:"label"`
	Clients           int              `json:"clients"`
	DurationS         float64          `json:"duration_s"` // the measured window, warm-up excluded
	WarmupS           float64          `json:"warmup_s"`
	Requests          int64            `json:"requests"`
	RequestsPerSecond float64          `json:"requests_per_second"`
	MinMS             float64          `json:"min_ms"`
	MeanMS            float64          `json:"mean_ms"`
	P50MS             float64          `json:"p50_ms"`
	P90MS             float64          `json:"p90_ms"`
	P99MS             float64          `json:"p99_ms"`
	MaxMS             float64          `json:"max_ms"`
	Errors            int64            `json:"errors"`
	ErrorRate         float64          `json:"error_rate"`
	ErrorKinds        map[string]int64 `json:"error_kinds"`
	URLs              []urlResult      `json:"urls"`
	Samples           int              `json:"samples"`        // latencies the percentiles were computed from
	SamplesCapped     bool             `json:"samples_capped"` // Samples < Requests: percentiles from a random sample
	Interrupted       bool             `json:"interrupted"`    // stopped early by a signal
}

// urlResult is the per-URL part of a result.
type urlResult struct {
	URL      string `json:"url"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
}

// latencyStats are the latency figures of a run.
type latencyStats struct {
	p50, p90, p99 time.Duration
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted: the smallest
// sample such that at least p% of the samples are less than or equal to it. Zero if empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// computeLatency sorts samples in place and returns their percentiles.
func computeLatency(samples []time.Duration) latencyStats {
	slices.Sort(samples)
	return latencyStats{
		p50: percentile(samples, 50),
		p90: percentile(samples, 90),
		p99: percentile(samples, 99),
	}
}

// merge combines the workers' counts and samples into one result over the measured window.
func merge(cfg *config, workers []*worker, measured time.Duration) *result {
	res := &result{
		Label:      cfg.label,
		Clients:    cfg.clients,
		DurationS:  measured.Seconds(),
		WarmupS:    cfg.warmup.Seconds(),
		ErrorKinds: map[string]int64{},
		URLs:       make([]urlResult, len(cfg.urls)),
	}
	for i, u := range cfg.urls {
		res.URLs[i].URL = u
	}
	var (
		samples  []time.Duration
		total    time.Duration
		minL     time.Duration
		maxL     time.Duration
		nSamples int
	)
	for _, w := range workers {
		nSamples += len(w.samples)
	}
	samples = make([]time.Duration, 0, nSamples)
	for _, w := range workers {
		if w.requests > 0 && (res.Requests == 0 || w.min < minL) {
			minL = w.min
		}
		res.Requests += w.requests
		res.Errors += w.errors
		total += w.total
		maxL = max(maxL, w.max)
		for i, c := range w.perURL {
			res.URLs[i].Requests += c.requests
			res.URLs[i].Errors += c.errors
		}
		for k, n := range w.errKinds {
			res.ErrorKinds[k] += n
		}
		samples = append(samples, w.samples...)
	}
	lat := computeLatency(samples)
	res.Samples = len(samples)
	res.SamplesCapped = int64(len(samples)) < res.Requests
	res.P50MS, res.P90MS, res.P99MS = ms(lat.p50), ms(lat.p90), ms(lat.p99)
	res.MinMS, res.MaxMS = ms(minL), ms(maxL)
	if res.Requests > 0 {
		res.MeanMS = ms(total / time.Duration(res.Requests))
		res.ErrorRate = float64(res.Errors) / float64(res.Requests)
	}
	if measured > 0 {
		res.RequestsPerSecond = float64(res.Requests) / measured.Seconds()
	}
	return res
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatMS prints milliseconds with three significant digits (more only for >= 1000 ms),
// never in exponent form: 0.0123, 0.456, 1.23, 45.6, 789, 1234.
func formatMS(v float64) string {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "0 ms"
	}
	decimals := max(0, 2-int(math.Floor(math.Log10(v))))
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	// Rounding can add a digit (9.995 -> "10.00"); print that with one decimal fewer.
	if decimals > 0 {
		if r, err := strconv.ParseFloat(s, 64); err == nil && math.Floor(math.Log10(r)) > math.Floor(math.Log10(v)) {
			s = strconv.FormatFloat(v, 'f', decimals-1, 64)
		}
	}
	return s + " ms"
}

// formatRate prints requests per second.
func formatRate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// formatErrors prints an error count with its share of the requests: "0", "12 (1.20%)".
func formatErrors(n int64, rate float64) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%.2f%%)", n, 100*rate)
}

// writeJSON prints the result as one JSON object on one line.
func (r *result) writeJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// writeText prints the result for people.
func (r *result) writeText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", r.Label)
	fmt.Fprintf(&b, "  clients    %d\n", r.Clients)
	fmt.Fprintf(&b, "  duration   %s (after %s warm-up)\n", seconds(r.DurationS), seconds(r.WarmupS))
	fmt.Fprintf(&b, "  requests   %d (%s req/s)\n", r.Requests, formatRate(r.RequestsPerSecond))
	fmt.Fprintf(&b, "  latency    p50 %s  p90 %s  p99 %s  max %s\n",
		formatMS(r.P50MS), formatMS(r.P90MS), formatMS(r.P99MS), formatMS(r.MaxMS))
	if r.SamplesCapped {
		fmt.Fprintf(&b, "             (percentiles from a random sample of %d of %d requests)\n", r.Samples, r.Requests)
	}
	fmt.Fprintf(&b, "  errors     %s\n", formatErrors(r.Errors, r.ErrorRate))
	if len(r.ErrorKinds) > 0 {
		kinds := slices.Sorted(maps.Keys(r.ErrorKinds))
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s=%d", k, r.ErrorKinds[k])
		}
		fmt.Fprintf(&b, "             %s\n", strings.Join(parts, " "))
	}
	fmt.Fprintf(&b, "  per URL\n")
	width := 1
	for _, u := range r.URLs {
		width = max(width, len(strconv.FormatInt(u.Requests, 10)))
	}
	for _, u := range r.URLs {
		fmt.Fprintf(&b, "    %*d requests  %s errors  %s\n", width, u.Requests,
			formatErrors(u.Errors, safeRate(u.Errors, u.Requests)), u.URL)
	}
	if r.Interrupted {
		fmt.Fprintf(&b, "  (interrupted)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// seconds prints a duration given in seconds the way time.Duration does ("10s", "1.5s").
func seconds(s float64) string {
	return time.Duration(math.Round(s * float64(time.Second))).Round(time.Millisecond).String()
}

// safeRate is n/of, or 0 when of is 0.
func safeRate(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// statusSet is the set of HTTP statuses that count as success.
type statusSet [][2]int

// parseStatusSet parses a comma-separated list of codes (204), ranges (200-299) and
// classes (2xx).
func parseStatusSet(s string) (statusSet, error) {
	var set statusSet
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var lo, hi int
		var err error
		switch {
		case len(part) == 3 && strings.HasSuffix(strings.ToLower(part), "xx"):
			lo, err = strconv.Atoi(part[:1])
			lo *= 100
			hi = lo + 99
		case strings.Contains(part, "-"):
			a, b, _ := strings.Cut(part, "-")
			lo, err = strconv.Atoi(strings.TrimSpace(a))
			if err == nil {
				hi, err = strconv.Atoi(strings.TrimSpace(b))
			}
		default:
			lo, err = strconv.Atoi(part)
			hi = lo
		}
		if err != nil || lo < 100 || hi > 599 || lo > hi {
			return nil, fmt.Errorf("%q is not a status code, range or class", part)
		}
		set = append(set, [2]int{lo, hi})
	}
	if len(set) == 0 {
		return nil, fmt.Errorf("%q lists no statuses", s)
	}
	return set, nil
}

// contains reports whether code counts as success.
func (s statusSet) contains(code int) bool {
	for _, r := range s {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// writeJSONFile writes the JSON result to the file name.
func (r *result) writeJSONFile(name string) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Clean(name), append(b, '\n'), 0o600) //nolint:gosec // the user names this file (-json-file)
}
