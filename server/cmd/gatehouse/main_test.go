package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/config"
	"gatehouse/server/internal/testenv"
)

func runCmd(t *testing.T, ctx context.Context, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(""), &out, &errb, env)
	return code, out.String(), errb.String()
}

func TestVersionAndUsage(t *testing.T) {
	ctx := context.Background()
	if code, out, _ := runCmd(t, ctx, nil, "version"); code != 0 || !strings.HasPrefix(out, "gatehouse ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errOut := runCmd(t, ctx, nil, "frobnicate"); code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Fatalf("unknown command: %d %q", code, errOut)
	}
	if code, _, _ := runCmd(t, ctx, nil); code != 2 {
		t.Fatalf("no command: %d", code)
	}
	if code, _, _ := runCmd(t, ctx, nil, "migrate", "sideways"); code != 2 {
		t.Fatalf("bad migrate subcommand: %d", code)
	}
}

func TestConfigPrintAndDocs(t *testing.T) {
	ctx := context.Background()
	env := []string{"GATEHOUSE_MASTER_KEY=do-not-print-me-please", "GATEHOUSE_ADDR=127.0.0.1:9999"}
	code, out, _ := runCmd(t, ctx, env, "config", "print")
	if code != 0 || strings.Contains(out, "do-not-print-me-please") || !strings.Contains(out, "127.0.0.1:9999") {
		t.Fatalf("config print: %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, ctx, nil, "config", "docs")
	if code != 0 || out != config.Markdown() {
		t.Fatalf("config docs: %d", code)
	}
	// An invalid configuration is still printed, followed by every problem.
	code, out, errOut := runCmd(t, ctx, []string{"GATEHOUSE_ENV=production", "GATEHOUSE_LOG_LEVEL=debug"}, "config", "print")
	if code != 1 || !strings.Contains(out, "GATEHOUSE_LOG_LEVEL") || !strings.Contains(errOut, "master key") || !strings.Contains(errOut, "debug logging") {
		t.Fatalf("invalid config print: %d\n%s\n%s", code, out, errOut)
	}
}

// SEC-53 at the process level: serve refuses to start and lists every problem.
func TestServeRefusesInsecureProduction(t *testing.T) {
	code, _, errOut := runCmd(t, context.Background(), []string{"GATEHOUSE_ENV=production", "GATEHOUSE_COOKIE_SECURE=false", "GATEHOUSE_DATA_DIR=" + t.TempDir()}, "serve")
	if code != 1 || !strings.Contains(errOut, "master key is required") || !strings.Contains(errOut, "cookies must be Secure") {
		t.Fatalf("serve: %d %s", code, errOut)
	}
}

func dbEnv(t *testing.T, dialect string) []string {
	t.Helper()
	env := []string{"GATEHOUSE_ENV=test", "GATEHOUSE_DATA_DIR=" + t.TempDir(), "GATEHOUSE_MASTER_KEY=" + testenv.TestMasterKey}
	if dialect == testenv.Postgres {
		env = append(env, "GATEHOUSE_DATABASE_URL="+testenv.FreshPostgres(t))
	}
	return env
}

func TestMigrateCommands(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		env := dbEnv(t, dialect)
		if code, out, errOut := runCmd(t, ctx, env, "migrate", "status"); code != 0 || !strings.Contains(out, "pending") || strings.Contains(out, "applied ") {
			t.Fatalf("status before: %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := runCmd(t, ctx, env, "migrate", "up"); code != 0 || !strings.Contains(out, "up 00001") {
			t.Fatalf("up: %d\n%s%s", code, out, errOut)
		}
		if code, out, _ := runCmd(t, ctx, env, "migrate", "up"); code != 0 || !strings.Contains(out, "nothing to do") {
			t.Fatalf("second up: %d\n%s", code, out)
		}
		if code, out, _ := runCmd(t, ctx, env, "migrate", "status"); code != 0 || strings.Contains(out, "pending") || !strings.Contains(out, "applied") {
			t.Fatalf("status after up: %d\n%s", code, out)
		}
		if code, out, errOut := runCmd(t, ctx, env, "migrate", "down"); code != 0 || !strings.Contains(out, "down ") {
			t.Fatalf("down: %d\n%s%s", code, out, errOut)
		}
		if code, _, _ := runCmd(t, ctx, env, "migrate", "up"); code != 0 {
			t.Fatal("up after down")
		}
		if code, _, _ := runCmd(t, ctx, env, "migrate", "down", "--all"); code != 0 {
			t.Fatal("down --all")
		}
		if code, out, _ := runCmd(t, ctx, env, "migrate", "status"); code != 0 || strings.Contains(out, "applied ") {
			t.Fatalf("status after down --all: %d\n%s", code, out)
		}
	})
}

func TestServeStartsAndStopsGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	env := append(dbEnv(t, testenv.SQLite), "GATEHOUSE_ADDR=127.0.0.1:0")
	done := make(chan struct{})
	var code int
	var errb testenv.Buffer
	go func() {
		code = run(ctx, []string{"serve"}, strings.NewReader(""), &bytes.Buffer{}, &errb, env)
		close(done)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errb.String(), `"msg":"listening"`) {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if code != 0 || !strings.Contains(errb.String(), `"msg":"stopped"`) {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
}

func TestAdminCreateResetAndKeysRotate(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		env := dbEnv(t, dialect)
		var out, errb bytes.Buffer
		code := run(ctx, []string{"admin", "create", "--email", "Ops@Example.com", "--role", "admin,support"}, strings.NewReader("operator-passphrase-1\n"), &out, &errb, env)
		if code != 0 || !strings.Contains(out.String(), "created ops@example.com") || !strings.Contains(out.String(), "admin,support,user") {
			t.Fatalf("admin create: %d %s %s", code, out.String(), errb.String())
		}
		if strings.Contains(out.String()+errb.String(), "operator-passphrase-1") {
			t.Fatal("the password was echoed")
		}
		if code, _, errOut := runCmd(t, ctx, env, "admin", "create", "--email", "ops@example.com", "--password", "operator-passphrase-2"); code != 1 || !strings.Contains(errOut, "already") {
			t.Fatalf("duplicate: %d %s", code, errOut)
		}
		if code, _, errOut := runCmd(t, ctx, env, "admin", "create", "--email", "weak@example.com", "--password", "short"); code != 1 || !strings.Contains(errOut, "at least 12") {
			t.Fatalf("policy: %d %s", code, errOut)
		}
		if code, _, _ := runCmd(t, ctx, env, "admin", "create", "--password", "operator-passphrase-2"); code != 1 {
			t.Fatal("missing --email accepted")
		}
		if code, out, errOut := runCmd(t, ctx, env, "admin", "reset-password", "--email", "ops@example.com", "--password", "operator-passphrase-3"); code != 0 || !strings.Contains(out, "reset") {
			t.Fatalf("reset: %d %s %s", code, out, errOut)
		}
		if code, _, errOut := runCmd(t, ctx, env, "admin", "reset-password", "--email", "nobody@example.com", "--password", "operator-passphrase-3"); code != 1 || !strings.Contains(errOut, "not found") {
			t.Fatalf("reset unknown: %d %s", code, errOut)
		}
		if code, out, errOut := runCmd(t, ctx, env, "keys", "rotate"); code != 0 || !strings.Contains(out, "new signing key") {
			t.Fatalf("keys rotate: %d %s %s", code, out, errOut)
		}
	})
}
