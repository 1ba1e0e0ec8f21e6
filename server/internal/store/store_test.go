package store_test

import (
	"context"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/keyring/keyringtest"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
)

// open returns an empty database of the dialect (not migrated).
func open(t *testing.T, dialect string) *store.DB {
	t.Helper()
	o := store.Options{SQLitePath: filepath.Join(t.TempDir(), "gatehouse.db")}
	if dialect == testenv.Postgres {
		o = store.Options{URL: testenv.FreshPostgres(t)}
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func migrated(t *testing.T, dialect string) *store.DB {
	t.Helper()
	db := open(t, dialect)
	m, err := db.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestMigrateUpDownUp(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := open(t, dialect)
		m, err := db.Migrator()
		if err != nil {
			t.Fatal(err)
		}
		up, err := m.Up(ctx)
		if err != nil || len(up) == 0 {
			t.Fatalf("up: %v (%d steps)", err, len(up))
		}
		assertParity(t, db)
		if pending, err := m.Pending(ctx); err != nil || pending {
			t.Fatalf("pending after up: %v %v", pending, err)
		}
		down, err := m.DownTo(ctx, 0)
		if err != nil || len(down) != len(up) {
			t.Fatalf("down: %v (%d of %d steps)", err, len(down), len(up))
		}
		if tables := userTables(t, db); len(tables) != 0 {
			t.Fatalf("tables left after down: %v", tables)
		}
		if _, err := m.Up(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		assertParity(t, db)
		st, err := m.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if !s.Applied || s.Name == "" {
				t.Errorf("status: %+v", s)
			}
		}
		// One step down leaves the earlier migrations applied.
		if _, err := m.Down(ctx); err != nil {
			t.Fatal(err)
		}
		if pending, _ := m.Pending(ctx); !pending {
			t.Fatal("after one step down a migration should be pending")
		}
	})
}

// TestSchemaMatchesModels proves the migrated schema and the GORM models agree: every model
// column exists, no table has a column no model knows, and no table lacks a model.
func TestSchemaMatchesModels(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		assertParity(t, migrated(t, dialect))
	})
}

func assertParity(t *testing.T, db *store.DB) {
	t.Helper()
	g := gormOf(t, db)
	modelTables := map[string]bool{}
	for _, m := range store.Models() {
		s, err := schema.Parse(m, &sync.Map{}, g.NamingStrategy)
		if err != nil {
			t.Fatalf("parse model %T: %v", m, err)
		}
		modelTables[s.Table] = true
		cols, err := g.Migrator().ColumnTypes(s.Table)
		if err != nil {
			t.Fatalf("columns of %s: %v", s.Table, err)
		}
		var dbCols, modelCols []string
		for _, c := range cols {
			dbCols = append(dbCols, c.Name())
		}
		for _, f := range s.Fields {
			if f.DBName != "" {
				modelCols = append(modelCols, f.DBName)
			}
		}
		slices.Sort(dbCols)
		slices.Sort(modelCols)
		if !slices.Equal(dbCols, modelCols) {
			t.Errorf("table %s: migrated columns %v, model %T columns %v", s.Table, dbCols, m, modelCols)
		}
	}
	for _, table := range userTables(t, db) {
		if !modelTables[table] {
			t.Errorf("table %s has no model in store.Models()", table)
		}
	}
}

func userTables(t *testing.T, db *store.DB) []string {
	t.Helper()
	tables, err := gormOf(t, db).Migrator().GetTables()
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(tables, func(s string) bool { return s == "goose_db_version" || s == "sqlite_sequence" })
}

func gormOf(t *testing.T, db *store.DB) *gorm.DB {
	t.Helper()
	return store.GormForTest(db)
}

func TestPoolDefaultsPerDialect(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		db := open(t, dialect)
		l := db.Limits()
		st := db.SQL().Stats()
		if st.MaxOpenConnections != l.MaxOpenConns {
			t.Fatalf("limits not applied: %d vs %d", st.MaxOpenConnections, l.MaxOpenConns)
		}
		switch dialect {
		case testenv.Postgres:
			if l.MaxOpenConns != 25 || l.MaxIdleConns != l.MaxOpenConns || l.ConnMaxLifetime != 30*time.Minute || l.ConnMaxIdleTime != 5*time.Minute {
				t.Fatalf("postgres defaults: %+v", l)
			}
		default:
			if l.MaxOpenConns != 1 || l.MaxIdleConns != 1 {
				t.Fatalf("sqlite defaults: %+v", l)
			}
		}
	})
	db, err := store.Open(context.Background(), store.Options{SQLitePath: filepath.Join(t.TempDir(), "x.db"), MaxOpenConns: 4, MaxIdleConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if l := db.Limits(); l.MaxOpenConns != 4 || l.MaxIdleConns != 2 {
		t.Fatalf("configured limits ignored: %+v", l)
	}
}

func TestSQLitePragmas(t *testing.T) {
	db := open(t, testenv.SQLite)
	var mode string
	if err := db.SQL().QueryRowContext(context.Background(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q (%v), want wal", mode, err)
	}
	var busy int
	if err := db.SQL().QueryRowContext(context.Background(), "PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
		t.Fatalf("busy_timeout = %d (%v)", busy, err)
	}
}

func TestOpenUnreachablePostgresFailsClearly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.Options{URL: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	if err == nil {
		t.Fatal("want an error")
	}
}

// TestKeyringStore runs the keyring's store contract on both dialects.
func TestKeyringStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		keyringtest.ExerciseStore(t, func(t *testing.T) keyring.Store { return migrated(t, dialect).Keyring() })
	})
}
