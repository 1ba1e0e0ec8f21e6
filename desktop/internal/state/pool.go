package state

import (
	"context"
	"errors"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// PoolWindow is how much history the pool chart keeps.
const PoolWindow = 5 * time.Minute

// PoolPoint is one sample as the chart plots it: gauges as they are, counters as rates.
type PoolPoint struct {
	At            time.Time
	InUse         int
	Idle          int
	WaitsPerSec   float64 // new waits per second since the previous sample
	WaitMsPerSec  float64 // milliseconds spent waiting per second since the previous sample
	Open, MaxOpen int
}

// StreamStatus is the live feed's state.
type StreamStatus int

// Stream states.
const (
	StreamConnecting StreamStatus = iota
	StreamLive
	StreamReconnecting
	StreamStopped // the session ended or the account may not read the pool
)

// String names the status for the chart's caption.
func (s StreamStatus) String() string {
	switch s {
	case StreamConnecting:
		return "connecting…"
	case StreamLive:
		return "live"
	case StreamReconnecting:
		return "reconnecting…"
	default:
		return "stopped"
	}
}

// Pool is the last five minutes of pool samples, fed by the SSE stream.
type Pool struct {
	api   PoolAPI
	now   func() time.Time
	sleep func(context.Context, time.Duration) error

	mu      sync.Mutex
	points  []PoolPoint
	last    api.PoolStats
	hasLast bool
	status  StreamStatus
	lastErr error
}

// NewPool follows a's stream. now and sleep may be nil (real clock).
func NewPool(a PoolAPI, now func() time.Time, sleep func(context.Context, time.Duration) error) *Pool {
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	return &Pool{api: a, now: now, sleep: sleep}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Add records a sample (the stream calls it; tests too).
func (p *Pool) Add(s api.PoolStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := s.SampledAt
	if at.IsZero() {
		at = p.now()
	}
	pt := PoolPoint{At: at, InUse: s.InUse, Idle: s.Idle, Open: s.OpenConnections, MaxOpen: s.MaxOpenConnections}
	if p.hasLast {
		if dt := at.Sub(p.last.SampledAt).Seconds(); dt > 0 && !p.last.SampledAt.IsZero() {
			// Counters restart with the server: a drop is a restart, not negative waiting.
			if dw := s.WaitCount - p.last.WaitCount; dw >= 0 {
				pt.WaitsPerSec = float64(dw) / dt
			}
			if dd := s.WaitDurationSec - p.last.WaitDurationSec; dd >= 0 {
				pt.WaitMsPerSec = dd * 1000 / dt
			}
		}
	}
	s.SampledAt = at
	p.last, p.hasLast = s, true
	p.points = append(p.points, pt)
	p.trimLocked(at)
}

func (p *Pool) trimLocked(now time.Time) {
	cut := now.Add(-PoolWindow)
	i := 0
	for i < len(p.points) && p.points[i].At.Before(cut) {
		i++
	}
	if i > 0 {
		p.points = append(p.points[:0], p.points[i:]...)
	}
}

// Points are the samples of the last five minutes, oldest first.
func (p *Pool) Points() []PoolPoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PoolPoint(nil), p.points...)
}

// Latest is the newest raw sample.
func (p *Pool) Latest() (api.PoolStats, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.hasLast
}

// Status is the feed's state and the error that caused the last reconnect (or stop).
func (p *Pool) Status() (StreamStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.lastErr
}

func (p *Pool) setStatus(s StreamStatus, err error) {
	p.mu.Lock()
	p.status, p.lastErr = s, err
	p.mu.Unlock()
}

// Backoff bounds for reconnecting.
const (
	minBackoff = time.Second
	maxBackoff = 30 * time.Second
)

// Follow reads the stream until ctx ends (returning ctx's error), reconnecting with backoff
// when it breaks. changed is called (from Follow's goroutine) after every sample and status
// change. It stops for good on 401/403: the session ended or the account may not see the
// pool; it returns that error.
func (p *Pool) Follow(ctx context.Context, changed func()) error {
	notify := func() {
		if changed != nil {
			changed()
		}
	}
	backoff := minBackoff
	p.setStatus(StreamConnecting, nil)
	notify()
	for {
		err := p.api.PoolStream(ctx, func(s api.PoolStats) error {
			p.Add(s)
			p.mu.Lock()
			p.status, p.lastErr = StreamLive, nil
			p.mu.Unlock()
			backoff = minBackoff
			notify()
			return nil
		})
		if cerr := ctx.Err(); cerr != nil {
			p.setStatus(StreamStopped, nil)
			notify()
			return cerr
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) && (apiErr.HTTPStatus == 401 || apiErr.HTTPStatus == 403 || apiErr.Code.Status() == 401 || apiErr.Code.Status() == 403) {
			p.setStatus(StreamStopped, err)
			notify()
			return err
		}
		p.setStatus(StreamReconnecting, err)
		notify()
		if serr := p.sleep(ctx, backoff); serr != nil {
			p.setStatus(StreamStopped, nil)
			notify()
			return serr
		}
		backoff = min(backoff*2, maxBackoff)
	}
}
