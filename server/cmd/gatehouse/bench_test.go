package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func benchRun(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"bench"}, args...), strings.NewReader(""), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestBenchHashPrintsARate(t *testing.T) {
	// Four seconds with no warm-up: under -race on a loaded 2-core machine one hash has been
	// seen to take over a second, and only hashes finished inside the window count.
	code, out, errOut := benchRun(t, []string{}, "hash", "--concurrency", "2", "--duration", "4s", "--warmup", "0", "--json", "--label", "raw")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Label             string  `json:"label"`
		Clients           int     `json:"clients"`
		DurationS         float64 `json:"duration_s"`
		Requests          int64   `json:"requests"`
		RequestsPerSecond float64 `json:"requests_per_second"`
		P50MS             float64 `json:"p50_ms"`
		P99MS             float64 `json:"p99_ms"`
		MemoryKiB         uint32  `json:"memory_kib"`
		Iterations        uint32  `json:"iterations"`
		Parallelism       uint8   `json:"parallelism"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if res.Label != "raw" || res.Clients != 2 || res.DurationS != 4 || res.Requests < 1 ||
		res.RequestsPerSecond <= 0 || res.P50MS <= 0 || res.P99MS < res.P50MS {
		t.Fatalf("implausible result: %+v", res)
	}
	// The server's defaults (SEC-01), unless GATEHOUSE_ARGON2_* say otherwise.
	if res.MemoryKiB != 19456 || res.Iterations != 2 || res.Parallelism != 1 {
		t.Fatalf("parameters m=%d t=%d p=%d, want the server's defaults", res.MemoryKiB, res.Iterations, res.Parallelism)
	}

	// The text form names the rate.
	code, out, errOut = benchRun(t, []string{}, "hash", "--concurrency", "1", "--duration", "500ms", "--warmup", "0")
	if code != 0 || !strings.Contains(out, "hashes/s") || !strings.Contains(out, "m=19456 KiB t=2 p=1") {
		t.Fatalf("text output: exit %d\n%s%s", code, out, errOut)
	}
}

func TestBenchHashFollowsTheConfiguredParameters(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	code, out, errOut := benchRun(t, []string{"GATEHOUSE_ARGON2_ITERATIONS=3"}, "hash", "--concurrency", "1", "--duration", "500ms", "--warmup", "0")
	if code != 0 || !strings.Contains(out, "t=3") || !strings.Contains(out, "GOGC 200") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// The hash baseline runs under the server's garbage-collector target (runtime.gc_percent), and
// an operator's GOGC overrides both.
func TestBenchHashAppliesTheGCTarget(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, c := range []struct {
		env  []string
		want int
	}{
		{nil, 200},
		{[]string{"GATEHOUSE_GC_PERCENT=350"}, 350},
		{[]string{"GATEHOUSE_GC_PERCENT=350", "GOGC=120"}, 120}, // GOGC wins; the runtime has it
	} {
		debug.SetGCPercent(120) // what the runtime would have taken from GOGC=120
		code, out, errOut := benchRun(t, c.env, "hash", "--concurrency", "1", "--duration", "200ms", "--warmup", "0", "--json")
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.env, code, errOut)
		}
		var res struct {
			GCPercent int `json:"gc_percent"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: %v\n%s", c.env, err, out)
		}
		if got := currentGCPercent(); res.GCPercent != c.want || got != c.want {
			t.Errorf("%v: reported GOGC %d, runtime has %d, want %d", c.env, res.GCPercent, got, c.want)
		}
	}
	for _, bad := range []string{"GATEHOUSE_GC_PERCENT=10", "GATEHOUSE_GC_PERCENT=5000", "GATEHOUSE_GC_PERCENT=off"} {
		if code, _, errOut := benchRun(t, []string{bad}, "hash", "--concurrency", "1", "--duration", "200ms"); code == 0 {
			t.Errorf("%s accepted: %s", bad, errOut)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"sideways"},
		{"hash", "--bogus"},
		{"hash", "--concurrency", "0"},
		{"hash", "--concurrency", "100000"},
		{"hash", "--concurrency", "two"},
		{"hash", "--duration", "0s"},
		{"hash", "--duration", "1h"},
		{"hash", "--warmup", "-1s"},
		{"hash", "extra"},
	} {
		code, out, errOut := benchRun(t, []string{}, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "Usage:") {
			t.Errorf("bench %q: want exit 2 with usage, got %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	// A flag problem names the flag.
	if _, _, errOut := benchRun(t, []string{}, "hash", "--concurrency", "0"); !strings.Contains(errOut, "--concurrency 0") {
		t.Errorf("stderr does not name the bad flag:\n%s", errOut)
	}
	// An invalid configuration is not a usage error.
	if code, _, errOut := benchRun(t, []string{"GATEHOUSE_ARGON2_MEMORY_KIB=1024"}, "hash", "--duration", "1s"); code != 1 || !strings.Contains(errOut, "argon2id parameters") {
		t.Errorf("weak parameters: want exit 1 naming them, got %d\n%s", code, errOut)
	}
}
