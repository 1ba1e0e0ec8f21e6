package deploy

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// dockerfile is the repository's Dockerfile as BuildKit reads it.
type dockerfile struct {
	stages   []instructions.Stage
	metaArgs map[string]string // global ARG defaults, for expanding FROM lines
}

func parseDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	res, err := parser.Parse(bytes.NewReader(readFile(t, "Dockerfile")))
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile parser warning: %s", w.Short)
	}
	var lints []string
	// The stable rules only: experimental ones come and go between BuildKit releases.
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		lints = append(lints, fmt.Sprintf("%s: %s (line %v)", rule, msg, loc))
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	for _, l := range lints {
		t.Errorf("Dockerfile lint: %s", l)
	}
	d := &dockerfile{stages: stages, metaArgs: map[string]string{}}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			d.metaArgs[kv.Key] = kv.ValueString()
		}
	}
	return d
}

// expand expands $VAR and ${VAR} the way BuildKit does, and splits into words.
func expand(t *testing.T, s string, env map[string]string) []string {
	t.Helper()
	kv := make([]string, 0, len(env))
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	words, err := shell.NewLex('\\').ProcessWords(s, shell.EnvsFromSlice(kv))
	if err != nil {
		t.Fatalf("expand %q: %v", s, err)
	}
	return words
}

// stageArgs is the stage's ARG defaults (meta args it re-declares included) plus overrides.
func (d *dockerfile) stageArgs(st instructions.Stage, overrides map[string]string) map[string]string {
	env := map[string]string{}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				if v, ok := d.metaArgs[kv.Key]; ok {
					env[kv.Key] = v
				}
				if kv.Value != nil {
					env[kv.Key] = *kv.Value
				}
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				env[kv.Key] = kv.Value
			}
		}
	}
	for k, v := range overrides {
		env[k] = v
	}
	return env
}

func (d *dockerfile) final() instructions.Stage { return d.stages[len(d.stages)-1] }

// commandsOf returns the stage's commands of type T.
func commandsOf[T instructions.Command](st instructions.Stage) []T {
	var out []T
	for _, c := range st.Commands {
		if v, ok := c.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// goBuild is the builder's `go build` RUN, as environment assignments and go arguments.
type goBuild struct {
	env  map[string]string
	args []string // after "go"
}

var envAssign = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`)

// findRun returns the words of the first RUN in st whose command line (after any leading
// VAR=value words and a "cd DIR &&") starts with prefix.
func (d *dockerfile) findRun(t *testing.T, st instructions.Stage, overrides map[string]string, prefix ...string) (*instructions.RunCommand, goBuild, bool) {
	t.Helper()
	env := d.stageArgs(st, overrides)
	for _, run := range commandsOf[*instructions.RunCommand](st) {
		words := expand(t, strings.Join(run.CmdLine, " "), env)
		gb := goBuild{env: map[string]string{}}
		i := 0
		for ; i < len(words) && envAssign.MatchString(words[i]); i++ {
			k, v, _ := strings.Cut(words[i], "=")
			gb.env[k] = v
		}
		if i+1 < len(words) && words[i] == "cd" {
			i += 3 // cd DIR &&
		}
		if i+len(prefix) <= len(words) && slices.Equal(words[i:i+len(prefix)], prefix) {
			gb.args = words[i+1:]
			return run, gb, true
		}
	}
	return nil, goBuild{}, false
}

// dockerfileFinalUser is the USER the image runs as (for the Kubernetes test to compare).
func dockerfileFinalUser(t *testing.T) string {
	t.Helper()
	users := commandsOf[*instructions.UserCommand](parseDockerfile(t).final())
	if len(users) == 0 {
		t.Fatal("Dockerfile: the final stage sets no USER")
	}
	return users[len(users)-1].User
}

var pinnedImage = regexp.MustCompile(`^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$`)

func TestDockerfileStagesAndBaseImages(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(d.stages))
	}
	seen := map[string]bool{}
	for i, st := range d.stages {
		base := expand(t, st.BaseName, d.metaArgs)
		if len(base) != 1 {
			t.Fatalf("stage %d: FROM %q expands to %v", i, st.BaseName, base)
		}
		img := base[0]
		switch {
		case seen[img], img == "scratch":
		case !pinnedImage.MatchString(img):
			t.Errorf("stage %d: base image %q is not a plain reference", i, img)
		default:
			_, tag, hasTag := strings.Cut(img[strings.LastIndex(img, "/")+1:], ":")
			tag, _, _ = strings.Cut(tag, "@")
			if (!hasTag || tag == "latest") && !strings.Contains(img, "@sha256:") {
				t.Errorf("stage %d: base image %q is not pinned (a tag other than latest, or a digest)", i, img)
			}
		}
		if st.Name != "" {
			seen[st.Name] = true
		}
		for _, add := range commandsOf[*instructions.AddCommand](st) {
			for _, src := range add.SourcePaths {
				if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
					t.Errorf("stage %d: ADD of a remote source %q: fetched unverified at build time", i, src)
				}
			}
		}
	}
	if fb := d.stages[0].BaseName; !strings.Contains(fb, "golang:") {
		t.Errorf("the first stage builds with the Go image, got %q", fb)
	}
	if v := d.metaArgs["GO_VERSION"]; v == "" || !strings.HasPrefix(v, "1.26") {
		t.Errorf("GO_VERSION=%q: the builder must match go.work's Go (1.26.x)", v)
	} else if !bytes.Contains(readFile(t, "go.work"), []byte("go "+v)) {
		t.Errorf("GO_VERSION=%s differs from go.work's go line", v)
	}
}

func TestDockerfileBuildStage(t *testing.T) {
	d := parseDockerfile(t)
	build := d.stages[0]
	run, gb, ok := d.findRun(t, build, nil, "go", "build")
	if !ok {
		t.Fatal("no `go build` RUN in the first stage")
	}
	if gb.env["CGO_ENABLED"] != "0" {
		t.Errorf("CGO_ENABLED=%q, want 0 (a static binary)", gb.env["CGO_ENABLED"])
	}
	if !slices.Contains(gb.args, "-trimpath") {
		t.Errorf("go build without -trimpath: %v", gb.args)
	}
	if got := gb.args[len(gb.args)-1]; got != "./server/cmd/gatehouse" {
		t.Errorf("builds %q, want ./server/cmd/gatehouse", got)
	}
	// The version stamping matches the Makefile's (same -X variables).
	ldflags := ""
	for i, a := range gb.args {
		if a == "-ldflags" && i+1 < len(gb.args) {
			ldflags = gb.args[i+1]
		}
	}
	if xs, want := ldflagsVars(ldflags), ldflagsVars(makeVar(t, "LDFLAGS")); len(want) == 0 || !slices.Equal(xs, want) || !strings.Contains(ldflags, "-s -w") {
		t.Errorf("-ldflags %q: want -s -w and the Makefile's -X variables %v, got %v", ldflags, want, xs)
	}
	// Mounts are parsed when the command is expanded, as BuildKit does before building.
	if err := run.Expand(func(w string) (string, error) { return w, nil }); err != nil {
		t.Fatal(err)
	}
	mounts := map[string]bool{}
	for _, m := range instructions.GetMounts(run) {
		if m.Type == instructions.MountTypeCache {
			mounts[m.Target] = true
		}
	}
	if !mounts["/go/pkg/mod"] || !mounts["/root/.cache/go-build"] {
		t.Errorf("go build should use cache mounts for the module and build caches; got %v", mounts)
	}
	if _, _, ok := d.findRun(t, build, nil, "go", "mod", "download"); !ok {
		t.Error("no separate `go mod download` layer (dependency downloads would rerun on every source change)")
	}
	// The workspace it builds in holds exactly the repository modules the server imports, and
	// each is copied in (its go.mod first, for the download layer).
	want := serverModules(t)
	_, gw, ok := d.findRun(t, build, nil, "go", "work", "init")
	if !ok || len(gw.args) < 3 || !slices.Equal(sorted(gw.args[2:]), want) {
		t.Errorf("`go work init` %v: want the modules the server is built from, %v", gw.args, want)
	}
	copied := map[string]bool{}
	for _, c := range commandsOf[*instructions.CopyCommand](build) {
		for _, src := range c.SourcePaths {
			copied[src] = true
		}
	}
	for _, mod := range want {
		m := strings.TrimPrefix(mod, "./")
		if !copied[m+"/go.mod"] || !copied[m+"/"] {
			t.Errorf("the build stage does not COPY %s/go.mod and %s/", m, m)
		}
	}
}

// serverModules lists, as "./dir", the repository's modules that the server's binary is built
// from (go list, in workspace mode: a new module the server starts importing shows up here).
func serverModules(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}={{.Dir}}{{end}}", "./server/cmd/gatehouse")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	set := map[string]bool{}
	for _, line := range strings.Fields(string(out)) {
		path, dir, _ := strings.Cut(line, "=")
		if strings.HasPrefix(path, "gatehouse/") {
			rel, err := filepath.Rel(repoRoot(t), dir)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Fatalf("module %s lives outside the repository: %s", path, dir)
			}
			set["./"+filepath.ToSlash(rel)] = true
		}
	}
	if !set["./server"] || !set["./shared"] {
		t.Fatalf("go list found %v", set)
	}
	return sorted(slices.Collect(maps.Keys(set)))
}

var ldflagsX = regexp.MustCompile(`-X ([^=\s]+)=`)

func ldflagsVars(s string) []string {
	var out []string
	for _, m := range ldflagsX.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

// makeVar returns a Makefile variable's definition, continuation lines joined.
func makeVar(t *testing.T, name string) string {
	t.Helper()
	mk := strings.ReplaceAll(string(readFile(t, "Makefile")), "\\\n", " ")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*:?=\s*(.*)$`)
	m := re.FindStringSubmatch(mk)
	if m == nil {
		t.Fatalf("Makefile: no %s", name)
	}
	return m[1]
}

func TestDockerfileRuntimeStage(t *testing.T) {
	d := parseDockerfile(t)
	st := d.final()
	env := d.stageArgs(st, nil)

	user := dockerfileFinalUser(t)
	uid, gid, _ := strings.Cut(user, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); id != "" && (err != nil || n == 0) {
			t.Errorf("USER %q: want a numeric non-root uid[:gid] (Kubernetes runAsNonRoot can only verify numbers)", user)
		}
	}
	if uid == "" {
		t.Errorf("USER %q has no uid", user)
	}

	hcs := commandsOf[*instructions.HealthCheckCommand](st)
	if len(hcs) != 1 || hcs[0].Health == nil {
		t.Fatal("want one HEALTHCHECK in the final stage")
	}
	hc := hcs[0].Health
	// Exec form: the distroless image has no shell for CMD-SHELL.
	if len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/gatehouse" || hc.Test[2] != "healthcheck" {
		t.Errorf("HEALTHCHECK %v: want CMD [\"/gatehouse\", \"healthcheck\", ...]", hc.Test)
	}
	if hc.Interval <= 0 || hc.Timeout <= 0 || hc.Retries <= 0 {
		t.Errorf("HEALTHCHECK should set interval, timeout and retries: %+v", hc)
	}
	for i, a := range hc.Test {
		if a == "--timeout" && i+1 < len(hc.Test) {
			if probe, err := time.ParseDuration(hc.Test[i+1]); err != nil || probe >= hc.Timeout {
				t.Errorf("the probe's own --timeout %s must be shorter than the HEALTHCHECK timeout %s", hc.Test[i+1], hc.Timeout)
			}
		}
	}

	eps := commandsOf[*instructions.EntrypointCommand](st)
	cmds := commandsOf[*instructions.CmdCommand](st)
	if len(eps) != 1 || eps[0].PrependShell || !slices.Equal(eps[0].CmdLine, []string{"/gatehouse"}) {
		t.Errorf("want ENTRYPOINT [\"/gatehouse\"] in exec form")
	}
	if len(cmds) != 1 || cmds[0].PrependShell || !slices.Equal(cmds[0].CmdLine, []string{"serve"}) {
		t.Errorf("want CMD [\"serve\"] in exec form")
	}

	// Only the binary and the data directory come over from the build.
	var copied []string
	for _, c := range commandsOf[*instructions.CopyCommand](st) {
		if c.From != d.stages[0].Name {
			t.Errorf("final stage copies from %q, not the build stage", c.From)
		}
		copied = append(copied, c.DestPath)
	}
	if !slices.Contains(copied, "/gatehouse") {
		t.Errorf("the binary is not copied to /gatehouse: %v", copied)
	}
	if n := len(commandsOf[*instructions.RunCommand](st)); n > 0 {
		t.Errorf("%d RUN in the final stage: it has no shell, and nothing should be installed there", n)
	}

	// The image's settings are real configuration, and agree with VOLUME and EXPOSE.
	names := configEnvNames(t)
	for k := range env {
		if strings.HasPrefix(k, "GATEHOUSE_") && !names[k] {
			t.Errorf("ENV %s is not a configuration setting", k)
		}
		if secretEnv.MatchString(k) {
			t.Errorf("ENV %s bakes a credential into the image", k)
		}
	}
	var volumes, exposed []string
	for _, v := range commandsOf[*instructions.VolumeCommand](st) {
		volumes = append(volumes, v.Volumes...)
	}
	for _, e := range commandsOf[*instructions.ExposeCommand](st) {
		exposed = append(exposed, e.Ports...)
	}
	if !slices.Contains(volumes, env["GATEHOUSE_DATA_DIR"]) {
		t.Errorf("GATEHOUSE_DATA_DIR=%q is not a VOLUME (%v): the root file system must stay read-only", env["GATEHOUSE_DATA_DIR"], volumes)
	}
	host, port, err := net.SplitHostPort(env["GATEHOUSE_ADDR"])
	if err != nil || (host != "0.0.0.0" && host != "") || !slices.Contains(exposed, port) {
		t.Errorf("GATEHOUSE_ADDR=%q must listen on all interfaces on an EXPOSEd port (%v)", env["GATEHOUSE_ADDR"], exposed)
	}
}

// The build context holds what the build needs and none of what a developer's tree may hold
// besides: databases, master keys, binaries, .git.
// isLocalArtefact: files that local runs leave in a module and the build must not see.
func isLocalArtefact(rel string) bool {
	return strings.Contains("/"+filepath.ToSlash(rel), "/data/") || strings.HasSuffix(rel, ".db") || strings.HasSuffix(rel, ".key") || strings.HasSuffix(rel, ".test") || strings.HasSuffix(rel, ".out")
}

func TestDockerignore(t *testing.T) {
	root := repoRoot(t)
	patterns, err := ignorefile.ReadAll(bytes.NewReader(readFile(t, ".dockerignore")))
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	excluded := func(rel string) bool {
		ex, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}
	mods := serverModules(t)
	for _, must := range []string{"server/go.sum", "server/cmd/gatehouse/main.go", "migrations/postgres", "server/api/openapi.yaml", "server/api/docs/redoc.standalone.js"} {
		if excluded(must) {
			t.Errorf("%s is excluded from the build context", must)
		}
	}
	for _, never := range []string{".git/config", "bin/gatehouse", "data/gatehouse.db", "data/master.key", "deploy/compose/master.key", "server/data/gatehouse.db", "server/cmd/gatehouse/data/gatehouse.db", "desktop/go.mod", "docs/operations.md"} {
		if !excluded(never) {
			t.Errorf("%s would be sent to the build context", never)
		}
	}
	// Every Go source the server build compiles is in the context (an over-eager pattern such
	// as **/data/ must not swallow a package).
	for _, mod := range mods {
		if excluded(strings.TrimPrefix(mod, "./") + "/go.mod") {
			t.Errorf("%s/go.mod is excluded from the build context", mod)
		}
		err := filepath.WalkDir(filepath.Join(root, mod), func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			// Sources and everything a //go:embed may pick up (templates, SQL, the docs bundle).
			if !de.IsDir() && !strings.HasSuffix(p, "_test.go") && !strings.Contains(rel, "testdata") && excluded(rel) && !isLocalArtefact(rel) {
				t.Errorf("%s is needed by the build but excluded", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
