package deploy

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	corev1 "k8s.io/api/core/v1"
)

// testVersion is stamped into the test build through the Dockerfile's own -ldflags.
const testVersion = "deploy-test-1.2.3"

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
	binaryLog  string
	// buildDir outlives single tests: the binary is built once and shared.
	buildDir string
)

func TestMain(m *testing.M) {
	var err error
	if buildDir, err = os.MkdirTemp("", "gatehouse-deploy-test-"); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(buildDir)
	os.Exit(code)
}

// imageBinary builds gatehouse the way the Dockerfile's build stage does — the same
// `go work init` of the server's modules, the same environment and flags, read from the
// Dockerfile itself — but natively, since no Docker engine runs here. Built once per run.
func imageBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() { binaryPath, binaryLog, binaryErr = buildLikeDockerfile(t) })
	if binaryErr != nil {
		t.Fatalf("building like the Dockerfile: %v\n%s", binaryErr, binaryLog)
	}
	return binaryPath
}

func buildLikeDockerfile(t *testing.T) (string, string, error) {
	d := parseDockerfile(t)
	build := d.stages[0]
	args := map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH, "VERSION": testVersion}
	_, work, ok := d.findRun(t, build, args, "go", "work", "init")
	if !ok {
		return "", "", errors.New("no `go work init` in the build stage")
	}
	_, gb, ok := d.findRun(t, build, args, "go", "build")
	if !ok {
		return "", "", errors.New("no `go build` in the build stage")
	}
	// The build stage's /src: the modules it copies, at the same relative paths.
	src := filepath.Join(buildDir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	root := repoRoot(t)
	for _, mod := range work.args[2:] {
		if err := os.Symlink(filepath.Join(root, mod), filepath.Join(src, mod)); err != nil {
			return "", "", err
		}
	}
	out := filepath.Join(buildDir, "gatehouse")
	goArgs := slices.Clone(gb.args)
	for i, a := range goArgs {
		if a == "-o" && i+1 < len(goArgs) {
			goArgs[i+1] = out
		}
	}
	var log bytes.Buffer
	// As in the image's build stage: no go.work but the one `go work init` writes, and no VCS
	// stamping (.dockerignore keeps .git out of the build context).
	env := append(os.Environ(), "GOWORK=", "GOFLAGS=-mod=readonly -buildvcs=false")
	for k, v := range gb.env {
		env = append(env, k+"="+v)
	}
	for _, step := range [][]string{work.args, goArgs} {
		cmd := exec.Command("go", step...)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = src, env, &log, &log
		log.WriteString("$ go " + strings.Join(step, " ") + "\n")
		if err := cmd.Run(); err != nil {
			return "", log.String(), err
		}
	}
	return out, log.String(), nil
}

// runBinary runs the built binary with exactly env (nothing inherited) and returns its exit
// code and output.
func runBinary(t *testing.T, bin string, env map[string]string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatal(err)
	}
	return 0, string(out)
}

// The names this module takes as the configuration reference are the binary's own.
func TestConfigurationReferenceIsTheBinarys(t *testing.T) {
	code, out := runBinary(t, imageBinary(t), nil, "config", "docs")
	if code != 0 || out != string(readFile(t, "docs/configuration.md")) {
		t.Fatalf("`gatehouse config docs` (exit %d) differs from docs/configuration.md: regenerate it", code)
	}
}

// writeMasterKey writes a production-grade master passphrase file for configuration checks.
func writeMasterKey(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "master-key")
	if err := os.WriteFile(p, []byte("deploy-test-master-passphrase-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The configuration each deployment file gives the server is one the real binary accepts
// (production included, with its SEC-53 refusals): `gatehouse config print` exits 0.
func TestDeploymentConfigurationsAreAccepted(t *testing.T) {
	bin := imageBinary(t)
	keyFile := writeMasterKey(t)
	placeholders := map[string]string{ // what the operator's Secret would hold
		"database-url": "postgres://gatehouse:x@postgres:5432/gatehouse?sslmode=require",
		"redis-url":    "rediss://redis:6379/0",
	}
	check := func(what string, env map[string]string) {
		t.Helper()
		if code, out := runBinary(t, bin, env, "config", "print"); code != 0 {
			t.Errorf("%s: the binary refuses its configuration (exit %d):\n%s", what, code, out)
		}
	}

	// docker-compose.yml, secret file path replaced by a real file.
	p := loadCompose(t, readFile(t, "docker-compose.yml"))
	for _, name := range []string{"gatehouse", "migrate"} {
		s, _ := p.GetService(name)
		env := map[string]string{}
		for k, v := range s.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		env["GATEHOUSE_MASTER_KEY_FILE"] = keyFile
		check("compose "+name, env)
	}

	// The Kubernetes overlays: ConfigMap, Secret references resolved to placeholders.
	for _, dir := range []string{"deploy/k8s/overlays/dev", "deploy/k8s/overlays/prod"} {
		r := render(t, dir)
		for _, pod := range []corev1.PodSpec{r.deployments[0].Spec.Template.Spec, r.jobs[0].Spec.Template.Spec} {
			ct := pod.Containers[0]
			env := map[string]string{}
			for _, ef := range ct.EnvFrom {
				maps.Copy(env, r.configMap(ef.ConfigMapRef.Name).Data)
			}
			for _, e := range ct.Env {
				switch {
				case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
					env[e.Name] = placeholders[e.ValueFrom.SecretKeyRef.Key]
				case e.ValueFrom == nil:
					env[e.Name] = e.Value
				}
			}
			env["GATEHOUSE_MASTER_KEY_FILE"] = keyFile
			check(dir+" "+ct.Name, env)
		}
	}

	// And the check bites: production without a master key is refused.
	if code, _ := runBinary(t, bin, map[string]string{"GATEHOUSE_ENV": "production"}, "config", "print"); code == 0 {
		t.Error("`config print` accepted an insecure production configuration")
	}
}

// The image's ENTRYPOINT, CMD, ENV and HEALTHCHECK, run as the container would run them (a
// loopback port and a temporary data directory instead of :8080 and /data).
func TestImageEntrypointAndHealthcheck(t *testing.T) {
	bin := imageBinary(t)
	d := parseDockerfile(t)
	st := d.final()
	env := d.stageArgs(st, nil)
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	env["GATEHOUSE_ADDR"] = addr
	env["GATEHOUSE_DATA_DIR"] = t.TempDir()
	env["GATEHOUSE_ENV"] = "development"

	ep := commandsOf[*instructions.EntrypointCommand](st)
	cmdLine := append(slices.Clone(ep[0].CmdLine), commandsOf[*instructions.CmdCommand](st)[0].CmdLine...)
	if filepath.Base(cmdLine[0]) != "gatehouse" {
		t.Fatalf("entrypoint %v", cmdLine)
	}
	hc := commandsOf[*instructions.HealthCheckCommand](st)[0].Health.Test[1:] // after "CMD"

	probe := func() (int, string) { return runBinary(t, bin, env, hc[1:]...) }
	if code, out := probe(); code != 1 {
		t.Fatalf("HEALTHCHECK before the server runs: exit %d, want 1\n%s", code, out)
	}
	server := exec.Command(bin, cmdLine[1:]...)
	for k, v := range env {
		server.Env = append(server.Env, k+"="+v)
	}
	var logs bytes.Buffer
	server.Stdout, server.Stderr = &logs, &logs
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = server.Process.Kill()
			t.Logf("server killed: %v", <-done)
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, out := probe()
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HEALTHCHECK never passed (last exit %d: %s)\nserver log:\n%s", code, out, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	// STOPSIGNAL: a graceful drain, exit 0.
	if err := server.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	if code, _ := probe(); code != 1 {
		t.Errorf("HEALTHCHECK after the server stopped: exit %d, want 1", code)
	}
}
