package aws_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/aws"
	"gatehouse/server/internal/secrets/aws/awstest"
	"gatehouse/server/internal/secrets/secretstest"
)

// newBackend points a production-configured backend at the fake; only Endpoint (and no
// retries, to keep failure tests fast) differ from a real deployment.
func newBackend(t *testing.T, srv *awstest.Server, edit ...func(*aws.Config)) *aws.Backend {
	t.Helper()
	cfg := aws.Config{
		Region: awstest.Region, Endpoint: srv.URL,
		AccessKeyID: awstest.AccessKeyID, SecretAccessKey: awstest.SecretAccessKey,
		MaxAttempts: 1,
	}
	for _, e := range edit {
		e(&cfg)
	}
	b, err := aws.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) {
	srv := awstest.Start(t)
	secretstest.Exercise(t, newBackend(t, srv), secretstest.Options{})
}

// The SDK follows NextToken: the fake lists two versions per page here.
func TestConformancePaginated(t *testing.T) {
	srv := awstest.Start(t)
	srv.SetPageSize(2)
	secretstest.Exercise(t, newBackend(t, srv), secretstest.Options{})
}

func TestValueEncoding(t *testing.T) {
	srv := awstest.Start(t)
	b := newBackend(t, srv)
	for _, tc := range []struct {
		name     string
		data     []byte
		asString bool
	}{
		{"text", []byte("pässwörd <&> \"quoted\"\n"), true},
		{"empty", []byte{}, true},
		{"nul-in-text", []byte("a\x00b"), true},
		{"invalid-utf8", []byte{0xff, 0xfe, 'a', 0x80}, false},
		{"truncated-rune", []byte("ab\xc3"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := b.Put(t.Context(), "enc/"+tc.name, tc.data)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			isString, ok := srv.StoredVersion("enc/"+tc.name, v)
			if !ok || isString != tc.asString {
				t.Fatalf("stored as string = %v (found %v), want %v", isString, ok, tc.asString)
			}
			got, err := b.Get(t.Context(), "enc/"+tc.name, v)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if string(got.Data) != string(tc.data) || got.Data == nil {
				t.Fatalf("round trip changed the value: got %d bytes, want %d", len(got.Data), len(tc.data))
			}
			if got.CreatedAt.IsZero() {
				t.Fatal("CreatedAt not set")
			}
		})
	}
}

// Staging follows AWS's rotation: a Put is AWSPENDING until Gatehouse promotes it, so AWS's
// own clients (reading AWSCURRENT) never see a value Gatehouse has not made current.
func TestStagingLabels(t *testing.T) {
	srv := awstest.Start(t)
	b := newBackend(t, srv)
	ctx := t.Context()
	put := func(value string) string {
		t.Helper()
		v, err := b.Put(ctx, "app/db", []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	promote := func(v string) {
		t.Helper()
		if err := b.Promote(ctx, "app/db", v); err != nil {
			t.Fatalf("Promote: %v", err)
		}
	}
	v1 := put("one") // CreateSecret: the first version is AWSCURRENT at once
	wantStages(t, srv, "app/db", map[string]string{v1: "AWSCURRENT"})
	v2 := put("two")
	wantStages(t, srv, "app/db", map[string]string{v1: "AWSCURRENT", v2: "AWSPENDING"})
	if got := b.AWSCurrent(t, "app/db"); got != "one" {
		t.Fatalf("AWS clients read %q before Promote, want the current value", got)
	}
	if got, err := b.Get(ctx, "app/db", ""); err != nil || string(got.Data) != "two" || got.Version != v2 {
		t.Fatalf("Get newest = %q %q, %v; want the version just put", got.Data, got.Version, err)
	}
	promote(v2)
	wantStages(t, srv, "app/db", map[string]string{v2: "AWSCURRENT", v1: "AWSPREVIOUS"})
	if got := b.AWSCurrent(t, "app/db"); got != "two" {
		t.Fatalf("AWS clients read %q after Promote", got)
	}
	v3 := put("three")
	promote(v3)
	wantStages(t, srv, "app/db", map[string]string{v3: "AWSCURRENT", v2: "AWSPREVIOUS"})

	// Rollback to v1, which had no label left (deprecated, still readable).
	promote(v1)
	wantStages(t, srv, "app/db", map[string]string{v1: "AWSCURRENT", v3: "AWSPREVIOUS"})
	// Promoting the current version changes nothing.
	promote(v1)
	wantStages(t, srv, "app/db", map[string]string{v1: "AWSCURRENT", v3: "AWSPREVIOUS"})

	// Versions lists deprecated versions too, oldest first.
	list, err := b.Versions(ctx, "app/db")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Version != v1 || list[1].Version != v2 || list[2].Version != v3 {
		t.Fatalf("Versions = %+v", list)
	}
}

// SEC-44 for AWS's own readers: a rotation whose test step fails is never promoted, so the
// value AWS clients read stays the current one, and the next rotation replaces the pending
// version.
func TestSEC44FailedRotationLeavesAWSCurrent(t *testing.T) {
	srv := awstest.Start(t)
	b := newBackend(t, srv)
	current, err := b.Put(t.Context(), "rotating", []byte("current"))
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := b.Put(t.Context(), "rotating", []byte("rejected")) // set; the test hook refuses it
	if err != nil {
		t.Fatal(err)
	}
	if got := b.AWSCurrent(t, "rotating"); got != "current" {
		t.Fatalf("AWS clients read %q after a failed rotation", got)
	}
	retry, err := b.Put(t.Context(), "rotating", []byte("accepted")) // the next rotation
	if err != nil {
		t.Fatal(err)
	}
	wantStages(t, srv, "rotating", map[string]string{current: "AWSCURRENT", retry: "AWSPENDING"})
	if err := b.Promote(t.Context(), "rotating", retry); err != nil {
		t.Fatal(err)
	}
	wantStages(t, srv, "rotating", map[string]string{retry: "AWSCURRENT", current: "AWSPREVIOUS"})
	// The rejected version stays readable by id (deprecated), for the audit trail.
	if got, err := b.Get(t.Context(), "rotating", rejected); err != nil || string(got.Data) != "rejected" {
		t.Fatalf("rejected version = %q, %v", got.Data, err)
	}
}

func wantStages(t *testing.T, srv *awstest.Server, name string, want map[string]string) {
	t.Helper()
	got := srv.Stages(name)
	if len(got) != len(want) {
		t.Fatalf("stages = %v, want %v", got, want)
	}
	for id, stage := range want {
		if len(got[id]) != 1 || got[id][0] != stage {
			t.Fatalf("stages = %v, want %v", got, want)
		}
	}
}

// secretValue must never show up in an error, whatever fails.
const secretValue = "correct-horse-battery-staple-7781"

func TestErrorMapping(t *testing.T) {
	srv := awstest.Start(t)
	b := newBackend(t, srv)
	v, err := b.Put(t.Context(), "mapped", []byte(secretValue))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		fault awstest.Fault
		want  error // nil: none of the sentinel kinds
	}{
		{"internal-error-500", awstest.Fault{Status: 500, Type: "InternalServiceError", Message: "An error occurred on the server side."}, secrets.ErrUnavailable},
		{"unavailable-503", awstest.Fault{Status: 503, Type: "ServiceUnavailable", Message: "Service Unavailable"}, secrets.ErrUnavailable},
		{"proxy-502-html", awstest.Fault{Status: 502, Body: "<html><body>Bad Gateway</body></html>"}, secrets.ErrUnavailable},
		{"throttled", awstest.Fault{Type: "ThrottlingException", Message: "Rate exceeded"}, secrets.ErrUnavailable},
		{"access-denied", awstest.Fault{Type: "AccessDeniedException", Message: "User is not authorized to perform: secretsmanager:GetSecretValue"}, secrets.ErrDenied},
		{"kms-denied", awstest.Fault{Type: "DecryptionFailure", Message: "Access to KMS is not allowed"}, secrets.ErrDenied},
		{"proxy-403-html", awstest.Fault{Status: 403, Body: "<html>Forbidden</html>"}, secrets.ErrDenied},
		{"validation", awstest.Fault{Type: "ValidationException", Message: "1 validation error detected"}, nil},
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
				"Promote":    func() error { return b.Promote(t.Context(), "mapped", v) },
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

// The fake verifies SigV4 for real: wrong keys, region or key id are refused by the service
// and reported as ErrDenied.
func TestCredentialsRefused(t *testing.T) {
	srv := awstest.Start(t)
	for _, tc := range []struct {
		name string
		edit func(*aws.Config)
	}{
		{"wrong-secret-key", func(c *aws.Config) { c.SecretAccessKey = "not-the-right-secret-access-key-000000000" }},
		{"unknown-key-id", func(c *aws.Config) { c.AccessKeyID = "AKIAUNKNOWNKEY000001" }},
		{"wrong-region-scope", func(c *aws.Config) { c.Region = "us-east-1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t, srv, tc.edit)
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

func TestUnreachable(t *testing.T) {
	srv := awstest.NewServer(awstest.Region, awstest.AccessKeyID, awstest.SecretAccessKey)
	url := srv.URL
	srv.Close()
	b := newBackend(t, srv, func(c *aws.Config) { c.Endpoint = url })
	if err := b.Health(t.Context()); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Health: err = %v, want ErrUnavailable", err)
	}
	if _, err := b.Get(t.Context(), "x", ""); !errors.Is(err, secrets.ErrUnavailable) {
		t.Fatalf("Get: err = %v, want ErrUnavailable", err)
	}
}

func TestTimeouts(t *testing.T) {
	srv := awstest.Start(t)
	srv.SetFault(&awstest.Fault{Hang: true})

	t.Run("configured-timeout", func(t *testing.T) {
		b := newBackend(t, srv, func(c *aws.Config) { c.Timeout = 200 * time.Millisecond })
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
		b := newBackend(t, srv)
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

// A secret scheduled for deletion outside Gatehouse (with AWS's recovery window) reads as
// gone, not as a generic failure.
func TestScheduledForDeletionElsewhere(t *testing.T) {
	srv := awstest.Start(t)
	b := newBackend(t, srv)
	v, err := b.Put(t.Context(), "elsewhere", []byte("value"))
	if err != nil {
		t.Fatal(err)
	}
	b.ScheduleDeletion(t, "elsewhere")
	if _, err := b.Get(t.Context(), "elsewhere", ""); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get: err = %v, want ErrNotFound", err)
	}
	if _, err := b.Get(t.Context(), "elsewhere", v); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get(version): err = %v, want ErrNotFound", err)
	}
}

func TestNewValidates(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_PROFILE", "")
	for name, cfg := range map[string]aws.Config{
		"half-static-keys": {Region: "eu-west-1", AccessKeyID: "AKIAONLYKEYID0000001"},
		"no-region":        {},
		"negative-timeout": {Region: "eu-west-1", Timeout: -time.Second},
	} {
		if _, err := aws.New(t.Context(), cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		} else if cfg.SecretAccessKey != "" && strings.Contains(err.Error(), cfg.SecretAccessKey) {
			t.Errorf("%s: error shows the secret key", name)
		}
	}
	if _, err := aws.New(t.Context(), aws.Config{Region: "eu-west-1"}); err != nil {
		t.Errorf("default credential chain: %v", err)
	}
}

// If the service refuses an unknown MoveToVersionId with InvalidParameterException rather
// than ResourceNotFoundException, Promote still reports ErrVersionNotFound; for a known
// version the same answer means a concurrent Put moved AWSCURRENT, and Promote retries.
func TestPromoteInvalidParameter(t *testing.T) {
	srv := awstest.Start(t)
	b := newBackend(t, srv)
	v1, err := b.Put(t.Context(), "p", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := b.Put(t.Context(), "p", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	srv.SetFault(&awstest.Fault{Operation: "UpdateSecretVersionStage", Type: "InvalidParameterException", Message: "refused"})
	err = b.Promote(t.Context(), "p", "00000000-0000-4000-8000-000000000000")
	if !errors.Is(err, secrets.ErrVersionNotFound) {
		t.Fatalf("unknown version: err = %v, want ErrVersionNotFound", err)
	}
	before := len(srv.Calls())
	err = b.Promote(t.Context(), "p", v2)
	if err == nil || errors.Is(err, secrets.ErrVersionNotFound) {
		t.Fatalf("known version refused: err = %v", err)
	}
	n := 0
	for _, c := range srv.Calls()[before:] {
		if c == "UpdateSecretVersionStage" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("UpdateSecretVersionStage tried %d times, want 3", n)
	}
	srv.SetFault(nil)
	if err := b.Promote(t.Context(), "p", v2); err != nil {
		t.Fatal(err)
	}
	wantStages(t, srv, "p", map[string]string{v2: "AWSCURRENT", v1: "AWSPREVIOUS"})
}
