package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// AuditAppender writes a batch of audit records in one transaction (Store.AppendAudit).
type AuditAppender interface {
	AppendAudit(ctx context.Context, recs []AuditRecord) error
}

// DefaultAuditBatch bounds how many records one audit transaction carries.
const DefaultAuditBatch = 256

// auditCommitTimeout bounds one audit transaction, so a hung database fails the waiting
// requests instead of holding them forever.
const auditCommitTimeout = 15 * time.Second

// ErrAuditClosed is returned by Record after Close.
var ErrAuditClosed = errors.New("secret audit writer is closed")

// AuditWriter makes audit records durable with group commit (SEC-41).
//
// Record enqueues a record and blocks until the transaction containing it has committed, so a
// caller that answers only after Record returns nil never answers before its audit record is
// durable. A committer goroutine (one, or a few on PostgreSQL: NewParallelAuditWriter) takes
// every record waiting (up to the batch size), writes them in one transaction (Store:
// one multi-row INSERT), then tells every waiter of that batch the outcome — the same
// error to all of them if the transaction failed, so none of them answers. While a batch
// commits, new records queue and form the next batch: under load the cost of a commit (an
// fsync on SQLite, a WAL flush on PostgreSQL) is shared by a whole batch instead of paid per
// request, and with a single caller there is no added delay (no timer: a batch goes as soon as
// the committer is free).
type AuditWriter struct {
	store AuditAppender
	max   int

	mu     sync.RWMutex // guards closed against concurrent sends; Close takes it exclusively
	closed bool
	queue  chan *auditItem
	done   chan struct{}
}

type auditItem struct {
	rec AuditRecord
	err chan error // buffered(1): the committer never blocks on a waiter that left
}

// NewAuditWriter starts one committer. batch 0 means DefaultAuditBatch. Close stops it.
func NewAuditWriter(store AuditAppender, batch int) *AuditWriter {
	return NewParallelAuditWriter(store, batch, 1)
}

// NewParallelAuditWriter starts committers committers (at least one) that take batches from
// one queue, so that while one batch waits for its commit's flush the next is already being
// written: worth it on a database with several connections (PostgreSQL), not on SQLite's one.
// Each waiter still gets exactly its own batch's outcome.
func NewParallelAuditWriter(store AuditAppender, batch, committers int) *AuditWriter {
	if batch <= 0 {
		batch = DefaultAuditBatch
	}
	committers = max(committers, 1)
	w := &AuditWriter{store: store, max: batch, queue: make(chan *auditItem, batch*4), done: make(chan struct{})}
	var wg sync.WaitGroup
	for range committers {
		wg.Go(w.run)
	}
	go func() { wg.Wait(); close(w.done) }()
	return w
}

// Record makes rec durable and returns nil, or returns why it could not. If ctx ends first,
// Record returns ctx's error: the record may still be committed (it is already queued), but
// the caller must treat the action as unaudited and not answer with its result.
func (w *AuditWriter) Record(ctx context.Context, rec AuditRecord) error {
	it := &auditItem{rec: rec, err: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrAuditClosed
	}
	select {
	case w.queue <- it:
		w.mu.RUnlock()
	case <-ctx.Done():
		w.mu.RUnlock()
		return fmt.Errorf("audit: %w", ctx.Err())
	}
	select {
	case err := <-it.err:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: %w", ctx.Err())
	}
}

// Close stops accepting records, commits every record already queued, and waits for the
// committer to finish. It is safe to call more than once.
func (w *AuditWriter) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.queue) // no sender holds the read lock now, so none can send on a closed channel
	}
	w.mu.Unlock()
	<-w.done
	return nil
}

func (w *AuditWriter) run() {
	batch := make([]*auditItem, 0, w.max)
	for {
		it, ok := <-w.queue
		if !ok {
			return
		}
		batch = append(batch[:0], it)
	drain:
		for len(batch) < w.max {
			select {
			case it, ok := <-w.queue:
				if !ok {
					break drain // closed: commit what we have; the next receive ends the loop
				}
				batch = append(batch, it)
			default:
				break drain
			}
		}
		w.commit(batch)
	}
}

func (w *AuditWriter) commit(batch []*auditItem) {
	recs := make([]AuditRecord, len(batch))
	for i, it := range batch {
		recs[i] = it.rec
	}
	// Not the callers' contexts: the batch belongs to many requests, and one leaving must not
	// abort the others' records.
	ctx, cancel := context.WithTimeout(context.Background(), auditCommitTimeout)
	err := w.store.AppendAudit(ctx, recs)
	cancel()
	if err != nil {
		err = fmt.Errorf("%w: %w", ErrAuditUnwritable, err)
	}
	for _, it := range batch {
		it.err <- err
	}
}
