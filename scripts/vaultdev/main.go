// Command vaultdev runs a real HashiCorp Vault core (v1.21.4) in-process, in memory, for
// Gatehouse's Vault backend tests and for local development: like `vault server -dev`, but
// built from Vault's own test helpers so it needs no vault binary, and with a machine-readable
// start-up line.
//
// It initialises and unseals a fresh core, serves Vault's HTTP API on -addr, mounts KV v2 at
// secret/ and (with -approle) enables AppRole at auth/approle with a role "gatehouse" whose
// policy may do anything under secret/. When ready it prints one JSON line on stdout (and
// writes it to -out when given):
//
//	{"addr":"http://127.0.0.1:8200","root_token":"hvs....","unseal_key":"<base64>","mount":"secret",
//	 "approle":{"mount":"approle","role":"gatehouse","role_id":"...","secret_id":"..."},"pid":123}
//
// then runs until SIGTERM or SIGINT (or, with -exit-on-stdin-eof, until stdin closes). Everything lives in memory and disappears on exit.
//
// It is its own module (not in go.work): Vault's dependency graph must not leak into
// Gatehouse's. Build it with GOWORK=off, through build.sh, which caches the binary.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/vault/api"
	credAppRole "github.com/hashicorp/vault/builtin/credential/approle"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
)

// AppRole names created with -approle.
const (
	appRoleMount  = "approle"
	appRoleName   = "gatehouse"
	appRolePolicy = "gatehouse"
)

type appRoleInfo struct {
	Mount    string `json:"mount"`
	Role     string `json:"role"`
	RoleID   string `json:"role_id"`
	SecretID string `json:"secret_id"`
}

type readyLine struct {
	Addr      string       `json:"addr"`
	RootToken string       `json:"root_token"`
	UnsealKey string       `json:"unseal_key"`
	Mount     string       `json:"mount"`
	AppRole   *appRoleInfo `json:"approle,omitempty"`
	PID       int          `json:"pid"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8200", "listen address (loopback); port 0 picks a free port, printed in the ready line")
	out := flag.String("out", "", "also write the ready line to this file (written atomically)")
	withAppRole := flag.Bool("approle", false, "enable auth/approle with role \""+appRoleName+"\" (policy: anything under secret/)")
	rootToken := flag.String("root-token", "", "also create a root token with this id (like vault server -dev-root-token-id)")
	logLevel := flag.String("log-level", "warn", "Vault core log level on stderr: trace, debug, info, warn, error, off")
	stdinEOF := flag.Bool("exit-on-stdin-eof", false, "also stop when stdin reaches end of file: a parent that holds the pipe open cannot leave this process behind if it dies")
	flag.Parse()

	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "vaultdev",
		Output: os.Stderr,
		Level:  hclog.LevelFromString(*logLevel),
	})
	stop := make(chan string, 2)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { stop <- (<-sig).String() }()
	if *stdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			stop <- "stdin closed"
		}()
	}
	if err := run(logger, *addr, *out, *withAppRole, *rootToken, stop); err != nil {
		logger.Error("vaultdev failed", "error", err)
		os.Exit(1)
	}
}

func run(logger hclog.Logger, addr, out string, withAppRole bool, rootToken string, stop <-chan string) error {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}

	tb := &mainTB{logger: logger}
	defer tb.runCleanups()

	core := vault.TestCoreWithConfig(tb, &vault.CoreConfig{
		Logger: logger.Named("core"),
		CredentialBackends: map[string]logical.Factory{
			"approle": credAppRole.Factory,
		},
	})
	token, keys := vault.TestInitUnsealCore(tb, core)
	url := "http://" + ln.Addr().String()
	vaulthttp.TestServerWithListener(tb, ln, url, core)
	tb.Cleanup(func() { _ = ln.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := newClient(url, token)
	if err != nil {
		return err
	}
	line := readyLine{
		Addr:      url,
		RootToken: token,
		UnsealKey: base64.StdEncoding.EncodeToString(keys[0]),
		Mount:     "secret",
		PID:       os.Getpid(),
	}
	if err := mountKV2(ctx, client, line.Mount); err != nil {
		return err
	}
	if rootToken != "" {
		if _, err := client.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{
			ID: rootToken, Policies: []string{"root"}, NoParent: true,
		}); err != nil {
			return fmt.Errorf("create root token: %w", err)
		}
		line.RootToken = rootToken
	}
	if withAppRole {
		if line.AppRole, err = enableAppRole(ctx, client, line.Mount); err != nil {
			return err
		}
	}

	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if out != "" {
		if err := writeAtomic(out, append(b, '\n')); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintln(os.Stdout, string(b)); err != nil {
		return err
	}

	logger.Info("stopping", "reason", <-stop)
	return nil
}

func newClient(addr, token string) (*api.Client, error) {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	client.SetToken(token)
	return client, nil
}

// mountKV2 mounts KV v2 at path and waits until it answers: a new v2 mount sets itself up in
// the background, and writes fail with "upgrading" errors until it has.
func mountKV2(ctx context.Context, client *api.Client, path string) error {
	if err := client.Sys().MountWithContext(ctx, path, &api.MountInput{
		Type:        "kv",
		Description: "key/value secret storage (KV v2)",
		Options:     map[string]string{"version": "2"},
	}); err != nil {
		return fmt.Errorf("mount kv-v2 at %s: %w", path, err)
	}
	for {
		_, err := client.Logical().WriteWithContext(ctx, path+"/config", map[string]any{"max_versions": 0})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kv-v2 at %s never became ready: %w", path, errors.Join(err, ctx.Err()))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func enableAppRole(ctx context.Context, client *api.Client, kvMount string) (*appRoleInfo, error) {
	if err := client.Sys().EnableAuthWithOptionsWithContext(ctx, appRoleMount, &api.EnableAuthOptions{Type: "approle"}); err != nil {
		return nil, fmt.Errorf("enable approle: %w", err)
	}
	policy := fmt.Sprintf(`path "%[1]s/*" { capabilities = ["create", "read", "update", "delete", "list"] }`, kvMount)
	if err := client.Sys().PutPolicyWithContext(ctx, appRolePolicy, policy); err != nil {
		return nil, fmt.Errorf("put policy: %w", err)
	}
	rolePath := "auth/" + appRoleMount + "/role/" + appRoleName
	if _, err := client.Logical().WriteWithContext(ctx, rolePath, map[string]any{
		"token_policies": []string{appRolePolicy},
		"token_ttl":      "1h",
		"token_max_ttl":  "4h",
	}); err != nil {
		return nil, fmt.Errorf("create approle role: %w", err)
	}
	roleID, err := client.Logical().ReadWithContext(ctx, rolePath+"/role-id")
	if err != nil || roleID == nil {
		return nil, fmt.Errorf("read role-id: %w", err)
	}
	secretID, err := client.Logical().WriteWithContext(ctx, rolePath+"/secret-id", nil)
	if err != nil || secretID == nil {
		return nil, fmt.Errorf("create secret-id: %w", err)
	}
	info := &appRoleInfo{Mount: appRoleMount, Role: appRoleName}
	info.RoleID, _ = roleID.Data["role_id"].(string)
	info.SecretID, _ = secretID.Data["secret_id"].(string)
	if info.RoleID == "" || info.SecretID == "" {
		return nil, errors.New("approle answered without role_id or secret_id")
	}
	return info, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".vaultdev-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// mainTB is the testing.TB that Vault's exported test helpers (TestCoreWithConfig,
// TestInitUnsealCore, TestServerWithListener) take. testing.TB cannot be implemented outside
// package testing (it has an unexported method), so the interface is embedded, nil: the
// methods those helpers call are defined here, and any other one panics loudly rather than
// silently doing nothing.
type mainTB struct {
	testing.TB

	logger hclog.Logger

	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (t *mainTB) Helper()      {}
func (t *mainTB) Name() string { return "vaultdev" }

func (t *mainTB) Log(args ...any)                 { t.logger.Debug(fmt.Sprint(args...)) }
func (t *mainTB) Logf(format string, args ...any) { t.logger.Debug(fmt.Sprintf(format, args...)) }

func (t *mainTB) Error(args ...any) { t.fail(fmt.Sprint(args...)) }
func (t *mainTB) Errorf(format string, args ...any) {
	t.fail(fmt.Sprintf(format, args...))
}

// Fatal ends the process: during start-up nothing useful can follow a failed helper.
func (t *mainTB) Fatal(args ...any) { t.fatal(fmt.Sprint(args...)) }
func (t *mainTB) Fatalf(format string, args ...any) {
	t.fatal(fmt.Sprintf(format, args...))
}

func (t *mainTB) FailNow() { t.fatal("FailNow") }

func (t *mainTB) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *mainTB) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *mainTB) TempDir() string {
	dir, err := os.MkdirTemp("", "vaultdev-")
	if err != nil {
		t.fatal(err.Error())
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (t *mainTB) fail(msg string) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	t.logger.Error(msg)
}

func (t *mainTB) fatal(msg string) {
	t.fail(msg)
	os.Exit(1)
}

// runCleanups runs the registered cleanups last-in first-out, as testing does: the core is
// shut down before its storage goes away.
func (t *mainTB) runCleanups() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
