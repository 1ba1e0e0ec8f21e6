package azure_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/azure"
	"gatehouse/server/internal/secrets/azure/azuretest"
	"gatehouse/server/internal/secrets/secretstest"
)

// newBackend points a backend at the fake through a real-looking vault URL: the challenge
// resource check stays on, as in production. Only the credential, the transport and retries
// (off, to keep failure tests fast) differ from a real deployment.
func newBackend(t *testing.T, srv *azuretest.Server, edit ...func(*azure.Config)) *azure.Backend {
	t.Helper()
	cfg := azure.Config{
		VaultURL: srv.VaultURL, Credential: srv.Credential(), Transport: srv.Client(), MaxRetries: -1,
	}
	for _, e := range edit {
		e(&cfg)
	}
	b, err := azure.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	srv := azuretest.Start(t)
	secretstest.Exercise(t, newBackend(t, srv), secretstest.Options{MaxValueBytes: azure.MaxValueBytes})
}

// Paged version lists and Key Vault's asynchronous delete (purge answers 409 for a while).
func TestConformancePagedSlowDelete(t *testing.T) {
	srv := azuretest.Start(t)
	srv.SetPageSize(2)
	srv.SetDeleteDelay(150 * time.Millisecond)
	secretstest.Exercise(t, newBackend(t, srv), secretstest.Options{MaxValueBytes: azure.MaxValueBytes})
}

func TestChallengeAuthentication(t *testing.T) {
	srv := azuretest.Start(t)
	cred := srv.Credential()
	b := newBackend(t, srv, func(c *azure.Config) { c.Credential = cred })
	for range 3 {
		if _, err := b.Put(t.Context(), "authn", []byte("v")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	reqs := cred.Requests()
	if len(reqs) != 1 {
		t.Fatalf("token requests = %d, want 1 (cached after the challenge)", len(reqs))
	}
	if len(reqs[0].Scopes) != 1 || reqs[0].Scopes[0] != azuretest.Resource+"/.default" || reqs[0].TenantID != azuretest.TenantID {
		t.Fatalf("token requested for %+v, want the challenge's scope and tenant", reqs[0])
	}
	if n := srv.Unauthenticated(); n != 1 {
		t.Fatalf("%d requests got 401, want only the first (the challenge)", n)
	}
}

// The token for Key Vault goes only to a host in Key Vault's domain: at the fake's raw
// 127.0.0.1 address azsecrets refuses the challenge and never asks the credential.
func TestChallengeResourceVerification(t *testing.T) {
	srv := azuretest.Start(t)
	cred := srv.Credential()
	b := newBackend(t, srv, func(c *azure.Config) { c.VaultURL = srv.URL; c.Credential = cred })
	if _, err := b.Put(t.Context(), "verify", []byte(secretValue)); err == nil {
		t.Fatal("Put succeeded against a vault host outside the challenge's domain")
	} else if strings.Contains(err.Error(), secretValue) {
		t.Fatal("error message contains the secret value")
	}
	if n := len(cred.Requests()); n != 0 {
		t.Fatalf("credential asked for %d tokens, want none", n)
	}
	b = newBackend(t, srv, func(c *azure.Config) { c.VaultURL = srv.URL; c.DisableChallengeResourceVerification = true })
	if _, err := b.Put(t.Context(), "verify", []byte("v")); err != nil {
		t.Fatalf("Put with verification disabled: %v", err)
	}
}

const secretValue = "correct-horse-battery-staple-7781"

func TestDenied(t *testing.T) {
	srv := azuretest.Start(t)
	for name, cred := range map[string]*azuretest.Credential{
		"wrong-token":       {Token: "not-the-vault-token"},
		"credential-failed": {Err: errors.New("no managed identity endpoint")},
	} {
		t.Run(name, func(t *testing.T) {
			b := newBackend(t, srv, func(c *azure.Config) { c.Credential = cred })
			_, err := b.Put(t.Context(), "denied", []byte(secretValue))
			if !errors.Is(err, secrets.ErrDenied) {
				t.Fatalf("Put: err = %v, want ErrDenied", err)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Fatal("error message contains the secret value")
			}
			if err := b.Health(t.Context()); !errors.Is(err, secrets.ErrDenied) {
				t.Fatalf("Health: err = %v, want ErrDenied", err)
			}
		})
	}
}

func TestValueEncoding(t *testing.T) {
	srv := azuretest.Start(t)
	b := newBackend(t, srv)
	text := []byte("pässwörd\n")
	if _, err := b.Put(t.Context(), "enc/text", text); err != nil {
		t.Fatal(err)
	}
	raw, ct, tags, ok := srv.Stored(azure.EncodeName("enc/text"))
	if !ok || raw != string(text) || ct != azure.ContentTypeText || tags["gatehouse-name"] != "enc/text" {
		t.Fatalf("text stored as %q %q %v", raw, ct, tags)
	}
	bin := []byte{0xff, 0x00, 0xfe, 'a'}
	if _, err := b.Put(t.Context(), "enc/bin", bin); err != nil {
		t.Fatal(err)
	}
	raw, ct, _, _ = srv.Stored(azure.EncodeName("enc/bin"))
	if raw != base64.StdEncoding.EncodeToString(bin) || ct != azure.ContentTypeBase64 {
		t.Fatalf("binary stored as %q %q", raw, ct)
	}
	for name, want := range map[string][]byte{"enc/text": text, "enc/bin": bin} {
		got, err := b.Get(t.Context(), name, "")
		if err != nil || string(got.Data) != string(want) {
			t.Fatalf("Get(%s) = %d bytes, %v", name, len(got.Data), err)
		}
	}

	// Secrets written by other Key Vault clients read as their string; a value marked base64
	// that does not decode is an error that does not quote it.
	other := rawClient(t, srv)
	set := func(kvName, value string, contentType *string) {
		if _, err := other.SetSecret(t.Context(), kvName, azsecrets.SetSecretParameters{Value: &value, ContentType: contentType}, nil); err != nil {
			t.Fatal(err)
		}
	}
	set(azure.EncodeName("foreign"), "plain", nil)
	if got, err := b.Get(t.Context(), "foreign", ""); err != nil || string(got.Data) != "plain" {
		t.Fatalf("foreign secret = %q, %v", got.Data, err)
	}
	marker := azure.ContentTypeBase64
	set(azure.EncodeName("corrupt"), secretValue+"!", &marker)
	_, err := b.Get(t.Context(), "corrupt", "")
	if err == nil || strings.Contains(err.Error(), secretValue) {
		t.Fatalf("corrupt value: err = %v", err)
	}
}

func rawClient(t *testing.T, srv *azuretest.Server) *azsecrets.Client {
	t.Helper()
	opts := &azsecrets.ClientOptions{}
	opts.Transport = srv.Client()
	c, err := azsecrets.NewClient(srv.VaultURL, srv.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValueLimit(t *testing.T) {
	srv := azuretest.Start(t)
	b := newBackend(t, srv)
	if _, err := b.Put(t.Context(), "big", []byte(strings.Repeat("x", 25*1024))); err != nil {
		t.Fatalf("25 KiB of text: %v", err)
	}
	_, err := b.Put(t.Context(), "big", []byte(strings.Repeat("x", 25*1024+1)))
	if err == nil {
		t.Fatal("Put accepted a value over Key Vault's limit")
	}
	if got := b.MaxValueBytes(); got != 19200 {
		t.Fatalf("MaxValueBytes = %d", got)
	}
	if calls := srv.Calls(); len(calls) != 1 {
		t.Fatalf("oversized value reached Key Vault: %v", calls)
	}
}

func TestLongNameKeepsOriginalInTags(t *testing.T) {
	srv := azuretest.Start(t)
	b := newBackend(t, srv)
	name := strings.Repeat("Segment_1/", 51)[:500]
	if _, err := b.Put(t.Context(), name, []byte("v")); err != nil {
		t.Fatal(err)
	}
	kv := azure.EncodeName(name)
	if !strings.HasPrefix(kv, "h--") {
		t.Fatalf("EncodeName = %q, want the hashed form", kv)
	}
	_, _, tags, ok := srv.Stored(kv)
	if !ok || tags["gatehouse-name"]+tags["gatehouse-name-2"] != name {
		t.Fatalf("tags do not hold the name: %v", tags)
	}
}

// Key Vault timestamps have one-second precision and the fake lists versions by id: order
// comes from the writer's clock tag.
func TestVersionsOrderedWithinOneSecond(t *testing.T) {
	srv := azuretest.Start(t)
	b := newBackend(t, srv)
	var want []string
	for i := range 8 {
		v, err := b.Put(t.Context(), "ordered", []byte{byte('a' + i)})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, v)
	}
	list, err := b.Versions(t.Context(), "ordered")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if i >= len(list) || list[i].Version != want[i] {
			t.Fatalf("Versions = %v, want %v", list, want)
		}
	}
}

func TestPurgeProtection(t *testing.T) {
	srv := azuretest.Start(t)
	srv.SetPurgeProtection(true)

	b := newBackend(t, srv)
	if _, err := b.Put(t.Context(), "protected", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(t.Context(), "protected"); !errors.Is(err, secrets.ErrDenied) {
		t.Fatalf("Delete with purge refused: err = %v, want ErrDenied", err)
	}
	if _, err := b.Get(t.Context(), "protected", ""); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get after soft delete: err = %v, want ErrNotFound", err)
	}

	keep := newBackend(t, srv, func(c *azure.Config) { c.KeepDeleted = true })
	if _, err := keep.Put(t.Context(), "kept", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := keep.Delete(t.Context(), "kept"); err != nil {
		t.Fatalf("Delete with KeepDeleted: %v", err)
	}
	if _, err := keep.Get(t.Context(), "kept", ""); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := keep.Put(t.Context(), "kept", []byte("again")); err == nil {
		t.Fatal("Put reused a soft-deleted name")
	}
}

func TestErrorMapping(t *testing.T) {
	srv := azuretest.Start(t)
	b := newBackend(t, srv)
	v, err := b.Put(t.Context(), "mapped", []byte(secretValue))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fault azuretest.Fault
		want  error
	}{
		{"internal-500", azuretest.Fault{Status: 500, Code: "InternalServerError", Message: "Internal error"}, secrets.ErrUnavailable},
		{"unavailable-503", azuretest.Fault{Status: 503, Code: "ServiceUnavailable", Message: "Service unavailable"}, secrets.ErrUnavailable},
		{"throttled-429", azuretest.Fault{Status: 429, Code: "Throttled", Message: "Rate limit is exceeded."}, secrets.ErrUnavailable},
		{"gateway-502-html", azuretest.Fault{Status: 502, Body: "<html>Bad Gateway</html>"}, secrets.ErrUnavailable},
		{"forbidden-403", azuretest.Fault{Status: 403, Code: "Forbidden", Message: "Caller is not authorized to perform action on resource."}, secrets.ErrDenied},
		{"bad-request-400", azuretest.Fault{Status: 400, Code: "BadParameter", Message: "Bad parameter."}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.SetFault(&tc.fault)
			defer srv.SetFault(nil)
			ops := map[string]func() error{
				"Get":        func() error { _, err := b.Get(t.Context(), "mapped", ""); return err },
				"GetVersion": func() error { _, err := b.Get(t.Context(), "mapped", v); return err },
				"Put":        func() error { _, err := b.Put(t.Context(), "mapped", []byte(secretValue)); return err },
				"Delete":     func() error { return b.Delete(t.Context(), "mapped") },
				"Versions":   func() error { _, err := b.Versions(t.Context(), "mapped"); return err },
				"Health":     func() error { return b.Health(t.Context()) },
			}
			for op, call := range ops {
				err := call()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				for _, kind := range []error{secrets.ErrUnavailable, secrets.ErrDenied, secrets.ErrNotFound, secrets.ErrVersionNotFound} {
					if got, want := errors.Is(err, kind), errors.Is(tc.want, kind); got != want {
						t.Errorf("%s: errors.Is(err, %v) = %v; err = %v", op, kind, got, err)
					}
				}
				if strings.Contains(err.Error(), secretValue) {
					t.Errorf("%s: error message contains the secret value", op)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: multi-line error message: %q", op, err)
				}
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	srv := azuretest.NewServer()
	client := srv.Client()
	srv.Close()
	b := newBackend(t, srv, func(c *azure.Config) { c.Transport = client })
	if err := b.Health(t.Context()); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Health: err = %v, want ErrUnavailable", err)
	}
}

func TestTimeouts(t *testing.T) {
	srv := azuretest.Start(t)
	b := newBackend(t, srv)
	if _, err := b.Put(t.Context(), "slow", []byte("v")); err != nil { // past the challenge
		t.Fatal(err)
	}
	srv.SetFault(&azuretest.Fault{Hang: true})

	t.Run("configured-timeout", func(t *testing.T) {
		b := newBackend(t, srv, func(c *azure.Config) { c.Timeout = 200 * time.Millisecond })
		start := time.Now()
		_, err := b.Get(t.Context(), "slow", "")
		if !errors.Is(err, secrets.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("caller-cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := b.Put(ctx, "slow", []byte(secretValue))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

func TestNewValidates(t *testing.T) {
	for _, u := range []string{"", "http://gatehouse.vault.azure.net/", "https://", "https://user@x.vault.azure.net/", "::"} {
		if _, err := azure.New(azure.Config{VaultURL: u, Credential: &azuretest.Credential{}}); err == nil {
			t.Errorf("New accepted vault URL %q", u)
		}
	}
	if _, err := azure.New(azure.Config{VaultURL: "https://x.vault.azure.net/", Credential: &azuretest.Credential{}, Timeout: -1}); err == nil {
		t.Error("New accepted a negative timeout")
	}
	// The default credential chain builds without contacting anything.
	if _, err := azure.New(azure.Config{VaultURL: "https://x.vault.azure.net/", TenantID: azuretest.TenantID}); err != nil {
		t.Errorf("default credential: %v", err)
	}
	if _, err := azure.New(azure.Config{VaultURL: "https://x.vault.azure.net/", ClientID: "00000000-0000-4000-8000-000000000001"}); err != nil {
		t.Errorf("client id credential: %v", err)
	}
}
