// Package vault keeps Gatehouse secret values in HashiCorp Vault's KV version 2 secrets engine,
// through github.com/hashicorp/vault/api.
//
// Mapping:
//   - A Gatehouse name is the KV path under the mount as is (`billing/prod/db-password` is
//     `<mount>/data/billing/prod/db-password`): every character a name may hold is valid in a
//     Vault path, and a path may be a secret and a folder at once, as names may.
//   - A Gatehouse version is Vault's own version number ("1", "2", ...). Get without a version
//     reads Vault's current version.
//   - Values are bytes; KV stores JSON. Each version's data is
//     {"value_b64": "<standard base64 of the bytes>", "encoding": "base64"}, so any byte
//     sequence round-trips. For secrets written by other Vault clients, a data map without
//     value_b64 but with a string field "value" (`vault kv put <mount>/name value=...`) reads
//     as that string's bytes; anything else is refused as not Gatehouse's format.
//   - Put writes the secret's metadata (max_versions, when Config.MaxVersions > 0) and then a new
//     version. Vault serialises writes to one secret, so concurrent Puts each get their own
//     version. Vault prunes versions beyond max_versions (the mount's default keeps 10):
//     pruned, soft-deleted and destroyed versions read as secrets.ErrVersionNotFound and are
//     left out of Versions.
//   - Delete deletes the metadata: every version, at once. Gatehouse keeps its own recovery
//     window in its database and calls Delete only to purge.
//   - There is no Stager: KV v2 has no notion of a current version other than the newest.
//
// Authentication is a token, or AppRole (role_id + secret_id). An AppRole token is obtained on
// first use, renewed once two thirds of its TTL have passed, and replaced by a new login when
// renewal fails or Vault answers 403 (expired or revoked token): the request is then retried
// once.
//
// Errors: 404 → secrets.ErrNotFound (or ErrVersionNotFound when the secret exists), 401/403 →
// ErrDenied, 429, 5xx (sealed, standby trouble) and network failures → ErrUnavailable. The
// cause is wrapped; Vault's own messages are dropped from errors of requests that carried a
// secret value or secret_id, so no error can echo one.
//
// Policy the token (or the AppRole's token) needs, for mount "secret":
//
//	path "secret/data/*"          { capabilities = ["create", "update", "read"] }
//	path "secret/metadata/*"      { capabilities = ["create", "update", "read", "delete"] }
//	path "auth/token/lookup-self" { capabilities = ["read"] }   # Health (in Vault's default policy)
//	path "auth/token/renew-self"  { capabilities = ["update"] } # AppRole renewal (likewise)
//
// The client ignores VAULT_* environment variables (address, token, namespace, TLS): only
// Config counts.
package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"gatehouse/server/internal/secrets"
)

// Defaults for Config's zero values.
const (
	DefaultMount        = "secret"
	DefaultAppRoleMount = "approle"
	DefaultTimeout      = 10 * time.Second
)

// Keys of a version's KV data (see the package comment).
const (
	dataKeyValue    = "value_b64"
	dataKeyEncoding = "encoding"
	encodingBase64  = "base64"
	dataKeyPlain    = "value"
)

// Config configures the backend. Address and one of Token or AppRole are required.
type Config struct {
	// Address is Vault's URL, e.g. https://vault.example.com:8200.
	Address string
	// Token authenticates with a Vault token. Exclusive with AppRole.
	Token string
	// AppRole authenticates with role_id and secret_id. Exclusive with Token.
	AppRole AppRole
	// Mount is the KV v2 mount path. Empty: DefaultMount ("secret").
	Mount string
	// Namespace is sent as X-Vault-Namespace (Vault Enterprise / HCP). Empty: none.
	Namespace string
	// TLSCAFile is a PEM file of CA certificates to trust for Address instead of the system
	// pool. Empty: the system pool.
	TLSCAFile string
	// Timeout bounds one backend call (including an AppRole login it needs). 0: DefaultTimeout.
	Timeout time.Duration
	// MaxVersions is written to each secret's metadata on Put, so Vault keeps that many
	// versions of it. 0 leaves the mount's setting (Vault's default keeps 10).
	MaxVersions int
}

// AppRole holds AppRole credentials.
type AppRole struct {
	RoleID   string
	SecretID string
	// Mount is the AppRole auth mount path. Empty: DefaultAppRoleMount ("approle").
	Mount string
}

func (a AppRole) configured() bool { return a.RoleID != "" || a.SecretID != "" }

// Backend is the Vault KV v2 backend. It is safe for concurrent use.
type Backend struct {
	cfg     Config
	apiCfg  *api.Config
	timeout time.Duration

	mu     sync.Mutex
	client *api.Client // carries the current token; replaced, never mutated, on login
	lease  tokenLease
}

// tokenLease is what Vault said about an AppRole token when it was issued or renewed.
type tokenLease struct {
	obtained  time.Time
	ttl       time.Duration
	renewable bool
}

var (
	_ secrets.Backend   = (*Backend)(nil)
	_ secrets.Writer    = (*Backend)(nil)
	_ secrets.Deleter   = (*Backend)(nil)
	_ secrets.Versioner = (*Backend)(nil)
)

// New checks cfg and returns a Backend. It makes no request (an AppRole login happens on first
// use); Health does.
func New(cfg Config) (*Backend, error) {
	var problems []string
	u, err := url.Parse(cfg.Address)
	if cfg.Address == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, "address must be an http(s) URL")
	}
	switch {
	case cfg.Token != "" && cfg.AppRole.configured():
		problems = append(problems, "set a token or AppRole credentials, not both")
	case cfg.Token == "" && !cfg.AppRole.configured():
		problems = append(problems, "set a token or AppRole credentials (role_id and secret_id)")
	case cfg.AppRole.configured() && (cfg.AppRole.RoleID == "" || cfg.AppRole.SecretID == ""):
		problems = append(problems, "AppRole needs both role_id and secret_id")
	}
	if cfg.Timeout < 0 || cfg.MaxVersions < 0 {
		problems = append(problems, "timeout and max_versions must not be negative")
	}
	if cfg.Mount == "" {
		cfg.Mount = DefaultMount
	}
	cfg.Mount = strings.Trim(cfg.Mount, "/")
	if cfg.AppRole.Mount == "" {
		cfg.AppRole.Mount = DefaultAppRoleMount
	}
	cfg.AppRole.Mount = strings.Trim(cfg.AppRole.Mount, "/")
	if !validPath(cfg.Mount) || !validPath(cfg.AppRole.Mount) {
		problems = append(problems, "mount paths must be segments of [A-Za-z0-9._-] separated by '/'")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	var tlsCfg *tls.Config
	if cfg.TLSCAFile != "" {
		if tlsCfg, err = caConfig(cfg.TLSCAFile); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("vault: invalid configuration: %s", strings.Join(problems, "; "))
	}

	// Our own api.Config rather than api.DefaultConfig(), which reads VAULT_* variables (a
	// stray VAULT_SKIP_VERIFY would silently turn TLS verification off).
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	transport.MaxIdleConnsPerHost = 32
	apiCfg := &api.Config{
		Address:    strings.TrimRight(cfg.Address, "/"),
		HttpClient: &http.Client{Transport: transport},
		Timeout:    cfg.Timeout,
		// No client-side retries: a retried write could add a second version, and the
		// service above decides what to do about an unavailable backend.
		MaxRetries: 0,
	}
	b := &Backend{cfg: cfg, apiCfg: apiCfg, timeout: cfg.Timeout}
	if cfg.Token != "" {
		if b.client, err = b.newClient(cfg.Token); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func caConfig(file string) (*tls.Config, error) {
	pem, err := os.ReadFile(file) //nolint:gosec // the operator's configured CA file
	if err != nil {
		return nil, fmt.Errorf("tls ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls ca file %s: no PEM certificate found", file)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// newClient returns a client that sends token ("" for none) and the configured namespace.
func (b *Backend) newClient(token string) (*api.Client, error) {
	c, err := api.NewClient(b.apiCfg)
	if err != nil {
		return nil, fmt.Errorf("vault: client: %w", err)
	}
	// NewClient picks up VAULT_TOKEN and VAULT_NAMESPACE; only Config counts.
	c.ClearToken()
	if token != "" {
		c.SetToken(token)
	}
	if b.cfg.Namespace != "" {
		c.SetNamespace(b.cfg.Namespace)
	} else {
		c.ClearNamespace()
	}
	return c, nil
}

// Kind implements secrets.Backend.
func (b *Backend) Kind() string { return secrets.KindVault }

// Health checks that Vault answers, is initialised and unsealed, and accepts the credentials
// (a token lookup-self, after an AppRole login if needed).
func (b *Backend) Health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	// sys/health needs no token: ask it first, so a sealed Vault reads as sealed, not as a
	// failed login.
	anon, err := b.newClient("")
	if err != nil {
		return err
	}
	h, err := anon.Sys().HealthWithContext(ctx)
	if err != nil {
		return fail("health", "", err)
	}
	switch {
	case !h.Initialized:
		return fmt.Errorf("vault: health: %w: not initialised", secrets.ErrUnavailable)
	case h.Sealed:
		return fmt.Errorf("vault: health: %w: sealed", secrets.ErrUnavailable)
	}
	return b.withClient(ctx, "health", "", func(c *api.Client) error {
		_, err := c.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
}

// Get implements secrets.Backend.
func (b *Backend) Get(ctx context.Context, name, version string) (secrets.Value, error) {
	if err := checkName(name); err != nil {
		return secrets.Value{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	var params url.Values
	if version != "" {
		// Vault reads version 0 as "the current one" and answers 400 to non-numbers: only
		// positive integers go to Vault, anything else is a version it cannot hold.
		if !validVersion(version) {
			return secrets.Value{}, b.missingVersion(ctx, name, version)
		}
		params = url.Values{"version": {version}}
	}
	var (
		status int
		body   *api.Secret
	)
	err := b.withClient(ctx, "get", name, func(c *api.Client) error {
		resp, err := c.Logical().ReadRawWithDataWithContext(ctx, b.dataPath(name), params)
		status, body = readBody(resp)
		if status == http.StatusNotFound {
			return nil // decided below, from the body
		}
		return err
	})
	if err != nil {
		return secrets.Value{}, err
	}
	if status == http.StatusNotFound {
		// A soft-deleted or destroyed version answers 404 with its metadata: the secret exists.
		if md := versionMetadata(body); md.Version > 0 {
			return secrets.Value{}, fmt.Errorf("vault: get %q version %q: %w (deleted or destroyed in Vault)", name, version, secrets.ErrVersionNotFound)
		}
		if version == "" {
			return secrets.Value{}, fmt.Errorf("vault: get %q: %w", name, secrets.ErrNotFound)
		}
		return secrets.Value{}, b.missingVersion(ctx, name, version)
	}
	if body == nil {
		return secrets.Value{}, fmt.Errorf("vault: get %q: %w: empty answer", name, secrets.ErrUnavailable)
	}
	return decodeValue(name, body)
}

// missingVersion tells ErrVersionNotFound (the secret exists) from ErrNotFound (it does not).
func (b *Backend) missingVersion(ctx context.Context, name, version string) error {
	md, err := b.metadata(ctx, "get", name)
	if err != nil {
		return err
	}
	if md == nil || md.CurrentVersion == 0 {
		return fmt.Errorf("vault: get %q: %w", name, secrets.ErrNotFound)
	}
	return fmt.Errorf("vault: get %q version %q: %w", name, version, secrets.ErrVersionNotFound)
}

// Put implements secrets.Writer.
func (b *Backend) Put(ctx context.Context, name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if b.cfg.MaxVersions > 0 {
		// Before the write, so the write itself never prunes under the mount's default.
		err := b.withClient(ctx, "put", name, func(c *api.Client) error {
			_, err := c.Logical().WriteWithContext(ctx, b.metadataPath(name), map[string]any{"max_versions": b.cfg.MaxVersions})
			return err
		})
		if err != nil {
			return "", err
		}
	}
	var out *api.Secret
	err := b.withClient(ctx, "put", name, func(c *api.Client) error {
		var err error
		out, err = c.Logical().WriteWithContext(ctx, b.dataPath(name), map[string]any{
			"data": map[string]any{dataKeyValue: base64.StdEncoding.EncodeToString(data), dataKeyEncoding: encodingBase64},
		})
		return withholdMessages(err)
	})
	if err != nil {
		return "", err
	}
	if out == nil {
		return "", fmt.Errorf("vault: put %q: %w: empty answer", name, secrets.ErrUnavailable)
	}
	v, err := number(out.Data["version"])
	if err != nil || v <= 0 {
		return "", fmt.Errorf("vault: put %q: answer without a version", name)
	}
	return strconv.FormatInt(v, 10), nil
}

// Versions implements secrets.Versioner: the readable versions Vault keeps, oldest first.
func (b *Backend) Versions(ctx context.Context, name string) ([]secrets.VersionInfo, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	md, err := b.metadata(ctx, "versions", name)
	if err != nil {
		return nil, err
	}
	if md == nil || md.CurrentVersion == 0 {
		return nil, fmt.Errorf("vault: versions %q: %w", name, secrets.ErrNotFound)
	}
	type numbered struct {
		n    int64
		info secrets.VersionInfo
	}
	var list []numbered
	for key, v := range md.Versions {
		n, err := strconv.ParseInt(key, 10, 64)
		if err != nil || v.Destroyed || v.DeletionTime != "" {
			continue
		}
		list = append(list, numbered{n, secrets.VersionInfo{Version: key, CreatedAt: parseTime(v.CreatedTime)}})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n < list[j].n })
	out := make([]secrets.VersionInfo, len(list))
	for i, v := range list {
		out[i] = v.info
	}
	return out, nil
}

// Delete implements secrets.Deleter: it deletes the metadata, so every version goes. Vault
// answers 204 for an unknown path too, so the metadata is read first to report ErrNotFound.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	md, err := b.metadata(ctx, "delete", name)
	if err != nil {
		return err
	}
	if md == nil {
		return fmt.Errorf("vault: delete %q: %w", name, secrets.ErrNotFound)
	}
	return b.withClient(ctx, "delete", name, func(c *api.Client) error {
		_, err := c.Logical().DeleteWithContext(ctx, b.metadataPath(name))
		return err
	})
}

// kvMetadata is the part of <mount>/metadata/<name> the backend uses.
type kvMetadata struct {
	CurrentVersion int64                        `json:"current_version"`
	Versions       map[string]kvVersionMetadata `json:"versions"`
}

type kvVersionMetadata struct {
	CreatedTime  string `json:"created_time"`
	DeletionTime string `json:"deletion_time"`
	Destroyed    bool   `json:"destroyed"`
}

// metadata reads the secret's metadata; nil when Vault has none.
func (b *Backend) metadata(ctx context.Context, op, name string) (*kvMetadata, error) {
	var (
		status int
		body   *api.Secret
	)
	err := b.withClient(ctx, op, name, func(c *api.Client) error {
		resp, err := c.Logical().ReadRawWithContext(ctx, b.metadataPath(name))
		status, body = readBody(resp)
		if status == http.StatusNotFound {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound || body == nil {
		return nil, nil
	}
	var md kvMetadata
	if err := remarshal(body.Data, &md); err != nil {
		return nil, fmt.Errorf("vault: %s %q: metadata: %w", op, name, err)
	}
	return &md, nil
}

func (b *Backend) dataPath(name string) string     { return b.cfg.Mount + "/data/" + name }
func (b *Backend) metadataPath(name string) string { return b.cfg.Mount + "/metadata/" + name }

// withClient runs call with a client holding a valid token, and maps its error. Under AppRole a
// 403 (the token expired or was revoked) is answered with a new login and one more try.
func (b *Backend) withClient(ctx context.Context, op, name string, call func(*api.Client) error) error {
	c, err := b.currentClient(ctx)
	if err != nil {
		return err
	}
	err = call(c)
	if b.cfg.Token == "" && status(err) == http.StatusForbidden {
		if c, err = b.relogin(ctx, c); err != nil {
			return err
		}
		err = call(c)
	}
	if err != nil {
		return fail(op, name, err)
	}
	return nil
}

// currentClient returns the client with the current token: under AppRole it logs in when there
// is no token yet, and renews (or replaces) a token past two thirds of its TTL.
func (b *Backend) currentClient(ctx context.Context) (*api.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cfg.Token != "" {
		return b.client, nil
	}
	if b.client == nil {
		return b.loginLocked(ctx)
	}
	if b.lease.ttl > 0 && time.Since(b.lease.obtained) > b.lease.ttl*2/3 {
		if c, ok := b.renewLocked(ctx); ok {
			return c, nil
		}
		return b.loginLocked(ctx)
	}
	return b.client, nil
}

// relogin replaces the token that stale (the client a request was refused with) carried,
// unless a concurrent caller already did.
func (b *Backend) relogin(ctx context.Context, stale *api.Client) (*api.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.client != stale && b.client != nil {
		return b.client, nil
	}
	return b.loginLocked(ctx)
}

func (b *Backend) loginLocked(ctx context.Context) (*api.Client, error) {
	anon, err := b.newClient("")
	if err != nil {
		return nil, err
	}
	secret, err := anon.Logical().WriteWithContext(ctx, "auth/"+b.cfg.AppRole.Mount+"/login", map[string]any{
		"role_id": b.cfg.AppRole.RoleID, "secret_id": b.cfg.AppRole.SecretID,
	})
	if err != nil {
		// AppRole answers 400 to a wrong role_id or secret_id: that is a refusal of our
		// credentials, not a bug in the request.
		if s := status(err); s == http.StatusBadRequest || s == http.StatusUnauthorized {
			return nil, fmt.Errorf("vault: approle login: %w: %w", secrets.ErrDenied, withholdMessages(err))
		}
		return nil, fail("approle login", "", withholdMessages(err))
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return nil, fmt.Errorf("vault: approle login: %w: answer without a token", secrets.ErrUnavailable)
	}
	c, err := b.newClient(secret.Auth.ClientToken)
	if err != nil {
		return nil, err
	}
	b.client = c
	b.lease = tokenLease{
		obtained:  time.Now(),
		ttl:       time.Duration(secret.Auth.LeaseDuration) * time.Second,
		renewable: secret.Auth.Renewable,
	}
	return c, nil
}

// renewLocked extends the current token. It reports false when the token cannot be renewed,
// or not for long enough (max TTL reached): the caller then logs in anew.
func (b *Backend) renewLocked(ctx context.Context) (*api.Client, bool) {
	if !b.lease.renewable {
		return nil, false
	}
	secret, err := b.client.Auth().Token().RenewSelfWithContext(ctx, 0)
	if err != nil || secret == nil || secret.Auth == nil {
		return nil, false
	}
	ttl := time.Duration(secret.Auth.LeaseDuration) * time.Second
	if ttl < b.lease.ttl/3 {
		return nil, false
	}
	b.lease.obtained, b.lease.ttl = time.Now(), ttl
	return b.client, true
}

// fail maps an error of the Vault client onto the contract's kinds, wrapping the cause.
func fail(op, name string, err error) error {
	where := "vault: " + op
	if name != "" {
		where += fmt.Sprintf(" %q", name)
	}
	var re *api.ResponseError
	if !errors.As(err, &re) {
		// No HTTP answer: connection refused, TLS failure, timeout.
		return fmt.Errorf("%s: %w: %w", where, secrets.ErrUnavailable, err)
	}
	switch {
	case re.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s: %w: %w", where, secrets.ErrNotFound, err)
	case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
		return fmt.Errorf("%s: %w: %w", where, secrets.ErrDenied, err)
	case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
		return fmt.Errorf("%s: %w: %w", where, secrets.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", where, err)
	}
}

func status(err error) int {
	var re *api.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// withholdMessages drops Vault's messages from the error of a request that carried a secret
// value or secret_id: a message quoting its input must not reach a log.
func withholdMessages(err error) error {
	var re *api.ResponseError
	if !errors.As(err, &re) {
		return err
	}
	c := *re
	c.Errors = []string{"(Vault's message withheld: the request carried a secret)"}
	c.RawError = false
	return &c
}

// readBody parses a raw answer (nil-safe) and closes it.
func readBody(resp *api.Response) (int, *api.Secret) {
	if resp == nil {
		return 0, nil
	}
	defer func() { _ = resp.Body.Close() }()
	s, err := api.ParseSecret(resp.Body)
	if err != nil {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, s
}

// kvVersion is the "metadata" of a <mount>/data/<name> answer.
type kvVersion struct {
	Version      int64  `json:"version"`
	CreatedTime  string `json:"created_time"`
	DeletionTime string `json:"deletion_time"`
	Destroyed    bool   `json:"destroyed"`
}

func versionMetadata(s *api.Secret) kvVersion {
	var v kvVersion
	if s != nil {
		_ = remarshal(s.Data["metadata"], &v)
	}
	return v
}

func decodeValue(name string, s *api.Secret) (secrets.Value, error) {
	md := versionMetadata(s)
	if md.Version <= 0 {
		return secrets.Value{}, fmt.Errorf("vault: get %q: answer without a version", name)
	}
	data, _ := s.Data["data"].(map[string]any)
	val := secrets.Value{Version: strconv.FormatInt(md.Version, 10), CreatedAt: parseTime(md.CreatedTime)}
	if enc, ok := data[dataKeyValue].(string); ok {
		if e, _ := data[dataKeyEncoding].(string); e != "" && e != encodingBase64 {
			return secrets.Value{}, fmt.Errorf("vault: get %q: unknown encoding %q", name, e)
		}
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			// The error of DecodeString names an offset, never the input.
			return secrets.Value{}, fmt.Errorf("vault: get %q: %s is not base64: %w", name, dataKeyValue, err)
		}
		val.Data = b
		return val, nil
	}
	if plain, ok := data[dataKeyPlain].(string); ok {
		val.Data = []byte(plain)
		return val, nil
	}
	return secrets.Value{}, fmt.Errorf("vault: get %q: version %d holds neither %q nor %q: not written by Gatehouse", name, md.Version, dataKeyValue, dataKeyPlain)
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func number(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		return n.Int64()
	case float64:
		return int64(n), nil
	default:
		return 0, fmt.Errorf("not a number: %T", v)
	}
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func validVersion(v string) bool {
	if len(v) == 0 || len(v) > 18 || v[0] == '0' {
		return false
	}
	for i := range len(v) {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// checkName refuses what could leave the secret's own path: the service validates names
// before they reach a backend; this keeps a missed check from becoming a request elsewhere.
func checkName(name string) error {
	if !validPath(name) {
		return fmt.Errorf("vault: %w", secrets.ErrInvalidName)
	}
	return nil
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func validPath(p string) bool {
	if p == "" {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := range len(seg) {
			if !nameByte(seg[i]) {
				return false
			}
		}
	}
	return true
}
