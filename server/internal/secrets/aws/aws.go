// Package aws keeps Gatehouse secret values in AWS Secrets Manager, through aws-sdk-go-v2.
//
// Mapping:
//   - A Gatehouse name is the Secrets Manager name as is: the service accepts every character a
//     Gatehouse name may hold ([A-Za-z0-9._-] and "/") and up to 512 of them.
//   - A Gatehouse version is the service's VersionId (the SDK's idempotency token, a UUID).
//   - Staging labels follow AWS's own rotation: Put stores a new version labelled AWSPENDING,
//     so the service's own clients (which read AWSCURRENT) never see a value Gatehouse has not
//     made current; Promote moves AWSCURRENT to it (the service then labels the version it
//     left AWSPREVIOUS) and removes AWSPENDING. Gatehouse promotes after every write, rollback
//     and finished rotation; a rotation whose test fails is never promoted, so AWSCURRENT stays
//     where it was (SEC-44 for AWS-native readers too). Only a secret's very first version is
//     AWSCURRENT at once: CreateSecret gives it that label.
//   - Get without a version returns the newest version (the Backend contract), found through
//     ListSecretVersionIds; with a version, that VersionId.
//   - Values: bytes that are valid UTF-8 are stored as SecretString, so AWS-native consumers
//     (Lambda, ECS, RDS integrations) read them as they are; anything else as SecretBinary.
//     Either way Get returns exactly the bytes that were Put.
//   - Delete removes the secret at once (ForceDeleteWithoutRecovery): Gatehouse keeps its own
//     recovery window in its database and calls Delete only to purge.
//   - Versions lists deprecated versions too (those without a staging label). The service
//     removes deprecated versions once a secret has about 100 versions; older Gatehouse
//     versions can then no longer be read from this backend.
//
// IAM actions used: secretsmanager:GetSecretValue, PutSecretValue, CreateSecret, DeleteSecret,
// DescribeSecret, ListSecretVersionIds, UpdateSecretVersionStage, and ListSecrets for Health.
package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"
	"unicode/utf8"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"gatehouse/server/internal/secrets"
)

// DefaultTimeout bounds one call to the service (retries included) when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

const (
	stageCurrent = "AWSCURRENT"
	stagePending = "AWSPENDING"
)

// Config configures the backend. Only Region is required (or the SDK's own AWS_REGION).
type Config struct {
	// Region is the AWS region ("eu-west-1"). Empty: the SDK's default (AWS_REGION, shared
	// config).
	Region string
	// Endpoint replaces the regional endpoint (the SDK's BaseEndpoint): LocalStack, a VPC
	// endpoint, or the loopback fake in package awstest. Empty: AWS.
	Endpoint string
	// AccessKeyID and SecretAccessKey (and optional SessionToken) are static credentials.
	// Empty: the SDK's default chain (environment, shared files, web identity, ECS/EC2 roles).
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Timeout bounds one call to the service, retries included. 0: DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is how often the SDK tries a call that failed in a retryable way. 0: the SDK's
	// default (3).
	MaxAttempts int
	// HTTPClient replaces the SDK's HTTP client (proxies, custom CAs). Nil: the SDK's.
	HTTPClient *http.Client
}

// Backend is the AWS Secrets Manager backend. It is safe for concurrent use.
type Backend struct {
	client  *secretsmanager.Client
	timeout time.Duration
}

var (
	_ secrets.Backend   = (*Backend)(nil)
	_ secrets.Writer    = (*Backend)(nil)
	_ secrets.Deleter   = (*Backend)(nil)
	_ secrets.Versioner = (*Backend)(nil)
	_ secrets.Stager    = (*Backend)(nil)
)

// New resolves credentials and region and returns a Backend. It makes no request; Health does.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, errors.New("aws secrets manager: set both access key id and secret access key, or neither")
	}
	if cfg.Timeout < 0 || cfg.MaxAttempts < 0 {
		return nil, errors.New("aws secrets manager: timeout and max attempts must not be negative")
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, awsconfig.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, awsconfig.WithHTTPClient(cfg.HTTPClient))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws secrets manager: load configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("aws secrets manager: no region configured (secrets.aws.region or AWS_REGION)")
	}
	client := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = awssdk.String(cfg.Endpoint)
		}
	})
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &Backend{client: client, timeout: timeout}, nil
}

// Kind implements secrets.Backend.
func (b *Backend) Kind() string { return secrets.KindAWS }

// Health lists at most one secret: it proves the endpoint answers and accepts the credentials.
func (b *Backend) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if _, err := b.client.ListSecrets(ctx, &secretsmanager.ListSecretsInput{MaxResults: awssdk.Int32(1)}); err != nil {
		return fail("health", "", err)
	}
	return nil
}

// Get implements secrets.Backend.
func (b *Backend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	byName := version == ""
	if byName {
		// The newest version, which may still be AWSPENDING: GetSecretValue without a
		// version would answer AWSCURRENT instead.
		list, err := b.versions(ctx, name)
		if err != nil {
			return secrets.Value{}, b.getFailed(ctx, name, "", err)
		}
		if len(list) == 0 {
			return secrets.Value{}, fmt.Errorf("aws secrets manager: get %q: %w (no versions)", name, secrets.ErrNotFound)
		}
		version = list[len(list)-1].Version
	} else if !validVersionID(version) {
		return secrets.Value{}, b.missingVersion(ctx, name, version)
	}
	out, err := b.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: awssdk.String(name), VersionId: awssdk.String(version),
	})
	if err != nil {
		if byName && code(err) == "ResourceNotFoundException" {
			// Deleted between listing and reading.
			return secrets.Value{}, fail("get", name, err)
		}
		return secrets.Value{}, b.getFailed(ctx, name, version, err)
	}
	v := secrets.Value{Version: awssdk.ToString(out.VersionId), CreatedAt: awssdk.ToTime(out.CreatedDate)}
	switch {
	case out.SecretString != nil:
		v.Data = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		v.Data = out.SecretBinary
	default:
		v.Data = []byte{}
	}
	return v, nil
}

// getFailed refines a failed read of version ("" when listing for the newest): a missing
// version of an existing secret, or a secret someone scheduled for deletion outside
// Gatehouse (gone for us).
func (b *Backend) getFailed(ctx context.Context, name, version string, err error) error {
	switch code(err) {
	case "ResourceNotFoundException":
		if version != "" {
			return b.missingVersion(ctx, name, version)
		}
	case "InvalidRequestException":
		if b.scheduledForDeletion(ctx, name) {
			return fmt.Errorf("aws secrets manager: get %q: %w (scheduled for deletion)", name, secrets.ErrNotFound)
		}
	}
	return fail("get", name, err)
}

// Put implements secrets.Writer: PutSecretValue labelled AWSPENDING, or CreateSecret for a
// name the service does not know yet. Two first writes racing are both kept: the loser of
// CreateSecret adds its value as a new version. Concurrent Puts each move AWSPENDING; the
// versions it leaves are unlabelled ("deprecated") but kept and readable by id.
func (b *Backend) Put(ctx context.Context, name string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	str, bin := encode(data)
	put := func() (string, error) {
		out, err := b.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId: awssdk.String(name), SecretString: str, SecretBinary: bin, VersionStages: []string{stagePending},
		})
		if err != nil {
			return "", err
		}
		return awssdk.ToString(out.VersionId), nil
	}
	version, err := put()
	if code(err) == "ResourceNotFoundException" {
		var out *secretsmanager.CreateSecretOutput
		out, err = b.client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: awssdk.String(name), SecretString: str, SecretBinary: bin,
			Description: awssdk.String("Managed by Gatehouse"),
		})
		if err == nil {
			return awssdk.ToString(out.VersionId), nil
		}
		if code(err) == "ResourceExistsException" {
			version, err = put()
		}
	}
	if err != nil {
		return "", fail("put", name, err)
	}
	return version, nil
}

// encode picks SecretString for UTF-8 text (what AWS-native readers expect) and SecretBinary
// for anything else; Get reverses it exactly.
func encode(data []byte) (*string, []byte) {
	if utf8.Valid(data) {
		return awssdk.String(string(data)), nil
	}
	return nil, data
}

// Delete implements secrets.Deleter (immediately, without the service's recovery window).
func (b *Backend) Delete(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	_, err := b.client.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId: awssdk.String(name), ForceDeleteWithoutRecovery: awssdk.Bool(true),
	})
	if err != nil {
		return fail("delete", name, err)
	}
	return nil
}

// Versions implements secrets.Versioner, oldest first, deprecated versions included.
func (b *Backend) Versions(ctx context.Context, name string) ([]secrets.VersionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	list, err := b.versions(ctx, name)
	if err != nil {
		return nil, fail("list versions of", name, err)
	}
	return list, nil
}

// versions lists every version (the SDK's error unwrapped, for callers to refine).
func (b *Backend) versions(ctx context.Context, name string) ([]secrets.VersionInfo, error) {
	pages := secretsmanager.NewListSecretVersionIdsPaginator(b.client, &secretsmanager.ListSecretVersionIdsInput{
		SecretId: awssdk.String(name), IncludeDeprecated: awssdk.Bool(true),
	})
	var out []secrets.VersionInfo
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range page.Versions {
			out = append(out, secrets.VersionInfo{Version: awssdk.ToString(v.VersionId), CreatedAt: awssdk.ToTime(v.CreatedDate)})
		}
	}
	// The service does not promise an order; creation time does (millisecond precision).
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// Promote implements secrets.Stager: AWSCURRENT moves to version (the service then labels the
// version it left AWSPREVIOUS) and a leftover AWSPENDING on version is removed, as at the end of
// an AWS rotation.
func (b *Backend) Promote(ctx context.Context, name, version string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if !validVersionID(version) {
		return b.missingVersion(ctx, name, version)
	}
	// A concurrent Put can move AWSCURRENT between DescribeSecret and the update; the service
	// then refuses RemoveFromVersionId and we look again.
	var err error
	for range 3 {
		var d *secretsmanager.DescribeSecretOutput
		d, err = b.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(name)})
		if err != nil {
			return fail("promote", name, err)
		}
		current := ""
		for id, stages := range d.VersionIdsToStages {
			if contains(stages, stageCurrent) {
				current = id
			}
		}
		if current != version {
			in := &secretsmanager.UpdateSecretVersionStageInput{
				SecretId: awssdk.String(name), VersionStage: awssdk.String(stageCurrent), MoveToVersionId: awssdk.String(version),
			}
			if current != "" {
				in.RemoveFromVersionId = awssdk.String(current)
			}
			if _, err = b.client.UpdateSecretVersionStage(ctx, in); err != nil {
				switch code(err) {
				case "ResourceNotFoundException":
					return b.missingVersion(ctx, name, version)
				case "InvalidParameterException":
					// Either a concurrent Put moved AWSCURRENT (look again) or the service
					// refuses a version it does not hold.
					if !b.hasVersion(ctx, name, version) {
						return b.missingVersion(ctx, name, version)
					}
					continue
				default:
					return fail("promote", name, err)
				}
			}
		}
		if contains(d.VersionIdsToStages[version], stagePending) {
			_, err = b.client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
				SecretId: awssdk.String(name), VersionStage: awssdk.String(stagePending), RemoveFromVersionId: awssdk.String(version),
			})
			if err != nil && code(err) != "InvalidParameterException" { // already moved by someone else
				return fail("promote", name, err)
			}
		}
		return nil
	}
	return fail("promote", name, err)
}

// hasVersion reports whether version is listed for name (false also when listing fails).
func (b *Backend) hasVersion(ctx context.Context, name, version string) bool {
	list, err := b.versions(ctx, name)
	if err != nil {
		return false
	}
	for _, v := range list {
		if v.Version == version {
			return true
		}
	}
	return false
}

// missingVersion tells "no such version" from "no such secret" once the service said one of
// them; the service's own answer does not.
func (b *Backend) missingVersion(ctx context.Context, name, version string) error {
	d, err := b.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(name)})
	switch {
	case err != nil:
		return fail("get", name, err)
	case d.DeletedDate != nil:
		return fmt.Errorf("aws secrets manager: get %q: %w (scheduled for deletion)", name, secrets.ErrNotFound)
	default:
		return fmt.Errorf("aws secrets manager: %q version %q: %w", name, version, secrets.ErrVersionNotFound)
	}
}

func (b *Backend) scheduledForDeletion(ctx context.Context, name string) bool {
	d, err := b.client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(name)})
	return err == nil && d.DeletedDate != nil
}

// validVersionID is the service's constraint on VersionId; anything else cannot exist.
func validVersionID(v string) bool { return len(v) >= 32 && len(v) <= 64 }

// code is the service's error code, or "" for no error or no answer from the service.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

var deniedCodes = map[string]bool{
	"AccessDeniedException": true, "AccessDenied": true, "UnrecognizedClientException": true,
	"InvalidSignatureException": true, "IncompleteSignatureException": true, "SignatureDoesNotMatch": true,
	"MissingAuthenticationTokenException": true, "ExpiredTokenException": true, "InvalidClientTokenId": true,
	"NotAuthorized": true,
	// KMS refused to encrypt or decrypt with the secret's key: a permission problem of ours.
	"DecryptionFailure": true, "EncryptionFailure": true,
}

var unavailableCodes = map[string]bool{
	"InternalServiceError": true, "InternalFailure": true, "ServiceUnavailable": true,
	"ThrottlingException": true, "Throttling": true, "TooManyRequestsException": true,
	"RequestLimitExceeded": true, "RequestTimeout": true, "RequestTimeoutException": true,
}

// kind maps an SDK error onto the secrets package's sentinel errors; nil means the service
// refused the request itself (a bad parameter), which no retry will fix.
func kind(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return secrets.ErrUnavailable
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch c := ae.ErrorCode(); {
		case c == "ResourceNotFoundException":
			return secrets.ErrNotFound
		case deniedCodes[c]:
			return secrets.ErrDenied
		case unavailableCodes[c]:
			return secrets.ErrUnavailable
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		switch s := re.HTTPStatusCode(); {
		case s == http.StatusUnauthorized || s == http.StatusForbidden:
			return secrets.ErrDenied
		case s == http.StatusTooManyRequests || s >= 500:
			return secrets.ErrUnavailable
		}
	}
	if ae == nil {
		// No answer from the service at all: network, TLS, retry quota, an undecodable body.
		return secrets.ErrUnavailable
	}
	return nil // the service refused the request itself
}

// fail wraps err with what was attempted and its kind. The SDK's message names the operation,
// HTTP status, request id and the service's error; it never contains a secret value.
func fail(op, name string, err error) error {
	what := "aws secrets manager: " + op
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	if k := kind(err); k != nil {
		return fmt.Errorf("%s: %w: %w", what, k, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
