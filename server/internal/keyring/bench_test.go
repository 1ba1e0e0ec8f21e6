package keyring

import (
	"bytes"
	"context"
	"testing"
)

// The benchmarks use the production KDF: BenchmarkOpen shows the one-time
// start-up cost, BenchmarkEncrypt/Decrypt that requests never pay it.

func benchKeyring(b *testing.B) (*Keyring, *fakeStore) {
	b.Helper()
	s := newFakeStore()
	return openT(b, s, testPassphrase, Options{}), s
}

func BenchmarkEncrypt(b *testing.B) {
	kr, _ := benchKeyring(b)
	pt := bytes.Repeat([]byte{0x42}, 1024)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Encrypt(pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	kr, _ := benchKeyring(b)
	pt := bytes.Repeat([]byte{0x42}, 1024)
	ct := encryptT(b, kr, pt)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.Decrypt(ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen reopens an existing keyring: one PBKDF2 run (600,000
// iterations) plus unwrapping its key.
func BenchmarkOpen(b *testing.B) {
	_, s := benchKeyring(b)
	for b.Loop() {
		if _, err := Open(context.Background(), s, testPassphrase, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
