package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"gatehouse/shared/api"
)

// Version returns the server's build information.
func (c *Client) Version(ctx context.Context) (*api.Version, error) {
	var v api.Version
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/version", nil, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Livez reports whether the process is alive.
func (c *Client) Livez(ctx context.Context) (*api.Health, error) {
	var h api.Health
	if _, err := c.Do(ctx, http.MethodGet, "/livez", nil, &h); err != nil {
		return nil, err
	}
	return &h, nil
}

// Readyz reports whether the server can take traffic. When it cannot, the error is an
// *api.Error with code "unavailable" and the returned Health names the failing component.
func (c *Client) Readyz(ctx context.Context) (*api.Health, error) {
	var h api.Health
	_, err := c.Do(ctx, http.MethodGet, "/readyz", nil, &h)
	var apiErr *api.Error
	if errors.As(err, &apiErr) && apiErr.Code == api.CodeUnavailable {
		// The 503 body is a Health document, not an envelope: recover the checks from Details.
		h = healthFromDetails(apiErr.Details)
		return &h, err
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// healthFromDetails rebuilds the checks that a failing /readyz puts in the envelope's details.
func healthFromDetails(details map[string]any) api.Health {
	h := api.Health{Status: api.StatusFail}
	raw, err := json.Marshal(details["checks"])
	if err == nil {
		_ = json.Unmarshal(raw, &h.Checks)
	}
	return h
}
