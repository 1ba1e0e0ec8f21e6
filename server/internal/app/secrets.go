package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/accesscache"
	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/secrets/aws"
	"gatehouse/server/internal/secrets/azure"
	"gatehouse/server/internal/secrets/cache"
	secretsdb "gatehouse/server/internal/secrets/db"
	"gatehouse/server/internal/secrets/env"
	"gatehouse/server/internal/secrets/gcp"
	"gatehouse/server/internal/secrets/generate"
	"gatehouse/server/internal/secrets/rotationhook"
	"gatehouse/server/internal/secrets/vault"
	"gatehouse/server/internal/serviceaccount"
	"gatehouse/server/internal/store"
	"gatehouse/shared/api"
)

// secretsErrorKinds maps the secrets manager's and the service accounts' errors to API codes.
// (Backend failures and bad names carry their own client form: secrets.BackendError and
// secrets.NameError.)
var secretsErrorKinds = []httpapi.ErrorKind{
	{Target: secrets.ErrForbidden, Code: api.CodeForbidden, Message: "you are not allowed to do this with this secret"},
	{Target: secrets.ErrSecretNotFound, Code: api.CodeNotFound, Message: "secret not found"},
	{Target: secrets.ErrVersionNotFound, Code: api.CodeNotFound, Message: "secret version not found"},
	{Target: secrets.ErrSecretExists, Code: api.CodeConflict, Message: "a secret with this name already exists (a deleted one keeps its name until it is purged)"},
	{Target: secrets.ErrNotDeleted, Code: api.CodeConflict, Message: "the secret is not deleted"},
	{Target: secrets.ErrUnknownBackend, Code: api.CodeUnknownBackend, Message: "no secret backend of that kind is configured"},
	{Target: secrets.ErrInvalidName, Code: api.CodeInvalidSecretName, Message: "invalid secret name"},
	{Target: secrets.ErrRotationOff, Code: api.CodeRotationUnavailable, Message: "secret rotation and generated values are not available in this server"},
	{Target: secrets.ErrNoRotation, Code: api.CodeConflict, Message: "the secret has no rotation policy: set one with PUT .../rotation"},
	{Target: secrets.ErrRotationFailed, Code: api.CodeRotationFailed, Message: "the rotation failed; the current version is unchanged"},
	{Target: secrets.ErrPolicyNotFound, Code: api.CodeNotFound, Message: "policy not found"},
	{Target: secrets.ErrAuditUnwritable, Code: api.CodeAuditUnavailable, Message: "the audit trail cannot be written right now, so the request was not answered; try again"},
	{Target: secretsdb.ErrCorrupt, Code: api.CodeInternal, Message: "internal error"},
	{Target: serviceaccount.ErrNotFound, Code: api.CodeNotFound, Message: "service account not found"},
	{Target: serviceaccount.ErrTokenNotFound, Code: api.CodeNotFound, Message: "service account token not found"},
	{Target: serviceaccount.ErrNameTaken, Code: api.CodeConflict, Message: "a service account with this name already exists"},
	{Target: serviceaccount.ErrInvalidToken, Code: api.CodeUnauthorized, Message: "invalid, expired or revoked service account token"},
}

// secretBackendFactories builds each kind of secrets backend from the configuration: one entry
// per package under internal/secrets. A kind the configuration enables (config.SecretBackends)
// without a factory here stops start-up.
var secretBackendFactories = map[string]func(ctx context.Context, a *App) (secrets.Backend, error){
	secrets.KindDB: func(_ context.Context, a *App) (secrets.Backend, error) {
		return secretsdb.New(a.DB.SecretValues(), a.Keyring, nil), nil
	},
	secrets.KindEnv: func(_ context.Context, a *App) (secrets.Backend, error) {
		return env.New(a.Config.Secrets.EnvPrefix, nil)
	},
	secrets.KindVault: func(_ context.Context, a *App) (secrets.Backend, error) {
		c := a.Config.Secrets.Vault
		return vault.New(vault.Config{Address: c.Address, Token: c.Token, Mount: c.Mount, Namespace: c.Namespace,
			TLSCAFile: c.TLSCAFile, Timeout: c.Timeout, MaxVersions: c.MaxVersions,
			AppRole: vault.AppRole{RoleID: c.AppRole.RoleID, SecretID: c.AppRole.SecretID, Mount: c.AppRole.Mount}})
	},
	secrets.KindAWS: func(ctx context.Context, a *App) (secrets.Backend, error) {
		c := a.Config.Secrets.AWS
		return aws.New(ctx, aws.Config{Region: c.Region, Endpoint: c.Endpoint, AccessKeyID: c.AccessKeyID,
			SecretAccessKey: c.SecretAccessKey, Timeout: c.Timeout})
	},
	secrets.KindAzure: func(_ context.Context, a *App) (secrets.Backend, error) {
		c := a.Config.Secrets.Azure
		return azure.New(azure.Config{VaultURL: c.VaultURL, TenantID: c.TenantID, ClientID: c.ClientID,
			KeepDeleted: c.KeepDeleted, Timeout: c.Timeout})
	},
	secrets.KindGCP: func(ctx context.Context, a *App) (secrets.Backend, error) {
		c := a.Config.Secrets.GCP
		b, err := gcp.New(ctx, gcp.Config{Project: c.Project, Endpoint: c.Endpoint, Timeout: c.Timeout})
		if err != nil {
			return nil, err
		}
		a.closers = append(a.closers, b.Close)
		return b, nil
	},
}

// auditCommittersPostgres is how many audit batches may commit at once on PostgreSQL.
const auditCommittersPostgres = 4

// wireSecrets builds the secrets manager: backends, the group-commit audit writer, the value
// cache, generators and rotation hooks, service accounts, and the purge job.
func (a *App) wireSecrets(ctx context.Context) error {
	cfg := a.Config.Secrets
	backends := map[string]secrets.Backend{}
	for _, kind := range a.Config.SecretBackends() {
		build, ok := secretBackendFactories[kind]
		if !ok {
			return fmt.Errorf("secrets: the %s backend is configured but not built into this server", kind)
		}
		b, err := build(ctx, a)
		if err != nil {
			return fmt.Errorf("secrets: %s backend: %w", kind, err)
		}
		backends[kind] = b
	}

	// PostgreSQL: while one batch waits for its WAL flush, the next is written (and the
	// server's own group commit shares the flush). SQLite has one connection: one committer.
	committers := 1
	if a.DB.Dialect() == store.DialectPostgres {
		committers = auditCommittersPostgres
	}
	a.SecretsAudit = secrets.NewParallelAuditWriter(a.DB.Secrets(), cfg.AuditBatch, committers)
	a.closers = append(a.closers, a.SecretsAudit.Close)

	var valueCache secrets.Cache
	if cfg.CacheTTL > 0 {
		c, err := cache.New[any](cache.Options[any]{TTL: cfg.CacheTTL, Redis: a.Redis, Registerer: a.Registry, Logger: a.Logger})
		if err != nil {
			return fmt.Errorf("secrets cache: %w", err)
		}
		if a.Redis != nil {
			// Invalidations from other replicas arrive through this subscription.
			runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			done := make(chan struct{})
			go func() { defer close(done); c.Run(runCtx) }()
			a.closers = append(a.closers, func() error { cancel(); <-done; return nil })
		}
		valueCache = c
	}

	var hook secrets.RotationHook
	if cfg.RotationHookKey != "" {
		hook = signedHook{key: []byte(cfg.RotationHookKey)}
	}

	// One access cache for tokens and policies: deleting a service account drops both.
	var access *accesscache.Cache
	var saOpts []serviceaccount.Option
	var policyCache secrets.AccessCache
	if cfg.AccessCacheAge > 0 {
		o := accesscache.Options{MaxAge: cfg.AccessCacheAge}
		if a.Redis != nil { // a nil *redis.Client must not become a non-nil redis.Cmdable
			o.Redis = a.Redis
		}
		access = accesscache.New(o)
		if err := access.Register(a.Registry); err != nil {
			return err
		}
		saOpts, policyCache = append(saOpts, serviceaccount.WithCache(access)), access
	}
	a.ServiceAccounts = serviceaccount.New(a.DB.ServiceAccounts(), uuid.NewString, nil, saOpts...)
	svc, err := secrets.New(secrets.Deps{
		Store:     a.DB.Secrets(),
		Backends:  backends,
		Audit:     a.SecretsAudit,
		Cache:     valueCache,
		Generator: specGenerator{},
		Hook:      hook,
		ServiceAccountExists: func(ctx context.Context, id string) error {
			_, err := a.ServiceAccounts.Get(ctx, id)
			return err
		},
		AccessCache: policyCache,
	}, secrets.Options{
		DefaultBackend: cfg.DefaultBackend, MaxValueBytes: cfg.MaxValueBytes, RecoveryWindow: cfg.RecoveryWindow,
		NewID: uuid.NewString,
	})
	if err != nil {
		return err
	}
	a.Secrets = svc
	if a.Jobs != nil {
		return a.Jobs.Add("secrets-purge", cfg.PurgeInterval, func(ctx context.Context) error {
			n, err := a.Secrets.Purge(ctx)
			if n > 0 {
				a.Logger.Info("purged deleted secrets", "count", n)
			}
			return err
		})
	}
	return nil
}

// specGenerator is internal/secrets/generate behind the service's ValueGenerator seam.
type specGenerator struct{}

func (specGenerator) Normalize(g secrets.Generator) (secrets.Generator, error) { return g.Normalize() }
func (specGenerator) Generate(g secrets.Generator) ([]byte, error)             { return generate.Generate(g) }

// signedHook calls a rotation test hook (internal/secrets/rotationhook), signed with the
// server's hook key.
type signedHook struct{ key []byte }

func (h signedHook) Test(ctx context.Context, url, name string, version int, value []byte) error {
	hk, err := rotationhook.New(rotationhook.Options{URL: url, Key: h.key, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	return hk.Test(ctx, rotationhook.Request{Secret: name, Version: strconv.Itoa(version), RotationID: uuid.NewString(), Value: value})
}
