package password

import (
	"bufio"
	_ "embed" // the common-password list ships inside the binary
	"strings"
	"sync"
)

//go:generate go run gen_common.go

// commonPasswordsTxt is the bundled list (SEC-03). It is generated from
// Dropbox zxcvbn 4.4.2's "passwords" frequency list; see the header of the
// file and gen_common.go for the source, licence and why not zxcvbn-go.
//
//go:embed common-passwords.txt
var commonPasswordsTxt string

// commonPasswords parses the list once, on first use, so binaries that never
// validate a new password never pay for the map. Keys are lower-case because
// the check is case-insensitive.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 30000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsTxt))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	// The embedded string cannot fail to read and no line is longer than
	// bufio's default limit (the generator checks the list), so sc.Err() is
	// always nil; the entry-count test would catch a truncated parse.
	return set
})

// isCommon reports whether password, compared case-insensitively, is in the
// bundled common-password list.
func isCommon(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
