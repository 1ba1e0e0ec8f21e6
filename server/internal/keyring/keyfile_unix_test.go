//go:build !windows

package keyring

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Windows has no Unix permission bits, so the check (and this test) is Unix-only.
func TestLoadOrCreateKeyFileRejectsReadableByOthers(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, []byte("passphrase\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to umask
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateKeyFile(path)
		if err == nil {
			t.Fatalf("mode %04o: accepted a key file others can read", mode)
		}
		if !strings.Contains(err.Error(), "chmod 600") || strings.Contains(err.Error(), "passphrase") {
			t.Fatalf("mode %04o: error %q should say to chmod 600 and not quote the file", mode, err)
		}
	}
}
