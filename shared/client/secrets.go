package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/shared/api"
)

// secretPath is /api/v1/secrets/<name>[/<sub>]. Names are path-like: their '/' stay as path
// separators (the server routes on them); each segment is escaped.
func secretPath(name, sub string) string {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	p := "/api/v1/secrets/" + strings.Join(segs, "/")
	if sub != "" {
		p += "/" + sub
	}
	return p
}

// TextValue is a value for CreateSecretRequest.Value and UpdateSecretRequest.Value.
func TextValue(s string) *string { return &s }

// BinaryValue sets a request's value to bytes, base64-encoded on the wire.
func BinaryValue(b []byte) (*string, string) {
	s := base64.StdEncoding.EncodeToString(b)
	return &s, api.EncodingBase64
}

// Bytes decodes a SecretValue into the value's bytes.
func Bytes(v *api.SecretValue) ([]byte, error) {
	if v.Encoding == api.EncodingBase64 {
		b, err := base64.StdEncoding.DecodeString(v.Value)
		if err != nil {
			return nil, fmt.Errorf("decode secret value: %w", err)
		}
		return b, nil
	}
	return []byte(v.Value), nil
}

// ListSecrets returns one page of the secrets the caller may read (metadata only).
func (c *Client) ListSecrets(ctx context.Context, q api.SecretQuery) (*api.SecretList, error) {
	v := url.Values{}
	if q.Prefix != "" {
		v.Set("prefix", q.Prefix)
	}
	if q.Label != "" {
		v.Set("label", q.Label)
	}
	if q.Deleted {
		v.Set("deleted", "true")
	}
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	p := "/api/v1/secrets"
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var out api.SecretList
	if _, err := c.Do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateSecret creates a secret with its first version.
func (c *Client) CreateSecret(ctx context.Context, req api.CreateSecretRequest) (*api.Secret, error) {
	var out api.Secret
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/secrets", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSecret returns a secret's metadata.
func (c *Client) GetSecret(ctx context.Context, name string) (*api.Secret, error) {
	var out api.Secret
	if _, err := c.Do(ctx, http.MethodGet, secretPath(name, ""), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SecretValue reads a value: the current version when version is 0.
func (c *Client) SecretValue(ctx context.Context, name string, version int) (*api.SecretValue, error) {
	p := secretPath(name, "value")
	if version > 0 {
		p += "?version=" + strconv.Itoa(version)
	}
	var out api.SecretValue
	if _, err := c.Do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSecret writes a new version and/or metadata.
func (c *Client) UpdateSecret(ctx context.Context, name string, req api.UpdateSecretRequest) (*api.Secret, error) {
	var out api.Secret
	if _, err := c.Do(ctx, http.MethodPut, secretPath(name, ""), req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutSecretValue writes a text value as the new current version.
func (c *Client) PutSecretValue(ctx context.Context, name, value string) (*api.Secret, error) {
	return c.UpdateSecret(ctx, name, api.UpdateSecretRequest{Value: &value})
}

// DeleteSecret soft-deletes a secret (restorable until its purge).
func (c *Client) DeleteSecret(ctx context.Context, name string) (*api.Secret, error) {
	var out api.Secret
	if _, err := c.Do(ctx, http.MethodDelete, secretPath(name, ""), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RestoreSecret undoes a soft delete.
func (c *Client) RestoreSecret(ctx context.Context, name string) (*api.Secret, error) {
	var out api.Secret
	if _, err := c.Do(ctx, http.MethodPost, secretPath(name, "restore"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SecretVersions lists a secret's versions, oldest first.
func (c *Client) SecretVersions(ctx context.Context, name string) ([]api.SecretVersion, error) {
	var out api.SecretVersionList
	if _, err := c.Do(ctx, http.MethodGet, secretPath(name, "versions"), nil, &out); err != nil {
		return nil, err
	}
	return out.Versions, nil
}

// RollbackSecret makes an earlier version's value current again (as a new version).
func (c *Client) RollbackSecret(ctx context.Context, name string, version int) (*api.SecretVersion, error) {
	var out api.SecretVersion
	if _, err := c.Do(ctx, http.MethodPost, secretPath(name, "rollback"), api.RollbackRequest{Version: version}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RotateSecret rotates a secret now, following its rotation policy.
func (c *Client) RotateSecret(ctx context.Context, name string) (*api.SecretVersion, error) {
	var out api.SecretVersion
	if _, err := c.Do(ctx, http.MethodPost, secretPath(name, "rotate"), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetSecretRotation sets (nil: removes) a secret's rotation policy.
func (c *Client) SetSecretRotation(ctx context.Context, name string, p *api.RotationPolicy) (*api.Secret, error) {
	var out api.Secret
	if _, err := c.Do(ctx, http.MethodPut, secretPath(name, "rotation"), api.SetRotationRequest{Rotation: p}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SecretAudit returns one page of a secret's audit trail, newest first.
func (c *Client) SecretAudit(ctx context.Context, name string, page, perPage int) (*api.SecretAuditList, error) {
	v := url.Values{}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if perPage > 0 {
		v.Set("per_page", strconv.Itoa(perPage))
	}
	p := secretPath(name, "audit")
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var out api.SecretAuditList
	if _, err := c.Do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SecretsAuditTrail returns one page of the whole secret audit trail (administrators).
func (c *Client) SecretsAuditTrail(ctx context.Context, q api.SecretAuditQuery) (*api.SecretAuditList, error) {
	v := url.Values{}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.Actor != "" {
		v.Set("actor", q.Actor)
	}
	if q.Secret != "" {
		v.Set("secret", q.Secret)
	}
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.PerPage > 0 {
		v.Set("per_page", strconv.Itoa(q.PerPage))
	}
	p := "/api/v1/admin/secrets/audit"
	if len(v) > 0 {
		p += "?" + v.Encode()
	}
	var out api.SecretAuditList
	if _, err := c.Do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SecretBackends reports each configured backend's health (administrators).
func (c *Client) SecretBackends(ctx context.Context) ([]api.SecretBackend, error) {
	var out api.SecretBackendList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/secret-backends", nil, &out); err != nil {
		return nil, err
	}
	return out.Backends, nil
}

// SecretPolicies lists access policies (administrators).
func (c *Client) SecretPolicies(ctx context.Context) ([]api.SecretPolicy, error) {
	var out api.SecretPolicyList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/secret-policies", nil, &out); err != nil {
		return nil, err
	}
	return out.Policies, nil
}

// CreateSecretPolicy grants a role or a service account actions on a name pattern.
func (c *Client) CreateSecretPolicy(ctx context.Context, req api.CreateSecretPolicyRequest) (*api.SecretPolicy, error) {
	var out api.SecretPolicy
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/secret-policies", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteSecretPolicy removes a policy.
func (c *Client) DeleteSecretPolicy(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/secret-policies/"+url.PathEscape(id), nil, nil)
	return err
}

// ServiceAccounts lists service accounts (administrators).
func (c *Client) ServiceAccounts(ctx context.Context) ([]api.ServiceAccount, error) {
	var out api.ServiceAccountList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/service-accounts", nil, &out); err != nil {
		return nil, err
	}
	return out.ServiceAccounts, nil
}

// CreateServiceAccount makes a service account.
func (c *Client) CreateServiceAccount(ctx context.Context, req api.CreateServiceAccountRequest) (*api.ServiceAccount, error) {
	var out api.ServiceAccount
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/service-accounts", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetServiceAccount returns one service account.
func (c *Client) GetServiceAccount(ctx context.Context, id string) (*api.ServiceAccount, error) {
	var out api.ServiceAccount
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/service-accounts/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteServiceAccount removes a service account; its tokens stop working.
func (c *Client) DeleteServiceAccount(ctx context.Context, id string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/service-accounts/"+url.PathEscape(id), nil, nil)
	return err
}

// CreateServiceAccountToken issues a token; the answer's Token is shown only this once.
func (c *Client) CreateServiceAccountToken(ctx context.Context, id string, req api.CreateServiceAccountTokenRequest) (*api.CreatedServiceAccountToken, error) {
	var out api.CreatedServiceAccountToken
	if _, err := c.Do(ctx, http.MethodPost, "/api/v1/admin/service-accounts/"+url.PathEscape(id)+"/tokens", req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ServiceAccountTokens lists a service account's tokens (never the tokens themselves).
func (c *Client) ServiceAccountTokens(ctx context.Context, id string) ([]api.ServiceAccountToken, error) {
	var out api.ServiceAccountTokenList
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/admin/service-accounts/"+url.PathEscape(id)+"/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeServiceAccountToken revokes a token.
func (c *Client) RevokeServiceAccountToken(ctx context.Context, id, tokenID string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/api/v1/admin/service-accounts/"+url.PathEscape(id)+"/tokens/"+url.PathEscape(tokenID), nil, nil)
	return err
}
