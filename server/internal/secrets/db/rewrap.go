package db

import (
	"context"
	"errors"
	"fmt"
)

// DefaultRewrapBatch is Rewrap's batch size when RewrapOptions.BatchSize is 0.
const DefaultRewrapBatch = 200

// RewrapProgress is how far a re-wrap has come. Total is counted when the run starts; rows
// written with the new master key while it runs are already current and are not counted.
type RewrapProgress struct {
	KeyVersion int // the master key version data keys are being moved to
	Total      int // rows on older master key versions when the run started
	Done       int // rows re-wrapped so far
	Skipped    int // rows that changed or vanished under the run (deleted, or re-wrapped by another replica)
}

// RewrapOptions tunes Rewrap.
type RewrapOptions struct {
	BatchSize int
	// Progress, when set, is called after every batch (and once at the start).
	Progress func(RewrapProgress)
}

// Rewrap re-seals every data key still wrapped by an older master key version with the
// keyring's current version, in batches of one transaction each, so a master key rotation
// (keyring.Rotate) ends with no row depending on the old key. Values are never decrypted or
// re-encrypted: only the 32-byte data keys move. Each row is swapped only if it still holds
// the wrapped key that was read, so a concurrent Delete or a second replica running the same
// job cannot be overwritten with stale data. Every secret stays readable throughout (SEC-43):
// the keyring keeps the old version to unwrap rows not yet done.
//
// It returns when no stale row is left or ctx ends; running it again resumes.
func (b *Backend) Rewrap(ctx context.Context, opts RewrapOptions) (RewrapProgress, error) {
	batchSize := opts.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultRewrapBatch
	}
	report := func(p RewrapProgress) {
		if opts.Progress != nil {
			opts.Progress(p)
		}
	}
	target := b.kr.CurrentVersion()
	total, err := b.store.CountStale(ctx, target)
	if err != nil {
		return RewrapProgress{}, fmt.Errorf("rewrap: count: %w", err)
	}
	p := RewrapProgress{KeyVersion: target, Total: total}
	report(p)
	var after int64
	for {
		if err := ctx.Err(); err != nil {
			return p, fmt.Errorf("rewrap: %w", err)
		}
		rows, err := b.store.StaleKeys(ctx, target, after, batchSize)
		if err != nil {
			return p, fmt.Errorf("rewrap: read batch: %w", err)
		}
		if len(rows) == 0 {
			return p, nil
		}
		batch := make([]Rewrapped, 0, len(rows))
		for _, r := range rows {
			after = r.ID
			nw, kv, err := b.rewrapOne(r.WrappedKey, target)
			if err != nil {
				return p, fmt.Errorf("rewrap version %d: %w", r.ID, err)
			}
			batch = append(batch, Rewrapped{ID: r.ID, Old: r.WrappedKey, New: nw, KeyVersion: kv})
		}
		n, err := b.store.Rewrap(ctx, batch)
		if err != nil {
			return p, fmt.Errorf("rewrap: write batch: %w", err)
		}
		p.Done += n
		p.Skipped += len(batch) - n
		report(p)
	}
}

func (b *Backend) rewrapOne(wrapped string, target int) (string, int, error) {
	raw, err := b.kr.Decrypt(wrapped)
	if err != nil {
		return "", 0, fmt.Errorf("%w: unwrap: %w", ErrCorrupt, err)
	}
	defer clear(raw)
	nw, err := b.kr.Encrypt(raw)
	if err != nil {
		return "", 0, fmt.Errorf("wrap: %w", err)
	}
	kv, err := keyVersion(nw)
	if err != nil {
		return "", 0, err
	}
	if kv < target { // a newer rotation meanwhile is fine: the row is then newer still
		return "", 0, errors.New("the keyring wrapped with an older master key version than it reported as current")
	}
	return nw, kv, nil
}
