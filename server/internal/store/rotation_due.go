package store

import (
	"context"
	"fmt"
	"time"
)

// DueRotations returns, in name order after the name after, up to limit secrets (not deleted)
// whose scheduled rotation time has come: the scheduled-rotation job's work list
// (internal/secrets/schedule). Paging by name lets the job step over secrets it is backing
// off from without them hiding the rest.
func (db *DB) DueRotations(ctx context.Context, now time.Time, after string, limit int) ([]string, error) {
	var names []string
	err := db.gorm.WithContext(ctx).Model(&secretRow{}).
		Where("deleted_at IS NULL AND next_rotation_at IS NOT NULL AND next_rotation_at <= ? AND name > ?", now.UTC(), after).
		Order("name").Limit(max(limit, 1)).Pluck("name", &names).Error
	if err != nil {
		return nil, fmt.Errorf("find due rotations: %w", err)
	}
	return names, nil
}
