package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// passphraseBytes is the entropy of a generated passphrase (256 bits).
const passphraseBytes = 32

// maxKeyFileSize bounds what LoadOrCreateKeyFile reads; a key file is one line.
const maxKeyFileSize = 4096

// GeneratePassphrase returns a random master passphrase: 32 bytes from
// crypto/rand, unpadded base64url (43 characters).
func GeneratePassphrase() (string, error) {
	b := make([]byte, passphraseBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate passphrase: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// LoadOrCreateKeyFile returns the master passphrase kept in path (surrounding
// whitespace trimmed), creating the file with a generated passphrase when it
// does not exist. It is meant for development, where ./data/master.key saves
// the developer from choosing a key.
//
// A new file is created with mode 0600 (its directory 0700) and O_EXCL, so two
// processes starting together cannot both create one: the loser reads the
// winner's. An existing file that group or others may read is refused on
// non-Windows systems.
func LoadOrCreateKeyFile(path string) (passphrase string, created bool, err error) {
	path = filepath.Clean(path)
	// An empty file may be one another process has just created and is
	// about to fill, so wait for it rather than fail.
	passphrase, err = readNewKeyFile(path)
	if err == nil {
		return passphrase, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, err
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("create master key file directory: %w", err)
	}
	passphrase, err = GeneratePassphrase()
	if err != nil {
		return "", false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it since we looked; use theirs.
		passphrase, err = readNewKeyFile(path)
		return passphrase, false, err
	}
	if err != nil {
		return "", false, fmt.Errorf("create master key file: %w", err)
	}
	_, werr := io.WriteString(f, passphrase+"\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// Do not leave an empty or partial key file behind for the next start.
		_ = os.Remove(path)
		return "", false, fmt.Errorf("write master key file: %w", werr)
	}
	return passphrase, true, nil
}

// errEmptyKeyFile is returned for a key file with no passphrase in it.
var errEmptyKeyFile = errors.New("master key file is empty")

// readKeyFile reads and checks an existing key file.
func readKeyFile(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: reading the operator's configured key file is the point
	if err != nil {
		return "", fmt.Errorf("open master key file: %w", err)
	}
	defer f.Close()
	// Stat the open file, not the path, so the checks apply to what we read.
	info, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("stat master key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", fmt.Errorf("master key file %s is not a regular file", path)
	}
	// Windows has no Unix permission bits; its ACLs are the operator's job.
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("master key file %s is accessible by group or others (mode %04o); run: chmod 600 %s", path, info.Mode().Perm(), path)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return "", fmt.Errorf("read master key file: %w", err)
	}
	if len(raw) > maxKeyFileSize {
		return "", fmt.Errorf("master key file %s is larger than %d bytes; it should hold one passphrase", path, maxKeyFileSize)
	}
	passphrase := strings.TrimSpace(string(raw))
	if passphrase == "" {
		return "", fmt.Errorf("%w: %s", errEmptyKeyFile, path)
	}
	return passphrase, nil
}

// readNewKeyFile is readKeyFile, waiting up to 0.2 s for an empty file to
// be filled by the process that created it.
func readNewKeyFile(path string) (string, error) {
	const attempts, pause = 10, 20 * time.Millisecond
	for i := 1; ; i++ {
		passphrase, err := readKeyFile(path)
		if !errors.Is(err, errEmptyKeyFile) || i == attempts {
			return passphrase, err
		}
		time.Sleep(pause)
	}
}
