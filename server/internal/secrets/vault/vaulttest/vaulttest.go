// Package vaulttest gives tests a real HashiCorp Vault core: the in-memory dev server of
// scripts/vaultdev (Vault v1.21.4 with KV v2 at secret/ and AppRole at auth/approle).
//
// Shared returns the Vault named by GATEHOUSE_TEST_VAULT_ADDR and GATEHOUSE_TEST_VAULT_TOKEN
// (CI starts one, see .ci/run) or, when they are unset, builds scripts/vaultdev (cached, see
// scripts/vaultdev/build.sh: minutes the first time, a moment after) and starts it once per
// test binary on a free loopback port, so `go test` works without any setup. Start always
// starts a private instance, for tests that seal or stop it.
//
// A Vault that cannot be had fails the test: there is no skip, locally or in CI.
//
// A started vaultdev watches its stdin, a pipe this package holds open: when the test binary
// ends, however it ends, the pipe closes and vaultdev exits. Private instances also stop at
// their test's cleanup.
package vaulttest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
)

// Environment variables naming an already running Vault.
const (
	EnvAddr  = "GATEHOUSE_TEST_VAULT_ADDR"
	EnvToken = "GATEHOUSE_TEST_VAULT_TOKEN"
)

// Mount is where vaultdev mounts KV v2 (and where a Vault named by the environment must have
// it); AppRoleMount where it enables AppRole.
const (
	Mount        = "secret"
	AppRoleMount = "approle"
)

// startTimeout bounds a vaultdev start once the binary exists.
const startTimeout = 90 * time.Second

// Server is a running Vault.
type Server struct {
	Addr      string `json:"addr"`
	RootToken string `json:"root_token"`
	Mount     string `json:"mount"`

	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	logs  *syncBuffer
}

var shared struct {
	sync.Mutex
	srv *Server
	err error
}

// Shared returns the Vault the tests of this binary share: the one named by the environment,
// else a vaultdev started on first use. Tests must not seal or stop it; names they use must be
// unique (a random prefix), since an instance from the environment may serve several packages.
func Shared(t testing.TB) *Server {
	t.Helper()
	if addr := os.Getenv(EnvAddr); addr != "" {
		token := os.Getenv(EnvToken)
		if token == "" {
			t.Fatalf("%s is set but %s is not", EnvAddr, EnvToken)
		}
		return &Server{Addr: addr, RootToken: token, Mount: Mount}
	}
	shared.Lock()
	defer shared.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.srv, shared.err = start(t)
	}
	if shared.err != nil {
		t.Fatalf("vaulttest: no Vault for the tests (set %s and %s, or let the test build scripts/vaultdev): %v", EnvAddr, EnvToken, shared.err)
	}
	return shared.srv
}

// Start starts a private vaultdev for t, stopped at t's cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := start(t)
	if err != nil {
		t.Fatalf("vaulttest: start vaultdev: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// Stop stops a vaultdev this package started and waits for it to exit. Stopping an instance
// from the environment does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.stdin.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Client returns a Vault API client with the root token.
func (s *Server) Client(t testing.TB) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: s.Addr, MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(s.RootToken)
	c.ClearNamespace()
	return c
}

// Token creates a token with a policy of the given HCL (named after the test) and ttl.
func (s *Server) Token(t testing.TB, policyHCL string, ttl time.Duration) string {
	t.Helper()
	c := s.Client(t)
	policy := policyName(t)
	if err := c.Sys().PutPolicyWithContext(context.Background(), policy, policyHCL); err != nil {
		t.Fatalf("put policy: %v", err)
	}
	sec, err := c.Auth().Token().CreateWithContext(context.Background(), &api.TokenCreateRequest{
		Policies: []string{policy}, TTL: ttl.String(), NoDefaultPolicy: true,
	})
	if err != nil || sec == nil || sec.Auth == nil {
		t.Fatalf("create token: %v", err)
	}
	return sec.Auth.ClientToken
}

// AppRoleCreds are an AppRole role's credentials.
type AppRoleCreds struct {
	RoleID   string
	SecretID string
}

// AppRole creates (or replaces) the AppRole role `role`, whose tokens carry a policy of the
// given HCL, with the role's extra parameters (token_ttl, token_max_ttl, ...), and returns its
// role_id and a fresh secret_id. It enables AppRole at AppRoleMount when it is not.
func (s *Server) AppRole(t testing.TB, role, policyHCL string, params map[string]any) AppRoleCreds {
	t.Helper()
	ctx := context.Background()
	c := s.Client(t)
	auths, err := c.Sys().ListAuthWithContext(ctx)
	if err != nil {
		t.Fatalf("list auth methods: %v", err)
	}
	if _, ok := auths[AppRoleMount+"/"]; !ok {
		if err := c.Sys().EnableAuthWithOptionsWithContext(ctx, AppRoleMount, &api.EnableAuthOptions{Type: "approle"}); err != nil {
			t.Fatalf("enable approle: %v", err)
		}
	}
	policy := policyName(t)
	if err := c.Sys().PutPolicyWithContext(ctx, policy, policyHCL); err != nil {
		t.Fatalf("put policy: %v", err)
	}
	body := map[string]any{"token_policies": []string{policy}, "token_no_default_policy": true}
	for k, v := range params {
		body[k] = v
	}
	path := "auth/" + AppRoleMount + "/role/" + role
	if _, err := c.Logical().WriteWithContext(ctx, path, body); err != nil {
		t.Fatalf("create role: %v", err)
	}
	rid, err := c.Logical().ReadWithContext(ctx, path+"/role-id")
	if err != nil || rid == nil {
		t.Fatalf("read role-id: %v", err)
	}
	sid, err := c.Logical().WriteWithContext(ctx, path+"/secret-id", nil)
	if err != nil || sid == nil {
		t.Fatalf("create secret-id: %v", err)
	}
	creds := AppRoleCreds{}
	creds.RoleID, _ = rid.Data["role_id"].(string)
	creds.SecretID, _ = sid.Data["secret_id"].(string)
	if creds.RoleID == "" || creds.SecretID == "" {
		t.Fatal("approle answered without role_id or secret_id")
	}
	return creds
}

// KVPolicy is the HCL policy the Gatehouse backend's documentation asks for, limited to names
// starting with prefix under mount. Tokens from Token and AppRole get no default policy, so
// tests prove this one is enough.
func KVPolicy(mount, prefix string) string {
	return fmt.Sprintf(`path "%[1]s/data/%[2]s*" { capabilities = ["create", "update", "read"] }
path "%[1]s/metadata/%[2]s*" { capabilities = ["create", "update", "read", "delete"] }
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
`, mount, prefix)
}

func policyName(t testing.TB) string {
	return "vaulttest-" + strings.NewReplacer("/", "-", " ", "-").Replace(strings.ToLower(t.Name()))
}

// start builds (or finds) the vaultdev binary and starts it on a free loopback port.
func start(t testing.TB) (*Server, error) {
	t.Helper()
	bin, err := binary(t)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// Not bound to a context: a shared instance outlives the test that started it (its stdin
	// pipe ends it with the test binary).
	cmd := exec.CommandContext(context.Background(), bin, "-addr", "127.0.0.1:0", "-approle", "-exit-on-stdin-eof") //nolint:gosec // our own tool, path from build.sh
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	srv := &Server{cmd: cmd, stdin: stdin, done: make(chan struct{}), logs: logs}
	go func() {
		_ = cmd.Wait()
		close(srv.done)
	}()

	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil {
			lines <- line
		}
		close(lines)
		_, _ = io.Copy(io.Discard, r) // keep the pipe drained for as long as vaultdev runs
	}()
	select {
	case line, ok := <-lines:
		if !ok {
			srv.Stop()
			return nil, fmt.Errorf("vaultdev exited before it was ready; its log:\n%s", logs.String())
		}
		if err := json.Unmarshal([]byte(line), srv); err != nil || srv.Addr == "" || srv.RootToken == "" {
			srv.Stop()
			return nil, fmt.Errorf("vaultdev's ready line is not what vaulttest expects: %w", errors.Join(err, errors.New("no addr or root_token")))
		}
		return srv, nil
	case <-ctx.Done():
		srv.Stop()
		return nil, fmt.Errorf("vaultdev not ready after %s; its log:\n%s", startTimeout, logs.String())
	}
}

var built struct {
	sync.Mutex
	path string
}

// binary runs scripts/vaultdev/build.sh, which builds the binary unless its cache has it, and
// returns the binary's path.
func binary(t testing.TB) (string, error) {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if built.path != "" {
		return built.path, nil
	}
	script, err := findBuildScript()
	if err != nil {
		return "", err
	}
	t.Logf("vaulttest: %s (the first build of Vault takes several minutes)", script)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(context.Background(), "bash", script) //nolint:gosec // the repository's own script
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, stderr.String())
	}
	path := strings.TrimSpace(stdout.String())
	if path == "" {
		return "", fmt.Errorf("%s printed no binary path", script)
	}
	built.path = path
	return path, nil
}

// findBuildScript looks for scripts/vaultdev/build.sh from the working directory (a package
// directory under go test) upwards.
func findBuildScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "vaultdev", "build.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("scripts/vaultdev/build.sh not found above the working directory")
		}
		dir = parent
	}
}

// syncBuffer collects vaultdev's log for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 { // keep memory bounded: the start of the log explains failures
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
