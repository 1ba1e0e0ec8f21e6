// Package migrations holds Gatehouse's versioned SQL schema, one folder per dialect, embedded so
// that the server binary carries its own schema. The files are goose migrations
// (-- +goose Up / -- +goose Down); the server runs them on its *sql.DB.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialects with a migration folder.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// FS returns the migrations for one dialect, rooted at that dialect's folder.
func FS(dialect string) (fs.FS, error) {
	switch dialect {
	case Postgres, SQLite:
		sub, err := fs.Sub(files, dialect)
		if err != nil {
			return nil, fmt.Errorf("migrations for %s: %w", dialect, err)
		}
		return sub, nil
	default:
		return nil, fmt.Errorf("no migrations for dialect %q", dialect)
	}
}
