// Package azuretest is a loopback Azure Key Vault (secrets) for tests and local demos. It
// speaks the service's REST API over TLS: `PUT /secrets/{name}`, `GET /secrets/{name}/{version}`,
// `GET /secrets/{name}/versions` (paged with nextLink), `DELETE /secrets/{name}`,
// `GET|DELETE /deletedsecrets/{name}` (soft delete, then purge) and `GET /secrets`, each with
// the api-version query parameter, Key Vault's JSON bodies and error documents
// (`{"error":{"code":"SecretNotFound",...}}`).
//
// Authentication is the real dance azsecrets performs: a request without a bearer token gets
// 401 with `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
// resource="https://vault.azure.net"`; the client then asks its credential for a token for
// that tenant and scope and retries. Only the fake's token is accepted.
//
// Client returns an *http.Client that trusts the fake's certificate and dials the fake for
// every host, so the backend can use a real-looking vault URL (VaultURL, a *.vault.azure.net
// host): azsecrets then verifies that the challenge's resource matches the vault's domain,
// exactly as in production. URL is the fake's raw https://127.0.0.1 address, where that check
// fails unless it is disabled.
package azuretest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// Identity of the fake vault and the only token it accepts.
const (
	TenantID = "72f988bf-0000-4000-8000-0000000067a7"
	Token    = "gatehouse-fake-key-vault-access-token"
	// VaultURL is a real-looking vault address; Client() routes it to the fake.
	VaultURL = "https://gatehouse-test.vault.azure.net/"
	// Resource is the resource the challenge names; tokens are requested for Resource+"/.default".
	Resource = "https://vault.azure.net"
	// MaxValueChars is Key Vault's limit on a secret value (25 KiB).
	MaxValueChars = 25 * 1024
)

const (
	maxBody     = 1 << 20
	defaultPage = 25
	retention   = 90 * 24 * time.Hour
)

var (
	namePattern       = regexp.MustCompile(`^[0-9a-zA-Z-]{1,127}$`)
	apiVersionPattern = regexp.MustCompile(`^(7\.[0-9]|20[0-9]{2}-[0-9]{2}-[0-9]{2})(-preview)?$`)
)

// Fault makes the fake answer authenticated requests with an error (or not at all).
type Fault struct {
	// Operation limits the fault to one operation: SetSecret, GetSecret, GetSecretVersions,
	// DeleteSecret, GetDeletedSecret, PurgeDeletedSecret or GetSecrets. Empty means all.
	Operation string
	// Status is the HTTP status (e.g. 500, 503, 403, 429).
	Status int
	// Code and Message fill Key Vault's error document.
	Code, Message string
	// Body, when set, is sent verbatim instead (a gateway's HTML page).
	Body string
	// Hang holds the request until the client gives up or the server closes.
	Hang bool
}

// Server is the loopback Key Vault. Its methods are safe for concurrent use.
type Server struct {
	// URL is the fake's own address (https://127.0.0.1:port).
	URL string
	// VaultURL is the address to give the backend together with Client().
	VaultURL string

	srv       *httptest.Server
	token     string
	tenant    string
	closing   chan struct{}
	closeOnce sync.Once

	mu              sync.Mutex
	secrets         map[string]*kvSecret // by lower-case name: Key Vault names are case-insensitive
	fault           *Fault
	calls           []string
	pageSize        int
	deleteDelay     time.Duration
	purgeProtection bool
	unauthenticated int
}

type kvSecret struct {
	name        string
	versions    []*kvVersion // creation order
	deleted     *time.Time
	purgeableAt time.Time // deletion still "in progress" before this
}

type kvVersion struct {
	id          string
	value       string
	contentType *string
	tags        map[string]string
	created     time.Time
}

// NewServer starts a fake vault. Close it when done; tests can use Start instead.
func NewServer() *Server {
	s := &Server{
		token: Token, tenant: TenantID, VaultURL: VaultURL,
		closing: make(chan struct{}), secrets: map[string]*kvSecret{}, pageSize: defaultPage,
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{selfSigned()}, MinVersion: tls.VersionTLS12}
	s.srv.StartTLS()
	s.URL = s.srv.URL
	return s
}

// Start starts a fake vault and closes it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing requests held by a hanging Fault.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// Client returns an HTTP client that trusts the fake's certificate and connects to the fake
// whatever host a request names. Give it to the backend as its transport.
func (s *Server) Client() *http.Client {
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	addr := s.srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// Credential returns a fake credential that hands out the token the fake accepts.
func (s *Server) Credential() *Credential { return &Credential{Token: s.token} }

// SetFault makes every matching authenticated request fail as f describes; nil restores
// normal service.
func (s *Server) SetFault(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetPageSize sets how many items a list page holds (Key Vault: 25).
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// SetDeleteDelay makes a deletion take d before the deleted secret can be read or purged, as
// Key Vault's asynchronous delete does (purge meanwhile answers 409 Conflict).
func (s *Server) SetDeleteDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteDelay = d
}

// SetPurgeProtection makes purging refused with 403, as on vaults with purge protection.
func (s *Server) SetPurgeProtection(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeProtection = on
}

// Calls returns the authenticated operations served or refused so far, oldest first.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Unauthenticated counts requests answered with 401 (challenges and bad tokens).
func (s *Server) Unauthenticated() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unauthenticated
}

// Stored returns the raw value and content type of the newest version of the secret stored
// under the Key Vault name kvName (ok false if there is none): what another Key Vault client
// would see.
func (s *Server) Stored(kvName string) (value, contentType string, tags map[string]string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[strings.ToLower(kvName)]
	if sec == nil || sec.deleted != nil || len(sec.versions) == 0 {
		return "", "", nil, false
	}
	v := sec.versions[len(sec.versions)-1]
	ct := ""
	if v.contentType != nil {
		ct = *v.contentType
	}
	return v.value, ct, cloneTags(v.tags), true
}

// Names returns the Key Vault names of live secrets, sorted.
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, sec := range s.secrets {
		if sec.deleted == nil {
			out = append(out, sec.name)
		}
	}
	sort.Strings(out)
	return out
}

// Credential is a fake azcore.TokenCredential: it returns Token (or Err) and records what it
// was asked for.
type Credential struct {
	Token string
	Err   error

	mu       sync.Mutex
	requests []policy.TokenRequestOptions
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(_ context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, opts)
	if c.Err != nil {
		return azcore.AccessToken{}, c.Err
	}
	return azcore.AccessToken{Token: c.Token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Requests returns the token requests made so far.
func (c *Credential) Requests() []policy.TokenRequestOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]policy.TokenRequestOptions(nil), c.requests...)
}

// --- HTTP ----------------------------------------------------------------------------------

type kvError struct {
	status  int
	code    string
	message string
	inner   string
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "Request body unreadable or too large."})
		return
	}
	if e := s.authenticate(w, r); e != nil {
		s.mu.Lock()
		s.unauthenticated++
		s.mu.Unlock()
		writeError(w, e)
		return
	}
	if v := r.URL.Query().Get("api-version"); !apiVersionPattern.MatchString(v) {
		writeError(w, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: fmt.Sprintf("The specified version (%s) is not recognized. Consider using a supported api-version.", v)})
		return
	}
	op, handler := s.route(r)
	if handler == nil {
		writeError(w, &kvError{status: http.StatusNotFound, code: "NotFound", message: "The requested resource was not found."})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, op)
	f := s.fault
	s.mu.Unlock()
	if f != nil && (f.Operation == "" || f.Operation == op) {
		s.serveFault(w, r, f)
		return
	}
	status, out, e := handler(r, body)
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("x-ms-request-id", randomHex(16))
	if out == nil {
		w.WriteHeader(status)
		return
	}
	raw, err := json.Marshal(out)
	if err != nil {
		writeError(w, &kvError{status: http.StatusInternalServerError, code: "InternalError", message: "encode response"})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// authenticate implements Key Vault's challenge: no token → 401 with the challenge; a token
// other than the fake's → 401 again (Key Vault: AKV10032 invalid token).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) *kvError {
	challenge := fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, s.tenant, Resource)
	authz := r.Header.Get("Authorization")
	if authz == "" {
		w.Header().Set("WWW-Authenticate", challenge)
		return &kvError{status: http.StatusUnauthorized, code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token."}
	}
	tok, ok := strings.CutPrefix(authz, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) != 1 {
		w.Header().Set("WWW-Authenticate", challenge)
		return &kvError{status: http.StatusUnauthorized, code: "Unauthorized", message: "AKV10032: Invalid issuer or token."}
	}
	return nil
}

type handler func(r *http.Request, body []byte) (int, any, *kvError)

func (s *Server) route(r *http.Request) (string, handler) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// A GET of the newest version arrives as /secrets/{name}/ (empty version).
	if strings.HasSuffix(r.URL.Path, "/") && len(parts) == 2 {
		parts = append(parts, "")
	}
	switch {
	case len(parts) == 1 && parts[0] == "secrets" && r.Method == http.MethodGet:
		return "GetSecrets", s.listSecrets
	case len(parts) == 2 && parts[0] == "secrets" && r.Method == http.MethodPut:
		return "SetSecret", s.setSecret(parts[1])
	case len(parts) == 2 && parts[0] == "secrets" && r.Method == http.MethodDelete:
		return "DeleteSecret", s.deleteSecret(parts[1])
	case len(parts) == 3 && parts[0] == "secrets" && parts[2] == "versions" && r.Method == http.MethodGet:
		return "GetSecretVersions", s.listVersions(parts[1])
	case (len(parts) == 2 || len(parts) == 3) && parts[0] == "secrets" && r.Method == http.MethodGet:
		version := ""
		if len(parts) == 3 {
			version = parts[2]
		}
		return "GetSecret", s.getSecret(parts[1], version)
	case len(parts) == 2 && parts[0] == "deletedsecrets" && r.Method == http.MethodGet:
		return "GetDeletedSecret", s.getDeleted(parts[1])
	case len(parts) == 2 && parts[0] == "deletedsecrets" && r.Method == http.MethodDelete:
		return "PurgeDeletedSecret", s.purge(parts[1])
	}
	return "", nil
}

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	writeError(w, &kvError{status: f.Status, code: f.Code, message: f.Message})
}

func writeError(w http.ResponseWriter, e *kvError) {
	doc := map[string]any{"code": e.code, "message": e.message}
	if e.inner != "" {
		doc["innererror"] = map[string]string{"code": e.inner}
	}
	raw, _ := json.Marshal(map[string]any{"error": doc})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", randomHex(16))
	w.WriteHeader(e.status)
	_, _ = w.Write(raw)
}

func badName(name string) *kvError {
	return &kvError{status: http.StatusBadRequest, code: "BadParameter", message: fmt.Sprintf("The request URI contains an invalid name: %s", name)}
}

func secretNotFound(name string) *kvError {
	return &kvError{status: http.StatusNotFound, code: "SecretNotFound", message: fmt.Sprintf("A secret with (name/id) %s was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.", name)}
}

// --- operations ----------------------------------------------------------------------------

type attributes struct {
	Enabled         *bool  `json:"enabled,omitempty"`
	Created         int64  `json:"created,omitempty"`
	Updated         int64  `json:"updated,omitempty"`
	RecoveryLevel   string `json:"recoveryLevel,omitempty"`
	RecoverableDays int32  `json:"recoverableDays,omitempty"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
}

type bundle struct {
	ID          string            `json:"id"`
	Value       *string           `json:"value,omitempty"`
	ContentType *string           `json:"contentType,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	// Deleted secrets only.
	RecoveryID         string `json:"recoveryId,omitempty"`
	DeletedDate        int64  `json:"deletedDate,omitempty"`
	ScheduledPurgeDate int64  `json:"scheduledPurgeDate,omitempty"`
}

func base(r *http.Request) string { return "https://" + r.Host }

func (sec *kvSecret) bundle(r *http.Request, v *kvVersion, withValue bool) bundle {
	enabled := true
	b := bundle{
		ID:          base(r) + "/secrets/" + sec.name + "/" + v.id,
		ContentType: v.contentType,
		Attributes: attributes{
			Enabled: &enabled, Created: v.created.Unix(), Updated: v.created.Unix(),
			RecoveryLevel: "Recoverable+Purgeable", RecoverableDays: 90,
		},
		Tags: cloneTags(v.tags),
	}
	if withValue {
		val := v.value
		b.Value = &val
	}
	return b
}

func (sec *kvSecret) deletedBundle(r *http.Request) bundle {
	b := sec.bundle(r, sec.versions[len(sec.versions)-1], false)
	b.RecoveryID = base(r) + "/deletedsecrets/" + sec.name
	b.DeletedDate = sec.deleted.Unix()
	b.ScheduledPurgeDate = sec.deleted.Add(retention).Unix()
	return b
}

func (sec *kvSecret) version(id string) *kvVersion {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

type setParams struct {
	Value       *string           `json:"value"`
	ContentType *string           `json:"contentType"`
	Tags        map[string]string `json:"tags"`
	Attributes  json.RawMessage   `json:"attributes"`
}

func (s *Server) setSecret(name string) handler {
	return func(r *http.Request, body []byte) (int, any, *kvError) {
		if !namePattern.MatchString(name) {
			return 0, nil, badName(name)
		}
		var p setParams
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "The request body is not valid JSON: " + err.Error()}
		}
		if p.Value == nil {
			return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "Property value is required."}
		}
		if len(*p.Value) > MaxValueChars {
			return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "Secret value is larger than the maximum of 25 KB."}
		}
		if len(p.Tags) > 15 {
			return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "A maximum of 15 tags is allowed."}
		}
		for k, v := range p.Tags {
			if len(k) > 512 || len(v) > 256 {
				return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "Tag names are limited to 512 and tag values to 256 characters."}
			}
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		key := strings.ToLower(name)
		sec := s.secrets[key]
		if sec != nil && sec.deleted != nil {
			return 0, nil, &kvError{status: http.StatusConflict, code: "Conflict", inner: "ObjectIsDeletedButRecoverable",
				message: fmt.Sprintf("Secret %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.", name)}
		}
		if sec == nil {
			sec = &kvSecret{name: name}
			s.secrets[key] = sec
		}
		v := &kvVersion{id: randomHex(16), value: *p.Value, contentType: p.ContentType, tags: cloneTags(p.Tags), created: time.Now()}
		sec.versions = append(sec.versions, v)
		return http.StatusOK, sec.bundle(r, v, true), nil
	}
}

func (s *Server) getSecret(name, version string) handler {
	return func(r *http.Request, _ []byte) (int, any, *kvError) {
		if !namePattern.MatchString(name) {
			return 0, nil, badName(name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sec := s.secrets[strings.ToLower(name)]
		if sec == nil || sec.deleted != nil {
			return 0, nil, secretNotFound(name)
		}
		v := sec.versions[len(sec.versions)-1]
		if version != "" {
			if v = sec.version(version); v == nil {
				return 0, nil, secretNotFound(name + "/" + version)
			}
		}
		return http.StatusOK, sec.bundle(r, v, true), nil
	}
}

func (s *Server) listVersions(name string) handler {
	return func(r *http.Request, _ []byte) (int, any, *kvError) {
		if !namePattern.MatchString(name) {
			return 0, nil, badName(name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sec := s.secrets[strings.ToLower(name)]
		if sec == nil || sec.deleted != nil {
			return 0, nil, secretNotFound(name)
		}
		// Key Vault promises no order; listing by version id (random) makes clients sort.
		versions := append([]*kvVersion(nil), sec.versions...)
		sort.Slice(versions, func(i, j int) bool { return versions[i].id < versions[j].id })
		items := make([]bundle, len(versions))
		for i, v := range versions {
			items[i] = sec.bundle(r, v, false)
		}
		return s.page(r, "/secrets/"+sec.name+"/versions", items)
	}
}

func (s *Server) listSecrets(r *http.Request, _ []byte) (int, any, *kvError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var live []*kvSecret
	for _, sec := range s.secrets {
		if sec.deleted == nil {
			live = append(live, sec)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].name < live[j].name })
	items := make([]bundle, len(live))
	for i, sec := range live {
		b := sec.bundle(r, sec.versions[len(sec.versions)-1], false)
		b.ID = base(r) + "/secrets/" + sec.name
		items[i] = b
	}
	return s.page(r, "/secrets", items)
}

// page cuts items by $skiptoken and maxresults (at most 25, as Key Vault) and links the next
// page.
func (s *Server) page(r *http.Request, path string, items []bundle) (int, any, *kvError) {
	q := r.URL.Query()
	size := s.pageSize
	if m := q.Get("maxresults"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 25 {
			return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "maxresults must be between 1 and 25."}
		}
		size = n
	}
	start := 0
	if tok := q.Get("$skiptoken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		if err == nil {
			start, err = strconv.Atoi(string(raw))
		}
		if err != nil || start < 0 || start > len(items) {
			return 0, nil, &kvError{status: http.StatusBadRequest, code: "BadParameter", message: "Invalid $skiptoken."}
		}
	}
	end := min(start+size, len(items))
	out := map[string]any{"value": items[start:end], "nextLink": nil}
	if end < len(items) {
		next := url.Values{}
		next.Set("api-version", q.Get("api-version"))
		next.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end))))
		next.Set("maxresults", strconv.Itoa(size))
		out["nextLink"] = base(r) + path + "?" + next.Encode()
	}
	return http.StatusOK, out, nil
}

func (s *Server) deleteSecret(name string) handler {
	return func(r *http.Request, _ []byte) (int, any, *kvError) {
		if !namePattern.MatchString(name) {
			return 0, nil, badName(name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sec := s.secrets[strings.ToLower(name)]
		if sec == nil || sec.deleted != nil {
			return 0, nil, secretNotFound(name)
		}
		now := time.Now()
		sec.deleted = &now
		sec.purgeableAt = now.Add(s.deleteDelay)
		return http.StatusOK, sec.deletedBundle(r), nil
	}
}

// deletedReady returns the deleted secret once its deletion has completed.
func (s *Server) deletedReady(name string) (*kvSecret, *kvError) {
	sec := s.secrets[strings.ToLower(name)]
	if sec == nil || sec.deleted == nil {
		return nil, &kvError{status: http.StatusNotFound, code: "SecretNotFound", message: fmt.Sprintf("Deleted Secret not found: %s", name)}
	}
	if time.Now().Before(sec.purgeableAt) {
		return sec, &kvError{status: http.StatusConflict, code: "Conflict", inner: "ObjectIsBeingDeleted", message: fmt.Sprintf("Secret %s is currently being deleted.", name)}
	}
	return sec, nil
}

func (s *Server) getDeleted(name string) handler {
	return func(r *http.Request, _ []byte) (int, any, *kvError) {
		if !namePattern.MatchString(name) {
			return 0, nil, badName(name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sec, e := s.deletedReady(name)
		if e != nil {
			if e.status == http.StatusConflict { // still deleting: not visible yet
				return 0, nil, &kvError{status: http.StatusNotFound, code: "SecretNotFound", message: fmt.Sprintf("Deleted Secret not found: %s", name)}
			}
			return 0, nil, e
		}
		return http.StatusOK, sec.deletedBundle(r), nil
	}
}

func (s *Server) purge(name string) handler {
	return func(_ *http.Request, _ []byte) (int, any, *kvError) {
		if !namePattern.MatchString(name) {
			return 0, nil, badName(name)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		sec, e := s.deletedReady(name)
		if e != nil {
			return 0, nil, e
		}
		if s.purgeProtection {
			return 0, nil, &kvError{status: http.StatusForbidden, code: "Forbidden", inner: "PurgeProtectionEnabled",
				message: "Operation \"purge\" is not allowed because purge protection is enabled for this vault."}
		}
		delete(s.secrets, strings.ToLower(sec.name))
		return http.StatusNoContent, nil, nil
	}
}

func cloneTags(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// selfSigned makes a certificate for *.vault.azure.net and the loopback addresses, so the
// vault can be addressed by a real-looking vault URL.
func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "gatehouse fake key vault"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"*.vault.azure.net", "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
