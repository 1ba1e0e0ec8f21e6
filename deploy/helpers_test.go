package deploy

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is the repository root: this package lives in <root>/deploy.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Dir(filepath.Dir(file))
}

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var configRow = regexp.MustCompile("^\\| `(GATEHOUSE_[A-Z0-9_]+)` \\| `([a-z0-9_.]+)` \\|")

// configEnvNames reads every GATEHOUSE_* variable from docs/configuration.md (generated from
// the configuration struct tags and kept current by a server test).
func configEnvNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(string(readFile(t, "docs/configuration.md"))))
	for sc.Scan() {
		if m := configRow.FindStringSubmatch(sc.Text()); m != nil {
			names[m[1]] = true
		}
	}
	// A handful that have been there since the first issue: if these are missing, the
	// table format changed and this parser must follow.
	for _, must := range []string{"GATEHOUSE_ENV", "GATEHOUSE_ADDR", "GATEHOUSE_DATABASE_URL", "GATEHOUSE_REDIS_URL", "GATEHOUSE_MASTER_KEY_FILE"} {
		if !names[must] {
			t.Fatalf("docs/configuration.md: %s not found among %d names; has the table format changed?", must, len(names))
		}
	}
	return names
}

// secretEnv names the settings that must never be written inline in a deployment file:
// credentials and the URLs that carry them.
var secretEnv = regexp.MustCompile(`^GATEHOUSE_(MASTER_KEY|DATABASE_URL|REDIS_URL|.*PASSWORD|.*_TOKEN|.*_SECRET)$`)

var makeTarget = regexp.MustCompile(`^([a-zA-Z0-9][a-zA-Z0-9_.-]*):`)

// makeTargets lists the targets the Makefile defines.
func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	targets := map[string]bool{}
	for _, line := range strings.Split(string(readFile(t, "Makefile")), "\n") {
		if m := makeTarget.FindStringSubmatch(line); m != nil && !strings.Contains(line, ":=") {
			targets[m[1]] = true
		}
	}
	for _, must := range []string{"build", "test", "lint"} {
		if !targets[must] {
			t.Fatalf("Makefile: target %q not found in %v", must, targets)
		}
	}
	return targets
}

func TestConfigEnvNamesParsed(t *testing.T) {
	names := configEnvNames(t)
	if len(names) < 40 {
		t.Fatalf("only %d names in docs/configuration.md", len(names))
	}
	if !secretEnv.MatchString("GATEHOUSE_SMTP_PASSWORD") || !secretEnv.MatchString("GATEHOUSE_TWILIO_AUTH_TOKEN") || secretEnv.MatchString("GATEHOUSE_MASTER_KEY_FILE") {
		t.Fatal("secretEnv does not classify as intended")
	}
}

// reporter is what the check functions need of a *testing.T, so the tests can also run them
// on broken input and see them complain.
type reporter interface {
	Helper()
	Error(args ...any)
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// recorder is a reporter that keeps the complaints.
type recorder struct{ msgs []string }

var errFatal = errors.New("fatal")

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Error(args ...any) { r.msgs = append(r.msgs, fmt.Sprint(args...)) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(errFatal)
}

func (r *recorder) Fatal(args ...any) {
	r.Error(args...)
	panic(errFatal)
}

// run calls check, stopping where it calls Fatalf.
func (r *recorder) run(check func(reporter)) {
	defer func() {
		if v := recover(); v != nil && v != errFatal { //nolint:errorlint // the sentinel itself, never wrapped
			panic(v)
		}
	}()
	check(r)
}

func (r *recorder) contains(s string) bool {
	for _, m := range r.msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
