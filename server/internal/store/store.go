// Package store is the only package that imports GORM. It opens the database (embedded SQLite
// or PostgreSQL), applies the pool settings, runs the embedded migrations, and implements the
// storage interfaces that the services own. Rows are unexported structs; conversion to domain
// types happens here, at the boundary.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"gatehouse/migrations"
)

// Dialects.
const (
	DialectPostgres = migrations.Postgres
	DialectSQLite   = migrations.SQLite
)

// Options says which database to open and how to size its pool. Zero values take the
// per-dialect defaults (see PoolLimits).
type Options struct {
	// URL is a postgres:// URL; empty opens SQLite at SQLitePath.
	URL               string
	SQLitePath        string
	SQLiteBusyTimeout time.Duration
	MaxOpenConns      int
	MaxIdleConns      int
	ConnMaxLifetime   time.Duration
	ConnMaxIdleTime   time.Duration
}

// PoolLimits are the effective pool settings after per-dialect defaults.
type PoolLimits struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
	ConnMaxIdleTime time.Duration
}

// DB is an open database.
type DB struct {
	gorm    *gorm.DB
	sql     *sql.DB
	dialect string
	limits  PoolLimits
}

// Open connects, applies the pool settings and checks the connection with a ping.
func Open(ctx context.Context, o Options) (*DB, error) {
	dialect := DialectSQLite
	if o.URL != "" {
		dialect = DialectPostgres
	}
	dialector, err := dialectorFor(dialect, o)
	if err != nil {
		return nil, err
	}
	g, err := gorm.Open(dialector, &gorm.Config{
		// Never log SQL: statements carry hashes and ciphertexts.
		Logger:                                   logger.Discard,
		NowFunc:                                  func() time.Time { return time.Now().UTC() },
		DisableForeignKeyConstraintWhenMigrating: true,
		TranslateError:                           true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("database handle: %w", err)
	}
	limits := poolLimits(dialect, o)
	sqlDB.SetMaxOpenConns(limits.MaxOpenConns)
	sqlDB.SetMaxIdleConns(limits.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(limits.ConnMaxLifetime)
	sqlDB.SetConnMaxIdleTime(limits.ConnMaxIdleTime)

	db := &DB{gorm: g, sql: sqlDB, dialect: dialect, limits: limits}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	return db, nil
}

func dialectorFor(dialect string, o Options) (gorm.Dialector, error) {
	if dialect == DialectPostgres {
		return postgres.New(postgres.Config{DSN: o.URL}), nil
	}
	if o.SQLitePath == "" {
		return nil, errors.New("open sqlite: no file path")
	}
	if err := os.MkdirAll(filepath.Dir(o.SQLitePath), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	busy := o.SQLiteBusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	// WAL lets readers proceed during a write; immediate transactions take the write lock up
	// front, so two writers queue on busy_timeout instead of deadlocking on lock upgrade.
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	return sqlite.Open("file:" + filepath.ToSlash(o.SQLitePath) + "?" + q.Encode()), nil
}

// poolLimits applies the per-dialect defaults. PostgreSQL: 25 connections, all kept idle so
// bursts do not pay connection set-up, recycled every 30 min (balancers, failover) and closed
// after 5 idle minutes. SQLite: one connection, because SQLite has one writer anyway and a
// single connection turns lock contention into orderly queueing in database/sql.
func poolLimits(dialect string, o Options) PoolLimits {
	l := PoolLimits{MaxOpenConns: o.MaxOpenConns, MaxIdleConns: o.MaxIdleConns, ConnMaxLifetime: o.ConnMaxLifetime, ConnMaxIdleTime: o.ConnMaxIdleTime}
	if dialect == DialectPostgres {
		if l.MaxOpenConns == 0 {
			l.MaxOpenConns = 25
		}
		if l.ConnMaxLifetime == 0 {
			l.ConnMaxLifetime = 30 * time.Minute
		}
		if l.ConnMaxIdleTime == 0 {
			l.ConnMaxIdleTime = 5 * time.Minute
		}
	} else if l.MaxOpenConns == 0 {
		l.MaxOpenConns = 1
	}
	if l.MaxIdleConns == 0 {
		l.MaxIdleConns = l.MaxOpenConns
	}
	return l
}

// Dialect is "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// Limits are the effective pool settings.
func (db *DB) Limits() PoolLimits { return db.limits }

// SQL is the underlying pool, for migrations, stats and health checks.
func (db *DB) SQL() *sql.DB { return db.sql }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.dialect, err)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() error { return db.sql.Close() }
