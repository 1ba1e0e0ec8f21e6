package rewrap

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	secretsdb "gatehouse/server/internal/secrets/db"
)

// SecretKeyStore is the db secrets backend's version store (internal/store.SecretValueStore):
// each version's data key is sealed by the keyring, its key version kept in a column.
type SecretKeyStore interface {
	StaleKeys(ctx context.Context, below int, afterID int64, limit int) ([]secretsdb.Row, error)
	Rewrap(ctx context.Context, batch []secretsdb.Rewrapped) (int, error)
}

// SecretKeyCounter counts the backend's versions and those whose data key is sealed below
// current (internal/store.DB.CountSecretDataKeys).
type SecretKeyCounter func(ctx context.Context, current int) (total, stale int, err error)

// SecretDataKeys makes a Rewrapper of the db secrets backend's data keys. Only the 32-byte data
// keys move to the new master key version; the values sealed under them are untouched.
func SecretDataKeys(store SecretKeyStore, count SecretKeyCounter, kr Keyring) Rewrapper {
	return &secretKeys{store: store, count: count, kr: kr}
}

type secretKeys struct {
	store SecretKeyStore
	count SecretKeyCounter
	kr    Keyring
}

func (s *secretKeys) Name() string { return "secret_values" }

func (s *secretKeys) Count(ctx context.Context, current int) (Count, error) {
	total, stale, err := s.count(ctx, current)
	return Count{Total: total, Stale: stale}, err
}

func (s *secretKeys) RewrapBatch(ctx context.Context, current int, after string, n int) (Batch, error) {
	var from int64
	if after != "" {
		var err error
		if from, err = strconv.ParseInt(after, 10, 64); err != nil {
			return Batch{}, fmt.Errorf("bad cursor %q", after)
		}
	}
	rows, err := s.store.StaleKeys(ctx, current, from, n)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Done: len(rows) < n}
	swaps := make([]secretsdb.Rewrapped, 0, len(rows))
	for _, r := range rows {
		b.Next = strconv.FormatInt(r.ID, 10)
		dk, err := s.kr.Decrypt(r.WrappedKey)
		if err != nil {
			b.Failed++
			continue
		}
		sealed, err := s.kr.Encrypt(dk)
		clear(dk)
		if err != nil {
			return b, fmt.Errorf("re-seal: %w", err)
		}
		kv, err := keyVersionOf(sealed)
		if err != nil {
			return b, err
		}
		swaps = append(swaps, secretsdb.Rewrapped{ID: r.ID, Old: r.WrappedKey, New: sealed, KeyVersion: kv})
	}
	if len(swaps) == 0 {
		return b, nil
	}
	changed, err := s.store.Rewrap(ctx, swaps)
	if err != nil {
		return b, err
	}
	b.Rewrapped, b.Skipped = changed, len(swaps)-changed
	return b, nil
}

// keyVersionOf reads the version of a keyring ciphertext "v<version>:<token>".
func keyVersionOf(ciphertext string) (int, error) {
	num, _, ok := strings.Cut(strings.TrimPrefix(ciphertext, "v"), ":")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || v < 1 || !strings.HasPrefix(ciphertext, "v") {
		return 0, errors.New("the keyring returned a ciphertext without a version prefix")
	}
	return v, nil
}
