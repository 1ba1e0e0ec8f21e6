package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"gatehouse/shared/api"
)

// PoolStream follows GET /api/v1/admin/pool/stream (Server-Sent Events, one sample a second)
// and calls fn with each sample until ctx ends, fn returns an error, or the server closes the
// stream. The client's overall timeout does not apply: a stream is long by design.
func (c *Client) PoolStream(ctx context.Context, fn func(api.PoolStats) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.String()+"/api/v1/admin/pool/stream", nil)
	if err != nil {
		return fmt.Errorf("build pool stream request: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	c.mu.RLock()
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	c.mu.RUnlock()
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("pool stream: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp, resp.Header.Get(api.HeaderRequestID))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var s api.PoolStats
		if err := json.Unmarshal([]byte(strings.TrimSpace(data)), &s); err != nil {
			return fmt.Errorf("pool stream: decode sample: %w", err)
		}
		if err := fn(s); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("pool stream: %w", err)
	}
	return ctx.Err()
}
