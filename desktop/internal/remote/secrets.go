package remote

import (
	"context"

	"gatehouse/shared/api"
)

// ListSecrets implements state.SecretsAPI.
func (b *Backend) ListSecrets(ctx context.Context, q api.SecretQuery) (*api.SecretList, error) {
	return b.c.ListSecrets(ctx, q)
}

// GetSecret implements state.SecretsAPI.
func (b *Backend) GetSecret(ctx context.Context, name string) (*api.Secret, error) {
	return b.c.GetSecret(ctx, name)
}

// CreateSecret implements state.SecretsAPI.
func (b *Backend) CreateSecret(ctx context.Context, req api.CreateSecretRequest) (*api.Secret, error) {
	return b.c.CreateSecret(ctx, req)
}

// SecretValue implements state.SecretsAPI.
func (b *Backend) SecretValue(ctx context.Context, name string, version int) (*api.SecretValue, error) {
	return b.c.SecretValue(ctx, name, version)
}

// PutSecretValue implements state.SecretsAPI.
func (b *Backend) PutSecretValue(ctx context.Context, name, value string) (*api.Secret, error) {
	return b.c.PutSecretValue(ctx, name, value)
}

// SecretVersions implements state.SecretsAPI.
func (b *Backend) SecretVersions(ctx context.Context, name string) ([]api.SecretVersion, error) {
	return b.c.SecretVersions(ctx, name)
}

// RollbackSecret implements state.SecretsAPI.
func (b *Backend) RollbackSecret(ctx context.Context, name string, version int) (*api.SecretVersion, error) {
	return b.c.RollbackSecret(ctx, name, version)
}

// RotateSecret implements state.SecretsAPI.
func (b *Backend) RotateSecret(ctx context.Context, name string) (*api.SecretVersion, error) {
	return b.c.RotateSecret(ctx, name)
}

// SetSecretRotation implements state.SecretsAPI.
func (b *Backend) SetSecretRotation(ctx context.Context, name string, p *api.RotationPolicy) (*api.Secret, error) {
	return b.c.SetSecretRotation(ctx, name, p)
}

// SecretAudit implements state.SecretsAPI.
func (b *Backend) SecretAudit(ctx context.Context, name string, page, perPage int) (*api.SecretAuditList, error) {
	return b.c.SecretAudit(ctx, name, page, perPage)
}

// SecretBackends implements state.SecretOpsAPI.
func (b *Backend) SecretBackends(ctx context.Context) ([]api.SecretBackend, error) {
	return b.c.SecretBackends(ctx)
}

// KeyStatus implements state.SecretOpsAPI.
func (b *Backend) KeyStatus(ctx context.Context) (*api.KeyStatus, error) {
	return b.c.KeyStatus(ctx)
}

// DeleteSecret implements state.SecretsAPI.
func (b *Backend) DeleteSecret(ctx context.Context, name string) (*api.Secret, error) {
	return b.c.DeleteSecret(ctx, name)
}

// RestoreSecret implements state.SecretsAPI.
func (b *Backend) RestoreSecret(ctx context.Context, name string) (*api.Secret, error) {
	return b.c.RestoreSecret(ctx, name)
}

// SecretsAuditTrail implements state.SecretsAPI.
func (b *Backend) SecretsAuditTrail(ctx context.Context, q api.SecretAuditQuery) (*api.SecretAuditList, error) {
	return b.c.SecretsAuditTrail(ctx, q)
}
