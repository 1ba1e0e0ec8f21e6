package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"gatehouse/server/internal/txhook"
)

type txKey struct{}

// InTx runs fn in one transaction: every store method fn calls with the context it is given
// joins it, so their writes commit together (on PostgreSQL one WAL flush instead of one per
// write) or not at all. A transaction method inside becomes a savepoint, and InTx inside InTx
// joins the outer transaction. Work deferred with txhook.Defer (cache invalidation) runs after
// the commit, with ctx, and its error is returned; a rollback drops it.
//
// fn must reach the database only through the stores and the context it is given: on SQLite a
// write on another connection would wait for this transaction's lock until busy_timeout.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if inTx(ctx) {
		return fn(ctx)
	}
	hctx, run := txhook.Begin(ctx)
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(hctx, txKey{}, tx))
	})
	if err != nil {
		return err
	}
	if err := run(ctx); err != nil {
		return fmt.Errorf("after commit: %w", err)
	}
	return nil
}

// inTx reports whether ctx carries an InTx transaction.
func inTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}

// conn is the handle a store method uses: the transaction ctx carries (InTx), else db; either
// bound to ctx, so the statement keeps the caller's deadline.
func conn(ctx context.Context, db *gorm.DB) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx.WithContext(ctx)
	}
	return db.WithContext(ctx)
}
