package secrets

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeAppender records batches; block, when set, holds each commit until released.
type fakeAppender struct {
	mu      sync.Mutex
	batches [][]AuditRecord
	fail    error
	block   chan struct{}
	started chan struct{}
}

func (f *fakeAppender) AppendAudit(_ context.Context, recs []AuditRecord) error {
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, slices.Clone(recs))
	return nil
}

func (f *fakeAppender) all() []AuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []AuditRecord
	for _, b := range f.batches {
		out = append(out, b...)
	}
	return out
}

func rec(i int) AuditRecord {
	return AuditRecord{Action: AuditRead, SecretName: "s/" + strconv.Itoa(i), Outcome: OutcomeSuccess}
}

// Record returns only after the record's batch committed, in the order records were queued.
func TestAuditWriterCommitsBeforeReturning(t *testing.T) {
	f := &fakeAppender{}
	w := NewAuditWriter(f, 0)
	defer w.Close()
	for i := range 5 {
		if err := w.Record(context.Background(), rec(i)); err != nil {
			t.Fatal(err)
		}
		got := f.all()
		if len(got) != i+1 || got[i].SecretName != rec(i).SecretName {
			t.Fatalf("after Record %d returned, committed: %v", i, got)
		}
	}
}

// While one batch commits, concurrent records queue and go together in the next transaction;
// each batch is in queue order and nothing is lost or duplicated.
func TestAuditWriterGroupsConcurrentRecords(t *testing.T) {
	f := &fakeAppender{block: make(chan struct{}), started: make(chan struct{}, 100)}
	w := NewAuditWriter(f, 0)
	defer w.Close()
	first := make(chan error, 1)
	go func() { first <- w.Record(context.Background(), rec(-1)) }()
	<-f.started // the first batch is committing and blocked

	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = w.Record(context.Background(), rec(i)) })
	}
	// Wait until all are queued behind the blocked commit.
	deadline := time.Now().Add(5 * time.Second)
	for len(w.queue) < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if len(w.queue) != n {
		t.Fatalf("%d of %d records queued", len(w.queue), n)
	}
	close(f.block)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	f.mu.Lock()
	batches := len(f.batches)
	f.mu.Unlock()
	if batches != 2 {
		t.Fatalf("%d transactions for 1+%d records queued behind one commit, want 2", batches, n)
	}
	seen := map[string]bool{}
	for _, r := range f.all() {
		if seen[r.SecretName] {
			t.Fatalf("record %s committed twice", r.SecretName)
		}
		seen[r.SecretName] = true
	}
	if len(seen) != n+1 {
		t.Fatalf("%d records committed, want %d", len(seen), n+1)
	}
}

// The batch size bounds a transaction.
func TestAuditWriterBatchLimit(t *testing.T) {
	f := &fakeAppender{block: make(chan struct{}), started: make(chan struct{}, 100)}
	w := NewAuditWriter(f, 4)
	defer w.Close()
	go func() { _ = w.Record(context.Background(), rec(-1)) }()
	<-f.started
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { _ = w.Record(context.Background(), rec(i)) })
	}
	for len(w.queue) < 10 {
		time.Sleep(time.Millisecond)
	}
	close(f.block)
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		if len(b) > 4 {
			t.Fatalf("batch of %d records, limit 4", len(b))
		}
	}
}

// A failed transaction fails every record in it: none of those requests may answer.
func TestAuditWriterFailureReachesEveryWaiter(t *testing.T) {
	boom := errors.New("disk full")
	f := &fakeAppender{block: make(chan struct{}), started: make(chan struct{}, 100)}
	w := NewAuditWriter(f, 0)
	defer w.Close()
	firstErr := make(chan error, 1)
	go func() { firstErr <- w.Record(context.Background(), rec(-1)) }()
	<-f.started
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = w.Record(context.Background(), rec(i)) })
	}
	for len(w.queue) < len(errs) {
		time.Sleep(time.Millisecond)
	}
	f.mu.Lock()
	f.fail = boom
	f.mu.Unlock()
	close(f.block)
	wg.Wait()
	for i, err := range append(errs, <-firstErr) {
		if !errors.Is(err, ErrAuditUnwritable) || !errors.Is(err, boom) {
			t.Fatalf("waiter %d: err = %v, want ErrAuditUnwritable wrapping the cause", i, err)
		}
	}
}

// A caller whose context ends stops waiting with the context's error (and must not answer).
func TestAuditWriterContextCancellation(t *testing.T) {
	f := &fakeAppender{block: make(chan struct{}), started: make(chan struct{}, 100)}
	w := NewAuditWriter(f, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Record(ctx, rec(1)) }()
	<-f.started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(f.block)
	_ = w.Close()
	// Already-cancelled contexts are refused before queueing when the queue is full, and
	// never block.
	if err := w.Record(ctx, rec(2)); err == nil {
		t.Fatal("Record after Close succeeded")
	}
}

// Close commits everything queued before it, then refuses new records.
func TestAuditWriterCloseFlushes(t *testing.T) {
	f := &fakeAppender{block: make(chan struct{}), started: make(chan struct{}, 100)}
	w := NewAuditWriter(f, 0)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	wg.Go(func() { errs[0] = w.Record(context.Background(), rec(0)) })
	<-f.started
	for i := 1; i < len(errs); i++ {
		wg.Go(func() { errs[i] = w.Record(context.Background(), rec(i)) })
	}
	for len(w.queue) < len(errs)-1 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { _ = w.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned before the queued records were committed")
	case <-time.After(50 * time.Millisecond):
	}
	close(f.block)
	<-closed
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d queued before Close: %v", i, err)
		}
	}
	if got := len(f.all()); got != len(errs) {
		t.Fatalf("%d records committed, want %d", got, len(errs))
	}
	if err := w.Record(context.Background(), rec(99)); !errors.Is(err, ErrAuditClosed) {
		t.Fatalf("Record after Close: %v", err)
	}
	_ = w.Close() // twice is fine
}

// With several committers, a batch is written while another waits for its commit; every
// record is committed exactly once before its Record returns, a failed batch fails exactly
// its own waiters, and Close flushes what is queued.
func TestParallelAuditWriter(t *testing.T) {
	f := &fakeAppender{block: make(chan struct{}), started: make(chan struct{}, 1000)}
	w := NewParallelAuditWriter(f, 8, 3)
	results := make(chan error, 2)
	// Two batches commit at once: the second starts while the first is blocked in its commit.
	for i := range 2 {
		go func() { results <- w.Record(context.Background(), rec(1000+i)) }()
		select {
		case <-f.started:
		case <-time.After(5 * time.Second):
			t.Fatalf("batch %d did not start while the first was committing", i+1)
		}
	}
	close(f.block)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}

	const n = 200
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = w.Record(context.Background(), rec(i))
			if errs[i] == nil && !slices.ContainsFunc(f.all(), func(r AuditRecord) bool { return r.SecretName == rec(i).SecretName }) {
				errs[i] = errors.New("Record returned before its record was committed")
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	seen := map[string]int{}
	for _, r := range f.all() {
		seen[r.SecretName]++
	}
	if len(seen) != n+2 {
		t.Fatalf("%d distinct records committed, want %d", len(seen), n+2)
	}
	for name, c := range seen {
		if c != 1 {
			t.Fatalf("%s committed %d times", name, c)
		}
	}

	boom := errors.New("disk full")
	f.mu.Lock()
	f.fail = boom
	f.mu.Unlock()
	if err := w.Record(context.Background(), rec(-5)); !errors.Is(err, ErrAuditUnwritable) || !errors.Is(err, boom) {
		t.Fatalf("failed commit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Record(context.Background(), rec(-6)); !errors.Is(err, ErrAuditClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
