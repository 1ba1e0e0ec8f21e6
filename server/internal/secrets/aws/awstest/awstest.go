// Package awstest is a loopback AWS Secrets Manager for tests and local demos. It speaks the
// service's real wire protocol, AWS JSON 1.1: POST / with `X-Amz-Target: secretsmanager.<Op>`,
// `Content-Type: application/x-amz-json-1.1`, a SigV4-signed request (the signature is
// verified, not just looked at) and AWS-shaped errors (`{"__type":...,"message":...}`).
//
// It implements CreateSecret, PutSecretValue, GetSecretValue, ListSecretVersionIds,
// DeleteSecret, DescribeSecret, UpdateSecretVersionStage and ListSecrets with the staging-label
// rules of the real service (AWSCURRENT moves to each new version, the version it leaves gets
// AWSPREVIOUS, versions without labels are deprecated but still readable by id). Point the
// aws-sdk-go-v2 client's BaseEndpoint at Server.URL with the Region and static credentials below.
package awstest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Credentials and location the fake accepts unless told otherwise. They have AWS's shapes but
// are not real.
const (
	Region          = "eu-west-1"
	AccessKeyID     = "AKIAGATEHOUSEFAKE001"
	SecretAccessKey = "gatehouseFakeSecretAccessKey0000000000001"
	AccountID       = "123456789012"
)

// Stage labels with a meaning to the service.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

const (
	service      = "secretsmanager"
	maxBody      = 1 << 20
	maxValue     = 65536
	amzDate      = "20060102T150405Z"
	maxClockSkew = 5 * time.Minute
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)

// Fault makes the fake answer requests with an error (or not at all) instead of serving them.
type Fault struct {
	// Operation limits the fault to one operation ("GetSecretValue"); empty means all.
	Operation string
	// Status is the HTTP status; zero means 400, AWS's status for client-side errors.
	Status int
	// Type is the error's __type, e.g. "InternalServiceError", "AccessDeniedException".
	Type    string
	Message string
	// Body, when set, is sent verbatim instead of an AWS error document (a proxy's HTML page).
	Body string
	// Hang holds the request until the client gives up or the server closes.
	Hang bool
}

// Server is the loopback Secrets Manager. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint to give the SDK (BaseEndpoint).
	URL string

	srv       *httptest.Server
	region    string
	keyID     string
	secretKey string
	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	secrets  map[string]*secret // by name
	fault    *Fault
	calls    []string
	pageSize int
	last     time.Time
}

type secret struct {
	name, arn   string
	description string
	created     time.Time
	changed     time.Time
	deletion    *time.Time // scheduled deletion (recovery window)
	versions    []*version // creation order
}

type version struct {
	id      string
	str     *string
	bin     []byte
	created time.Time
	stages  []string
}

// NewServer starts a fake in region accepting the static credentials keyID / secretKey. Close
// it when done; tests can use Start instead.
func NewServer(region, keyID, secretKey string) *Server {
	s := &Server{
		region: region, keyID: keyID, secretKey: secretKey,
		closing: make(chan struct{}), secrets: map[string]*secret{}, pageSize: 100,
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Start starts a fake with Region, AccessKeyID and SecretAccessKey and closes it when the test
// ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer(Region, AccessKeyID, SecretAccessKey)
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing requests held by a hanging Fault.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.srv.Close()
}

// SetFault makes every matching request fail as f describes; nil restores normal service.
func (s *Server) SetFault(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetPageSize sets the default page length of list operations (AWS: 100), so tests can make
// the SDK follow NextToken.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Calls returns the operations served or refused so far (after authentication), oldest first.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Stages returns the staging labels of each labelled version of a secret, as DescribeSecret
// reports them (nil for an unknown secret).
func (s *Server) Stages(name string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return nil
	}
	return sec.stageMap()
}

// StoredVersion reports how a version's value is stored: as SecretString (isString) or
// SecretBinary. ok is false for an unknown secret or version.
func (s *Server) StoredVersion(name, versionID string) (isString, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return false, false
	}
	v := sec.version(versionID)
	if v == nil {
		return false, false
	}
	return v.str != nil, true
}

// apiError is an AWS JSON 1.1 error answer.
type apiError struct {
	status  int
	typ     string
	message string
}

func clientErr(typ, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: typ, message: fmt.Sprintf(format, args...)}
}

func notFound() *apiError {
	return clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func markedForDeletion() *apiError {
	return clientErr("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writeError(w, clientErr("SerializationException", "request body unreadable or too large"))
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, clientErr("UnknownOperationException", "Unknown operation"))
		return
	}
	if e := s.authenticate(r, body); e != nil {
		writeError(w, e)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.")
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		writeError(w, clientErr("UnknownOperationException", "Unknown operation"))
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

	handlers := map[string]func([]byte) (any, *apiError){
		"CreateSecret":             s.createSecret,
		"PutSecretValue":           s.putSecretValue,
		"GetSecretValue":           s.getSecretValue,
		"ListSecretVersionIds":     s.listSecretVersionIDs,
		"DeleteSecret":             s.deleteSecret,
		"DescribeSecret":           s.describeSecret,
		"UpdateSecretVersionStage": s.updateSecretVersionStage,
		"ListSecrets":              s.listSecrets,
	}
	h, ok := handlers[op]
	if !ok {
		writeError(w, clientErr("UnknownOperationException", "Unknown operation %s", op))
		return
	}
	out, e := h(body)
	if e != nil {
		writeError(w, e)
		return
	}
	raw, err := json.Marshal(out)
	if err != nil {
		writeError(w, &apiError{status: http.StatusInternalServerError, typ: "InternalServiceError", message: "encode response"})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", uuid.NewString())
	_, _ = w.Write(raw)
}

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f *Fault) {
	if f.Hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	status := f.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	writeError(w, &apiError{status: status, typ: f.Type, message: f.Message})
}

func writeError(w http.ResponseWriter, e *apiError) {
	raw, _ := json.Marshal(map[string]string{"__type": e.typ, "message": e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", uuid.NewString())
	w.WriteHeader(e.status)
	_, _ = w.Write(raw)
}

// authenticate verifies the request's SigV4 signature the way AWS does: credential scope
// (date, region, service), freshness of X-Amz-Date, the access key, and the signature over the
// canonical request recomputed from what arrived.
func (s *Server) authenticate(r *http.Request, body []byte) *apiError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return clientErr("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	rest, ok := strings.CutPrefix(authz, "AWS4-HMAC-SHA256 ")
	if !ok {
		return clientErr("IncompleteSignatureException", "Unsupported Authorization header algorithm")
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return clientErr("IncompleteSignatureException", "Authorization header is malformed")
		}
		params[k] = v
	}
	cred, signedHeaders, signature := params["Credential"], params["SignedHeaders"], params["Signature"]
	if cred == "" || signedHeaders == "" || signature == "" {
		return clientErr("IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters")
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return clientErr("IncompleteSignatureException", "Credential is malformed; expecting \"<key>/<date>/<region>/<service>/aws4_request\"")
	}
	keyID, day, region, svc := scope[0], scope[1], scope[2], scope[3]
	if svc != service {
		return clientErr("InvalidSignatureException", "Credential should be scoped to correct service: '%s'.", service)
	}
	if region != s.region {
		return clientErr("InvalidSignatureException", "Credential should be scoped to a valid region.")
	}
	stamp := r.Header.Get("X-Amz-Date")
	at, err := time.Parse(amzDate, stamp)
	if err != nil {
		return clientErr("IncompleteSignatureException", "Authorization requires a valid X-Amz-Date header")
	}
	if at.Format("20060102") != day {
		return clientErr("InvalidSignatureException", "Credential should be scoped to the date of X-Amz-Date.")
	}
	if d := time.Since(at); d > maxClockSkew || d < -maxClockSkew {
		return clientErr("InvalidSignatureException", "Signature expired: %s is now earlier or later than the allowed skew.", stamp)
	}
	if keyID != s.keyID {
		return clientErr("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	names := strings.Split(signedHeaders, ";")
	if !sort.StringsAreSorted(names) || !contains(names, "host") || !contains(names, "x-amz-date") {
		return clientErr("InvalidSignatureException", "SignedHeaders must be sorted and include host and x-amz-date.")
	}
	var canon strings.Builder
	for _, n := range names {
		canon.WriteString(n + ":" + headerValue(r, n) + "\n")
	}
	payload := sha256.Sum256(body)
	creq := strings.Join([]string{
		r.Method, canonicalURI(r.URL), canonicalQuery(r.URL.Query()), canon.String(), signedHeaders, hex.EncodeToString(payload[:]),
	}, "\n")
	creqHash := sha256.Sum256([]byte(creq))
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", stamp, strings.Join(scope[1:], "/"), hex.EncodeToString(creqHash[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+s.secretKey), day)
	for _, part := range []string{region, svc, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return clientErr("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return nil
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if v := r.Header.Get("Content-Length"); v != "" {
			return v
		}
		return strconv.FormatInt(r.ContentLength, 10)
	}
	vals := r.Header.Values(name)
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			parts = append(parts, awsEscape(k)+"="+awsEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

func awsEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// --- operations -------------------------------------------------------------------------------

// epoch is how AWS JSON 1.1 writes timestamps: seconds since the epoch, millisecond fraction.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(e).UnixMilli())/1000, 'f', 3, 64)), nil
}

// now returns a strictly increasing time at AWS's millisecond precision, so versions created
// back to back still sort in creation order.
func (s *Server) now() time.Time {
	t := time.Now().Truncate(time.Millisecond)
	if !t.After(s.last) {
		t = s.last.Add(time.Millisecond)
	}
	s.last = t
	return t
}

func decode(body []byte, v any) *apiError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return clientErr("SerializationException", "could not decode request: %v", err)
	}
	return nil
}

func (s *Server) lookup(id string) *secret {
	if sec := s.secrets[id]; sec != nil {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

func (s *Server) lookupLive(id string) (*secret, *apiError) {
	if id == "" {
		return nil, clientErr("ValidationException", "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	sec := s.lookup(id)
	if sec == nil {
		return nil, notFound()
	}
	if sec.deletion != nil {
		return nil, markedForDeletion()
	}
	return sec, nil
}

func (sec *secret) version(id string) *version {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (sec *secret) holder(stage string) *version {
	for _, v := range sec.versions {
		if contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

func (sec *secret) stageMap() map[string][]string {
	m := map[string][]string{}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			m[v.id] = append([]string(nil), v.stages...)
		}
	}
	return m
}

func (v *version) removeStage(stage string) {
	out := v.stages[:0]
	for _, st := range v.stages {
		if st != stage {
			out = append(out, st)
		}
	}
	v.stages = out
}

// attach moves stage to v, with the service's rule that the version losing AWSCURRENT becomes
// AWSPREVIOUS.
func (sec *secret) attach(v *version, stage string) {
	if old := sec.holder(stage); old != nil && old != v {
		old.removeStage(stage)
		if stage == StageCurrent {
			if prev := sec.holder(StagePrevious); prev != nil {
				prev.removeStage(StagePrevious)
			}
			old.stages = append(old.stages, StagePrevious)
		}
	}
	if !contains(v.stages, stage) {
		v.stages = append(v.stages, stage)
	}
	if stage == StageCurrent {
		v.removeStage(StagePrevious)
	}
}

func checkValue(str *string, bin []byte) *apiError {
	if str != nil && bin != nil {
		return clientErr("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if (str != nil && len(*str) > maxValue) || len(bin) > maxValue {
		return clientErr("ValidationException", "1 validation error detected: Value at 'secretString' or 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to %d", maxValue)
	}
	return nil
}

func checkToken(token string) *apiError {
	if token != "" && (len(token) < 32 || len(token) > 64) {
		return clientErr("ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	return nil
}

func checkVersionID(id string) *apiError {
	if len(id) < 32 || len(id) > 64 {
		return clientErr("ValidationException", "1 validation error detected: Value at 'versionId' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	return nil
}

func sameValue(v *version, str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if str != nil {
		return *v.str == *str
	}
	return bytes.Equal(v.bin, bin)
}

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type createSecretInput struct {
	Name                        string
	ClientRequestToken          string
	Description                 string
	KmsKeyId                    string
	SecretBinary                []byte
	SecretString                *string
	Tags                        []tag
	AddReplicaRegions           []json.RawMessage
	ForceOverwriteReplicaSecret bool
	Type                        string
}

func (s *Server) createSecret(body []byte) (any, *apiError) {
	var in createSecretInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if !namePattern.MatchString(in.Name) {
		return nil, clientErr("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_+=.@-]+$ and length 1-512")
	}
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if e := checkToken(in.ClientRequestToken); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[in.Name]; sec != nil {
		if sec.deletion != nil {
			return nil, clientErr("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, clientErr("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	now := s.now()
	sec := &secret{
		name: in.Name, description: in.Description, created: now, changed: now,
		arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.region, AccountID, in.Name, randomSuffix()),
	}
	s.secrets[in.Name] = sec
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		id := in.ClientRequestToken
		if id == "" {
			id = uuid.NewString()
		}
		sec.versions = append(sec.versions, &version{id: id, str: in.SecretString, bin: in.SecretBinary, created: now, stages: []string{StageCurrent}})
		out["VersionId"] = id
	}
	return out, nil
}

func randomSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))] //nolint:gosec // an ARN suffix, not a secret
	}
	return string(b)
}

type putSecretValueInput struct {
	SecretId           string
	ClientRequestToken string
	SecretBinary       []byte
	SecretString       *string
	VersionStages      []string
	RotationToken      string
}

func (s *Server) putSecretValue(body []byte) (any, *apiError) {
	var in putSecretValueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, clientErr("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	}
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if e := checkToken(in.ClientRequestToken); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.lookupLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	id := in.ClientRequestToken
	if id == "" {
		id = uuid.NewString()
	}
	if v := sec.version(id); v != nil {
		// Idempotent retry with the same token and value; a different value is a conflict.
		if !sameValue(v, in.SecretString, in.SecretBinary) {
			return nil, clientErr("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": slices.Clone(v.stages)}, nil
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{StageCurrent}
	}
	v := &version{id: id, str: in.SecretString, bin: in.SecretBinary, created: s.now()}
	sec.versions = append(sec.versions, v)
	for _, st := range stages {
		sec.attach(v, st)
	}
	sec.changed = v.created
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": slices.Clone(v.stages)}, nil
}

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

func (s *Server) getSecretValue(body []byte) (any, *apiError) {
	var in getSecretValueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.VersionId != "" {
		if e := checkVersionID(in.VersionId); e != nil {
			return nil, e
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.lookupLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	var v *version
	switch {
	case in.VersionId != "":
		v = sec.version(in.VersionId)
		if v == nil {
			return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.VersionId)
		}
		if in.VersionStage != "" && !contains(v.stages, in.VersionStage) {
			return nil, clientErr("InvalidParameterException", "You provided a VersionStage that is not associated to the provided VersionId.")
		}
	default:
		stage := in.VersionStage
		if stage == "" {
			stage = StageCurrent
		}
		v = sec.holder(stage)
		if v == nil {
			return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
	}
	out := map[string]any{
		"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": slices.Clone(v.stages), "CreatedDate": epoch(v.created),
	}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = v.bin
	}
	return out, nil
}

type listVersionsInput struct {
	SecretId          string
	MaxResults        int
	NextToken         string
	IncludeDeprecated bool
}

func (s *Server) listSecretVersionIDs(body []byte) (any, *apiError) {
	var in listVersionsInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.lookupLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	var all []map[string]any
	for _, v := range sec.versions {
		if len(v.stages) == 0 && !in.IncludeDeprecated {
			continue
		}
		all = append(all, map[string]any{"VersionId": v.id, "VersionStages": slices.Clone(v.stages), "CreatedDate": epoch(v.created)})
	}
	page, next, e := s.paginate(len(all), in.MaxResults, in.NextToken)
	if e != nil {
		return nil, e
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "Versions": all[page[0]:page[1]]}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

// paginate returns the [start, end) window of n items for a request and the next token.
func (s *Server) paginate(n, maxResults int, token string) ([2]int, string, *apiError) {
	if maxResults < 0 || maxResults > 100 {
		return [2]int{}, "", clientErr("ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100")
	}
	size := maxResults
	if size == 0 {
		size = s.pageSize
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil {
			return [2]int{}, "", clientErr("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start, err = strconv.Atoi(string(raw))
		if err != nil || start < 0 || start > n {
			return [2]int{}, "", clientErr("InvalidNextTokenException", "The NextToken value is invalid.")
		}
	}
	end := min(start+size, n)
	next := ""
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return [2]int{start, end}, next, nil
}

type deleteSecretInput struct {
	SecretId                   string
	RecoveryWindowInDays       int64
	ForceDeleteWithoutRecovery bool
}

func (s *Server) deleteSecret(body []byte) (any, *apiError) {
	var in deleteSecretInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != 0 {
		return nil, clientErr("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	window := in.RecoveryWindowInDays
	if window == 0 {
		window = 30
	}
	if !in.ForceDeleteWithoutRecovery && (window < 7 || window > 30) {
		return nil, clientErr("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	now := s.now()
	if in.ForceDeleteWithoutRecovery {
		delete(s.secrets, sec.name)
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(now)}, nil
	}
	if sec.deletion != nil {
		return nil, markedForDeletion()
	}
	at := now.Add(time.Duration(window) * 24 * time.Hour)
	sec.deletion = &at
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(at)}, nil
}

type secretIDInput struct {
	SecretId string
}

func (s *Server) describeSecret(body []byte) (any, *apiError) {
	var in secretIDInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.lookup(in.SecretId)
	if sec == nil {
		return nil, notFound()
	}
	out := map[string]any{
		"ARN": sec.arn, "Name": sec.name, "CreatedDate": epoch(sec.created), "LastChangedDate": epoch(sec.changed),
		"VersionIdsToStages": sec.stageMap(),
	}
	if sec.description != "" {
		out["Description"] = sec.description
	}
	if sec.deletion != nil {
		out["DeletedDate"] = epoch(*sec.deletion)
	}
	return out, nil
}

type updateStageInput struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

func (s *Server) updateSecretVersionStage(body []byte) (any, *apiError) {
	var in updateStageInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.VersionStage == "" || len(in.VersionStage) > 256 {
		return nil, clientErr("ValidationException", "1 validation error detected: Value at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256")
	}
	for _, id := range []string{in.MoveToVersionId, in.RemoveFromVersionId} {
		if id != "" {
			if e := checkVersionID(id); e != nil {
				return nil, e
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.lookupLive(in.SecretId)
	if e != nil {
		return nil, e
	}
	holder := sec.holder(in.VersionStage)
	if in.RemoveFromVersionId != "" && (holder == nil || holder.id != in.RemoveFromVersionId) {
		return nil, clientErr("InvalidParameterException", "The staging label %s is currently not attached to version %s, so you can't remove it.", in.VersionStage, in.RemoveFromVersionId)
	}
	if in.MoveToVersionId == "" {
		if in.RemoveFromVersionId == "" {
			return nil, clientErr("InvalidParameterException", "You must specify MoveToVersionId or RemoveFromVersionId.")
		}
		if in.VersionStage == StageCurrent {
			return nil, clientErr("InvalidParameterException", "You can only remove AWSCURRENT by moving it to another version.")
		}
		holder.removeStage(in.VersionStage)
		return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
	}
	target := sec.version(in.MoveToVersionId)
	if target == nil {
		return nil, clientErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", in.MoveToVersionId)
	}
	if holder != nil && holder != target && in.RemoveFromVersionId == "" {
		return nil, clientErr("InvalidParameterException", "The parameter RemoveFromVersionId is required because the staging label %s is attached to version %s.", in.VersionStage, holder.id)
	}
	sec.attach(target, in.VersionStage)
	sec.changed = s.now()
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

type listSecretsInput struct {
	MaxResults             int
	NextToken              string
	IncludePlannedDeletion bool
	Filters                []json.RawMessage
	SortOrder              string
	SortBy                 string
}

func (s *Server) listSecrets(body []byte) (any, *apiError) {
	var in listSecretsInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.secrets))
	for name, sec := range s.secrets {
		if sec.deletion == nil || in.IncludePlannedDeletion {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	page, next, e := s.paginate(len(names), in.MaxResults, in.NextToken)
	if e != nil {
		return nil, e
	}
	list := []map[string]any{}
	for _, name := range names[page[0]:page[1]] {
		sec := s.secrets[name]
		list = append(list, map[string]any{
			"ARN": sec.arn, "Name": sec.name, "CreatedDate": epoch(sec.created), "LastChangedDate": epoch(sec.changed),
			"SecretVersionsToStages": sec.stageMap(),
		})
	}
	out := map[string]any{"SecretList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}
