//go:build linux

// The image is a Linux image: its binary is inspected as ELF where the tests build Linux
// binaries (CI, the image build host).

package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The Dockerfile's build command, run outside Docker, produces a static binary carrying the
// stamped version: what the distroless/static image needs (it has no libc).
func TestImageBinaryIsStatic(t *testing.T) {
	bin := imageBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary keeps its symbol table: -ldflags -s is not in effect")
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), testVersion) {
		t.Errorf("version: %v %s (want the stamped %s)", err, out, testVersion)
	}
	if st, err := os.Stat(bin); err == nil {
		t.Logf("binary: %.1f MiB (image estimate: this plus distroless/static, about 2 MiB)", float64(st.Size())/(1<<20))
	}
}
