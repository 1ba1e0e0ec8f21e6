package deploy

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// sourceMatches collects the first group of re over every Go file under dirs (relative to the
// repository root), tests included or not.
func sourceMatches(t *testing.T, re *regexp.Regexp, tests bool, dirs ...string) map[string]bool {
	t.Helper()
	root := repoRoot(t)
	out := map[string]bool{}
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if de.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") != tests {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				out[m[1]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// The checklist's lines (shared/design/security-checklist.md).
var checklist = []string{
	"01", "02", "03", "04", "05", "06", "07",
	"10", "11", "12", "13", "14", "15", "16", "17", "18",
	"20", "21", "22", "23", "24", "25", "26", "27",
	"30", "31", "32", "33", "34", "35",
	"40", "41", "42", "43", "44",
	"50", "51", "52", "53", "54",
}

// docs/security.md covers every checklist line, and every test it cites exists, so the page
// cannot silently go stale when tests are renamed.
func TestSecurityDocIsTrue(t *testing.T) {
	doc := string(readFile(t, "docs/security.md"))
	for _, id := range checklist {
		if !strings.Contains(doc, "| SEC-"+id+" |") {
			t.Errorf("docs/security.md has no row for SEC-%s", id)
		}
	}
	tests := sourceMatches(t, regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)\w+)\(`), true, "server", "shared", "deploy")
	cited := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(doc, -1)
	if len(cited) < 60 {
		t.Fatalf("only %d tests cited", len(cited))
	}
	for _, m := range cited {
		if !tests[m[1]] {
			t.Errorf("docs/security.md cites %s, which no test file defines", m[1])
		}
	}
}

var metricName = regexp.MustCompile(`Name:\s*"(gatehouse_[a-z0-9_]+)"`)

// docs/operations.md explains every metric the server defines and every security event type,
// and names no metric or event that does not exist.
func TestOperationsDocIsComplete(t *testing.T) {
	doc := string(readFile(t, "docs/operations.md"))
	defined := sourceMatches(t, metricName, false, "server")
	if len(defined) < 10 {
		t.Fatalf("only %d gatehouse_ metrics found in the server: %v", len(defined), defined)
	}
	for m := range defined {
		if !strings.Contains(doc, "`"+m+"`") {
			t.Errorf("docs/operations.md does not explain the metric %s", m)
		}
	}
	// Every gatehouse_ series it mentions (tables and alert rules) exists; "name_*" stands for
	// a family.
	for _, m := range regexp.MustCompile(`\b(gatehouse_[a-z0-9_]+)(\*?)`).FindAllStringSubmatch(doc, -1) {
		name, family := m[1], m[2] == "*"
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && defined[b] {
				name = b
			}
		}
		found := defined[name]
		for d := range defined {
			found = found || family && strings.HasPrefix(d, name)
		}
		if !found {
			t.Errorf("docs/operations.md mentions %s, which the server does not define", m[0])
		}
	}

	events := regexp.MustCompile(`Event\w+\s*=\s*"([a-z_.]+)"`).FindAllStringSubmatch(string(readFile(t, "shared/api/events.go")), -1)
	if len(events) < 20 {
		t.Fatalf("only %d event types in shared/api/events.go", len(events))
	}
	for _, e := range events {
		if !strings.Contains(doc, "`"+e[1]+"`") {
			t.Errorf("docs/operations.md does not explain the security event %s", e[1])
		}
	}

	readme := string(readFile(t, "README.md"))
	for _, link := range []string{"(docs/operations.md)", "(docs/security.md)"} {
		if !strings.Contains(readme, link) {
			t.Errorf("README.md does not link %s", link)
		}
	}
}
