package state

import (
	"context"
	"errors"
	"sync"

	"gatehouse/shared/api"
)

// LatestEvents is how many events the dashboard shows.
const LatestEvents = 8

// Dashboard is the server's build, health and the latest security events.
type Dashboard struct {
	server ServerAPI
	events *Events
	caps   Caps

	mu      sync.Mutex
	version api.Version
	live    api.Health
	ready   api.Health
	loaded  bool
}

// NewDashboard shows events (with the emails behind user IDs) only to accounts that may read
// them.
func NewDashboard(server ServerAPI, events EventsAPI, users UsersAPI, caps Caps) *Dashboard {
	return &Dashboard{server: server, events: newEvents(events, users, LatestEvents), caps: caps}
}

// Refresh loads everything. A server that is not ready is shown, not reported as an error.
func (d *Dashboard) Refresh(ctx context.Context) error {
	v, err := d.server.Version(ctx)
	if err != nil {
		return err
	}
	live, err := d.server.Livez(ctx)
	if err != nil {
		return err
	}
	ready, err := d.server.Readyz(ctx)
	if err != nil {
		var apiErr *api.Error
		notReady := errors.As(err, &apiErr) && apiErr.Code == api.CodeUnavailable && ready != nil
		if !notReady {
			return err
		}
	}
	if d.caps.ViewEvents {
		if err := d.events.Apply(ctx, EventFilter{}); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.version, d.live, d.ready, d.loaded = *v, *live, *ready, true
	return nil
}

// Snapshot is what the dashboard shows.
type Snapshot struct {
	Loaded  bool
	Version api.Version
	Live    api.Health
	Ready   api.Health
	Latest  []api.SecurityEvent
}

// Snapshot returns the last loaded state.
func (d *Dashboard) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Snapshot{Loaded: d.loaded, Version: d.version, Live: d.live, Ready: d.ready, Latest: d.events.Rows()}
}

// EventCells are the latest events table's columns (names instead of user IDs).
func (d *Dashboard) EventCells(ev api.SecurityEvent) [6]string { return d.events.EventCells(ev) }

// ShowsEvents reports whether the dashboard has an events panel for this account.
func (d *Dashboard) ShowsEvents() bool { return d.caps.ViewEvents }
