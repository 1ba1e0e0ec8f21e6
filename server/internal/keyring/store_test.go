package keyring_test

import (
	"testing"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/keyring/keyringtest"
)

// The fake used by this package's tests must honour the same contract as the
// real store, or the keyring tests prove nothing.
func TestFakeStoreConformance(t *testing.T) {
	keyringtest.ExerciseStore(t, func(*testing.T) keyring.Store { return keyring.NewFakeStore() })
}
