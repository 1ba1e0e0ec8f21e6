package keyring

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// fakeStore is an in-memory Store. The hooks, when set, run before the
// operation and outside the lock, so tests can line up races or fail calls.
type fakeStore struct {
	mu              sync.Mutex
	kdf             *KDFParams
	keys            map[int]WrappedKey
	initialiseCalls int
	addKeyCalls     int

	beforeInitialise func()
	beforeAddKey     func(WrappedKey) error
}

func newFakeStore() *fakeStore { return &fakeStore{keys: map[int]WrappedKey{}} }

func (s *fakeStore) LoadKDF(context.Context) (KDFParams, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kdf == nil {
		return KDFParams{}, ErrNotInitialised
	}
	p := *s.kdf
	p.Salt = slices.Clone(p.Salt)
	return p, nil
}

func (s *fakeStore) Initialise(_ context.Context, p KDFParams, first WrappedKey) error {
	if s.beforeInitialise != nil {
		s.beforeInitialise()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initialiseCalls++
	if s.kdf != nil {
		return ErrAlreadyInitialised
	}
	p.Salt = slices.Clone(p.Salt)
	s.kdf = &p
	s.keys[first.Version] = first
	return nil
}

func (s *fakeStore) Keys(context.Context) ([]WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Values(s.keys)), nil
}

func (s *fakeStore) AddKey(_ context.Context, k WrappedKey) error {
	if s.beforeAddKey != nil {
		if err := s.beforeAddKey(k); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addKeyCalls++
	if _, ok := s.keys[k.Version]; ok {
		return ErrKeyVersionExists
	}
	s.keys[k.Version] = k
	return nil
}

// fakeState is a deep copy of a fakeStore's contents, for "unchanged" checks.
type fakeState struct {
	KDF  *KDFParams
	Keys map[int]WrappedKey
}

func (s *fakeStore) snapshot() fakeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := fakeState{Keys: maps.Clone(s.keys)}
	if s.kdf != nil {
		p := *s.kdf
		p.Salt = slices.Clone(p.Salt)
		st.KDF = &p
	}
	return st
}

// setWrapped overwrites a stored key row, to simulate a damaged database.
func (s *fakeStore) setWrapped(version int, wrapped string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[version]
	k.Wrapped = wrapped
	s.keys[version] = k
}
