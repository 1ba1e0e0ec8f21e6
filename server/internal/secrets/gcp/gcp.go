// Package gcp keeps Gatehouse secret values in Google Secret Manager, through
// cloud.google.com/go/secretmanager/apiv1 (gRPC) with Application Default Credentials.
//
// Mapping:
//   - Names: secret ids allow 1-255 characters of [A-Za-z0-9_-]; EncodeName (names.go) maps
//     Gatehouse names onto them reversibly and without collisions. Each secret is created
//     with automatic replication, the label managed-by=gatehouse and the original name in
//     the annotation gatehouse-name.
//   - Versions are Secret Manager's version numbers ("1", "2", ...); Get without a version
//     reads "latest". Versions lists them in number order (the service numbers them in
//     creation order), leaving out destroyed ones.
//   - Values are bytes in Secret Manager (up to 64 KiB) and stored as they are. Put sends a
//     CRC32C (Castagnoli) of the data, which the service verifies; Get checks the service's
//     data_crc32c against the bytes received and refuses a mismatched or missing checksum.
//     The access call carries no creation time, so Value.CreatedAt is zero (Versions has it).
//   - Delete deletes the secret with all its versions at once (Secret Manager has no soft
//     delete); Gatehouse keeps its own recovery window.
//
// IAM: roles/secretmanager.admin on the project, or secretAccessor + secretVersionAdder +
// secrets create/delete/get/list.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gatehouse/server/internal/secrets"
)

// DefaultTimeout bounds one call (retries included) when Config.Timeout is 0;
// DefaultMaxAttempts is how often a read is tried when Config.MaxAttempts is 0.
const (
	DefaultTimeout     = 10 * time.Second
	DefaultMaxAttempts = 3
)

// ErrChecksum is matched (with ErrUnavailable) when a value read does not match the
// checksum Secret Manager sent with it: it was damaged on the way, and a retry may succeed.
var ErrChecksum = errors.New("gcp secret manager: data_crc32c mismatch")

const annotationName = "gatehouse-name"

var (
	crcTable       = crc32.MakeTable(crc32.Castagnoli)
	versionPattern = regexp.MustCompile(`^[1-9][0-9]{0,18}$`)
	// Project ids, domain-scoped ones (example.com:project) and project numbers.
	projectPattern = regexp.MustCompile(`^([a-z][a-z0-9.-]{0,62}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[0-9]{1,20}$`)
)

// Config configures the backend. Project is required.
type Config struct {
	// Project is the Google Cloud project id (or number) holding the secrets.
	Project string
	// Endpoint replaces secretmanager.googleapis.com:443 (host:port), e.g. a Private Service
	// Connect endpoint. Empty: the global endpoint.
	Endpoint string
	// Timeout bounds one call to the service, retries included. 0: DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is how often a read (never a write) is tried when the service answers
	// Unavailable or ResourceExhausted. 0: DefaultMaxAttempts; 1: no retry.
	MaxAttempts int
}

// Backend is the Google Secret Manager backend. It is safe for concurrent use; Close it.
type Backend struct {
	client   *secretmanager.Client
	project  string
	timeout  time.Duration
	readOpts []gax.CallOption
}

var (
	_ secrets.Backend   = (*Backend)(nil)
	_ secrets.Writer    = (*Backend)(nil)
	_ secrets.Deleter   = (*Backend)(nil)
	_ secrets.Versioner = (*Backend)(nil)
)

// New connects the gRPC client (lazily: no call is made; Health does one). extra options
// follow the configured ones: tests pass the loopback fake's (gcptest.Server.ClientOptions);
// production passes none and uses Application Default Credentials.
func New(ctx context.Context, cfg Config, extra ...option.ClientOption) (*Backend, error) {
	if !projectPattern.MatchString(cfg.Project) {
		return nil, errors.New("gcp secret manager: project must be a project id (6-30 lower-case letters, digits, hyphens) or number")
	}
	if cfg.Timeout < 0 || cfg.MaxAttempts < 0 {
		return nil, errors.New("gcp secret manager: timeout and max attempts must not be negative")
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	client, err := secretmanager.NewClient(ctx, append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("gcp secret manager: %w", err)
	}
	b := &Backend{client: client, project: cfg.Project, timeout: cfg.Timeout}
	if b.timeout == 0 {
		b.timeout = DefaultTimeout
	}
	attempts := cfg.MaxAttempts
	if attempts == 0 {
		attempts = DefaultMaxAttempts
	}
	// The generated client retries only AccessSecretVersion, from a 2 s pause up to its 60 s
	// deadline; reads here retry a bounded number of times with short pauses instead.
	b.readOpts = []gax.CallOption{gax.WithRetry(func() gax.Retryer {
		return &limitedRetryer{left: attempts - 1, inner: gax.OnCodes(
			[]codes.Code{codes.Unavailable, codes.ResourceExhausted},
			gax.Backoff{Initial: 100 * time.Millisecond, Max: 2 * time.Second, Multiplier: 2},
		)}
	})}
	return b, nil
}

type limitedRetryer struct {
	left  int
	inner gax.Retryer
}

func (r *limitedRetryer) Retry(err error) (time.Duration, bool) {
	if r.left <= 0 {
		return 0, false
	}
	r.left--
	return r.inner.Retry(err)
}

// Close releases the gRPC connection.
func (b *Backend) Close() error { return b.client.Close() }

// Kind implements secrets.Backend.
func (b *Backend) Kind() string { return secrets.KindGCP }

func (b *Backend) parent() string { return "projects/" + b.project }

func (b *Backend) secretName(name string) string {
	return b.parent() + "/secrets/" + EncodeName(name)
}

// Health lists at most one secret: the service answers and accepts the credentials.
func (b *Backend) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	it := b.client.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: b.parent(), PageSize: 1}, b.readOpts...)
	if _, err := it.Next(); err != nil && !errors.Is(err, iterator.Done) {
		return fail(ctx, "health", "", err)
	}
	return nil
}

// Get implements secrets.Backend, verifying the payload's CRC32C.
func (b *Backend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	ver := "latest"
	if version != "" {
		if !versionPattern.MatchString(version) {
			return secrets.Value{}, b.missingVersion(ctx, name, version)
		}
		ver = version
	}
	resp, err := b.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{
		Name: b.secretName(name) + "/versions/" + ver,
	}, b.readOpts...)
	if err != nil {
		if c := status.Code(err); version != "" && (c == codes.NotFound || c == codes.FailedPrecondition) {
			// FailedPrecondition: the version is disabled or destroyed; it cannot be read.
			return secrets.Value{}, b.missingVersion(ctx, name, version)
		}
		return secrets.Value{}, fail(ctx, "get", name, err)
	}
	data := resp.GetPayload().GetData()
	sum := resp.GetPayload().DataCrc32C
	if sum == nil || *sum != int64(crc32.Checksum(data, crcTable)) {
		return secrets.Value{}, fmt.Errorf("gcp secret manager: get %q: %w: %w", name, secrets.ErrUnavailable, ErrChecksum)
	}
	if data == nil {
		data = []byte{}
	}
	return secrets.Value{Data: data, Version: lastSegment(resp.GetName())}, nil
}

// Put implements secrets.Writer: AddSecretVersion, creating the secret on first use. Two
// first writes racing are both kept: the loser of CreateSecret (AlreadyExists) adds its
// version to the winner's secret.
func (b *Backend) Put(ctx context.Context, name string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	sum := int64(crc32.Checksum(data, crcTable))
	add := func() (*secretmanagerpb.SecretVersion, error) {
		return b.client.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent:  b.secretName(name),
			Payload: &secretmanagerpb.SecretPayload{Data: data, DataCrc32C: &sum},
		})
	}
	v, err := add()
	if status.Code(err) == codes.NotFound {
		_, err = b.client.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
			Parent:   b.parent(),
			SecretId: EncodeName(name),
			Secret: &secretmanagerpb.Secret{
				Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{
					Automatic: &secretmanagerpb.Replication_Automatic{},
				}},
				Labels:      map[string]string{"managed-by": "gatehouse"},
				Annotations: map[string]string{annotationName: name},
			},
		})
		if err == nil || status.Code(err) == codes.AlreadyExists {
			v, err = add()
		}
	}
	if err != nil {
		return "", fail(ctx, "put", name, err)
	}
	return lastSegment(v.GetName()), nil
}

// Delete implements secrets.Deleter.
func (b *Backend) Delete(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := b.client.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: b.secretName(name)}); err != nil {
		return fail(ctx, "delete", name, err)
	}
	return nil
}

// Versions implements secrets.Versioner, oldest first, destroyed versions left out.
func (b *Backend) Versions(ctx context.Context, name string) ([]secrets.VersionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	type entry struct {
		n    int64
		info secrets.VersionInfo
	}
	var list []entry
	it := b.client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: b.secretName(name)}, b.readOpts...)
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fail(ctx, "list versions of", name, err)
		}
		if v.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
			continue
		}
		id := lastSegment(v.GetName())
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("gcp secret manager: list versions of %q: unexpected version name %q", name, v.GetName())
		}
		list = append(list, entry{n: n, info: secrets.VersionInfo{Version: id, CreatedAt: v.GetCreateTime().AsTime()}})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n < list[j].n })
	out := make([]secrets.VersionInfo, len(list))
	for i, e := range list {
		out[i] = e.info
	}
	return out, nil
}

// missingVersion tells "no such version" from "no such secret" once the service answered
// NotFound for a version.
func (b *Backend) missingVersion(ctx context.Context, name, version string) error {
	if _, err := b.client.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: b.secretName(name)}, b.readOpts...); err != nil {
		return fail(ctx, "get", name, err)
	}
	return fmt.Errorf("gcp secret manager: %q version %q: %w", name, version, secrets.ErrVersionNotFound)
}

func lastSegment(resource string) string {
	return resource[strings.LastIndexByte(resource, '/')+1:]
}

// kind maps a gRPC status onto the secrets package's sentinel errors; nil means the service
// refused the request itself (InvalidArgument, FailedPrecondition, AlreadyExists).
func kind(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return secrets.ErrUnavailable // no gRPC answer at all
	}
	switch st.Code() {
	case codes.NotFound:
		return secrets.ErrNotFound
	case codes.PermissionDenied, codes.Unauthenticated:
		return secrets.ErrDenied
	case codes.Unavailable, codes.ResourceExhausted, codes.Internal, codes.Unknown, codes.DeadlineExceeded,
		codes.Aborted, codes.Canceled, codes.DataLoss:
		return secrets.ErrUnavailable
	}
	return nil
}

// fail wraps err with what was attempted and its kind; when the call's own context ended, its
// error is wrapped too (gRPC reports it as a status). Status messages name resources, never
// payloads.
func fail(ctx context.Context, op, name string, err error) error {
	what := "gcp secret manager: " + op
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	cerr := ctx.Err()
	if cerr == nil && status.Code(err) == codes.DeadlineExceeded {
		cerr = context.DeadlineExceeded // the server saw our propagated deadline pass first
	}
	if cerr != nil {
		return fmt.Errorf("%s: %w: %w (%w)", what, secrets.ErrUnavailable, cerr, err)
	}
	if k := kind(err); k != nil {
		return fmt.Errorf("%s: %w: %w", what, k, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
