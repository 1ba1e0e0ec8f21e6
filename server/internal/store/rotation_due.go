package store

import (
	"context"
	"fmt"
	"time"

	"gatehouse/server/internal/secrets"
)

// DueRotations returns, in name order after the name after, up to limit secrets (not deleted)
// whose scheduled rotation time has come: the scheduled-rotation job's work list
// (internal/secrets/schedule). Paging by name lets the job step over secrets it is backing
// off from without them hiding the rest.
func (db *DB) DueRotations(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	var names []string
	err := conn(ctx, db.gorm).Model(&secretRow{}).
		Where("deleted_at IS NULL AND next_rotation_at IS NOT NULL AND next_rotation_at <= ? AND name > ?", now.UTC(), after).
		Order("name").Limit(max(limit, 1)).Pluck("name", &names).Error
	if err != nil {
		return nil, fmt.Errorf("find due rotations: %w", err)
	}
	return names, nil
}

// UpcomingRotations returns, in name order after the name after, up to limit secrets (not
// deleted) whose next scheduled rotation is after from and at or before until, with that
// time: the rotation warnings' work list (internal/secrets/schedule.Warner).
func (db *DB) UpcomingRotations(ctx context.Context, from, until time.Time, after string, limit int) ([]secrets.Due, error) {
	var rows []struct {
		Name           string
		NextRotationAt time.Time
	}
	err := conn(ctx, db.gorm).Model(&secretRow{}).Select("name", "next_rotation_at").
		Where("deleted_at IS NULL AND next_rotation_at IS NOT NULL AND next_rotation_at > ? AND next_rotation_at <= ? AND name > ?",
			from.UTC(), until.UTC(), after).
		Order("name").Limit(max(limit, 1)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("find upcoming rotations: %w", err)
	}
	out := make([]secrets.Due, len(rows))
	for i, r := range rows {
		out[i] = secrets.Due{Name: r.Name, At: r.NextRotationAt.UTC()}
	}
	return out, nil
}
