package keyring

// NewFakeStore lets the external conformance test run keyringtest against the
// in-memory fake.
func NewFakeStore() Store { return newFakeStore() }
