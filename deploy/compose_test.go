package deploy

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads docker-compose.yml with the compose-spec library as `docker compose`
// does, against an empty environment so nothing from the caller's shell leaks in.
func loadCompose(t *testing.T, raw []byte) *types.Project {
	t.Helper()
	root := repoRoot(t)
	p, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml"), Content: raw}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("gatehouse", true)
		o.ResolvePaths = true
	})
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return p
}

func TestComposeFile(t *testing.T) {
	raw := readFile(t, "docker-compose.yml")
	// No interpolation: what the file says is what runs, whatever the caller's environment.
	if bytes.Contains(raw, []byte("${")) || bytes.Contains(raw, []byte("$$")) {
		t.Error("docker-compose.yml interpolates variables; keep the development stack literal")
	}
	p := loadCompose(t, raw)
	names := configEnvNames(t)

	want := []string{"gatehouse", "mailpit", "migrate", "postgres", "redis", "vault"}
	if got := p.ServiceNames(); !slices.Equal(sorted(got), want) {
		t.Fatalf("services %v, want %v", sorted(got), want)
	}

	// Which services something waits for to complete: those are one-shots.
	oneShot := map[string]bool{}
	for _, s := range p.Services {
		for dep, cond := range s.DependsOn {
			if cond.Condition == types.ServiceConditionCompletedSuccessfully {
				oneShot[dep] = true
			}
		}
	}
	for _, s := range p.Services {
		switch {
		case oneShot[s.Name]:
			if s.Restart != "" && s.Restart != types.RestartPolicyNo {
				t.Errorf("%s: a one-shot service must not restart (restart: %q)", s.Name, s.Restart)
			}
		case s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2:
			t.Errorf("%s: no health check", s.Name)
		case s.HealthCheck.Test[0] != "CMD" && s.HealthCheck.Test[0] != "CMD-SHELL":
			t.Errorf("%s: health check %v", s.Name, s.HealthCheck.Test)
		case s.HealthCheck.Interval == nil || s.HealthCheck.Timeout == nil || s.HealthCheck.Retries == nil:
			t.Errorf("%s: health check without interval, timeout or retries", s.Name)
		}
		for dep, cond := range s.DependsOn {
			target, err := p.GetService(dep)
			if err != nil {
				t.Errorf("%s depends on unknown %s", s.Name, dep)
				continue
			}
			switch cond.Condition {
			case types.ServiceConditionHealthy:
				if target.HealthCheck == nil {
					t.Errorf("%s waits for %s to be healthy, which has no health check", s.Name, dep)
				}
			case types.ServiceConditionCompletedSuccessfully:
			default:
				t.Errorf("%s depends on %s with condition %q: wait for service_healthy or service_completed_successfully", s.Name, dep, cond.Condition)
			}
		}
	}

	gh, _ := p.GetService("gatehouse")
	mig, _ := p.GetService("migrate")
	for _, dep := range []string{"postgres", "redis", "mailpit", "vault"} {
		if gh.DependsOn[dep].Condition != types.ServiceConditionHealthy {
			t.Errorf("gatehouse does not wait for %s to be healthy", dep)
		}
	}
	if gh.DependsOn["migrate"].Condition != types.ServiceConditionCompletedSuccessfully {
		t.Error("gatehouse does not wait for the migrations to complete")
	}
	if !slices.Equal(mig.Command, types.ShellCommand{"migrate", "up"}) || mig.DependsOn["postgres"].Condition != types.ServiceConditionHealthy {
		t.Errorf("migrate: command %v, depends_on %v", mig.Command, mig.DependsOn)
	}
	if gh.Image != mig.Image || gh.Build == nil || gh.Build.Dockerfile != "Dockerfile" || filepath.Clean(gh.Build.Context) != repoRoot(t) {
		t.Errorf("gatehouse and migrate must run the image built from ./Dockerfile: %q %q %+v", gh.Image, mig.Image, gh.Build)
	}
	if !slices.Equal([]string(gh.HealthCheck.Test[1:3]), []string{"/gatehouse", "healthcheck"}) {
		t.Errorf("gatehouse health check %v: use the binary's own probe", gh.HealthCheck.Test)
	}

	for _, s := range []types.ServiceConfig{gh, mig} {
		checkComposeEnv(t, s, names)
		if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: want read_only, cap_drop ALL and no-new-privileges", s.Name)
		}
	}
	// The master key is a secret file, and the service mounts it where the setting points.
	keyFile := gh.Environment["GATEHOUSE_MASTER_KEY_FILE"]
	if keyFile == nil || len(gh.Secrets) != 1 || "/run/secrets/"+gh.Secrets[0].Source != *keyFile {
		t.Errorf("GATEHOUSE_MASTER_KEY_FILE=%v must name the mounted secret %v", keyFile, gh.Secrets)
	} else if sec := p.Secrets[gh.Secrets[0].Source]; sec.File == "" {
		t.Errorf("secret %s is not read from a file", gh.Secrets[0].Source)
	}
	// SMTP goes to Mailpit.
	if h := gh.Environment["GATEHOUSE_SMTP_HOST"]; h == nil || *h != "mailpit" {
		t.Errorf("GATEHOUSE_SMTP_HOST=%v, want mailpit", h)
	}

	checkComposePorts(t, p)
}

// checkComposeEnv: every GATEHOUSE_* variable is a real setting, none outside that prefix.
func checkComposeEnv(t reporter, s types.ServiceConfig, names map[string]bool) {
	t.Helper()
	if len(s.EnvFiles) > 0 {
		t.Errorf("%s: env_file hides settings from this check; list them in environment", s.Name)
	}
	for k, v := range s.Environment {
		if !strings.HasPrefix(k, "GATEHOUSE_") || !names[k] {
			t.Errorf("%s: %s is not a Gatehouse configuration setting (docs/configuration.md)", s.Name, k)
		}
		if v == nil {
			t.Errorf("%s: %s takes its value from the caller's environment", s.Name, k)
		}
	}
	if _, ok := s.Environment["GATEHOUSE_MASTER_KEY"]; ok {
		t.Errorf("%s: the master key belongs in a secret file, not the environment", s.Name)
	}
}

// checkComposePorts: published ports bind loopback and no two claim the same host port.
func checkComposePorts(t reporter, p *types.Project) {
	t.Helper()
	claimed := map[string]string{}
	var published int
	for _, s := range p.Services {
		for _, port := range s.Ports {
			if port.Published == "" {
				t.Errorf("%s: port %d is published on a random host port", s.Name, port.Target)
				continue
			}
			published++
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s: host port %s binds %q; the development stack binds loopback only", s.Name, port.Published, port.HostIP)
			}
			// Another interface's same port still collides with a wildcard bind: key on port.
			key := fmt.Sprintf("%s/%s", port.Published, port.Protocol)
			if other, dup := claimed[key]; dup {
				t.Errorf("host port %s is claimed by %s and %s", key, other, s.Name)
			}
			claimed[key] = s.Name
		}
	}
	if published < 4 {
		t.Errorf("only %d published ports: %v", published, claimed)
	}
}

// The checks above can fail: a file with the mistakes they look for is refused.
func TestComposeChecksCatchMistakes(t *testing.T) {
	bad := []byte(`
name: broken
services:
  db:
    image: postgres:17-alpine
    ports: ["127.0.0.1:5432:5432"]
  app:
    image: gatehouse:local
    environment:
      GATEHOUSE_DATABSE_URL: postgres://x@db/x
      GATEHOUSE_MASTER_KEY: inline
    ports: ["127.0.0.1:5432:8080"]
    depends_on: [db]
`)
	p := loadCompose(t, bad)
	rec := &recorder{}
	app, _ := p.GetService("app")
	names := configEnvNames(t)
	rec.run(func(r reporter) { checkComposeEnv(r, app, names) })
	rec.run(func(r reporter) { checkComposePorts(r, p) })
	for _, want := range []string{"GATEHOUSE_DATABSE_URL is not", "master key belongs", "claimed by", "only 2 published"} {
		if !rec.contains(want) {
			t.Errorf("no complaint containing %q; got %q", want, rec.msgs)
		}
	}
	if app.DependsOn["db"].Condition != types.ServiceConditionStarted {
		t.Errorf("a bare depends_on loads as %q", app.DependsOn["db"].Condition)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
