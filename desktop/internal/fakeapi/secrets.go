package fakeapi

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// fakeSecret is a secret with every version's value (index i is version i+1).
type fakeSecret struct {
	meta     api.Secret
	values   []string
	versions []api.SecretVersion
}

// AddSecret stores a secret with one version per value (the last is current).
func (f *API) AddSecret(meta api.Secret, values ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if meta.Backend == "" {
		meta.Backend = "db"
	}
	if meta.CreatedAt.IsZero() {
		meta.CreatedAt = f.Now().Add(-72 * time.Hour)
	}
	if meta.UpdatedAt.IsZero() {
		meta.UpdatedAt = meta.CreatedAt
	}
	if meta.CreatedBy == "" {
		meta.CreatedBy = "user:u001"
	}
	s := &fakeSecret{meta: meta}
	for _, v := range values {
		s.addVersionLocked(v, meta.CreatedBy, meta.UpdatedAt)
	}
	f.secrets[meta.Name] = s
}

// SecretValueOf returns a secret's current value (tests check what the console wrote).
func (f *API) SecretValueOf(name string) (string, int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.secrets[name]
	if !ok || len(s.values) == 0 {
		return "", 0, false
	}
	return s.values[len(s.values)-1], len(s.values), true
}

// SecretAuditTrail returns every audit record, oldest first.
func (f *API) SecretAuditTrail() []api.SecretAuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.SecretAuditRecord(nil), f.secretAudit...)
}

func (s *fakeSecret) addVersionLocked(value, by string, at time.Time) api.SecretVersion {
	for i := range s.versions {
		switch s.versions[i].Stage {
		case api.StageCurrent:
			s.versions[i].Stage = api.StagePrevious
		case api.StagePrevious:
			s.versions[i].Stage = ""
		}
	}
	s.values = append(s.values, value)
	v := api.SecretVersion{Version: len(s.values), Stage: api.StageCurrent, CreatedBy: by, CreatedAt: at}
	s.versions = append(s.versions, v)
	s.meta.CurrentVersion, s.meta.UpdatedAt = v.Version, at
	return v
}

func (f *API) auditLocked(action, name string, version int) {
	f.secretAudit = append(f.secretAudit, api.SecretAuditRecord{
		ID: int64(len(f.secretAudit) + 1), Time: f.Now(), ActorType: "user", ActorID: f.me.ID,
		Action: action, Secret: name, Version: version, Backend: "db", Outcome: "success", RequestID: "req-fake", IP: "127.0.0.1",
	})
}

func (f *API) secretLocked(name string) (*fakeSecret, error) {
	s, ok := f.secrets[name]
	if !ok || s.meta.DeletedAt != nil {
		return nil, apiErr(api.CodeNotFound, "no such secret")
	}
	return s, nil
}

// RecoveryWindow is how long a deleted secret stays restorable.
const RecoveryWindow = 30 * 24 * time.Hour

// DeleteSecret implements state.SecretsAPI: a soft delete, restorable for RecoveryWindow.
func (f *API) DeleteSecret(_ context.Context, name string) (*api.Secret, error) {
	if err := f.begin("DeleteSecret", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	now := f.Now()
	purge := now.Add(RecoveryWindow)
	s.meta.DeletedAt, s.meta.PurgeAfter = &now, &purge
	f.auditLocked("delete", name, 0)
	m := s.meta
	return &m, nil
}

// RestoreSecret implements state.SecretsAPI.
func (f *API) RestoreSecret(_ context.Context, name string) (*api.Secret, error) {
	if err := f.begin("RestoreSecret", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, ok := f.secrets[name]
	if !ok {
		return nil, apiErr(api.CodeNotFound, "no such secret")
	}
	if s.meta.DeletedAt == nil {
		return nil, apiErr(api.CodeConflict, "the secret is not deleted")
	}
	s.meta.DeletedAt, s.meta.PurgeAfter, s.meta.UpdatedAt = nil, nil, f.Now()
	f.auditLocked("restore", name, 0)
	m := s.meta
	return &m, nil
}

// SecretsAuditTrail implements state.SecretsAPI: the whole trail, newest first.
func (f *API) SecretsAuditTrail(_ context.Context, q api.SecretAuditQuery) (*api.SecretAuditList, error) {
	since := ""
	if !q.Since.IsZero() {
		since = q.Since.UTC().Format(time.RFC3339)
	}
	if err := f.begin("SecretsAuditTrail", since, q.Actor, q.Secret, fmt.Sprint(q.Page)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	var match []api.SecretAuditRecord
	for i := len(f.secretAudit) - 1; i >= 0; i-- {
		r := f.secretAudit[i]
		if (q.Secret != "" && r.Secret != q.Secret) || (q.Actor != "" && r.ActorID != q.Actor) || (!q.Since.IsZero() && r.Time.Before(q.Since)) {
			continue
		}
		match = append(match, r)
	}
	page, per := max(q.Page, 1), q.PerPage
	if per <= 0 {
		per = 50
	}
	lo, hi := min((page-1)*per, len(match)), min(page*per, len(match))
	return &api.SecretAuditList{Records: match[lo:hi], Page: page, PerPage: per, Total: len(match)}, nil
}

// AddSecretAudit appends an audit record (Time, ID and defaults filled in when zero).
func (f *API) AddSecretAudit(r api.SecretAuditRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.ID == 0 {
		r.ID = int64(len(f.secretAudit) + 1)
	}
	if r.Time.IsZero() {
		r.Time = f.Now()
	}
	if r.Outcome == "" {
		r.Outcome = "success"
	}
	f.secretAudit = append(f.secretAudit, r)
}

// generate makes a value as the server's generator would (shape only: tests check length).
func (f *API) generateLocked(g api.GeneratorSpec) string {
	n := g.Length
	if g.Bytes > 0 {
		n = g.Bytes * 2
	}
	f.nextID++
	seed := fmt.Sprintf("gen%d-", f.nextID)
	return g.Prefix + (strings.Repeat(seed, n/len(seed)+1))[:n]
}

// ListSecrets implements state.SecretsAPI: names in order, metadata only.
func (f *API) ListSecrets(_ context.Context, q api.SecretQuery) (*api.SecretList, error) {
	args := []string{q.Prefix, q.Label, fmt.Sprint(q.Page)}
	if q.Deleted {
		args = append(args, "deleted")
	}
	if err := f.begin("ListSecrets", args...); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	var match []api.Secret
	for _, s := range f.secrets {
		if !strings.HasPrefix(s.meta.Name, q.Prefix) || (s.meta.DeletedAt != nil) != q.Deleted {
			continue
		}
		if q.Label != "" {
			k, v, _ := strings.Cut(q.Label, "=")
			if s.meta.Labels[k] != v {
				continue
			}
		}
		match = append(match, s.meta)
	}
	sort.Slice(match, func(i, j int) bool { return match[i].Name < match[j].Name })
	page, per := max(q.Page, 1), q.PerPage
	if per <= 0 {
		per = 25
	}
	lo, hi := min((page-1)*per, len(match)), min(page*per, len(match))
	return &api.SecretList{Secrets: match[lo:hi], Page: page, PerPage: per, Total: len(match)}, nil
}

// GetSecret implements state.SecretsAPI.
func (f *API) GetSecret(_ context.Context, name string) (*api.Secret, error) {
	if err := f.begin("GetSecret", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	m := s.meta
	return &m, nil
}

// CreateSecret implements state.SecretsAPI.
func (f *API) CreateSecret(_ context.Context, req api.CreateSecretRequest) (*api.Secret, error) {
	how := "value"
	if req.Generate != nil {
		how = "generate=" + req.Generate.Type
	}
	if err := f.begin("CreateSecret", req.Name, how); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	if _, ok := f.secrets[req.Name]; ok {
		return nil, apiErr(api.CodeConflict, "a secret with this name exists")
	}
	value := ""
	switch {
	case req.Generate != nil:
		value = f.generateLocked(*req.Generate)
	case req.Value != nil:
		value = *req.Value
	default:
		return nil, apiErr(api.CodeInvalidRequest, "give a value or a generator")
	}
	now := f.Now()
	s := &fakeSecret{meta: api.Secret{Name: req.Name, Backend: "db", Description: req.Description, Owner: req.Owner, Labels: req.Labels,
		Rotation: req.Rotation, CreatedBy: "user:" + f.me.ID, CreatedAt: now, UpdatedAt: now}}
	s.addVersionLocked(value, s.meta.CreatedBy, now)
	f.secrets[req.Name] = s
	f.auditLocked("create", req.Name, 1)
	m := s.meta
	return &m, nil
}

// SecretValue implements state.SecretsAPI: every read is audited, as on the server (SEC-41).
func (f *API) SecretValue(_ context.Context, name string, version int) (*api.SecretValue, error) {
	if err := f.begin("SecretValue", name, fmt.Sprint(version)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		version = len(s.values)
	}
	if version < 1 || version > len(s.values) {
		return nil, apiErr(api.CodeNotFound, "no such version")
	}
	f.auditLocked("read", name, version)
	v := s.versions[version-1]
	return &api.SecretValue{Name: name, Version: version, Stage: v.Stage, Encoding: api.EncodingUTF8, Value: s.values[version-1], CreatedAt: v.CreatedAt}, nil
}

// PutSecretValue implements state.SecretsAPI.
func (f *API) PutSecretValue(_ context.Context, name, value string) (*api.Secret, error) {
	if err := f.begin("PutSecretValue", name); err != nil { // never the value
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	v := s.addVersionLocked(value, "user:"+f.me.ID, f.Now())
	f.auditLocked("write", name, v.Version)
	m := s.meta
	return &m, nil
}

// SecretVersions implements state.SecretsAPI (oldest first).
func (f *API) SecretVersions(_ context.Context, name string) ([]api.SecretVersion, error) {
	if err := f.begin("SecretVersions", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	return append([]api.SecretVersion(nil), s.versions...), nil
}

// RollbackSecret implements state.SecretsAPI: the old value becomes a new current version.
func (f *API) RollbackSecret(_ context.Context, name string, version int) (*api.SecretVersion, error) {
	if err := f.begin("RollbackSecret", name, fmt.Sprint(version)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	if version < 1 || version > len(s.values) {
		return nil, apiErr(api.CodeNotFound, "no such version")
	}
	v := s.addVersionLocked(s.values[version-1], "user:"+f.me.ID, f.Now())
	f.auditLocked("rollback", name, v.Version)
	return &v, nil
}

// RotateSecret implements state.SecretsAPI: a conflict without a policy, as on the server.
func (f *API) RotateSecret(_ context.Context, name string) (*api.SecretVersion, error) {
	if err := f.begin("RotateSecret", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	if s.meta.Rotation == nil {
		return nil, apiErr(api.CodeConflict, "the secret has no rotation policy")
	}
	now := f.Now()
	v := s.addVersionLocked(f.generateLocked(s.meta.Rotation.Generator), "user:"+f.me.ID, now)
	s.meta.LastRotatedAt, s.meta.RotationDue = &now, false
	if s.meta.Rotation.IntervalSeconds > 0 {
		next := now.Add(time.Duration(s.meta.Rotation.IntervalSeconds) * time.Second)
		s.meta.NextRotationAt = &next
	}
	f.auditLocked("rotate", name, v.Version)
	return &v, nil
}

// SetSecretRotation implements state.SecretsAPI (intervals under an hour are refused).
func (f *API) SetSecretRotation(_ context.Context, name string, p *api.RotationPolicy) (*api.Secret, error) {
	arg := "none"
	if p != nil {
		arg = fmt.Sprintf("%ds/%s", p.IntervalSeconds, p.Generator.Type)
	}
	if err := f.begin("SetSecretRotation", name, arg); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	s, err := f.secretLocked(name)
	if err != nil {
		return nil, err
	}
	if p != nil && p.IntervalSeconds > 0 && p.IntervalSeconds < 3600 {
		return nil, apiErr(api.CodeInvalidRequest, "rotation interval must be at least one hour")
	}
	s.meta.Rotation, s.meta.NextRotationAt, s.meta.RotationDue = p, nil, false
	if p != nil && p.IntervalSeconds > 0 {
		next := f.Now().Add(time.Duration(p.IntervalSeconds) * time.Second)
		s.meta.NextRotationAt = &next
	}
	f.auditLocked("set_rotation", name, 0)
	m := s.meta
	return &m, nil
}

// SecretAudit implements state.SecretsAPI: newest first.
func (f *API) SecretAudit(_ context.Context, name string, page, perPage int) (*api.SecretAuditList, error) {
	if err := f.begin("SecretAudit", name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	var match []api.SecretAuditRecord
	for i := len(f.secretAudit) - 1; i >= 0; i-- {
		if f.secretAudit[i].Secret == name {
			match = append(match, f.secretAudit[i])
		}
	}
	page, per := max(page, 1), perPage
	if per <= 0 {
		per = 50
	}
	lo, hi := min((page-1)*per, len(match)), min(page*per, len(match))
	return &api.SecretAuditList{Records: match[lo:hi], Page: page, PerPage: per, Total: len(match)}, nil
}

// SecretBackends implements state.SecretOpsAPI.
func (f *API) SecretBackends(context.Context) ([]api.SecretBackend, error) {
	if err := f.begin("SecretBackends"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	return append([]api.SecretBackend(nil), f.Backends...), nil
}

// KeyStatus implements state.SecretOpsAPI.
func (f *API) KeyStatus(context.Context) (*api.KeyStatus, error) {
	if err := f.begin("KeyStatus"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoKeys {
		return nil, state.ErrNotSupported
	}
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	if f.Keys == nil {
		return &api.KeyStatus{CurrentVersion: 1, Versions: []api.KeyVersion{{Version: 1, CreatedAt: f.Now().Add(-30 * 24 * time.Hour)}},
			Rewrap: api.RewrapStatus{State: api.RewrapDone}}, nil
	}
	k := *f.Keys
	return &k, nil
}
