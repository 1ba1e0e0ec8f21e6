// Package gcptest is a loopback Google Secret Manager for tests and local demos: an in-process
// gRPC server implementing google.cloud.secretmanager.v1.SecretManagerService (CreateSecret,
// AddSecretVersion, AccessSecretVersion with "latest", ListSecretVersions, GetSecret,
// DeleteSecret, ListSecrets) on a loopback port, answering with the real service's status
// codes (NotFound, AlreadyExists, InvalidArgument, PermissionDenied, Unauthenticated,
// Unavailable) and CRC32C checksums on payloads (verified on AddSecretVersion when the client
// sends one, returned on AccessSecretVersion).
//
// Give the client ClientOptions: the fake's endpoint, no Google credentials and a plaintext
// connection. RequireToken makes the fake demand "authorization: Bearer <token>" metadata, as
// the real service demands an OAuth token; TokenOption sends one.
package gcptest

import (
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Project is the project the fake serves; other projects are refused as the real service
// refuses projects the caller has no access to.
const Project = "gatehouse-test"

// MaxPayload is the service's limit on a version's data.
const MaxPayload = 64 * 1024

var (
	secretIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	crcTable        = crc32.MakeTable(crc32.Castagnoli)
)

// Fault makes the fake answer matching calls with an error, hang, or a bad checksum.
type Fault struct {
	// Method limits the fault to one RPC ("AccessSecretVersion"); empty means all.
	Method string
	// Code and Message make the RPC fail with that status.
	Code    codes.Code
	Message string
	// Hang holds the call until the client gives up or the server stops.
	Hang bool
	// CorruptChecksum (AccessSecretVersion) answers with a data_crc32c that does not match
	// the data; OmitChecksum answers without one.
	CorruptChecksum bool
	OmitChecksum    bool
	// Count limits the fault to the first Count matching calls; 0 means every one.
	Count int
}

// Server is the loopback Secret Manager. Its methods are safe for concurrent use.
type Server struct {
	secretmanagerpb.UnimplementedSecretManagerServiceServer

	// Addr is the host:port to give option.WithEndpoint.
	Addr string

	grpc      *grpc.Server
	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	secrets  map[string]*secret // by secret id
	fault    *Fault
	calls    []string
	token    string
	pageSize int
}

type secret struct {
	pb       *secretmanagerpb.Secret
	versions []*version // version n at index n-1
}

type version struct {
	pb   *secretmanagerpb.SecretVersion
	data []byte
	crc  int64
}

// NewServer starts a fake on a loopback port. Close it when done; tests can use Start.
func NewServer() *Server {
	var lc net.ListenConfig
	lis, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("gcptest: listen: %v", err))
	}
	s := &Server{Addr: lis.Addr().String(), closing: make(chan struct{}), secrets: map[string]*secret{}, pageSize: 25}
	s.grpc = grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	secretmanagerpb.RegisterSecretManagerServiceServer(s.grpc, s)
	go func() { _ = s.grpc.Serve(lis) }()
	return s
}

// Start starts a fake and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := NewServer()
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server, releasing calls held by a hanging Fault.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.grpc.Stop()
}

// ClientOptions point the Secret Manager client at the fake: its endpoint, no Google
// credentials, plaintext gRPC.
func (s *Server) ClientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.Addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// RequireToken makes the fake refuse calls without "authorization: Bearer token"
// (Unauthenticated). Empty turns the check off.
func (s *Server) RequireToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// TokenOption sends token as the bearer token on every call (over the plaintext connection).
func TokenOption(token string) option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithPerRPCCredentials(bearer(token)))
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// SetFault makes matching calls fail as f describes; nil restores normal service. The fake
// keeps its own copy of f.
func (s *Server) SetFault(f *Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil {
		c := *f
		f = &c
	}
	s.fault = f
}

// SetPageSize sets the default page length of list RPCs.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pageSize = n
}

// Calls returns the authenticated RPCs served or refused so far, oldest first.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// SecretIDs returns the ids of stored secrets, sorted.
func (s *Server) SecretIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.secrets))
	for id := range s.secrets {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Annotations returns a secret's annotations (nil if unknown).
func (s *Server) Annotations(id string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[id]; sec != nil {
		out := map[string]string{}
		for k, v := range sec.pb.GetAnnotations() {
			out[k] = v
		}
		return out
	}
	return nil
}

// ClientChecksummed reports whether the client sent a CRC32C with each version of a secret.
func (s *Server) ClientChecksummed(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[id]
	if sec == nil || len(sec.versions) == 0 {
		return false
	}
	for _, v := range sec.versions {
		if !v.pb.GetClientSpecifiedPayloadChecksum() {
			return false
		}
	}
	return true
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[strings.LastIndexByte(info.FullMethod, '/')+1:]
	s.mu.Lock()
	token := s.token
	s.mu.Unlock()
	if token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+token {
			return nil, status.Error(codes.Unauthenticated, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, method)
	f := s.fault
	if f != nil && (f.Method == "" || f.Method == method) && f.Count > 0 {
		if f.Count--; f.Count == 0 {
			s.fault = nil
		}
	} else if f != nil && f.Method != "" && f.Method != method {
		f = nil
	}
	s.mu.Unlock()
	if f != nil {
		switch {
		case f.Hang:
			select {
			case <-ctx.Done():
				return nil, status.FromContextError(ctx.Err()).Err()
			case <-s.closing:
				return nil, status.Error(codes.Unavailable, "server stopping")
			}
		case f.Code != codes.OK:
			return nil, status.Error(f.Code, f.Message)
		}
	}
	resp, err := handler(ctx, req)
	if f != nil && err == nil {
		if r, ok := resp.(*secretmanagerpb.AccessSecretVersionResponse); ok {
			switch {
			case f.OmitChecksum:
				r.Payload.DataCrc32C = nil
			case f.CorruptChecksum:
				bad := *r.Payload.DataCrc32C ^ 1
				r.Payload.DataCrc32C = &bad
			}
		}
	}
	return resp, err
}

// --- resource names --------------------------------------------------------------------------

func (s *Server) project(parent string) error {
	if parent != "projects/"+Project {
		return status.Errorf(codes.PermissionDenied, "Permission denied on resource project %s (or it may not exist).", strings.TrimPrefix(parent, "projects/"))
	}
	return nil
}

// secretID parses projects/{project}/secrets/{id}.
func (s *Server) secretID(name string) (string, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "secrets" || !secretIDPattern.MatchString(parts[3]) {
		return "", status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %s", name)
	}
	if err := s.project(parts[0] + "/" + parts[1]); err != nil {
		return "", err
	}
	return parts[3], nil
}

func secretNotFound(name string) error {
	return status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", name)
}

func (s *Server) lookup(name string) (*secret, error) {
	id, err := s.secretID(name)
	if err != nil {
		return nil, err
	}
	sec := s.secrets[id]
	if sec == nil {
		return nil, secretNotFound(name)
	}
	return sec, nil
}

// --- RPCs ------------------------------------------------------------------------------------

// CreateSecret implements SecretManagerServiceServer.
func (s *Server) CreateSecret(_ context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	if err := s.project(req.GetParent()); err != nil {
		return nil, err
	}
	if !secretIDPattern.MatchString(req.GetSecretId()) {
		return nil, status.Error(codes.InvalidArgument, "Secret ID must be 1-255 characters of letters, numerals, hyphens and underscores.")
	}
	if req.GetSecret().GetReplication().GetReplication() == nil {
		return nil, status.Error(codes.InvalidArgument, "Secret.replication is required.")
	}
	size := 0
	for k, v := range req.GetSecret().GetAnnotations() {
		size += len(k) + len(v)
	}
	if size > 16*1024 {
		return nil, status.Error(codes.InvalidArgument, "Annotations exceed 16 KiB.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetParent() + "/secrets/" + req.GetSecretId()
	if s.secrets[req.GetSecretId()] != nil {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", name)
	}
	pb := &secretmanagerpb.Secret{
		Name: name, Replication: req.GetSecret().GetReplication(), CreateTime: timestamppb.Now(),
		Labels: req.GetSecret().GetLabels(), Annotations: req.GetSecret().GetAnnotations(), Etag: etag(),
	}
	s.secrets[req.GetSecretId()] = &secret{pb: pb}
	return pb, nil
}

// AddSecretVersion implements SecretManagerServiceServer.
func (s *Server) AddSecretVersion(_ context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	data := req.GetPayload().GetData()
	if len(data) > MaxPayload {
		return nil, status.Errorf(codes.InvalidArgument, "Secret payload must be at most %d bytes.", MaxPayload)
	}
	crc := int64(crc32.Checksum(data, crcTable))
	if c := req.GetPayload().DataCrc32C; c != nil && *c != crc {
		return nil, status.Error(codes.InvalidArgument, "Checksum mismatch: the data_crc32c in the request does not match the payload.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(req.GetParent())
	if err != nil {
		return nil, err
	}
	n := len(sec.versions) + 1
	pb := &secretmanagerpb.SecretVersion{
		Name: fmt.Sprintf("%s/versions/%d", sec.pb.GetName(), n), CreateTime: timestamppb.Now(),
		State: secretmanagerpb.SecretVersion_ENABLED, Etag: etag(),
		ClientSpecifiedPayloadChecksum: req.GetPayload().DataCrc32C != nil,
	}
	sec.versions = append(sec.versions, &version{pb: pb, data: append([]byte(nil), data...), crc: crc})
	return pb, nil
}

// AccessSecretVersion implements SecretManagerServiceServer; "latest" is the newest enabled
// version.
func (s *Server) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	parent, ver, ok := strings.Cut(req.GetName(), "/versions/")
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %s", req.GetName())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(parent)
	if err != nil {
		return nil, err
	}
	var v *version
	if ver == "latest" {
		for i := len(sec.versions) - 1; i >= 0 && v == nil; i-- {
			if sec.versions[i].pb.GetState() == secretmanagerpb.SecretVersion_ENABLED {
				v = sec.versions[i]
			}
		}
		if v == nil {
			return nil, secretNotFound(parent)
		}
	} else {
		n, err := strconv.Atoi(ver)
		if err != nil || n < 1 {
			return nil, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %s", req.GetName())
		}
		if n > len(sec.versions) {
			return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", req.GetName())
		}
		v = sec.versions[n-1]
	}
	if v.pb.GetState() != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", v.pb.GetName(), v.pb.GetState())
	}
	crc := v.crc
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    v.pb.GetName(),
		Payload: &secretmanagerpb.SecretPayload{Data: append([]byte(nil), v.data...), DataCrc32C: &crc},
	}, nil
}

// ListSecretVersions implements SecretManagerServiceServer, newest first like the service.
func (s *Server) ListSecretVersions(_ context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(req.GetParent())
	if err != nil {
		return nil, err
	}
	all := make([]*secretmanagerpb.SecretVersion, 0, len(sec.versions))
	for i := len(sec.versions) - 1; i >= 0; i-- {
		all = append(all, sec.versions[i].pb)
	}
	start, end, next, err := s.page(len(all), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &secretmanagerpb.ListSecretVersionsResponse{Versions: all[start:end], NextPageToken: next, TotalSize: int32(len(all))}, nil //nolint:gosec // small test sizes
}

// GetSecret implements SecretManagerServiceServer.
func (s *Server) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	return sec.pb, nil
}

// DeleteSecret implements SecretManagerServiceServer.
func (s *Server) DeleteSecret(_ context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.lookup(req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetEtag() != "" && req.GetEtag() != sec.pb.GetEtag() {
		return nil, status.Error(codes.Aborted, "The etag does not match the secret's etag.")
	}
	id, _ := s.secretID(req.GetName())
	delete(s.secrets, id)
	return &emptypb.Empty{}, nil
}

// ListSecrets implements SecretManagerServiceServer.
func (s *Server) ListSecrets(_ context.Context, req *secretmanagerpb.ListSecretsRequest) (*secretmanagerpb.ListSecretsResponse, error) {
	if err := s.project(req.GetParent()); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.secrets))
	for id := range s.secrets {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	start, end, next, err := s.page(len(ids), req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &secretmanagerpb.ListSecretsResponse{NextPageToken: next, TotalSize: int32(len(ids))} //nolint:gosec // small test sizes
	for _, id := range ids[start:end] {
		out.Secrets = append(out.Secrets, s.secrets[id].pb)
	}
	return out, nil
}

func (s *Server) page(n int, pageSize int32, token string) (start, end int, next string, err error) {
	if pageSize < 0 || pageSize > 25000 {
		return 0, 0, "", status.Error(codes.InvalidArgument, "page_size must be between 0 and 25000.")
	}
	size := int(pageSize)
	if size == 0 {
		size = s.pageSize
	}
	if token != "" {
		raw, derr := base64.RawURLEncoding.DecodeString(token)
		if derr == nil {
			start, derr = strconv.Atoi(string(raw))
		}
		if derr != nil || start < 0 || start > n {
			return 0, 0, "", status.Error(codes.InvalidArgument, "Invalid page_token.")
		}
	}
	end = min(start+size, n)
	if end < n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return start, end, next, nil
}

func etag() string { return strconv.Quote(strconv.FormatInt(time.Now().UnixNano(), 36)) }
