package store

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"gatehouse/migrations"
)

// MigrationStatus is one migration and whether it is applied.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// MigrationStep is one migration that was applied or rolled back.
type MigrationStep struct {
	Version   int64
	Name      string
	Direction string
	Duration  time.Duration
}

// Migrator applies the embedded migrations for the database's dialect.
type Migrator struct {
	provider *goose.Provider
}

// Migrator returns a migrator for this database. On PostgreSQL it holds a session advisory
// lock while migrating, so replicas that start together migrate once.
func (db *DB) Migrator() (*Migrator, error) {
	fsys, err := migrations.FS(db.dialect)
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	if db.dialect == DialectPostgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.sql, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{provider: p}, nil
}

// Up applies every pending migration.
func (m *Migrator) Up(ctx context.Context) ([]MigrationStep, error) {
	res, err := m.provider.Up(ctx)
	if err != nil {
		return steps(res), fmt.Errorf("migrate up: %w", err)
	}
	return steps(res), nil
}

// Down rolls back the most recent migration.
func (m *Migrator) Down(ctx context.Context) ([]MigrationStep, error) {
	res, err := m.provider.Down(ctx)
	if err != nil {
		return steps([]*goose.MigrationResult{res}), fmt.Errorf("migrate down: %w", err)
	}
	return steps([]*goose.MigrationResult{res}), nil
}

// DownTo rolls back every migration newer than version (0 rolls back everything).
func (m *Migrator) DownTo(ctx context.Context, version int64) ([]MigrationStep, error) {
	res, err := m.provider.DownTo(ctx, version)
	if err != nil {
		return steps(res), fmt.Errorf("migrate down to %d: %w", version, err)
	}
	return steps(res), nil
}

// Status lists every known migration.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	st, err := m.provider.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationStatus, 0, len(st))
	for _, s := range st {
		out = append(out, MigrationStatus{
			Version:   s.Source.Version,
			Name:      path.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Pending reports whether migrations are waiting to be applied.
func (m *Migrator) Pending(ctx context.Context) (bool, error) {
	has, err := m.provider.HasPending(ctx)
	if err != nil {
		return false, fmt.Errorf("check pending migrations: %w", err)
	}
	return has, nil
}

func steps(res []*goose.MigrationResult) []MigrationStep {
	out := make([]MigrationStep, 0, len(res))
	for _, r := range res {
		if r == nil || r.Source == nil {
			continue
		}
		out = append(out, MigrationStep{Version: r.Source.Version, Name: path.Base(r.Source.Path), Direction: r.Direction, Duration: r.Duration})
	}
	return out
}
