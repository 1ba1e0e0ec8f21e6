package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authz"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/serviceaccount"
	"gatehouse/shared/api"
)

// Secrets is the secrets manager behind /api/v1/secrets (internal/secrets.Service).
type Secrets interface {
	Create(ctx context.Context, a secrets.Actor, req secrets.CreateRequest) (secrets.Secret, error)
	Get(ctx context.Context, a secrets.Actor, name string) (secrets.Secret, error)
	List(ctx context.Context, a secrets.Actor, q secrets.ListQuery) ([]secrets.Secret, int, secrets.ListQuery, error)
	Value(ctx context.Context, a secrets.Actor, name string, version int) (secrets.Revealed, error)
	Update(ctx context.Context, a secrets.Actor, name string, req secrets.UpdateRequest) (secrets.Secret, error)
	Delete(ctx context.Context, a secrets.Actor, name string) (secrets.Secret, error)
	Restore(ctx context.Context, a secrets.Actor, name string) (secrets.Secret, error)
	Versions(ctx context.Context, a secrets.Actor, name string) ([]secrets.Version, error)
	Rollback(ctx context.Context, a secrets.Actor, name string, version int) (secrets.Version, error)
	Rotate(ctx context.Context, a secrets.Actor, name string) (secrets.Version, error)
	SetRotation(ctx context.Context, a secrets.Actor, name string, p *secrets.RotationPolicy) (secrets.Secret, error)
	SecretAudit(ctx context.Context, a secrets.Actor, name string, page, perPage int) ([]secrets.AuditRecord, int, secrets.AuditFilter, error)
	AuditTrail(ctx context.Context, a secrets.Actor, f secrets.AuditFilter) ([]secrets.AuditRecord, int, secrets.AuditFilter, error)
	Backends(ctx context.Context, timeout time.Duration) []secrets.BackendStatus
	CreatePolicy(ctx context.Context, a secrets.Actor, np secrets.NewPolicy) (secrets.Policy, error)
	Policies(ctx context.Context, a secrets.Actor, subjectType, subject string) ([]secrets.Policy, error)
	DeletePolicy(ctx context.Context, a secrets.Actor, id string) error
}

// ServiceAccounts authenticates and administers service accounts (internal/serviceaccount).
type ServiceAccounts interface {
	Authenticate(ctx context.Context, token string) (serviceaccount.Account, error)
	Create(ctx context.Context, name, description, createdBy string) (serviceaccount.Account, error)
	List(ctx context.Context) ([]serviceaccount.Account, error)
	Get(ctx context.Context, id string) (serviceaccount.Account, error)
	Delete(ctx context.Context, id string) error
	CreateToken(ctx context.Context, accountID, name string, ttl time.Duration) (serviceaccount.Token, string, error)
	ListTokens(ctx context.Context, accountID string) ([]serviceaccount.Token, error)
	RevokeToken(ctx context.Context, accountID, tokenID string) error
}

// SecurityEvents records security events (internal/events.Recorder).
type SecurityEvents interface {
	Record(ctx context.Context, e events.Event) error
}

// maxEventText bounds request input copied into an event's details.
const maxEventText = 256

// recordAdminEvent records one secrets administration event (policies, service accounts and
// their tokens) for the calling admin, with the action's outcome: success, denied (SEC-42) or
// failure with the API code as the reason. Details carry IDs and names, never a token.
// The returned error is the recorder's: a change whose trail cannot be written is answered
// as an error, not as a silent success.
func (s *Server) recordAdminEvent(c *gin.Context, typ string, actionErr error, details map[string]any) error {
	if s.events == nil {
		return nil
	}
	outcome := api.OutcomeSuccess
	if actionErr != nil {
		outcome = api.OutcomeFailure
		code := resolveError(c.Request.Context(), actionErr).Code
		if code == api.CodeForbidden {
			outcome = api.OutcomeDenied
		}
		details["reason"] = string(code)
	}
	m := meta(c)
	return s.events.Record(c.Request.Context(), events.Event{Type: typ, Outcome: outcome, ActorID: principal(c).UserID,
		IP: m.IP, UserAgent: m.UserAgent, Details: details})
}

// afterAdminEvent records the event and answers err (the action's, or else the recorder's)
// if there is one; it reports whether the handler may answer the success.
func (s *Server) afterAdminEvent(c *gin.Context, typ string, err error, details map[string]any) bool {
	if rerr := s.recordAdminEvent(c, typ, err, details); err == nil {
		err = rerr
	}
	if err != nil {
		WriteError(c, err)
		return false
	}
	return true
}

// backendHealthTimeout bounds each backend's health check in GET /admin/secret-backends.
const backendHealthTimeout = 5 * time.Second

// serviceAccountsAllowedKey marks a route group that accepts service-account principals.
const serviceAccountsAllowedKey = "gatehouse.service_accounts_allowed"

// allowServiceAccounts runs before authenticate on the routes service accounts may call.
func allowServiceAccounts(c *gin.Context) {
	c.Set(serviceAccountsAllowedKey, true)
	c.Next()
}

// authenticateServiceAccount turns a "gsa_" token into a principal.
func (s *Server) authenticateServiceAccount(ctx context.Context, token string) (auth.Principal, error) {
	acc, err := s.serviceAccounts.Authenticate(ctx, token)
	if err != nil {
		return auth.Principal{}, err
	}
	return auth.Principal{ServiceAccountID: acc.ID, Method: auth.MethodBearer}, nil
}

// secretRoute is one operation on a named secret. Names may contain '/', so the routes are
// served by one catch-all per method (/secrets/*path) that splits off the sub-resource
// (secrets.SplitSubresource); secret names cannot end in a sub-resource word, so the split is
// unambiguous. Routes lists these as if registered one by one, for the OpenAPI document.
type secretRoute struct {
	method string
	sub    string // "" for the secret itself
	handle func(s *Server, c *gin.Context, name string)
}

var secretRoutes = []secretRoute{
	{http.MethodGet, "", (*Server).getSecret},
	{http.MethodPut, "", (*Server).updateSecret},
	{http.MethodDelete, "", (*Server).deleteSecret},
	{http.MethodGet, "value", (*Server).secretValue},
	{http.MethodGet, "versions", (*Server).secretVersions},
	{http.MethodPost, "rollback", (*Server).rollbackSecret},
	{http.MethodPost, "restore", (*Server).restoreSecret},
	{http.MethodPost, "rotate", (*Server).rotateSecret},
	{http.MethodPut, "rotation", (*Server).setRotation},
	{http.MethodGet, "audit", (*Server).secretAudit},
}

const secretsCatchAll = APIPrefix + "/secrets/*path"

// routeSecrets registers the secrets API and its administration.
func (s *Server) routeSecrets(sec Secrets, sa ServiceAccounts, ev SecurityEvents) {
	s.secrets, s.serviceAccounts, s.events = sec, sa, ev

	// Administrators act on secrets at aal2 like on every admin route (SEC-25); the gate lets
	// other users and service accounts through to the service's own checks (SEC-42).
	g := s.api.Group("/secrets", allowServiceAccounts, s.authenticate)
	ad := s.api.Group("/admin", s.authenticate)
	if s.mfa != nil {
		g.Use(s.adminGate)
		ad.Use(s.adminGate)
	}
	ad.Use(require(authz.SecretsAdmin))
	g.GET("", s.listSecrets)
	g.POST("", s.createSecret)
	methods := map[string]bool{}
	for _, r := range secretRoutes {
		if !methods[r.method] {
			methods[r.method] = true
			g.Handle(r.method, "/*path", s.dispatchSecret)
		}
	}

	ad.GET("/secret-backends", s.secretBackends)
	ad.GET("/secrets/audit", s.secretsAuditTrail)
	ad.GET("/secret-policies", s.listPolicies)
	ad.POST("/secret-policies", s.createPolicy)
	ad.DELETE("/secret-policies/:id", s.deletePolicy)
	if sa != nil {
		ad.GET("/service-accounts", s.listServiceAccounts)
		ad.POST("/service-accounts", s.createServiceAccount)
		ad.GET("/service-accounts/:id", s.getServiceAccount)
		ad.DELETE("/service-accounts/:id", s.deleteServiceAccount)
		ad.GET("/service-accounts/:id/tokens", s.listServiceAccountTokens)
		ad.POST("/service-accounts/:id/tokens", s.createServiceAccountToken)
		ad.DELETE("/service-accounts/:id/tokens/:tid", s.revokeServiceAccountToken)
	}
}

// expandSecretRoute lists what the catch-all route for method serves, in the syntax of the
// other routes (/api/v1/secrets/:name/value), for Routes.
func expandSecretRoute(method string) []RouteInfo {
	var out []RouteInfo
	for _, r := range secretRoutes {
		if r.method != method {
			continue
		}
		p := APIPrefix + "/secrets/:name"
		if r.sub != "" {
			p += "/" + r.sub
		}
		out = append(out, RouteInfo{Method: method, Path: p})
	}
	return out
}

func (s *Server) dispatchSecret(c *gin.Context) {
	name, sub := secrets.SplitSubresource(strings.TrimPrefix(c.Param("path"), "/"))
	known := false
	for _, r := range secretRoutes {
		if r.sub != sub {
			continue
		}
		known = true
		if r.method == c.Request.Method {
			r.handle(s, c, name)
			return
		}
	}
	if known {
		writeAPIError(c, api.NewError(api.CodeMethodNotAllowed, "method not allowed"))
		return
	}
	writeAPIError(c, api.NewError(api.CodeNotFound, "route not found"))
}

// actor is the caller as the secrets service sees it.
func actor(c *gin.Context) secrets.Actor {
	p := principal(c)
	a := secrets.Actor{RequestID: RequestID(c), IP: c.ClientIP()}
	if p.ServiceAccountID != "" {
		a.Type, a.ID = secrets.ActorServiceAccount, p.ServiceAccountID
	} else {
		a.Type, a.ID, a.Roles = secrets.ActorUser, p.UserID, p.Roles
	}
	return a
}

func secretAPI(sec secrets.Secret, now time.Time) api.Secret {
	out := api.Secret{
		Name: sec.Name, Backend: sec.Backend, Description: sec.Description, Owner: sec.Owner, Labels: sec.Labels,
		CurrentVersion: sec.CurrentVersion, NextRotationAt: sec.NextRotationAt, LastRotatedAt: sec.LastRotatedAt,
		RotationDue: secrets.RotationDue(sec, now), CreatedBy: sec.CreatedBy, CreatedAt: sec.CreatedAt, UpdatedAt: sec.UpdatedAt,
		DeletedAt: sec.DeletedAt, PurgeAfter: sec.PurgeAfter,
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if sec.Rotation != nil {
		r := rotationAPI(*sec.Rotation)
		out.Rotation = &r
	}
	return out
}

func rotationAPI(p secrets.RotationPolicy) api.RotationPolicy {
	g := p.Generator
	return api.RotationPolicy{
		IntervalSeconds: int64(p.Interval / time.Second), WindowSeconds: int64(p.Window / time.Second), HookURL: p.HookURL,
		Generator: api.GeneratorSpec{Type: g.Type, Length: g.Length, Bytes: g.Bytes, ExcludeLowercase: g.ExcludeLowercase,
			ExcludeUppercase: g.ExcludeUppercase, ExcludeDigits: g.ExcludeDigits, ExcludeSymbols: g.ExcludeSymbols,
			ExcludeChars: g.ExcludeChars, RequireEach: g.RequireEach, Prefix: g.Prefix},
	}
}

func generatorOf(g api.GeneratorSpec) secrets.Generator {
	return secrets.Generator{Type: g.Type, Length: g.Length, Bytes: g.Bytes, ExcludeLowercase: g.ExcludeLowercase,
		ExcludeUppercase: g.ExcludeUppercase, ExcludeDigits: g.ExcludeDigits, ExcludeSymbols: g.ExcludeSymbols,
		ExcludeChars: g.ExcludeChars, RequireEach: g.RequireEach, Prefix: g.Prefix}
}

// maxPolicySeconds keeps durations far from time.Duration's overflow (about 292 years).
const maxPolicySeconds = 100 * 365 * 24 * 3600

func rotationOf(p *api.RotationPolicy) (*secrets.RotationPolicy, error) {
	if p == nil {
		return nil, nil
	}
	if p.IntervalSeconds < 0 || p.IntervalSeconds > maxPolicySeconds || p.WindowSeconds < 0 || p.WindowSeconds > maxPolicySeconds {
		return nil, &api.Error{Code: api.CodeInvalidRequest, Message: "interval_seconds and window_seconds must be between 0 and 100 years", Details: map[string]any{"field": "rotation"}}
	}
	return &secrets.RotationPolicy{Interval: time.Duration(p.IntervalSeconds) * time.Second, Window: time.Duration(p.WindowSeconds) * time.Second,
		HookURL: p.HookURL, Generator: generatorOf(p.Generator)}, nil
}

// decodeValue turns a wire value into bytes.
func decodeValue(v *string, encoding string) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	switch encoding {
	case "", api.EncodingUTF8:
		return []byte(*v), nil
	case api.EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(*v)
		if err != nil {
			return nil, &api.Error{Code: api.CodeInvalidRequest, Message: "value is not valid base64", Details: map[string]any{"field": "value"}}
		}
		return b, nil
	default:
		return nil, &api.Error{Code: api.CodeInvalidRequest, Message: "encoding must be utf-8 or base64", Details: map[string]any{"field": "encoding"}}
	}
}

func (s *Server) listSecrets(c *gin.Context) {
	page, err := queryInt(c, "page")
	if err != nil {
		WriteError(c, err)
		return
	}
	per, err := queryInt(c, "per_page")
	if err != nil {
		WriteError(c, err)
		return
	}
	q := secrets.ListQuery{Prefix: c.Query("prefix"), Label: c.Query("label"), Deleted: c.Query("deleted") == "true", Page: page, PerPage: per}
	list, total, q, err := s.secrets.List(c.Request.Context(), actor(c), q)
	if err != nil {
		WriteError(c, err)
		return
	}
	now := time.Now()
	out := make([]api.Secret, len(list))
	for i, sec := range list {
		out[i] = secretAPI(sec, now)
	}
	c.JSON(http.StatusOK, api.SecretList{Secrets: out, Page: q.Page, PerPage: q.PerPage, Total: total})
}

func (s *Server) createSecret(c *gin.Context) {
	var req api.CreateSecretRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	value, err := decodeValue(req.Value, req.Encoding)
	if err != nil {
		WriteError(c, err)
		return
	}
	rot, err := rotationOf(req.Rotation)
	if err != nil {
		WriteError(c, err)
		return
	}
	cr := secrets.CreateRequest{Name: req.Name, Backend: req.Backend, Value: value, Description: req.Description,
		Owner: req.Owner, Labels: req.Labels, Rotation: rot}
	if req.Generate != nil {
		g := generatorOf(*req.Generate)
		cr.Generate = &g
	}
	sec, err := s.secrets.Create(c.Request.Context(), actor(c), cr)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusCreated, secretAPI(sec, time.Now()))
}

func (s *Server) getSecret(c *gin.Context, name string) {
	sec, err := s.secrets.Get(c.Request.Context(), actor(c), name)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, secretAPI(sec, time.Now()))
}

func (s *Server) updateSecret(c *gin.Context, name string) {
	var req api.UpdateSecretRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	value, err := decodeValue(req.Value, req.Encoding)
	if err != nil {
		WriteError(c, err)
		return
	}
	sec, err := s.secrets.Update(c.Request.Context(), actor(c), name, secrets.UpdateRequest{Value: value, Description: req.Description, Owner: req.Owner, Labels: req.Labels})
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, secretAPI(sec, time.Now()))
}

func (s *Server) deleteSecret(c *gin.Context, name string) {
	sec, err := s.secrets.Delete(c.Request.Context(), actor(c), name)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, secretAPI(sec, time.Now()))
}

func (s *Server) restoreSecret(c *gin.Context, name string) {
	sec, err := s.secrets.Restore(c.Request.Context(), actor(c), name)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, secretAPI(sec, time.Now()))
}

func (s *Server) secretValue(c *gin.Context, name string) {
	version, err := queryInt(c, "version")
	if err != nil {
		WriteError(c, err)
		return
	}
	r, err := s.secrets.Value(c.Request.Context(), actor(c), name, version)
	if err != nil {
		WriteError(c, err)
		return
	}
	out := api.SecretValue{Name: name, Version: r.Version.Version, Stage: r.Version.Stage, CreatedAt: r.Version.CreatedAt, Encoding: api.EncodingUTF8}
	if utf8.Valid(r.Value) {
		out.Value = string(r.Value)
	} else {
		out.Encoding, out.Value = api.EncodingBase64, base64.StdEncoding.EncodeToString(r.Value)
	}
	// A value must never sit in a shared or browser cache.
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, out)
}

func versionAPI(v secrets.Version) api.SecretVersion {
	return api.SecretVersion{Version: v.Version, Stage: v.Stage, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt}
}

func (s *Server) secretVersions(c *gin.Context, name string) {
	vs, err := s.secrets.Versions(c.Request.Context(), actor(c), name)
	if err != nil {
		WriteError(c, err)
		return
	}
	out := make([]api.SecretVersion, len(vs))
	for i, v := range vs {
		out[i] = versionAPI(v)
	}
	c.JSON(http.StatusOK, api.SecretVersionList{Versions: out})
}

func (s *Server) rollbackSecret(c *gin.Context, name string) {
	var req api.RollbackRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	v, err := s.secrets.Rollback(c.Request.Context(), actor(c), name, req.Version)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, versionAPI(v))
}

func (s *Server) rotateSecret(c *gin.Context, name string) {
	v, err := s.secrets.Rotate(c.Request.Context(), actor(c), name)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, versionAPI(v))
}

func (s *Server) setRotation(c *gin.Context, name string) {
	var req api.SetRotationRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	p, err := rotationOf(req.Rotation)
	if err != nil {
		WriteError(c, err)
		return
	}
	sec, err := s.secrets.SetRotation(c.Request.Context(), actor(c), name, p)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, secretAPI(sec, time.Now()))
}

func auditAPI(recs []secrets.AuditRecord, total int, f secrets.AuditFilter) api.SecretAuditList {
	out := make([]api.SecretAuditRecord, len(recs))
	for i, r := range recs {
		out[i] = api.SecretAuditRecord{ID: r.ID, Time: r.CreatedAt, ActorType: r.ActorType, ActorID: r.ActorID, Action: r.Action,
			Secret: r.SecretName, Version: r.Version, Backend: r.Backend, Outcome: r.Outcome, Reason: r.Reason, RequestID: r.RequestID, IP: r.IP}
	}
	return api.SecretAuditList{Records: out, Page: f.Page, PerPage: f.PerPage, Total: total}
}

func (s *Server) secretAudit(c *gin.Context, name string) {
	page, err := queryInt(c, "page")
	if err != nil {
		WriteError(c, err)
		return
	}
	per, err := queryInt(c, "per_page")
	if err != nil {
		WriteError(c, err)
		return
	}
	recs, total, f, err := s.secrets.SecretAudit(c.Request.Context(), actor(c), name, page, per)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, auditAPI(recs, total, f))
}

func (s *Server) secretsAuditTrail(c *gin.Context) {
	f := secrets.AuditFilter{ActorID: c.Query("actor"), SecretName: c.Query("secret")}
	var err error
	if f.Page, err = queryInt(c, "page"); err == nil {
		if f.PerPage, err = queryInt(c, "per_page"); err == nil {
			f.Since, err = queryTime(c, "since")
		}
	}
	if err != nil {
		WriteError(c, err)
		return
	}
	recs, total, f, err := s.secrets.AuditTrail(c.Request.Context(), actor(c), f)
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, auditAPI(recs, total, f))
}

func (s *Server) secretBackends(c *gin.Context) {
	sts := s.secrets.Backends(c.Request.Context(), backendHealthTimeout)
	out := make([]api.SecretBackend, len(sts))
	for i, st := range sts {
		out[i] = api.SecretBackend{Kind: st.Kind, Default: st.Default, Writable: st.Writable, Healthy: st.Healthy, Error: st.Error}
	}
	c.JSON(http.StatusOK, api.SecretBackendList{Backends: out})
}

func policyAPI(p secrets.Policy) api.SecretPolicy {
	acts := make([]string, len(p.Actions))
	for i, a := range p.Actions {
		acts[i] = string(a)
	}
	return api.SecretPolicy{ID: p.ID, SubjectType: p.SubjectType, Subject: p.Subject, Pattern: p.Pattern, Actions: acts, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt}
}

func (s *Server) listPolicies(c *gin.Context) {
	ps, err := s.secrets.Policies(c.Request.Context(), actor(c), c.Query("subject_type"), c.Query("subject"))
	if err != nil {
		WriteError(c, err)
		return
	}
	out := make([]api.SecretPolicy, len(ps))
	for i, p := range ps {
		out[i] = policyAPI(p)
	}
	c.JSON(http.StatusOK, api.SecretPolicyList{Policies: out})
}

func (s *Server) createPolicy(c *gin.Context) {
	var req api.CreateSecretPolicyRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	np := secrets.NewPolicy{SubjectType: req.SubjectType, Subject: req.Subject, Pattern: req.Pattern}
	for _, a := range req.Actions {
		np.Actions = append(np.Actions, secrets.Action(a))
	}
	p, err := s.secrets.CreatePolicy(c.Request.Context(), actor(c), np)
	details := map[string]any{"subject_type": truncate(req.SubjectType, maxEventText), "subject": truncate(req.Subject, maxEventText),
		"pattern": truncate(req.Pattern, maxEventText)}
	if err == nil {
		details["policy_id"], details["actions"] = p.ID, policyAPI(p).Actions
	}
	if !s.afterAdminEvent(c, api.EventSecretPolicyCreated, err, details) {
		return
	}
	c.JSON(http.StatusCreated, policyAPI(p))
}

func (s *Server) deletePolicy(c *gin.Context) {
	err := s.secrets.DeletePolicy(c.Request.Context(), actor(c), c.Param("id"))
	if !s.afterAdminEvent(c, api.EventSecretPolicyDeleted, err, map[string]any{"policy_id": truncate(c.Param("id"), maxEventText)}) {
		return
	}
	c.Status(http.StatusNoContent)
}

func serviceAccountAPI(a serviceaccount.Account) api.ServiceAccount {
	return api.ServiceAccount{ID: a.ID, Name: a.Name, Description: a.Description, CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt}
}

func tokenAPI(t serviceaccount.Token) api.ServiceAccountToken {
	return api.ServiceAccountToken{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, RevokedAt: t.RevokedAt, LastUsedAt: t.LastUsedAt}
}

func (s *Server) listServiceAccounts(c *gin.Context) {
	list, err := s.serviceAccounts.List(c.Request.Context())
	if err != nil {
		WriteError(c, err)
		return
	}
	out := make([]api.ServiceAccount, len(list))
	for i, a := range list {
		out[i] = serviceAccountAPI(a)
	}
	c.JSON(http.StatusOK, api.ServiceAccountList{ServiceAccounts: out})
}

func (s *Server) createServiceAccount(c *gin.Context) {
	var req api.CreateServiceAccountRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	a, err := s.serviceAccounts.Create(c.Request.Context(), req.Name, req.Description, actor(c).Ref())
	details := map[string]any{"name": truncate(req.Name, maxEventText)}
	if err == nil {
		details["service_account_id"] = a.ID
	}
	if !s.afterAdminEvent(c, api.EventServiceAccountCreated, err, details) {
		return
	}
	c.JSON(http.StatusCreated, serviceAccountAPI(a))
}

func (s *Server) getServiceAccount(c *gin.Context) {
	a, err := s.serviceAccounts.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	c.JSON(http.StatusOK, serviceAccountAPI(a))
}

func (s *Server) deleteServiceAccount(c *gin.Context) {
	err := s.serviceAccounts.Delete(c.Request.Context(), c.Param("id"))
	if !s.afterAdminEvent(c, api.EventServiceAccountDeleted, err, map[string]any{"service_account_id": truncate(c.Param("id"), maxEventText)}) {
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) listServiceAccountTokens(c *gin.Context) {
	list, err := s.serviceAccounts.ListTokens(c.Request.Context(), c.Param("id"))
	if err != nil {
		WriteError(c, err)
		return
	}
	out := make([]api.ServiceAccountToken, len(list))
	for i, t := range list {
		out[i] = tokenAPI(t)
	}
	c.JSON(http.StatusOK, api.ServiceAccountTokenList{Tokens: out})
}

func (s *Server) createServiceAccountToken(c *gin.Context) {
	var req api.CreateServiceAccountTokenRequest
	if err := DecodeJSON(c, &req); err != nil {
		WriteError(c, err)
		return
	}
	if req.ExpiresInSeconds < 0 || req.ExpiresInSeconds > maxPolicySeconds {
		WriteError(c, &api.Error{Code: api.CodeInvalidRequest, Message: "expires_in_seconds must be between 0 (never) and 100 years", Details: map[string]any{"field": "expires_in_seconds"}})
		return
	}
	t, plain, err := s.serviceAccounts.CreateToken(c.Request.Context(), c.Param("id"), req.Name, time.Duration(req.ExpiresInSeconds)*time.Second)
	// Never the token itself: its ID and name identify it ("token" keys would be stripped anyway).
	details := map[string]any{"service_account_id": truncate(c.Param("id"), maxEventText), "credential_name": truncate(req.Name, maxEventText)}
	if err == nil {
		details["credential_id"] = t.ID
		if t.ExpiresAt != nil {
			details["expires_at"] = t.ExpiresAt.UTC().Format(time.RFC3339)
		}
	}
	if !s.afterAdminEvent(c, api.EventServiceAccountTokenIssued, err, details) {
		return
	}
	// Shown once: never cached anywhere.
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, api.CreatedServiceAccountToken{ServiceAccountToken: tokenAPI(t), Token: plain})
}

func (s *Server) revokeServiceAccountToken(c *gin.Context) {
	err := s.serviceAccounts.RevokeToken(c.Request.Context(), c.Param("id"), c.Param("tid"))
	if !s.afterAdminEvent(c, api.EventServiceAccountTokenRevoked, err, map[string]any{
		"service_account_id": truncate(c.Param("id"), maxEventText), "credential_id": truncate(c.Param("tid"), maxEventText)}) {
		return
	}
	c.Status(http.StatusNoContent)
}

// routesWithSecrets replaces the secrets catch-all routes by the routes they serve.
func routesWithSecrets(in []RouteInfo) []RouteInfo {
	out := make([]RouteInfo, 0, len(in))
	for _, r := range in {
		if r.Path == secretsCatchAll {
			out = append(out, expandSecretRoute(r.Method)...)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}
