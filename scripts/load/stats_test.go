package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	// 1..100 ms, shuffled: the p-th percentile is p ms.
	samples := make([]time.Duration, 100)
	for i := range samples {
		samples[i] = time.Duration(i+1) * time.Millisecond
	}
	rand.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	lat := computeLatency(samples)
	if lat.p50 != 50*time.Millisecond || lat.p90 != 90*time.Millisecond || lat.p99 != 99*time.Millisecond {
		t.Errorf("p50/p90/p99 = %v/%v/%v, want 50ms/90ms/99ms", lat.p50, lat.p90, lat.p99)
	}

	tests := []struct {
		name    string
		samples []time.Duration // sorted
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", []time.Duration{7}, 99, 7},
		{"p50 of 4 is the 2nd", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p51 of 4 is the 3rd", []time.Duration{1, 2, 3, 4}, 51, 3},
		{"p99 of 10 is the max", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 99, 10},
		{"p90 of 10 is the 9th", []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90, 9},
		{"p100 is the max", []time.Duration{1, 5, 9}, 100, 9},
		{"tiny p is the min", []time.Duration{1, 5, 9}, 0.001, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.samples, tt.p, got, tt.want)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	cfg := &config{label: "x", clients: 2, warmup: time.Second, urls: []string{"http://a/", "http://b/"}}
	w1 := &worker{cfg: cfg, perURL: make([]urlCount, 2), errKinds: map[string]int64{}, sampleCap: 10}
	w2 := &worker{cfg: cfg, perURL: make([]urlCount, 2), errKinds: map[string]int64{}, sampleCap: 10}
	w1.record(0, 3*time.Millisecond, "")
	w1.record(1, 1*time.Millisecond, "status_503")
	w2.record(0, 4*time.Millisecond, kindTimeout)
	w2.record(1, 2*time.Millisecond, "")
	res := merge(cfg, []*worker{w1, w2}, 2*time.Second)

	if res.Requests != 4 || res.Errors != 2 || res.ErrorRate != 0.5 {
		t.Errorf("requests/errors/rate = %d/%d/%v, want 4/2/0.5", res.Requests, res.Errors, res.ErrorRate)
	}
	if res.RequestsPerSecond != 2 {
		t.Errorf("requests/s = %v, want 2", res.RequestsPerSecond)
	}
	if res.MinMS != 1 || res.MaxMS != 4 || res.MeanMS != 2.5 || res.P50MS != 2 || res.P99MS != 4 {
		t.Errorf("min/max/mean/p50/p99 = %v/%v/%v/%v/%v, want 1/4/2.5/2/4",
			res.MinMS, res.MaxMS, res.MeanMS, res.P50MS, res.P99MS)
	}
	if res.ErrorKinds["status_503"] != 1 || res.ErrorKinds[kindTimeout] != 1 || len(res.ErrorKinds) != 2 {
		t.Errorf("error kinds = %v", res.ErrorKinds)
	}
	want := []urlResult{{"http://a/", 2, 1}, {"http://b/", 2, 1}}
	for i := range want {
		if res.URLs[i] != want[i] {
			t.Errorf("URLs[%d] = %+v, want %+v", i, res.URLs[i], want[i])
		}
	}
	if res.Samples != 4 || res.SamplesCapped {
		t.Errorf("samples = %d capped=%v, want 4, false", res.Samples, res.SamplesCapped)
	}
}

func TestSampleCap(t *testing.T) {
	cfg := &config{clients: 1, urls: []string{"http://a/"}}
	w := &worker{cfg: cfg, perURL: make([]urlCount, 1), errKinds: map[string]int64{}, sampleCap: 100,
		rng: rand.New(rand.NewPCG(1, 2))}
	for i := range 10000 {
		w.record(0, time.Duration(i+1), "")
	}
	res := merge(cfg, []*worker{w}, time.Second)
	if res.Samples != 100 || !res.SamplesCapped || res.Requests != 10000 {
		t.Fatalf("samples/capped/requests = %d/%v/%d, want 100/true/10000", res.Samples, res.SamplesCapped, res.Requests)
	}
	// Max and mean stay exact; the median of a uniform sample lands near the true one.
	if res.MaxMS != ms(10000) || res.MeanMS != ms(5000) {
		t.Errorf("max/mean = %v/%v, want exact %v/%v", res.MaxMS, res.MeanMS, ms(10000), ms(5000))
	}
	if p50 := res.P50MS / ms(1); p50 < 3000 || p50 > 7000 {
		t.Errorf("sampled p50 = %v, want near 5000", p50)
	}
}

func TestFormatMS(t *testing.T) {
	tests := map[float64]string{
		0: "0 ms", 0.0123456: "0.0123 ms", 0.4567: "0.457 ms", 1.23456: "1.23 ms", 45.678: "45.7 ms",
		789.4: "789 ms", 1234.6: "1235 ms", 9.996: "10.0 ms", 0.99996: "1.00 ms",
	}
	for in, want := range tests {
		if got := formatMS(in); got != want {
			t.Errorf("formatMS(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestParseStatusSet(t *testing.T) {
	set, err := parseStatusSet("200, 204,300-399,4xx")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{200: true, 201: false, 204: true, 302: true, 404: true, 500: false} {
		if got := set.contains(code); got != want {
			t.Errorf("contains(%d) = %v, want %v", code, got, want)
		}
	}
	for _, bad := range []string{"", "abc", "99", "600", "300-200", "9xx", ","} {
		if _, err := parseStatusSet(bad); err == nil {
			t.Errorf("parseStatusSet(%q): no error", bad)
		}
	}
}
