package secretstest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/secretstest"
)

const defectEnv = "SECRETSTEST_DEFECT"

// foldingBackend encodes names the careless way: '/' becomes '-' and case is folded, so
// "a/b" and "a-b" (and "A/b") share a slot.
type foldingBackend struct{ *memory }

func (f foldingBackend) key(n string) string { return strings.ToLower(strings.ReplaceAll(n, "/", "-")) }
func (f foldingBackend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	return f.memory.Get(ctx, f.key(name), version)
}
func (f foldingBackend) Put(ctx context.Context, name string, data []byte) (string, error) {
	return f.memory.Put(ctx, f.key(name), data)
}

// overwritingBackend keeps one version per name: a Put replaces the last one.
type overwritingBackend struct{ *memory }

func (o overwritingBackend) Put(ctx context.Context, name string, data []byte) (string, error) {
	o.mu.Lock()
	delete(o.versions, name)
	o.mu.Unlock()
	return o.memory.Put(ctx, name, data)
}

// TestSuiteCatchesDefects runs the suite against each defective backend in a child process of
// this test binary (a failing subtest would fail this test too), and checks that it failed,
// in the right place. The child is this same test with SECRETSTEST_DEFECT set.
func TestSuiteCatchesDefects(t *testing.T) {
	switch os.Getenv(defectEnv) {
	case "folding":
		secretstest.Exercise(t, foldingBackend{newMemory()}, secretstest.Options{})
		return
	case "overwriting":
		secretstest.Exercise(t, overwritingBackend{newMemory()}, secretstest.Options{})
		return
	}
	for defect, wantFailing := range map[string]string{
		"folding":     "NoCollisions",
		"overwriting": "Writer/VersionsKept",
	} {
		t.Run(defect, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSuiteCatchesDefects$", "-test.v") //nolint:gosec // the test binary itself
			cmd.Env = append(os.Environ(), defectEnv+"="+defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a %s backend:\n%s", defect, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestSuiteCatchesDefects/"+wantFailing) {
				t.Fatalf("the %s backend did not fail %s:\n%s", defect, wantFailing, out)
			}
		})
	}
}
