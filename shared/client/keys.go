package client

import (
	"context"
	"net/http"

	"gatehouse/shared/api"
)

// KeyStatus returns the master key versions and how far the background re-wrap has moved
// every protected value onto the current one (administrators).
func (c *Client) KeyStatus(ctx context.Context) (*api.KeyStatus, error) {
	var res api.KeyStatus
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/keys", nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
