package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Error kinds, as counted in the result. Non-2xx statuses are "status_<code>".
const (
	kindTimeout   = "timeout"
	kindTransport = "transport"
)

// statusKind names the error kind of an unexpected status.
func statusKind(code int) string { return "status_" + strconv.Itoa(code) }

// newClient returns the one client shared by every worker: keep-alive on, enough idle
// connections per host for every client, no proxy, no redirects followed.
func (p *program) newClient(cfg *config) *http.Client {
	dial := p.dialContext
	if dial == nil {
		d := &net.Dialer{Timeout: cfg.timeout, KeepAlive: 30 * time.Second}
		if !cfg.allowNonLoopback {
			d.Control = loopbackOnly
		}
		dial = d.DialContext
	}
	hosts := map[string]bool{}
	for _, raw := range cfg.urls {
		if u, err := parseTarget(raw); err == nil {
			hosts[u.Host] = true
		}
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil, // never send load through a proxy from the environment
			DialContext:         dial,
			MaxIdleConns:        cfg.clients * max(1, len(hosts)),
			MaxIdleConnsPerHost: cfg.clients,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: cfg.timeout,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// run sends load for cfg.warmup plus cfg.duration and returns what was measured after the
// warm-up. Cancelling ctx (Ctrl-C) ends the run early with the part measured so far.
func (p *program) run(ctx context.Context, cfg *config) *result {
	client := p.newClient(cfg)
	defer client.CloseIdleConnections()

	var interruptedAt atomic.Int64
	stopWatching := context.AfterFunc(ctx, func() { interruptedAt.Store(time.Now().UnixNano()) })
	defer stopWatching()

	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	runCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	limit := p.maxSamples
	if limit <= 0 {
		limit = defaultMaxSamples
	}
	perWorker := max(1, limit/cfg.clients)

	var (
		wg      sync.WaitGroup
		workers = make([]*worker, cfg.clients)
	)
	for i := range workers {
		w := &worker{
			cfg:       cfg,
			client:    client,
			next:      i % len(cfg.urls),
			perURL:    make([]urlCount, len(cfg.urls)),
			errKinds:  map[string]int64{},
			sampleCap: perWorker,
			rng:       rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))), //nolint:gosec // sampling, not security
		}
		workers[i] = w
		wg.Go(func() { w.loop(runCtx, measureFrom, end) })
	}
	wg.Wait()

	measured := cfg.duration
	interrupted := false
	if at := interruptedAt.Load(); at != 0 && at < end.UnixNano() {
		interrupted = true
		measured = max(0, time.Unix(0, at).Sub(measureFrom))
	}
	res := merge(cfg, workers, measured)
	res.Interrupted = interrupted
	return res
}

// urlCount is what one worker saw for one URL.
type urlCount struct{ requests, errors int64 }

// worker is one closed-loop client. Only its own goroutine touches it until the run ends.
type worker struct {
	cfg    *config
	client *http.Client
	next   int // index of the URL to send next; clients start at different URLs

	requests  int64
	errors    int64
	perURL    []urlCount
	errKinds  map[string]int64
	total     time.Duration
	min, max  time.Duration
	samples   []time.Duration // a uniform random sample of at most sampleCap latencies
	sampleCap int
	rng       *rand.Rand
}

// loop sends requests until ctx ends. A request counts only if it started after measureFrom
// and finished before end; requests cut off by the end of the run are not counted at all.
func (w *worker) loop(ctx context.Context, measureFrom, end time.Time) {
	for ctx.Err() == nil {
		i := w.next
		w.next = (w.next + 1) % len(w.cfg.urls)
		began := time.Now()
		kind := w.send(ctx, w.cfg.urls[i])
		finished := time.Now()
		if ctx.Err() != nil || finished.After(end) {
			return
		}
		if began.Before(measureFrom) {
			continue
		}
		w.record(i, finished.Sub(began), kind)
	}
}

// send makes one request, reads the whole body, and returns the error kind ("" on success).
func (w *worker) send(ctx context.Context, rawURL string) string {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.timeout)
	defer cancel()
	var body io.Reader
	if w.cfg.body != nil {
		body = bytes.NewReader(w.cfg.body)
	}
	req, err := http.NewRequestWithContext(ctx, w.cfg.method, rawURL, body)
	if err != nil {
		return kindTransport
	}
	req.Header = w.cfg.headers.Clone()
	if w.cfg.host != "" {
		req.Host = w.cfg.host
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return classify(ctx, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return classify(ctx, err)
	}
	if !w.cfg.okStatus.contains(resp.StatusCode) {
		return statusKind(resp.StatusCode)
	}
	return ""
}

// classify tells a timeout from any other transport error.
func classify(ctx context.Context, err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout()) {
		return kindTimeout
	}
	return kindTransport
}

// record counts one request that finished inside the measured window.
func (w *worker) record(url int, latency time.Duration, kind string) {
	w.requests++
	w.perURL[url].requests++
	if kind != "" {
		w.errors++
		w.perURL[url].errors++
		w.errKinds[kind]++
	}
	w.total += latency
	if w.requests == 1 || latency < w.min {
		w.min = latency
	}
	w.max = max(w.max, latency)
	// Reservoir sampling (Algorithm R): every latency has the same chance to be kept.
	if len(w.samples) < w.sampleCap {
		w.samples = append(w.samples, latency)
	} else if j := w.rng.Int64N(w.requests); j < int64(w.sampleCap) {
		w.samples[j] = latency
	}
}
