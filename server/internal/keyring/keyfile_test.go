package keyring

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

func TestGeneratePassphrase(t *testing.T) {
	a, err := GeneratePassphrase()
	if err != nil {
		t.Fatalf("GeneratePassphrase: %v", err)
	}
	b, _ := GeneratePassphrase()
	if a == b {
		t.Fatal("two generated passphrases are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(a)
	if err != nil || len(raw) != 32 {
		t.Fatalf("passphrase %q is not 32 bytes of base64url (%d bytes, %v)", a, len(raw), err)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "master.key")

	first, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || first == "" {
		t.Fatalf("first call = %q, %v, %v; want a new passphrase", first, created, err)
	}
	if runtime.GOOS != "windows" {
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("key file mode = %04o, want 0600", perm)
		}
		dir, err := os.Stat(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		if perm := dir.Mode().Perm(); perm != 0o700 {
			t.Errorf("key directory mode = %04o, want 0700", perm)
		}
	}

	second, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || second != first {
		t.Fatalf("second call = %q, %v, %v; want the same passphrase, created=false", second, created, err)
	}
}

func TestLoadOrCreateKeyFileTrimsWhitespace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte("  operator-chosen passphrase \r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || got != "operator-chosen passphrase" {
		t.Fatalf("LoadOrCreateKeyFile = %q, %v, %v", got, created, err)
	}
}

func TestLoadOrCreateKeyFileRejectsEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKeyFile(path); err == nil {
		t.Fatal("accepted an empty key file")
	}
}

// Two processes starting at once on a fresh checkout must agree on one key.
func TestLoadOrCreateKeyFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "master.key")
	const n = 8
	var (
		wg      sync.WaitGroup
		got     [n]string
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() { got[i], created[i], errs[i] = LoadOrCreateKeyFile(path) })
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("call %d got a different passphrase", i)
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d calls reported creating the file, want 1", creators)
	}
}
