// Package azure keeps Gatehouse secret values in Azure Key Vault, through azsecrets with an
// azcore.TokenCredential (production: azidentity's default chain).
//
// Mapping:
//   - Names: Key Vault allows 1-127 characters of [0-9a-zA-Z-], case-insensitively; EncodeName
//     (names.go) maps Gatehouse names onto that alphabet reversibly and without collisions.
//   - Versions are Key Vault's version ids. Get without a version returns Key Vault's newest.
//     Key Vault timestamps have one-second precision and its version list has no order, so
//     each version also carries its writer's clock in nanoseconds (tag gatehouse-created),
//     which orders versions written within the same second.
//   - Values are strings in Key Vault. Valid UTF-8 is stored as is with content type
//     "text/plain; charset=utf-8", so other Key Vault readers (App Service references, CSI
//     driver) see the text; any other bytes are stored base64 (standard alphabet, padded) with
//     content type ContentTypeBase64, which Get decodes. Key Vault holds at most 25 KiB per
//     value, so binary values are limited to MaxValueBytes (19200) bytes.
//   - Delete deletes (Key Vault soft delete) and then purges, waiting for Key Vault's
//     asynchronous delete to finish, so the name can be used again; Gatehouse keeps its own
//     recovery window. With KeepDeleted (vaults with purge protection) the secret stays
//     soft-deleted and its name cannot be reused until Key Vault's retention ends.
//
// Key Vault permissions used: secrets get, list, set, delete and purge (RBAC: "Key Vault
// Secrets Officer" plus purge).
package azure

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"gatehouse/server/internal/secrets"
)

// Content types Put writes. Get decodes ContentTypeBase64 and returns every other value as it
// is stored.
const (
	ContentTypeText   = "text/plain; charset=utf-8"
	ContentTypeBase64 = "application/vnd.gatehouse.secret+base64"
)

// MaxValueBytes is the largest value Put accepts whatever its bytes: Key Vault's 25 KiB limit
// on the base64 form. UTF-8 text may be up to 25 KiB.
const MaxValueBytes = maxValueChars / 4 * 3

const (
	maxValueChars = 25 * 1024
	// Tags on every version: the original Gatehouse name (split: tag values hold 256
	// characters, names 512 bytes) and the writer's clock.
	tagName    = "gatehouse-name"
	tagName2   = "gatehouse-name-2"
	tagCreated = "gatehouse-created"
	maxTag     = 256
)

// DefaultTimeout bounds one call to Key Vault when Config.Timeout is 0; DefaultPurgeWait
// bounds how long Delete waits for Key Vault to finish deleting before it purges.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultPurgeWait = time.Minute
)

var versionPattern = regexp.MustCompile(`^[0-9A-Za-z]{1,64}$`)

// Config configures the backend. VaultURL is required.
type Config struct {
	// VaultURL is the vault's address, https://<vault-name>.vault.azure.net/.
	VaultURL string
	// TenantID restricts the default credential chain to a tenant. Optional.
	TenantID string
	// ClientID selects a user-assigned managed identity or a workload identity's client id.
	// Empty: azidentity's DefaultAzureCredential (environment, workload identity, managed
	// identity, Azure CLI, ...).
	ClientID string
	// Credential replaces the credential built from TenantID/ClientID (tests: a fake).
	Credential azcore.TokenCredential
	// Transport replaces the HTTP transport (tests: the fake's client). Nil: azcore's default.
	Transport policy.Transporter
	// DisableChallengeResourceVerification turns off azsecrets' check that the resource in Key
	// Vault's authentication challenge belongs to the vault URL's domain. The check keeps a
	// token for Key Vault from being sent to a host that is not Key Vault; only a vault
	// reached through a non-standard host name (an IP address, a custom DNS name) needs it
	// off. Not exposed in Gatehouse's configuration.
	DisableChallengeResourceVerification bool
	// Timeout bounds one call to Key Vault, retries included. 0: DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how often azcore retries a failed call (429, 5xx, network). 0: azcore's
	// default (3); negative: never.
	MaxRetries int
	// KeepDeleted leaves deleted secrets soft-deleted instead of purging them.
	KeepDeleted bool
	// PurgeWait bounds Delete's wait for Key Vault's asynchronous delete. 0: DefaultPurgeWait.
	PurgeWait time.Duration
}

// Backend is the Azure Key Vault backend. It is safe for concurrent use.
type Backend struct {
	client      *azsecrets.Client
	timeout     time.Duration
	purgeWait   time.Duration
	keepDeleted bool
	now         func() time.Time
}

var (
	_ secrets.Backend   = (*Backend)(nil)
	_ secrets.Writer    = (*Backend)(nil)
	_ secrets.Deleter   = (*Backend)(nil)
	_ secrets.Versioner = (*Backend)(nil)
)

// New builds the credential and client. It makes no request; Health does.
func New(cfg Config) (*Backend, error) {
	u, err := url.Parse(cfg.VaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, errors.New("azure key vault: vault URL must be https://<vault-name>.vault.azure.net/")
	}
	if cfg.Timeout < 0 || cfg.PurgeWait < 0 {
		return nil, errors.New("azure key vault: timeouts must not be negative")
	}
	cred := cfg.Credential
	if cred == nil {
		if cred, err = defaultCredential(cfg); err != nil {
			return nil, err
		}
	}
	opts := &azsecrets.ClientOptions{DisableChallengeResourceVerification: cfg.DisableChallengeResourceVerification}
	opts.Transport = cfg.Transport
	opts.Retry.MaxRetries = int32(max(min(cfg.MaxRetries, 10), -1)) //nolint:gosec // clamped to [-1, 10]
	client, err := azsecrets.NewClient(cfg.VaultURL, markCredential{cred}, opts)
	if err != nil {
		return nil, fmt.Errorf("azure key vault: %w", err)
	}
	b := &Backend{client: client, timeout: cfg.Timeout, purgeWait: cfg.PurgeWait, keepDeleted: cfg.KeepDeleted, now: time.Now}
	if b.timeout == 0 {
		b.timeout = DefaultTimeout
	}
	if b.purgeWait == 0 {
		b.purgeWait = DefaultPurgeWait
	}
	return b, nil
}

func defaultCredential(cfg Config) (azcore.TokenCredential, error) {
	if cfg.ClientID == "" {
		cred, err := azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{TenantID: cfg.TenantID})
		if err != nil {
			return nil, fmt.Errorf("azure key vault: default credential: %w", err)
		}
		return cred, nil
	}
	// A client id names one identity: workload identity (Kubernetes) when its token file is
	// configured, else a user-assigned managed identity.
	var chain []azcore.TokenCredential
	if wi, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientID: cfg.ClientID, TenantID: cfg.TenantID,
	}); err == nil {
		chain = append(chain, wi)
	}
	mi, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID(cfg.ClientID)})
	if err != nil {
		return nil, fmt.Errorf("azure key vault: managed identity credential: %w", err)
	}
	chain = append(chain, mi)
	cred, err := azidentity.NewChainedTokenCredential(chain, nil)
	if err != nil {
		return nil, fmt.Errorf("azure key vault: credential chain: %w", err)
	}
	return cred, nil
}

// markCredential tags the credential's failures so they map to ErrDenied: Gatehouse could not
// get a token for the vault.
type markCredential struct{ azcore.TokenCredential }

type credentialError struct{ err error }

func (e *credentialError) Error() string { return "get token: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

func (c markCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil && ctx.Err() == nil {
		return tok, &credentialError{err}
	}
	return tok, err
}

// Kind implements secrets.Backend.
func (b *Backend) Kind() string { return secrets.KindAzure }

// MaxValueBytes reports the largest value the backend can store whatever its bytes.
func (b *Backend) MaxValueBytes() int { return MaxValueBytes }

// Health reads the first page of the vault's secret list: the vault answers and accepts the
// credential.
func (b *Backend) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if _, err := b.client.NewListSecretPropertiesPager(nil).NextPage(ctx); err != nil {
		return fail("health", "", err)
	}
	return nil
}

// Get implements secrets.Backend.
func (b *Backend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	kv := EncodeName(name)
	if version != "" && !versionPattern.MatchString(version) {
		return secrets.Value{}, b.missingVersion(ctx, name, version)
	}
	resp, err := b.client.GetSecret(ctx, kv, version, nil)
	if err != nil {
		if status(err) == http.StatusNotFound && version != "" {
			return secrets.Value{}, b.missingVersion(ctx, name, version)
		}
		return secrets.Value{}, fail("get", name, err)
	}
	if resp.Value == nil || resp.ID == nil {
		return secrets.Value{}, fmt.Errorf("azure key vault: get %q: %w: answer without value or id", name, secrets.ErrUnavailable)
	}
	data, err := decodeValue(*resp.Value, resp.ContentType)
	if err != nil {
		return secrets.Value{}, fmt.Errorf("azure key vault: get %q: %w", name, err)
	}
	v := secrets.Value{Data: data, Version: resp.ID.Version()}
	if resp.Attributes != nil && resp.Attributes.Created != nil {
		v.CreatedAt = *resp.Attributes.Created
	}
	return v, nil
}

// Put implements secrets.Writer: every SetSecret makes a new Key Vault version.
func (b *Backend) Put(ctx context.Context, name string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	value, contentType := encodeValue(data)
	if len(value) > maxValueChars {
		return "", fmt.Errorf("azure key vault: put %q: value of %d bytes exceeds Key Vault's 25 KiB limit", name, len(data))
	}
	tags := map[string]*string{tagCreated: ptr(strconv.FormatInt(b.now().UnixNano(), 10))}
	if len(name) > maxTag {
		tags[tagName], tags[tagName2] = ptr(name[:maxTag]), ptr(name[maxTag:])
	} else {
		tags[tagName] = ptr(name)
	}
	resp, err := b.client.SetSecret(ctx, EncodeName(name), azsecrets.SetSecretParameters{
		Value: &value, ContentType: &contentType, Tags: tags,
	}, nil)
	if err != nil {
		if status(err) == http.StatusConflict {
			return "", fmt.Errorf("azure key vault: put %q: the name is soft-deleted in Key Vault and must be purged or recovered first: %w", name, compact(err))
		}
		return "", fail("put", name, err)
	}
	if resp.ID == nil || resp.ID.Version() == "" {
		return "", fmt.Errorf("azure key vault: put %q: %w: answer without a version", name, secrets.ErrUnavailable)
	}
	return resp.ID.Version(), nil
}

func encodeValue(data []byte) (value, contentType string) {
	if utf8.Valid(data) {
		return string(data), ContentTypeText
	}
	return base64.StdEncoding.EncodeToString(data), ContentTypeBase64
}

func decodeValue(value string, contentType *string) ([]byte, error) {
	if contentType != nil && *contentType == ContentTypeBase64 {
		data, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			// Not the decoder's message: it would quote the offending input.
			return nil, errors.New("stored value is marked base64 but does not decode")
		}
		return data, nil
	}
	return []byte(value), nil
}

// Delete implements secrets.Deleter: delete, wait for Key Vault to finish, purge.
func (b *Backend) Delete(ctx context.Context, name string) error {
	kv := EncodeName(name)
	callCtx, cancel := context.WithTimeout(ctx, b.timeout)
	_, err := b.client.DeleteSecret(callCtx, kv, nil)
	cancel()
	if err != nil {
		if status(err) != http.StatusNotFound || b.keepDeleted {
			return fail("delete", name, err)
		}
		// Not live: perhaps an earlier Delete got as far as the soft delete; finish it.
		callCtx, cancel := context.WithTimeout(ctx, b.timeout)
		_, gerr := b.client.GetDeletedSecret(callCtx, kv, nil)
		cancel()
		switch {
		case status(gerr) == http.StatusNotFound:
			return fail("delete", name, err)
		case gerr != nil:
			return fail("delete", name, gerr)
		}
	}
	if b.keepDeleted {
		return nil
	}
	return b.purge(ctx, name, kv)
}

// purge retries while Key Vault still reports the deletion in progress (409, or 404 before
// the deleted secret appears).
func (b *Backend) purge(ctx context.Context, name, kv string) error {
	ctx, cancel := context.WithTimeout(ctx, b.purgeWait)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		callCtx, callCancel := context.WithTimeout(ctx, b.timeout)
		_, err := b.client.PurgeDeletedSecret(callCtx, kv, nil)
		callCancel()
		if err == nil {
			return nil
		}
		if s := status(err); s != http.StatusConflict && s != http.StatusNotFound {
			return fail("purge", name, err)
		}
		select {
		case <-ctx.Done():
			return fail("purge", name, errors.Join(ctx.Err(), compact(err)))
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// Versions implements secrets.Versioner, oldest first.
func (b *Backend) Versions(ctx context.Context, name string) ([]secrets.VersionInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	type entry struct {
		info secrets.VersionInfo
		nano int64
	}
	var list []entry
	pager := b.client.NewListSecretPropertiesVersionsPager(EncodeName(name), nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fail("list versions of", name, err)
		}
		for _, p := range page.Value {
			if p == nil || p.ID == nil {
				continue
			}
			e := entry{info: secrets.VersionInfo{Version: p.ID.Version()}}
			if p.Attributes != nil && p.Attributes.Created != nil {
				e.info.CreatedAt = *p.Attributes.Created
			}
			if t := p.Tags[tagCreated]; t != nil {
				e.nano, _ = strconv.ParseInt(*t, 10, 64)
			}
			list = append(list, e)
		}
	}
	// Key Vault's clock (seconds) first; the writer's nanoseconds break ties within a second.
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].info.CreatedAt.Equal(list[j].info.CreatedAt) {
			return list[i].info.CreatedAt.Before(list[j].info.CreatedAt)
		}
		return list[i].nano < list[j].nano
	})
	out := make([]secrets.VersionInfo, len(list))
	for i, e := range list {
		out[i] = e.info
	}
	return out, nil
}

// missingVersion tells "no such version" from "no such secret": Key Vault answers 404
// SecretNotFound for both.
func (b *Backend) missingVersion(ctx context.Context, name, version string) error {
	_, err := b.client.NewListSecretPropertiesVersionsPager(EncodeName(name), nil).NextPage(ctx)
	if err != nil {
		return fail("get", name, err)
	}
	return fmt.Errorf("azure key vault: %q version %q: %w", name, version, secrets.ErrVersionNotFound)
}

// status is the HTTP status of Key Vault's answer, 0 if there was none.
func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// kind maps an azcore error onto the secrets package's sentinel errors; nil means Key Vault
// refused the request itself (400, 409), which no retry will fix.
func kind(err error) error {
	var ce *credentialError
	switch s := status(err); {
	case errors.As(err, &ce):
		return secrets.ErrDenied
	case s == http.StatusNotFound:
		return secrets.ErrNotFound
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return secrets.ErrDenied
	case s == http.StatusTooManyRequests || s >= 500:
		return secrets.ErrUnavailable
	case s != 0:
		return nil
	}
	// No answer from Key Vault: network, TLS, deadline, an undecodable body.
	return secrets.ErrUnavailable
}

// compactError keeps the azcore error for errors.As but says it in one line: azcore's own
// message dumps the whole response.
type compactError struct {
	msg string
	err error
}

func (e *compactError) Error() string { return e.msg }
func (e *compactError) Unwrap() error { return e.err }

func compact(err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	msg := fmt.Sprintf("key vault answered HTTP %d", re.StatusCode)
	if re.ErrorCode != "" {
		msg += " " + re.ErrorCode
	}
	if re.RawResponse != nil {
		if id := re.RawResponse.Header.Get("x-ms-request-id"); id != "" {
			msg += " (request id " + id + ")"
		}
	}
	return &compactError{msg: msg, err: err}
}

// fail wraps err with what was attempted and its kind. Key Vault's error documents name the
// secret and the problem, never a value.
func fail(op, name string, err error) error {
	what := "azure key vault: " + op
	if name != "" {
		what += fmt.Sprintf(" %q", name)
	}
	if k := kind(err); k != nil {
		return fmt.Errorf("%s: %w: %w", what, k, compact(err))
	}
	return fmt.Errorf("%s: %w", what, compact(err))
}

func ptr(s string) *string { return &s }
