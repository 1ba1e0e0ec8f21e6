package gcp_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/gcp"
	"gatehouse/server/internal/secrets/gcp/gcptest"
	"gatehouse/server/internal/secrets/secretstest"
)

// newBackend connects a production-configured backend to the fake: only the endpoint, the
// absence of Google credentials and the plaintext connection (gcptest.ClientOptions) differ.
func newBackend(t *testing.T, srv *gcptest.Server, edit func(*gcp.Config), extra ...option.ClientOption) *gcp.Backend {
	t.Helper()
	cfg := gcp.Config{Project: gcptest.Project, MaxAttempts: 1}
	if edit != nil {
		edit(&cfg)
	}
	b, err := gcp.New(t.Context(), cfg, append(srv.ClientOptions(), extra...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	srv := gcptest.Start(t)
	secretstest.Exercise(t, newBackend(t, srv, nil), secretstest.Options{})
}

func TestConformancePaged(t *testing.T) {
	srv := gcptest.Start(t)
	srv.SetPageSize(2)
	secretstest.Exercise(t, newBackend(t, srv, nil), secretstest.Options{})
}

func TestChecksums(t *testing.T) {
	srv := gcptest.Start(t)
	b := newBackend(t, srv, nil)
	if _, err := b.Put(t.Context(), "summed", []byte(secretValue)); err != nil {
		t.Fatal(err)
	}
	if !srv.ClientChecksummed(gcp.EncodeName("summed")) {
		t.Fatal("Put sent no data_crc32c")
	}
	for name, fault := range map[string]gcptest.Fault{
		"corrupt": {Method: "AccessSecretVersion", CorruptChecksum: true},
		"missing": {Method: "AccessSecretVersion", OmitChecksum: true},
	} {
		t.Run(name, func(t *testing.T) {
			srv.SetFault(&fault)
			defer srv.SetFault(nil)
			_, err := b.Get(t.Context(), "summed", "")
			if !errors.Is(err, gcp.ErrChecksum) || !errors.Is(err, secrets.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrChecksum and ErrUnavailable", err)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Fatal("error message contains the secret value")
			}
		})
	}
}

func TestNamesAndAnnotations(t *testing.T) {
	srv := gcptest.Start(t)
	b := newBackend(t, srv, nil)
	long := strings.Repeat("Segment_1/", 51)[:500]
	for _, name := range []string{"billing/prod/db-password", long} {
		if _, err := b.Put(t.Context(), name, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if got := srv.Annotations(gcp.EncodeName(name))["gatehouse-name"]; got != name {
			t.Fatalf("annotation = %q, want %q", got, name)
		}
	}
	ids := srv.SecretIDs()
	if len(ids) != 2 || !strings.HasPrefix(ids[0], "_h") || ids[1] != "billing_sprod_sdb-password" {
		t.Fatalf("secret ids = %v", ids)
	}
}

var secretID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

func TestEncodeNameReversibleAndCollisionFree(t *testing.T) {
	names := []string{"a/b", "a-b", "a_b", "a.b", "A/b", "a/B", "ab", "a__b", "a_sb", "a_s", "_s", "a/_b", "a/.b",
		"_h", "_hx", "a\x00", "\xff", "x_u", strings.Repeat("a", 255), strings.Repeat("a", 256),
		strings.Repeat("/", 127), strings.Repeat("/", 128), strings.Repeat("ab/", 171)[:512]}
	seen := map[string]string{}
	for _, n := range names {
		id := gcp.EncodeName(n)
		if !secretID.MatchString(id) {
			t.Errorf("EncodeName(%q) = %q: not a secret id", n, id)
		}
		if other, dup := seen[id]; dup {
			t.Errorf("%q and %q both encode to %q", other, n, id)
		}
		seen[id] = n
		dec, ok := gcp.DecodeName(id)
		switch {
		case strings.HasPrefix(id, "_h"):
			if ok {
				t.Errorf("hashed %q decoded", id)
			}
		case !ok || dec != n:
			t.Errorf("DecodeName(EncodeName(%q)) = %q, %v", n, dec, ok)
		}
	}
	for _, foreign := range []string{"", "_", "a_", "_q", "_x0", "_xzz", "a.b"} {
		if got, ok := gcp.DecodeName(foreign); ok {
			t.Errorf("DecodeName(%q) = %q, want not decodable", foreign, got)
		}
	}
}

const secretValue = "correct-horse-battery-staple-7781"

func TestErrorMapping(t *testing.T) {
	srv := gcptest.Start(t)
	b := newBackend(t, srv, nil)
	v, err := b.Put(t.Context(), "mapped", []byte(secretValue))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code codes.Code
		want error
	}{
		{codes.Unavailable, secrets.ErrUnavailable},
		{codes.Internal, secrets.ErrUnavailable},
		{codes.ResourceExhausted, secrets.ErrUnavailable},
		{codes.PermissionDenied, secrets.ErrDenied},
		{codes.Unauthenticated, secrets.ErrDenied},
		{codes.InvalidArgument, nil},
	} {
		t.Run(tc.code.String(), func(t *testing.T) {
			srv.SetFault(&gcptest.Fault{Code: tc.code, Message: "injected " + tc.code.String()})
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
			}
		})
	}
}

// Reads are retried a bounded number of times; writes never (a retried AddSecretVersion
// could store the value twice).
func TestRetries(t *testing.T) {
	srv := gcptest.Start(t)
	b := newBackend(t, srv, func(c *gcp.Config) { c.MaxAttempts = 3 })
	if _, err := b.Put(t.Context(), "retried", []byte("v")); err != nil {
		t.Fatal(err)
	}
	srv.SetFault(&gcptest.Fault{Method: "AccessSecretVersion", Code: codes.Unavailable, Count: 2})
	if got, err := b.Get(t.Context(), "retried", ""); err != nil || string(got.Data) != "v" {
		t.Fatalf("Get after two Unavailable answers = %q, %v", got.Data, err)
	}
	srv.SetFault(&gcptest.Fault{Method: "AccessSecretVersion", Code: codes.Unavailable, Count: 3})
	if _, err := b.Get(t.Context(), "retried", ""); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Get after three Unavailable answers: err = %v", err)
	}
	before := len(srv.Calls())
	srv.SetFault(&gcptest.Fault{Method: "AddSecretVersion", Code: codes.Unavailable, Count: 1})
	if _, err := b.Put(t.Context(), "retried", []byte("w")); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Put: err = %v, want ErrUnavailable without retry", err)
	}
	if calls := srv.Calls()[before:]; len(calls) != 1 || calls[0] != "AddSecretVersion" {
		t.Fatalf("a failed Put made calls %v, want one AddSecretVersion", calls)
	}
}

func TestAuthentication(t *testing.T) {
	srv := gcptest.Start(t)
	srv.RequireToken("gcp-fake-token")
	if err := newBackend(t, srv, nil).Health(t.Context()); !errors.Is(err, secrets.ErrDenied) {
		t.Fatalf("Health without a token: err = %v, want ErrDenied", err)
	}
	if err := newBackend(t, srv, nil, gcptest.TokenOption("wrong")).Health(t.Context()); !errors.Is(err, secrets.ErrDenied) {
		t.Fatalf("Health with a wrong token: err = %v, want ErrDenied", err)
	}
	b := newBackend(t, srv, nil, gcptest.TokenOption("gcp-fake-token"))
	if _, err := b.Put(t.Context(), "authn", []byte("v")); err != nil {
		t.Fatalf("Put with the token: %v", err)
	}
	// Another project is refused as the real service refuses projects one cannot see.
	other := newBackend(t, srv, func(c *gcp.Config) { c.Project = "someone-elses" }, gcptest.TokenOption("gcp-fake-token"))
	if _, err := other.Get(t.Context(), "authn", ""); !errors.Is(err, secrets.ErrDenied) {
		t.Fatalf("Get in another project: err = %v, want ErrDenied", err)
	}
}

func TestUnreachable(t *testing.T) {
	srv := gcptest.NewServer()
	srv.Close()
	b := newBackend(t, srv, nil)
	if err := b.Health(t.Context()); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Health: err = %v, want ErrUnavailable", err)
	}
}

func TestTimeouts(t *testing.T) {
	srv := gcptest.Start(t)
	srv.SetFault(&gcptest.Fault{Hang: true})
	t.Run("configured-timeout", func(t *testing.T) {
		b := newBackend(t, srv, func(c *gcp.Config) { c.Timeout = 200 * time.Millisecond })
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
		b := newBackend(t, srv, nil)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		_, err := b.Put(ctx, "slow", []byte(secretValue))
		if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), secretValue) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

func TestNewValidates(t *testing.T) {
	for _, p := range []string{"", "UPPER", "ab", "projects/x", "has space", "-leading"} {
		if _, err := gcp.New(t.Context(), gcp.Config{Project: p}, option.WithoutAuthentication()); err == nil {
			t.Errorf("New accepted project %q", p)
		}
	}
	for _, p := range []string{"gatehouse-test", "example.com:my-project", "123456789012"} {
		b, err := gcp.New(t.Context(), gcp.Config{Project: p}, option.WithoutAuthentication())
		if err != nil {
			t.Errorf("New refused project %q: %v", p, err)
			continue
		}
		_ = b.Close()
	}
}
