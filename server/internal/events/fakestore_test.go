package events_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"gatehouse/server/internal/events"
)

// fakeStore is an in-memory events.Store with the same contract as the database one
// (eventstest.ExerciseStore proves it). failAppend, when set, makes Append fail.
type fakeStore struct {
	mu         sync.Mutex
	events     []events.Event
	failAppend error
	lastFilter events.Filter
}

func (s *fakeStore) Append(ctx context.Context, e events.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAppend != nil {
		return s.failAppend
	}
	for _, have := range s.events {
		if have.ID == e.ID {
			return fmt.Errorf("event %s exists", e.ID)
		}
	}
	e.Details = maps.Clone(e.Details)
	s.events = append(s.events, e)
	return nil
}

func (s *fakeStore) List(ctx context.Context, f events.Filter) ([]events.Event, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastFilter = f
	var match []events.Event
	for _, e := range s.events {
		switch {
		case f.Type != "" && e.Type != f.Type:
		case f.UserID != "" && e.ActorID != f.UserID && e.SubjectUserID != f.UserID:
		case !f.Since.IsZero() && e.CreatedAt.Before(f.Since):
		case !f.Until.IsZero() && !e.CreatedAt.Before(f.Until):
		default:
			e.Details = maps.Clone(e.Details)
			match = append(match, e)
		}
	}
	slices.SortFunc(match, func(a, b events.Event) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	total := len(match)
	start := min((f.Page-1)*f.PerPage, total)
	end := min(start+f.PerPage, total)
	return match[start:end], total, nil
}

// all returns every stored event in append order.
func (s *fakeStore) all() []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

var errDatabaseDown = errors.New("database is down")
