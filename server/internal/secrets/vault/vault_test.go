package vault_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/secretstest"
	"gatehouse/server/internal/secrets/vault"
	"gatehouse/server/internal/secrets/vault/vaulttest"
)

// maxVersions is what the tests ask Vault to keep: above the suite's 16 concurrent Puts, so
// the mount's default of 10 does not prune versions the suite reads back.
const maxVersions = 100

func newBackend(t *testing.T, cfg vault.Config) *vault.Backend {
	t.Helper()
	if cfg.MaxVersions == 0 {
		cfg.MaxVersions = maxVersions
	}
	b, err := vault.New(cfg)
	if err != nil {
		t.Fatalf("vault.New: %v", err)
	}
	return b
}

// prefix is a name prefix unique to this test run, so tests share one Vault safely.
func prefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "vaulttest-" + hex.EncodeToString(b) + "/"
}

func tokenBackend(t *testing.T, srv *vaulttest.Server) *vault.Backend {
	t.Helper()
	return newBackend(t, vault.Config{Address: srv.Addr, Token: srv.RootToken, Mount: srv.Mount})
}

func appRoleBackend(t *testing.T, srv *vaulttest.Server, addr string, creds vaulttest.AppRoleCreds) *vault.Backend {
	t.Helper()
	return newBackend(t, vault.Config{
		Address: addr, Mount: srv.Mount,
		AppRole: vault.AppRole{RoleID: creds.RoleID, SecretID: creds.SecretID, Mount: vaulttest.AppRoleMount},
	})
}

func roleName(t *testing.T) string {
	return strings.NewReplacer("/", "-", "_", "-").Replace(strings.ToLower(t.Name()))
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustPut(t *testing.T, b *vault.Backend, name string, data []byte) string {
	t.Helper()
	v, err := b.Put(ctx(t), name, data)
	if err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
	return v
}

func mustGet(t *testing.T, b *vault.Backend, name, version string, want []byte) secrets.Value {
	t.Helper()
	got, err := b.Get(ctx(t), name, version)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", name, version, err)
	}
	if !bytes.Equal(got.Data, want) {
		t.Fatalf("Get(%q, %q) returned %d bytes, want the %d stored", name, version, len(got.Data), len(want))
	}
	return got
}

func wantKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("%s: err = %v, want %v", what, err, kind)
	}
}

// noValueIn checks that an error message does not carry the value, raw or base64.
func noValueIn(t *testing.T, err error, value []byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if strings.Contains(msg, string(value)) || strings.Contains(msg, base64.StdEncoding.EncodeToString(value)) {
		t.Fatalf("error message carries the secret value: %v", err)
	}
}

// The shared conformance suite against the real core: with the root token, and with AppRole
// under exactly the policy the package documents (no default policy).
func TestConformance(t *testing.T) {
	srv := vaulttest.Shared(t)
	t.Run("Token", func(t *testing.T) {
		secretstest.Exercise(t, tokenBackend(t, srv), secretstest.Options{Prefix: "vaulttest-token"})
	})
	t.Run("AppRoleDocumentedPolicy", func(t *testing.T) {
		creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, "vaulttest-approle/"), nil)
		secretstest.Exercise(t, appRoleBackend(t, srv, srv.Addr, creds), secretstest.Options{Prefix: "vaulttest-approle"})
	})
}

func TestAppRoleLogsInWithRoleToken(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, p), nil)
	b := appRoleBackend(t, srv, srv.Addr, creds)
	if tok := b.CurrentToken(); tok != "" {
		t.Fatal("New logged in already: it must make no request")
	}
	v := mustPut(t, b, p+"db", []byte("approle value"))
	mustGet(t, b, p+"db", v, []byte("approle value"))
	tok := b.CurrentToken()
	if tok == "" || tok == srv.RootToken {
		t.Fatal("the backend does not use a token of its own AppRole login")
	}
	info, err := srv.Client(t).Auth().Token().LookupWithContext(ctx(t), tok)
	if err != nil {
		t.Fatal(err)
	}
	if path, _ := info.Data["path"].(string); path != "auth/"+vaulttest.AppRoleMount+"/login" {
		t.Fatalf("token was issued by %q, want the AppRole login", path)
	}
}

// A 403 for a token Vault no longer honours (revoked here) brings a new login and one retry.
func TestAppRoleReloginAfter403(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, p), nil)
	b := appRoleBackend(t, srv, srv.Addr, creds)
	mustPut(t, b, p+"x", []byte("before revoke"))
	old := b.CurrentToken()
	if err := srv.Client(t).Auth().Token().RevokeOrphanWithContext(ctx(t), old); err != nil {
		t.Fatal(err)
	}
	mustGet(t, b, p+"x", "", []byte("before revoke"))
	if now := b.CurrentToken(); now == old || now == "" {
		t.Fatal("the backend did not log in again after its token was revoked")
	}
	if err := b.Health(ctx(t)); err != nil {
		t.Fatalf("Health after relogin: %v", err)
	}
}

// A token past its TTL (and max TTL, so it cannot be renewed) is replaced by a new login.
func TestAppRoleTokenExpiry(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, p),
		map[string]any{"token_ttl": "2s", "token_max_ttl": "2s"})
	b := appRoleBackend(t, srv, srv.Addr, creds)
	mustPut(t, b, p+"x", []byte("short-lived token"))
	old := b.CurrentToken()
	time.Sleep(3 * time.Second)
	if _, err := srv.Client(t).Auth().Token().LookupWithContext(ctx(t), old); err == nil {
		t.Fatal("test premise: the first token should have expired")
	}
	mustGet(t, b, p+"x", "", []byte("short-lived token"))
	if b.CurrentToken() == old {
		t.Fatal("still using the expired token")
	}
}

// A renewable token is renewed (same token) once two thirds of its TTL have passed, and so
// outlives its original TTL.
func TestAppRoleTokenRenewal(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, p),
		map[string]any{"token_ttl": "6s", "token_max_ttl": "1h"})
	b := appRoleBackend(t, srv, srv.Addr, creds)
	mustPut(t, b, p+"x", []byte("renewed"))
	tok := b.CurrentToken()
	for range 2 { // 8.4s in all: past the original 6s TTL
		time.Sleep(4200 * time.Millisecond)
		mustGet(t, b, p+"x", "", []byte("renewed"))
		if b.CurrentToken() != tok {
			t.Fatal("the token was replaced, not renewed")
		}
	}
	info, err := srv.Client(t).Auth().Token().LookupWithContext(ctx(t), tok)
	if err != nil {
		t.Fatalf("the renewed token is not valid any more: %v", err)
	}
	if info.Data["last_renewal_time"] == nil {
		t.Fatal("Vault has no renewal on record for the token")
	}
}

func TestWrongTokenIsDenied(t *testing.T) {
	srv := vaulttest.Shared(t)
	b := newBackend(t, vault.Config{Address: srv.Addr, Token: "hvs.not-a-real-token", Mount: srv.Mount})
	name := prefix(t) + "x"
	value := []byte("value for a wrong token")
	_, err := b.Get(ctx(t), name, "")
	wantKind(t, "Get", err, secrets.ErrDenied)
	_, err = b.Put(ctx(t), name, value)
	wantKind(t, "Put", err, secrets.ErrDenied)
	noValueIn(t, err, value)
	_, err = b.Versions(ctx(t), name)
	wantKind(t, "Versions", err, secrets.ErrDenied)
	wantKind(t, "Delete", b.Delete(ctx(t), name), secrets.ErrDenied)
	wantKind(t, "Health", b.Health(ctx(t)), secrets.ErrDenied)
}

func TestWrongAppRoleSecretIsDenied(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, p), nil)
	creds.SecretID = "00000000-0000-0000-0000-000000000000"
	b := appRoleBackend(t, srv, srv.Addr, creds)
	_, err := b.Get(ctx(t), p+"x", "")
	wantKind(t, "Get", err, secrets.ErrDenied)
	if strings.Contains(err.Error(), creds.SecretID) {
		t.Fatalf("error carries the secret_id: %v", err)
	}
	wantKind(t, "Health", b.Health(ctx(t)), secrets.ErrDenied)
}

func TestPolicyOutsideItsPathIsDenied(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	tok := srv.Token(t, vaulttest.KVPolicy(srv.Mount, p+"allowed/"), time.Hour)
	b := newBackend(t, vault.Config{Address: srv.Addr, Token: tok, Mount: srv.Mount})
	mustPut(t, b, p+"allowed/x", []byte("inside"))
	value := []byte("outside the policy")
	_, err := b.Put(ctx(t), p+"other/x", value)
	wantKind(t, "Put outside the policy", err, secrets.ErrDenied)
	noValueIn(t, err, value)
	_, err = b.Get(ctx(t), p+"other/x", "")
	wantKind(t, "Get outside the policy", err, secrets.ErrDenied)
	if err := b.Health(ctx(t)); err != nil {
		t.Fatalf("Health with the documented policy: %v", err)
	}
}

// A sealed Vault answers 503, a stopped one not at all: both are ErrUnavailable, on a private
// instance since the shared one must stay up.
func TestSealedOrStoppedVaultIsUnavailable(t *testing.T) {
	srv := vaulttest.Start(t)
	b := tokenBackend(t, srv)
	value := []byte("value while sealed")
	mustPut(t, b, "app/db", []byte("stored before"))

	if err := srv.Client(t).Sys().SealWithContext(ctx(t)); err != nil {
		t.Fatal(err)
	}
	_, err := b.Get(ctx(t), "app/db", "")
	wantKind(t, "Get (sealed)", err, secrets.ErrUnavailable)
	_, err = b.Put(ctx(t), "app/db", value)
	wantKind(t, "Put (sealed)", err, secrets.ErrUnavailable)
	noValueIn(t, err, value)
	err = b.Health(ctx(t))
	wantKind(t, "Health (sealed)", err, secrets.ErrUnavailable)
	if !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Health does not say the Vault is sealed: %v", err)
	}

	srv.Stop()
	_, err = b.Get(ctx(t), "app/db", "")
	wantKind(t, "Get (stopped)", err, secrets.ErrUnavailable)
	_, err = b.Put(ctx(t), "app/db", value)
	wantKind(t, "Put (stopped)", err, secrets.ErrUnavailable)
	noValueIn(t, err, value)
	wantKind(t, "Health (stopped)", b.Health(ctx(t)), secrets.ErrUnavailable)
}

// headerRecorder is a reverse proxy in front of the real core that records one header of every
// request it forwards. Vault Community ignores X-Vault-Namespace (namespaces are Enterprise),
// so what the backend sends is checked here while the real core still answers.
type headerRecorder struct {
	mu     sync.Mutex
	values []string
	paths  []string
}

func (h *headerRecorder) proxy(t *testing.T, target, header string) http.Handler {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.values = append(h.values, r.Header.Get(header))
		h.paths = append(h.paths, r.URL.Path)
		h.mu.Unlock()
		rp.ServeHTTP(w, r)
	})
}

func (h *headerRecorder) seen() (values, paths []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.values), slices.Clone(h.paths)
}

func TestNamespaceHeaderSent(t *testing.T) {
	srv := vaulttest.Shared(t)
	p := prefix(t)
	creds := srv.AppRole(t, roleName(t), vaulttest.KVPolicy(srv.Mount, p), nil)
	rec := &headerRecorder{}
	proxy := httptest.NewServer(rec.proxy(t, srv.Addr, "X-Vault-Namespace"))
	t.Cleanup(proxy.Close)

	b := newBackend(t, vault.Config{
		Address: proxy.URL, Mount: srv.Mount, Namespace: "team-a/",
		AppRole: vault.AppRole{RoleID: creds.RoleID, SecretID: creds.SecretID},
	})
	v := mustPut(t, b, p+"x", []byte("namespaced"))
	mustGet(t, b, p+"x", v, []byte("namespaced"))
	if _, err := b.Versions(ctx(t), p+"x"); err != nil {
		t.Fatal(err)
	}
	if err := b.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx(t), p+"x"); err != nil {
		t.Fatal(err)
	}
	values, paths := rec.seen()
	if !slices.Contains(paths, "/v1/auth/approle/login") || !slices.Contains(paths, "/v1/sys/health") {
		t.Fatalf("requests seen: %v; want the login and health among them", paths)
	}
	for i, v := range values {
		if v != "team-a/" {
			t.Fatalf("request %s sent X-Vault-Namespace %q, want %q", paths[i], v, "team-a/")
		}
	}
}

// Without a configured namespace no header goes out, whatever VAULT_NAMESPACE says: only
// Gatehouse's configuration counts (VAULT_TOKEN is ignored likewise).
func TestNoNamespaceIgnoresEnvironment(t *testing.T) {
	srv := vaulttest.Shared(t)
	t.Setenv("VAULT_NAMESPACE", "from-env")
	t.Setenv("VAULT_TOKEN", "hvs.from-env")
	rec := &headerRecorder{}
	proxy := httptest.NewServer(rec.proxy(t, srv.Addr, "X-Vault-Namespace"))
	t.Cleanup(proxy.Close)
	b := newBackend(t, vault.Config{Address: proxy.URL, Token: srv.RootToken, Mount: srv.Mount})
	name := prefix(t) + "x"
	mustPut(t, b, name, []byte("no namespace"))
	values, _ := rec.seen()
	for _, v := range values {
		if v != "" {
			t.Fatalf("X-Vault-Namespace %q sent without a configured namespace", v)
		}
	}
	if b.CurrentToken() != srv.RootToken {
		t.Fatal("the token from VAULT_TOKEN replaced the configured one")
	}
}

// TLS with a private CA: trusted through TLSCAFile, refused (unavailable) without it.
func TestTLSCAFile(t *testing.T) {
	srv := vaulttest.Shared(t)
	rec := &headerRecorder{}
	proxy := httptest.NewTLSServer(rec.proxy(t, srv.Addr, "X-Vault-Token"))
	t.Cleanup(proxy.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw})
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	name := prefix(t) + "x"

	b := newBackend(t, vault.Config{Address: proxy.URL, Token: srv.RootToken, Mount: srv.Mount, TLSCAFile: caFile})
	v := mustPut(t, b, name, []byte("over tls"))
	mustGet(t, b, name, v, []byte("over tls"))

	untrusting := newBackend(t, vault.Config{Address: proxy.URL, Token: srv.RootToken, Mount: srv.Mount})
	_, err := untrusting.Get(ctx(t), name, "")
	wantKind(t, "Get without the CA", err, secrets.ErrUnavailable)

	if _, err := vault.New(vault.Config{Address: proxy.URL, Token: "t", TLSCAFile: filepath.Join(t.TempDir(), "missing.pem")}); err == nil {
		t.Fatal("New accepted a CA file that does not exist")
	}
}

// The stored format is documented: base64 under value_b64, so any bytes round-trip; a plain
// string "value" written by another Vault client reads too.
func TestStoredFormat(t *testing.T) {
	srv := vaulttest.Shared(t)
	b := tokenBackend(t, srv)
	root := srv.Client(t)
	p := prefix(t)
	value := []byte{0, 1, 2, 0xff, '\n', 'x'}
	mustPut(t, b, p+"bin", value)
	kv, err := root.KVv2(srv.Mount).Get(ctx(t), p+"bin")
	if err != nil {
		t.Fatal(err)
	}
	if kv.Data["value_b64"] != base64.StdEncoding.EncodeToString(value) || kv.Data["encoding"] != "base64" {
		t.Fatalf("KV data = %v, want value_b64 and encoding base64", kv.Data)
	}
	if meta, err := root.KVv2(srv.Mount).GetMetadata(ctx(t), p+"bin"); err != nil || meta.MaxVersions != maxVersions {
		t.Fatalf("metadata max_versions = %v (err %v), want %d", meta, err, maxVersions)
	}

	if _, err := root.KVv2(srv.Mount).Put(ctx(t), p+"plain", map[string]any{"value": "written by the vault CLI"}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, b, p+"plain", "", []byte("written by the vault CLI"))

	if _, err := root.KVv2(srv.Mount).Put(ctx(t), p+"foreign", map[string]any{"password": "hunter2-foreign"}); err != nil {
		t.Fatal(err)
	}
	_, err = b.Get(ctx(t), p+"foreign", "")
	if err == nil || errors.Is(err, secrets.ErrNotFound) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("Get of a foreign KV layout: err = %v, want a format error without the data", err)
	}
}

// Versions deleted or destroyed in Vault exist no more for Gatehouse: ErrVersionNotFound, and
// Versions leaves them out. Version "0" is not Vault's "current" alias here.
func TestDeletedAndMalformedVersions(t *testing.T) {
	srv := vaulttest.Shared(t)
	b := tokenBackend(t, srv)
	root := srv.Client(t)
	name := prefix(t) + "x"
	v1 := mustPut(t, b, name, []byte("one"))
	v2 := mustPut(t, b, name, []byte("two"))
	v3 := mustPut(t, b, name, []byte("three"))
	if v1 != "1" || v2 != "2" || v3 != "3" {
		t.Fatalf("versions %s %s %s, want Vault's own 1 2 3", v1, v2, v3)
	}
	for _, v := range []string{"0", "-1", "01", "1.0", "abc", "99999999999999999999"} {
		_, err := b.Get(ctx(t), name, v)
		wantKind(t, "Get(version "+v+")", err, secrets.ErrVersionNotFound)
	}
	if err := root.KVv2(srv.Mount).DeleteVersions(ctx(t), name, []int{2}); err != nil {
		t.Fatal(err)
	}
	if err := root.KVv2(srv.Mount).Destroy(ctx(t), name, []int{3}); err != nil {
		t.Fatal(err)
	}
	_, err := b.Get(ctx(t), name, v2)
	wantKind(t, "Get(soft-deleted version)", err, secrets.ErrVersionNotFound)
	_, err = b.Get(ctx(t), name, v3)
	wantKind(t, "Get(destroyed version)", err, secrets.ErrVersionNotFound)
	_, err = b.Get(ctx(t), name, "")
	wantKind(t, "Get(newest, destroyed)", err, secrets.ErrVersionNotFound)
	mustGet(t, b, name, v1, []byte("one"))
	list, err := b.Versions(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Version != v1 || list[0].CreatedAt.IsZero() {
		t.Fatalf("Versions = %v, want only version %s with its creation time", list, v1)
	}
}

// MaxVersions is written to the secret's metadata, and versions Vault pruned are gone.
func TestMaxVersionsPrunes(t *testing.T) {
	srv := vaulttest.Shared(t)
	b := newBackend(t, vault.Config{Address: srv.Addr, Token: srv.RootToken, Mount: srv.Mount, MaxVersions: 3})
	name := prefix(t) + "x"
	var versions []string
	for i := range 5 {
		versions = append(versions, mustPut(t, b, name, []byte{byte('a' + i)}))
	}
	_, err := b.Get(ctx(t), name, versions[0])
	wantKind(t, "Get(pruned version)", err, secrets.ErrVersionNotFound)
	list, err := b.Versions(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(list))
	for i, v := range list {
		got[i] = v.Version
	}
	if !slices.Equal(got, versions[2:]) {
		t.Fatalf("Versions = %v, want %v", got, versions[2:])
	}
}

// Names are checked again here so that a missed check above never becomes a request to
// another Vault path (sys/seal, say).
func TestNamesCannotLeaveTheMount(t *testing.T) {
	srv := vaulttest.Shared(t)
	rec := &headerRecorder{}
	proxy := httptest.NewServer(rec.proxy(t, srv.Addr, "X-Vault-Token"))
	t.Cleanup(proxy.Close)
	b := newBackend(t, vault.Config{Address: proxy.URL, Token: srv.RootToken, Mount: srv.Mount})
	for _, name := range []string{"", "../../sys/seal", "a/../../sys/seal", "a//b", "/a", "a/", "a?b", "a b", "a%2fb"} {
		_, err := b.Get(ctx(t), name, "")
		wantKind(t, "Get("+name+")", err, secrets.ErrInvalidName)
		_, err = b.Put(ctx(t), name, []byte("v"))
		wantKind(t, "Put("+name+")", err, secrets.ErrInvalidName)
		wantKind(t, "Delete("+name+")", b.Delete(ctx(t), name), secrets.ErrInvalidName)
	}
	if _, paths := rec.seen(); len(paths) != 0 {
		t.Fatalf("invalid names reached Vault: %v", paths)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := map[string]vault.Config{
		"no address":            {Token: "t"},
		"address not a URL":     {Address: "127.0.0.1:8200", Token: "t"},
		"no credentials":        {Address: "http://127.0.0.1:8200"},
		"token and approle":     {Address: "http://127.0.0.1:8200", Token: "t", AppRole: vault.AppRole{RoleID: "r", SecretID: "s"}},
		"role_id only":          {Address: "http://127.0.0.1:8200", AppRole: vault.AppRole{RoleID: "r"}},
		"secret_id only":        {Address: "http://127.0.0.1:8200", AppRole: vault.AppRole{SecretID: "s"}},
		"negative timeout":      {Address: "http://127.0.0.1:8200", Token: "t", Timeout: -time.Second},
		"negative max versions": {Address: "http://127.0.0.1:8200", Token: "t", MaxVersions: -1},
		"mount leaves itself":   {Address: "http://127.0.0.1:8200", Token: "t", Mount: "secret/../sys"},
	}
	for name, cfg := range cases {
		if _, err := vault.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := vault.New(vault.Config{Address: "https://vault.example.com:8200", Token: "t"}); err != nil {
		t.Fatalf("New refused a minimal token config: %v", err)
	}
}
