package deploy

import (
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"sigs.k8s.io/yaml"
)

// workflow is the part of a GitHub Actions workflow these tests read.
type workflow struct {
	On map[string]any `json:"on"`
	// sigs.k8s.io/yaml reads YAML 1.1, where a bare `on` key is the boolean true.
	OnTrue map[string]any `json:"true"`
	Env    map[string]string
	Jobs   map[string]struct {
		Env      map[string]string `json:"env"`
		Services map[string]struct {
			Image string `json:"image"`
		} `json:"services"`
		Strategy struct {
			Matrix map[string]any `json:"matrix"`
		} `json:"strategy"`
		Steps []struct {
			Name string            `json:"name"`
			Uses string            `json:"uses"`
			Run  string            `json:"run"`
			Env  map[string]string `json:"env"`
			With map[string]any    `json:"with"`
		} `json:"steps"`
	} `json:"jobs"`
}

func loadWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	var w workflow
	if err := yaml.Unmarshal(readFile(t, ".github/workflows/"+name), &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(w.Jobs) == 0 {
		t.Fatalf("%s: no jobs", name)
	}
	if w.On == nil {
		w.On = w.OnTrue
	}
	return w
}

func newActionlint(t *testing.T) *actionlint.Linter {
	t.Helper()
	opts := &actionlint.LinterOptions{LogWriter: io.Discard, WorkingDir: repoRoot(t)}
	// shellcheck checks the run: scripts too where it is installed (apt-get install shellcheck).
	if p, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = p
	}
	l, err := actionlint.NewLinter(io.Discard, opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// actionlint knows the workflow syntax, expressions, runner labels and the inputs of the
// popular actions at each major version.
func TestWorkflowsLint(t *testing.T) {
	l := newActionlint(t)
	dir := filepath.Join(repoRoot(t), ".github", "workflows")
	errs, err := l.LintDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s", e)
	}
	// ...and it does complain: an unknown input (of a version in actionlint's data set) and a
	// bad expression.
	bad := []byte("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/setup-go@v5\n        with:\n          go-versions: '1.26'\n      - run: echo ${{ matrix.nope }}\n")
	errs, err = l.Lint(filepath.Join(dir, "bad.yml"), bad, nil)
	if err != nil || len(errs) < 2 {
		t.Fatalf("actionlint accepted a broken workflow: %v %v", errs, err)
	}
}

var shellSplit = regexp.MustCompile(`\s*(?:&&|\|\||;|\||\(|\))\s*`)

// makeCalls returns the make targets a shell script runs, and those it only runs after
// checking the Makefile has them (grep -q '^target:' Makefile).
func makeCalls(script string) (targets, guarded []string) {
	for _, line := range strings.Split(script, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if m := regexp.MustCompile(`grep -q '\^([a-z0-9-]+):' Makefile`).FindStringSubmatch(line); m != nil {
			guarded = append(guarded, m[1])
		}
		for _, cmd := range shellSplit.Split(line, -1) {
			words := strings.Fields(cmd)
			// Skip VAR=value assignments and the keywords that may stand before a command.
			for len(words) > 0 && (strings.Contains(words[0], "=") || slices.Contains([]string{"then", "else", "do", "if", "elif", "while", "until", "!"}, words[0])) {
				words = words[1:]
			}
			if len(words) == 0 || words[0] != "make" {
				continue
			}
			for _, w := range words[1:] {
				if !strings.HasPrefix(w, "-") && !strings.Contains(w, "=") {
					targets = append(targets, w)
				}
			}
		}
	}
	return targets, guarded
}

func TestMakeCallsParser(t *testing.T) {
	targets, guarded := makeCalls("make lint\nGOFLAGS=-x make -s test bench # not: make nope\nif grep -q '^test-cluster:' Makefile; then make test-cluster; fi\n(cd x && make build) | tee log")
	if want := []string{"lint", "test", "bench", "test-cluster", "build"}; !slices.Equal(targets, want) {
		t.Errorf("targets %v, want %v", targets, want)
	}
	if !slices.Equal(guarded, []string{"test-cluster"}) {
		t.Errorf("guarded %v", guarded)
	}
}

// Every `make X` in a workflow names a target the Makefile has (or is guarded by a check that
// it exists, as the cluster-test step is until that target lands).
func TestWorkflowsMakeTargetsExist(t *testing.T) {
	have := makeTargets(t)
	for _, name := range []string{"ci.yml", "release.yml"} {
		w := loadWorkflow(t, name)
		for job, j := range w.Jobs {
			for _, s := range j.Steps {
				targets, guarded := makeCalls(s.Run)
				for _, tg := range targets {
					if !have[tg] && !slices.Contains(guarded, tg) {
						t.Errorf("%s job %s step %q: make %s, which the Makefile does not define", name, job, s.Name, tg)
					}
				}
			}
		}
	}
}

var ciExport = regexp.MustCompile(`(?m)^export (GATEHOUSE_[A-Z_]+)="?([^"\s#]*)"?`)

// ci.yml runs what .ci/run runs, with the same test environment.
func TestCIWorkflowMirrorsCIRun(t *testing.T) {
	ciRun := string(readFile(t, ".ci/run"))
	w := loadWorkflow(t, "ci.yml")
	var runs []string
	env := map[string]string{}
	images := map[string]string{}
	for _, j := range w.Jobs {
		for k, v := range j.Env {
			env[k] = v
		}
		for name, s := range j.Services {
			images[name] = s.Image
		}
		for _, s := range j.Steps {
			runs = append(runs, s.Run)
		}
	}
	all := strings.Join(runs, "\n")
	exports := ciExport.FindAllStringSubmatch(ciRun, -1)
	if len(exports) < 3 {
		t.Fatalf(".ci/run: only %d GATEHOUSE_ exports found", len(exports))
	}
	for _, m := range exports {
		if env[m[1]] != m[2] {
			t.Errorf("%s: .ci/run sets %q, ci.yml %q", m[1], m[2], env[m[1]])
		}
	}
	// Variables .ci/run computes and exports (export NAME after NAME=$(...)) reach the later
	// steps through $GITHUB_ENV.
	for _, line := range regexp.MustCompile(`(?m)^export ((?:GATEHOUSE_[A-Z_]+ ?)+)$`).FindAllStringSubmatch(ciRun, -1) {
		for _, name := range strings.Fields(line[1]) {
			if !regexp.MustCompile(`echo "` + name + `=.*>> "\$GITHUB_ENV"`).MatchString(all) {
				t.Errorf(".ci/run exports %s; ci.yml never writes it to $GITHUB_ENV", name)
			}
		}
	}
	ciTargets, _ := makeCalls(ciRun)
	wfTargets, _ := makeCalls(all)
	for _, tg := range ciTargets {
		if !slices.Contains(wfTargets, tg) {
			t.Errorf(".ci/run runs make %s; ci.yml does not", tg)
		}
	}
	for _, script := range regexp.MustCompile(`(?m)^bash (scripts/\S+)`).FindAllStringSubmatch(ciRun, -1) {
		if !strings.Contains(all, "bash "+script[1]) {
			t.Errorf(".ci/run runs %s; ci.yml does not", script[1])
		}
	}
	// The services the tests need, from pinned images.
	for _, svc := range []string{"postgres", "redis"} {
		img := images[svc]
		if _, tag, ok := strings.Cut(img, ":"); !ok || tag == "" || tag == "latest" {
			t.Errorf("service %s: image %q is not pinned", svc, img)
		}
	}
	if !strings.Contains(env["GATEHOUSE_TEST_POSTGRES_URL"], "127.0.0.1:5432") || !strings.Contains(env["GATEHOUSE_TEST_REDIS_URL"], "127.0.0.1:6379") {
		t.Error("the test URLs must point at the service containers' published ports")
	}
}

func TestReleaseWorkflow(t *testing.T) {
	w := loadWorkflow(t, "release.yml")
	push, _ := w.On["push"].(map[string]any)
	if tags, _ := push["tags"].([]any); len(tags) == 0 {
		t.Error("release.yml must run on pushed tags")
	}
	bin, ok := w.Jobs["binaries"]
	if !ok {
		t.Fatal("no binaries job")
	}
	matrix := map[string][]string{}
	for k, v := range bin.Strategy.Matrix {
		vs, _ := v.([]any)
		for _, x := range vs {
			s, _ := x.(string)
			matrix[k] = append(matrix[k], s)
		}
	}
	for _, os := range []string{"linux", "darwin", "windows"} {
		if !slices.Contains(matrix["goos"], os) {
			t.Errorf("matrix goos %v lacks %s", matrix["goos"], os)
		}
	}
	for _, arch := range []string{"amd64", "arm64"} {
		if !slices.Contains(matrix["goarch"], arch) {
			t.Errorf("matrix goarch %v lacks %s", matrix["goarch"], arch)
		}
	}
	var built, checksums, image bool
	for _, j := range w.Jobs {
		for _, s := range j.Steps {
			if strings.Contains(s.Run, "go work init") {
				// The same workspace as the image: the modules the server is built from.
				m := regexp.MustCompile(`go work init ((?:\./\S+ ?)+)`).FindStringSubmatch(s.Run)
				if m == nil || !slices.Equal(sorted(strings.Fields(m[1])), serverModules(t)) {
					t.Errorf("step %q: go work init %v, want %v", s.Name, m, serverModules(t))
				}
			}
			if strings.Contains(s.Run, "go build") {
				built = true
				if s.Env["CGO_ENABLED"] != "0" || !strings.Contains(s.Run, "-trimpath") {
					t.Errorf("step %q: want CGO_ENABLED=0 and -trimpath", s.Name)
				}
				if got, want := ldflagsVars(s.Run), ldflagsVars(makeVar(t, "LDFLAGS")); !slices.Equal(got, want) {
					t.Errorf("step %q stamps %v, the Makefile %v", s.Name, got, want)
				}
			}
			checksums = checksums || strings.Contains(s.Run, "sha256sum")
			if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
				image = true
				if p, _ := s.With["platforms"].(string); !strings.Contains(p, "linux/amd64") || !strings.Contains(p, "linux/arm64") {
					t.Errorf("image platforms %q", p)
				}
				if f, _ := s.With["file"].(string); f != "Dockerfile" {
					t.Errorf("image built from %q, not the Dockerfile", f)
				}
			}
		}
	}
	if !built || !checksums || !image {
		t.Errorf("release.yml: go build %t, checksums %t, image %t", built, checksums, image)
	}
}

var actionRef = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})$`)

// Every action is pinned to a release (a version tag or a commit), never a branch.
func TestWorkflowActionsPinned(t *testing.T) {
	for _, name := range []string{"ci.yml", "release.yml"} {
		for job, j := range loadWorkflow(t, name).Jobs {
			for _, s := range j.Steps {
				if s.Uses != "" && !actionRef.MatchString(s.Uses) {
					t.Errorf("%s job %s: uses %q is not pinned to a version or commit", name, job, s.Uses)
				}
			}
		}
	}
	if actionRef.MatchString("actions/checkout@main") || !actionRef.MatchString("actions/checkout@v6") {
		t.Fatal("actionRef does not classify as intended")
	}
}
