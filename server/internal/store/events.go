package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"gatehouse/server/internal/events"
)

// securityEventRow is one row of the append-only security_events table. ActorID and
// SubjectUserID are pointers because "no user" is NULL: the PostgreSQL columns are UUIDs, which
// cannot hold an empty string. Details is the JSON text of the event's details.
type securityEventRow struct {
	ID            string `gorm:"primaryKey"`
	Type          string
	Outcome       string
	ActorID       *string
	SubjectUserID *string
	IP            string
	UserAgent     string
	RequestID     string
	Details       string
	// The recorder's clock decides the time, never GORM's.
	CreatedAt time.Time `gorm:"autoCreateTime:false"`
}

func (securityEventRow) TableName() string { return "security_events" }

// EventStore keeps the security event log. It only appends and reads: the table's triggers
// refuse updates and deletes anyway.
type EventStore struct{ db *gorm.DB }

var _ events.Store = (*EventStore)(nil)

// Events returns the security event store.
func (db *DB) Events() *EventStore { return &EventStore{db: db.gorm} }

// Append inserts e; an existing ID is an error (a plain INSERT, never an upsert).
func (s *EventStore) Append(ctx context.Context, e events.Event) error {
	details := "{}"
	if len(e.Details) > 0 {
		raw, err := json.Marshal(e.Details)
		if err != nil {
			return fmt.Errorf("append %s event: details: %w", e.Type, err)
		}
		details = string(raw)
	}
	row := securityEventRow{
		ID:            e.ID,
		Type:          e.Type,
		Outcome:       e.Outcome,
		ActorID:       eventUserColumn(e.ActorID),
		SubjectUserID: eventUserColumn(e.SubjectUserID),
		IP:            e.IP,
		UserAgent:     e.UserAgent,
		RequestID:     e.RequestID,
		Details:       details,
		// UTC always: SQLite compares times as text, which orders correctly only when every
		// value is written with the same offset.
		CreatedAt: e.CreatedAt.UTC(),
	}
	// A single INSERT needs no BEGIN/COMMIT of its own (see single).
	if err := single(conn(ctx, s.db)).Create(&row).Error; err != nil {
		return fmt.Errorf("append %s event: %w", e.Type, err)
	}
	return nil
}

// List returns one page of matching events, newest first, and the number of all matches.
func (s *EventStore) List(ctx context.Context, f events.Filter) ([]events.Event, int, error) {
	// A fresh query for each statement: a GORM chain that has run Count must not be reused.
	filtered := func() *gorm.DB {
		q := conn(ctx, s.db).Model(&securityEventRow{})
		if f.Type != "" {
			q = q.Where("type = ?", f.Type)
		}
		if f.UserID != "" {
			q = q.Where("(actor_id = ? OR subject_user_id = ?)", f.UserID, f.UserID)
		}
		if !f.Since.IsZero() {
			q = q.Where("created_at >= ?", f.Since.UTC())
		}
		if !f.Until.IsZero() {
			q = q.Where("created_at < ?", f.Until.UTC())
		}
		return q
	}
	var total int64
	if err := filtered().Count(&total).Error; err != nil {
		return nil, 0, fmt.Errorf("count security events: %w", err)
	}
	var rows []securityEventRow
	err := filtered().
		Order("created_at DESC").Order("id DESC").
		Limit(f.PerPage).Offset((f.Page - 1) * f.PerPage).
		Find(&rows).Error
	if err != nil {
		return nil, 0, fmt.Errorf("list security events: %w", err)
	}
	out := make([]events.Event, 0, len(rows))
	for _, r := range rows {
		e, err := r.event()
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, int(total), nil
}

func (r securityEventRow) event() (events.Event, error) {
	var details map[string]any
	if err := json.Unmarshal([]byte(r.Details), &details); err != nil {
		return events.Event{}, fmt.Errorf("security event %s: details: %w", r.ID, err)
	}
	if len(details) == 0 {
		details = nil
	}
	return events.Event{
		ID:            r.ID,
		Type:          r.Type,
		Outcome:       r.Outcome,
		ActorID:       eventUserID(r.ActorID),
		SubjectUserID: eventUserID(r.SubjectUserID),
		IP:            r.IP,
		UserAgent:     r.UserAgent,
		RequestID:     r.RequestID,
		Details:       details,
		CreatedAt:     r.CreatedAt.UTC(),
	}, nil
}

// eventUserColumn maps "no user" to NULL.
func eventUserColumn(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}

func eventUserID(col *string) string {
	if col == nil {
		return ""
	}
	return *col
}
