package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/authcache"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/httpapi"
	"gatehouse/server/internal/password"
	"gatehouse/server/internal/ratelimit"
	"gatehouse/server/internal/session"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// errorKinds is the one table from domain errors to API codes and user-safe messages.
var errorKinds = []httpapi.ErrorKind{
	{Target: auth.ErrInvalidCredentials, Code: api.CodeInvalidCredentials, Message: "invalid email or password"},
	{Target: auth.ErrUnauthenticated, Code: api.CodeUnauthorized, Message: "authentication required"},
	{Target: auth.ErrInvalidGrant, Code: api.CodeInvalidGrant, Message: "the refresh token is invalid, spent, expired or revoked"},
	{Target: auth.ErrRegistrationClosed, Code: api.CodeForbidden, Message: "self-registration is disabled"},
	{Target: auth.ErrCannotManage, Code: api.CodeForbidden, Message: "only an administrator may manage an administrator"},
	{Target: auth.ErrForbidden, Code: api.CodeForbidden, Message: "your role does not allow this"},
	{Target: auth.ErrLastAdmin, Code: api.CodeConflict, Message: "the last active administrator cannot lose the role or be locked"},
	{Target: auth.ErrWrongPassword, Code: api.CodeInvalidRequest, Message: "the current password is wrong"},
	{Target: auth.ErrSessionNotFound, Code: api.CodeNotFound, Message: "session not found"},
	{Target: users.ErrNotFound, Code: api.CodeNotFound, Message: "user not found"},
	{Target: users.ErrEmailTaken, Code: api.CodeConflict, Message: "an account with this email already exists"},
}

// wireAccounts builds the account capability: password hashing, sessions, signing keys,
// throttling, security events and the auth service.
func (a *App) wireAccounts(ctx context.Context) error {
	cfg := a.Config
	hasher, err := password.NewHasher(password.Params{
		MemoryKiB: cfg.Password.MemoryKiB, Iterations: cfg.Password.Iterations, Parallelism: cfg.Password.Parallelism,
		SaltLength: 16, KeyLength: 32,
	}, cfg.Password.Concurrency)
	if err != nil {
		return fmt.Errorf("password hasher: %w", err)
	}
	a.Tokens, err = token.Open(ctx, a.DB.SigningKeys(), a.Keyring, token.Options{
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience, AccessTTL: cfg.Auth.AccessTTL,
	})
	if err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	var sessionStore session.Store = a.DB.Sessions()
	var userStore users.Store = a.DB.Users()
	if a.AuthCache = newAuthCache(a); a.AuthCache != nil {
		if err := a.AuthCache.Register(a.Registry); err != nil {
			return err
		}
		sessionStore, userStore = a.AuthCache.Sessions(sessionStore), a.AuthCache.Users(userStore)
	}
	a.UserStore = userStore
	a.Sessions = session.New(sessionStore, session.Options{IdleTTL: cfg.Auth.SessionIdleTTL, AbsoluteTTL: cfg.Auth.SessionAbsoluteTTL})
	a.Events = events.New(a.DB.Events(), events.Options{RequestID: httpapi.RequestID})
	if err := a.Events.Register(a.Registry); err != nil {
		return fmt.Errorf("event metrics: %w", err)
	}
	throttle, limiter, err := newThrottle(a)
	if err != nil {
		return err
	}
	mfa, err := a.wireMFA(limiter)
	if err != nil {
		return err
	}
	a.MFA = mfa.mfa
	a.Auth = auth.New(auth.Deps{
		Users: userStore, Hasher: hasher, Policy: password.Validate, Sessions: a.Sessions, Tokens: a.Tokens,
		Throttle: throttle, Events: a.Events, NewID: uuid.NewString, MFA: mfa.mfa, Tx: a.DB,
	}, auth.Options{AllowRegistration: cfg.Registration()})
	return a.bootstrapAdmin(ctx)
}

// newAuthCache returns the session and user cache, or nil when it is off: by configuration, or
// on PostgreSQL without Redis, where other replicas' writes could not reach it (SEC-12).
func newAuthCache(a *App) *authcache.Cache {
	cfg := a.Config.Auth
	if cfg.SessionCache == "off" || (a.DB.Dialect() != store.DialectSQLite && a.Redis == nil) {
		return nil
	}
	o := authcache.Options{MaxEntries: cfg.SessionCacheSize, MaxAge: cfg.SessionCacheMaxAge}
	if a.Redis != nil { // a nil *redis.Client must not become a non-nil redis.Cmdable
		o.Redis = a.Redis
	}
	return authcache.New(o)
}

// newThrottle keeps login throttling in Redis when configured, so replicas share counts
// (SEC-05); otherwise in process memory. It returns the limiter too, for the MFA throttle.
func newThrottle(a *App) (*auth.Throttle, ratelimit.Limiter, error) {
	perIP := ratelimit.Limit{Rate: a.Config.Auth.LoginPerIPPerMin, Period: time.Minute, Burst: min(10, a.Config.Auth.LoginPerIPPerMin)}
	var limiter ratelimit.Limiter
	if a.Redis != nil {
		limiter = ratelimit.NewRedis(a.Redis, "gatehouse:rl:")
	} else {
		limiter = ratelimit.NewMemory(100_000)
	}
	lo, err := a.newLockout("gatehouse:")
	if err != nil {
		return nil, nil, err
	}
	return auth.NewThrottle(limiter, lo, perIP), limiter, nil
}

// bootstrapAdmin creates the first administrator: the configured one in any environment, or
// admin@localhost with a random password (printed once) on a fresh development database.
func (a *App) bootstrapAdmin(ctx context.Context) error {
	email, pw := a.Config.Admin.Email, a.Config.Admin.Password
	if email == "" {
		if a.Config.Env != config.EnvDevelopment {
			return nil
		}
		email = "admin@localhost"
	}
	created, generated, err := a.Auth.EnsureAdmin(ctx, email, pw)
	if err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	if created {
		a.Logger.Warn("created the bootstrap administrator", slog.String("email", email))
		if generated != "" {
			// Shown once, on the operator's terminal, never in the structured log.
			fmt.Fprintf(a.Console, "\n  Gatehouse administrator created: %s\n  password (shown once): %s\n\n", email, generated)
		}
	}
	return nil
}
