package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"gatehouse/server/internal/auth"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/ratelimit"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Sealer protects client secrets at rest (internal/keyring).
type Sealer interface {
	EncryptString(plaintext string) (string, error)
	DecryptString(ciphertext string) (string, error)
}

// Logins opens the session at the end of a flow, through the same second-factor gate as a
// password login (internal/auth, SEC-23).
type Logins interface {
	ExternalLogin(ctx context.Context, u users.User, method, previousToken, deviceToken string, meta auth.Meta) (auth.CookieLogin, error)
}

// Limiter counts requests per key (internal/ratelimit).
type Limiter interface {
	Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error)
}

// Events records security events (internal/events).
type Events interface {
	Record(ctx context.Context, e events.Event) error
}

// Options tunes the service.
type Options struct {
	// FlowTTL bounds the time between /start and /callback (SEC-30).
	FlowTTL time.Duration
	// ExchangeTTL bounds the time between a loopback redirect and the app's exchange.
	ExchangeTTL time.Duration
	// ProviderTimeout bounds discovery, the code exchange and profile reads.
	ProviderTimeout time.Duration
	// AllowedRedirects are absolute URL prefixes redirect_to may start with, besides
	// same-site paths and loopback addresses (SEC-35).
	AllowedRedirects []string
	// PerIP bounds the unauthenticated flow requests (start, callback, exchange) from one
	// client address: each writes to the database.
	PerIP ratelimit.Limit
	// Observe counts flow outcomes by provider (metrics); nil counts nothing.
	Observe func(provider, outcome string)
	Now     func() time.Time
}

// Deps are the service's collaborators.
type Deps struct {
	Store   Store
	Users   users.Store
	Logins  Logins
	Events  Events
	Sealer  Sealer
	Factory Factory
	NewID   func() string
	// Limiter throttles flows per client IP; nil throttles nothing.
	Limiter Limiter
}

// Service runs social login.
type Service struct {
	d    Deps
	opts Options

	mu    sync.Mutex
	built map[string]builtProvider // by provider id
}

type builtProvider struct {
	updated time.Time
	p       Provider
}

// New builds the service.
func New(d Deps, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FlowTTL <= 0 {
		o.FlowTTL = 10 * time.Minute
	}
	if o.ExchangeTTL <= 0 {
		o.ExchangeTTL = time.Minute
	}
	if o.ProviderTimeout <= 0 {
		o.ProviderTimeout = 10 * time.Second
	}
	return &Service{d: d, opts: o, built: map[string]builtProvider{}}
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) observe(provider, outcome string) {
	if s.opts.Observe != nil {
		s.opts.Observe(provider, outcome)
	}
}

func (s *Service) record(ctx context.Context, typ, outcome, actor, subject string, meta auth.Meta, details map[string]any) error {
	if err := s.d.Events.Record(ctx, events.Event{Type: typ, Outcome: outcome, ActorID: actor, SubjectUserID: subject,
		IP: meta.IP, UserAgent: meta.UserAgent, Details: details}); err != nil {
		return fmt.Errorf("record %s event: %w", typ, err)
	}
	return nil
}

// throttle admits one unauthenticated flow request from the client's address.
func (s *Service) throttle(ctx context.Context, meta auth.Meta) error {
	if s.d.Limiter == nil || s.opts.PerIP.Rate <= 0 {
		return nil
	}
	res, err := s.d.Limiter.Allow(ctx, ratelimit.KeyIP("oauth", meta.IP), s.opts.PerIP)
	if err != nil {
		return fmt.Errorf("oauth rate limit: %w", err)
	}
	if !res.Allowed {
		return &auth.ThrottledError{RetryAfter: res.RetryAfter}
	}
	return nil
}

// PublicProviders lists the enabled providers for login screens.
func (s *Service) PublicProviders(ctx context.Context) ([]api.PublicProvider, error) {
	list, err := s.d.Store.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := []api.PublicProvider{}
	for _, c := range list {
		if c.Enabled {
			out = append(out, api.PublicProvider{Slug: c.Slug, Type: c.Type, DisplayName: c.DisplayName,
				StartURL: "/api/v1/auth/oauth/" + c.Slug + "/start"})
		}
	}
	return out, nil
}

// provider loads an enabled provider and its protocol side, built once per configuration
// (a change on any replica moves updated_at, and the next flow here rebuilds it).
func (s *Service) provider(ctx context.Context, slug string) (Config, Provider, error) {
	c, err := s.d.Store.GetProviderBySlug(ctx, slug)
	if err != nil {
		return Config{}, nil, err
	}
	if !c.Enabled {
		return Config{}, nil, ErrProviderNotFound
	}
	s.mu.Lock()
	b, ok := s.built[c.ID]
	s.mu.Unlock()
	if ok && b.updated.Equal(c.UpdatedAt) {
		return c, b.p, nil
	}
	secret := ""
	if c.SealedSecret != "" {
		if secret, err = s.d.Sealer.DecryptString(c.SealedSecret); err != nil {
			return Config{}, nil, fmt.Errorf("unseal %s client secret: %w", c.Slug, err)
		}
	}
	bctx, cancel := context.WithTimeout(ctx, s.opts.ProviderTimeout)
	defer cancel()
	p, err := s.d.Factory(bctx, Spec{Type: c.Type, ClientID: c.ClientID, ClientSecret: secret, BaseURL: c.BaseURL,
		APIURL: c.APIURL, Tenant: c.Tenant, Scopes: c.Scopes})
	if err != nil {
		return Config{}, nil, err
	}
	s.mu.Lock()
	s.built[c.ID] = builtProvider{updated: c.UpdatedAt, p: p}
	s.mu.Unlock()
	return c, p, nil
}

// StartResult is where to send the browser, and the cookie that binds the flow to it.
type StartResult struct {
	AuthorizationURL string
	Binding          string
	MaxAge           time.Duration
}

// Start begins a login flow (SEC-30, SEC-31, SEC-35). base is the server's external URL, for
// the callback address. A loopback redirect_to (a native app) needs the app's PKCE challenge.
func (s *Service) Start(ctx context.Context, slug, redirectTo, codeChallenge, base string, meta auth.Meta) (StartResult, error) {
	if err := s.throttle(ctx, meta); err != nil {
		return StartResult{}, err
	}
	target, loopback, err := CheckRedirect(redirectTo, s.opts.AllowedRedirects)
	if err != nil {
		return StartResult{}, err
	}
	if loopback && !validChallenge(codeChallenge) {
		return StartResult{}, &api.Error{Code: api.CodeInvalidRequest, Message: "a loopback redirect_to needs code_challenge: the base64url SHA-256 of a PKCE verifier (S256)",
			Details: map[string]any{"field": api.OAuthChallengeParam}}
	}
	if !loopback && codeChallenge != "" {
		return StartResult{}, &api.Error{Code: api.CodeInvalidRequest, Message: "code_challenge is only for loopback redirects (native apps)",
			Details: map[string]any{"field": api.OAuthChallengeParam}}
	}
	return s.begin(ctx, slug, Flow{Intent: IntentLogin, RedirectTo: target, CodeChallenge: codeChallenge}, base)
}

// StartLink begins linking a provider identity to the signed-in user. The caller must be at
// aal2 when the account has a second factor (checked by the HTTP layer's step-up rule).
func (s *Service) StartLink(ctx context.Context, p auth.Principal, slug, redirectTo, base string) (StartResult, error) {
	target, loopback, err := CheckRedirect(redirectTo, s.opts.AllowedRedirects)
	if err != nil {
		return StartResult{}, err
	}
	if loopback {
		return StartResult{}, &api.Error{Code: api.CodeInvalidRequest, Message: "linking happens in the browser: redirect_to must be a page, not a loopback address",
			Details: map[string]any{"field": api.OAuthRedirectParam}}
	}
	return s.begin(ctx, slug, Flow{Intent: IntentLink, UserID: p.UserID, RedirectTo: target}, base)
}

func (s *Service) begin(ctx context.Context, slug string, f Flow, base string) (StartResult, error) {
	c, p, err := s.provider(ctx, slug)
	if err != nil {
		return StartResult{}, err
	}
	state, binding := rand.Text()+rand.Text(), rand.Text()+rand.Text()
	now := s.now()
	f.ID, f.StateHash, f.BindingHash, f.ProviderID = s.d.NewID(), hashOf(state), hashOf(binding), c.ID
	f.CreatedAt, f.ExpiresAt = now, now.Add(s.opts.FlowTTL)
	if err := s.d.Store.CreateFlow(ctx, f); err != nil {
		return StartResult{}, err
	}
	u := p.AuthCodeURL(state, derive(binding, "nonce", state), derive(binding, "pkce", state), callbackURL(base, c.Slug))
	return StartResult{AuthorizationURL: u, Binding: binding, MaxAge: s.opts.FlowTTL}, nil
}

// CallbackParams are the query parameters the provider sends the browser back with.
type CallbackParams struct {
	State            string
	Code             string
	Error            string
	ErrorDescription string
}

// CallbackResult says how the flow ended. Exactly one of Login, ExchangeCode and Linked is set.
type CallbackResult struct {
	RedirectTo string
	// Login is the browser's session, or its pending second-factor login.
	Login *auth.CookieLogin
	// ExchangeCode goes to a native app's loopback redirect (?code=).
	ExchangeCode string
	// Linked is an identity added to the signed-in account.
	Linked *Identity
}

// FlowError is a failure after the flow was recognised: the browser goes back to RedirectTo
// with the error's code, rather than stopping on an error page.
type FlowError struct {
	RedirectTo string
	Err        error
}

func (e *FlowError) Error() string { return e.Err.Error() }
func (e *FlowError) Unwrap() error { return e.Err }

// Callback finishes a flow: the state must be this browser's, unused and fresh (SEC-30); the
// code is redeemed with the PKCE verifier (SEC-31) and the ID token verified (SEC-32) by the
// provider; then the identity is resolved to an account (SEC-33) and signed in.
func (s *Service) Callback(ctx context.Context, slug string, q CallbackParams, binding, previousToken, deviceToken, base string, meta auth.Meta) (CallbackResult, error) {
	if err := s.throttle(ctx, meta); err != nil {
		return CallbackResult{}, err
	}
	f, c, err := s.spendFlow(ctx, slug, q.State, binding)
	if err != nil {
		s.observe(slug, "state_invalid")
		return CallbackResult{}, s.failed(ctx, slug, "", "state", err, meta)
	}
	fail := func(reason, subject string, err error) (CallbackResult, error) {
		s.observe(slug, reason)
		return CallbackResult{}, &FlowError{RedirectTo: f.RedirectTo, Err: s.failed(ctx, slug, subject, reason, err, meta)}
	}
	if q.Error != "" {
		return fail("provider", f.UserID, fmt.Errorf("%w: the provider answered %q", ErrProviderFailed, truncate(q.Error, 64)))
	}
	if q.Code == "" {
		return fail("provider", f.UserID, fmt.Errorf("%w: no authorization code", ErrProviderFailed))
	}
	_, p, err := s.provider(ctx, c.Slug)
	if err != nil {
		return fail("provider", f.UserID, err)
	}
	xctx, cancel := context.WithTimeout(ctx, s.opts.ProviderTimeout)
	prof, err := p.Exchange(xctx, q.Code, derive(binding, "pkce", q.State), derive(binding, "nonce", q.State), callbackURL(base, c.Slug))
	cancel()
	switch {
	case errors.Is(err, ErrTokenInvalid):
		return fail("token", f.UserID, err)
	case err != nil:
		return fail("provider", f.UserID, err)
	}
	prof.Email = strings.ToLower(strings.TrimSpace(prof.Email))
	if f.Intent == IntentLink {
		id, err := s.link(ctx, f, c, prof, meta)
		if err != nil {
			return fail(reasonOf(err), f.UserID, err)
		}
		s.observe(c.Slug, "linked")
		return CallbackResult{RedirectTo: f.RedirectTo, Linked: &id}, nil
	}
	u, err := s.resolve(ctx, c, prof, meta)
	if err != nil {
		return fail(reasonOf(err), u.ID, err)
	}
	if f.CodeChallenge != "" {
		code := rand.Text() + rand.Text()
		now := s.now()
		if err := s.d.Store.CreateExchange(ctx, Exchange{CodeHash: hashOf(code), UserID: u.ID, ProviderID: c.ID,
			CodeChallenge: f.CodeChallenge, CreatedAt: now, ExpiresAt: now.Add(s.opts.ExchangeTTL)}); err != nil {
			return CallbackResult{}, err
		}
		s.observe(c.Slug, "exchange_issued")
		return CallbackResult{RedirectTo: f.RedirectTo, ExchangeCode: code}, nil
	}
	login, err := s.d.Logins.ExternalLogin(ctx, u, "oauth:"+c.Slug, previousToken, deviceToken, meta)
	if err != nil {
		return CallbackResult{}, err
	}
	s.observe(c.Slug, outcomeOf(login))
	return CallbackResult{RedirectTo: f.RedirectTo, Login: &login}, nil
}

// spendFlow checks the state against this browser and the provider in the URL, spending it.
func (s *Service) spendFlow(ctx context.Context, slug, state, binding string) (Flow, Config, error) {
	if state == "" || binding == "" {
		return Flow{}, Config{}, ErrStateInvalid
	}
	// Only the browser that started the flow can spend it: another one's attempt (login CSRF)
	// matches no row.
	f, err := s.d.Store.UseFlow(ctx, hashOf(state), hashOf(binding), s.now())
	if err != nil {
		return Flow{}, Config{}, err
	}
	c, err := s.d.Store.GetProvider(ctx, f.ProviderID)
	if errors.Is(err, ErrProviderNotFound) || err == nil && (c.Slug != slug || !c.Enabled) {
		// The flow began with another provider: a mix-up, or a provider removed meanwhile.
		return Flow{}, Config{}, ErrStateInvalid
	}
	if err != nil {
		return Flow{}, Config{}, err
	}
	return f, c, nil
}

// Exchange trades a loopback redirect's one-time code for a session (RFC 8252): the app proves
// it started the flow with the PKCE verifier of the challenge it passed to /start.
func (s *Service) Exchange(ctx context.Context, code, verifier, previousToken, deviceToken string, meta auth.Meta) (auth.CookieLogin, error) {
	if err := s.throttle(ctx, meta); err != nil {
		return auth.CookieLogin{}, err
	}
	if code == "" {
		return auth.CookieLogin{}, &api.Error{Code: api.CodeInvalidRequest, Message: "code is required", Details: map[string]any{"field": "code"}}
	}
	if verifier == "" {
		return auth.CookieLogin{}, &api.Error{Code: api.CodeInvalidRequest, Message: "code_verifier is required", Details: map[string]any{"field": "code_verifier"}}
	}
	e, err := s.d.Store.UseExchange(ctx, hashOf(code), s.now())
	if err != nil {
		_ = s.failed(ctx, "", "", "exchange", err, meta)
		return auth.CookieLogin{}, err
	}
	if !hmac.Equal([]byte(challengeOf(verifier)), []byte(e.CodeChallenge)) {
		return auth.CookieLogin{}, s.failed(ctx, "", e.UserID, "exchange_verifier", ErrStateInvalid, meta)
	}
	u, err := s.d.Users.Get(ctx, e.UserID)
	if err != nil {
		return auth.CookieLogin{}, fmt.Errorf("load user: %w", err)
	}
	if u.Status != api.UserActive {
		return auth.CookieLogin{}, s.failed(ctx, "", u.ID, "account_"+u.Status, ErrAccountInactive, meta)
	}
	c, err := s.d.Store.GetProvider(ctx, e.ProviderID)
	if err != nil {
		return auth.CookieLogin{}, err
	}
	login, err := s.d.Logins.ExternalLogin(ctx, u, "oauth:"+c.Slug, previousToken, deviceToken, meta)
	if err != nil {
		return auth.CookieLogin{}, err
	}
	s.observe(c.Slug, outcomeOf(login))
	return login, nil
}

// resolve finds or makes the account behind a verified profile (SEC-33).
func (s *Service) resolve(ctx context.Context, c Config, prof Profile, meta auth.Meta) (users.User, error) {
	if err := checkDomain(c, prof); err != nil {
		return users.User{}, err
	}
	id, err := s.d.Store.IdentityBySubject(ctx, c.ID, prof.Subject)
	switch {
	case err == nil:
		u, err := s.d.Users.Get(ctx, id.UserID)
		if err != nil {
			return users.User{}, fmt.Errorf("load user: %w", err)
		}
		if u.Status != api.UserActive {
			return u, ErrAccountInactive
		}
		return s.sync(ctx, u, id, prof)
	case !errors.Is(err, ErrIdentityNotFound):
		return users.User{}, err
	}
	if prof.Email == "" || !prof.EmailVerified {
		return users.User{}, ErrEmailUnverified
	}
	email, err := users.NormalizeEmail(prof.Email)
	if err != nil {
		return users.User{}, ErrEmailUnverified
	}
	u, err := s.d.Users.GetByEmail(ctx, email)
	switch {
	case err == nil:
		if !c.AutoLink {
			return u, ErrLinkRequired
		}
		if u.Status != api.UserActive {
			return u, ErrAccountInactive
		}
		id, err := s.addIdentity(ctx, u.ID, c, prof)
		if err != nil {
			return u, err
		}
		if err := s.record(ctx, api.EventIdentityLinked, api.OutcomeSuccess, u.ID, u.ID, meta,
			map[string]any{"provider": c.Slug, "identity_id": id.ID, "auto": true}); err != nil {
			return u, err
		}
		return s.sync(ctx, u, id, prof)
	case !errors.Is(err, users.ErrNotFound):
		return users.User{}, fmt.Errorf("load user: %w", err)
	}
	if !c.AutoRegister {
		return users.User{}, ErrNoAccount
	}
	return s.register(ctx, c, email, prof, meta)
}

// register creates an account for a verified email: no password, the email verified by the
// provider, the ordinary user role.
func (s *Service) register(ctx context.Context, c Config, email string, prof Profile, meta auth.Meta) (users.User, error) {
	name, err := users.ValidDisplayName(prof.Name)
	if err != nil {
		name = ""
	}
	now := s.now()
	u := users.User{ID: s.d.NewID(), Email: email, DisplayName: name, Roles: []string{api.RoleUser}, Status: api.UserActive,
		EmailVerified: true, AvatarURL: cleanAvatar(prof.AvatarURL), CreatedAt: now, UpdatedAt: now}
	if err := s.d.Users.Create(ctx, u); err != nil {
		if errors.Is(err, users.ErrEmailTaken) {
			return users.User{}, ErrLinkRequired // registered concurrently
		}
		return users.User{}, fmt.Errorf("register: %w", err)
	}
	id, err := s.addIdentity(ctx, u.ID, c, prof)
	if err != nil {
		return users.User{}, err
	}
	if err := s.record(ctx, api.EventUserRegistered, api.OutcomeSuccess, u.ID, u.ID, meta,
		map[string]any{"method": "oauth", "provider": c.Slug, "identity_id": id.ID}); err != nil {
		return users.User{}, err
	}
	return u, nil
}

// link adds the identity to the account that started a link flow.
func (s *Service) link(ctx context.Context, f Flow, c Config, prof Profile, meta auth.Meta) (Identity, error) {
	u, err := s.d.Users.Get(ctx, f.UserID)
	if err != nil {
		return Identity{}, fmt.Errorf("load user: %w", err)
	}
	if u.Status != api.UserActive {
		return Identity{}, ErrAccountInactive
	}
	if err := checkDomain(c, prof); err != nil {
		return Identity{}, err
	}
	id, err := s.d.Store.IdentityBySubject(ctx, c.ID, prof.Subject)
	switch {
	case err == nil && id.UserID != u.ID:
		return Identity{}, ErrIdentityTaken
	case err == nil:
		if _, err := s.sync(ctx, u, id, prof); err != nil {
			return Identity{}, err
		}
		return id, nil // linked already
	case !errors.Is(err, ErrIdentityNotFound):
		return Identity{}, err
	}
	id, err = s.addIdentity(ctx, u.ID, c, prof)
	if err != nil {
		return Identity{}, err
	}
	if err := s.record(ctx, api.EventIdentityLinked, api.OutcomeSuccess, u.ID, u.ID, meta,
		map[string]any{"provider": c.Slug, "identity_id": id.ID}); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func (s *Service) addIdentity(ctx context.Context, userID string, c Config, prof Profile) (Identity, error) {
	now := s.now()
	id := Identity{ID: s.d.NewID(), UserID: userID, ProviderID: c.ID, Subject: prof.Subject, Email: prof.Email,
		EmailVerified: prof.EmailVerified, DisplayName: prof.Name, AvatarURL: cleanAvatar(prof.AvatarURL),
		Claims: prof.Claims, CreatedAt: now, LastLoginAt: &now}
	if err := s.d.Store.CreateIdentity(ctx, id); err != nil {
		return Identity{}, err
	}
	return id, nil
}

// sync refreshes the identity from the profile on every login, and the account's avatar and
// display name when the user has not chosen their own (it is empty or the provider's old one).
func (s *Service) sync(ctx context.Context, u users.User, id Identity, prof Profile) (users.User, error) {
	now := s.now()
	oldName := id.DisplayName
	id.Email, id.EmailVerified, id.DisplayName, id.AvatarURL = prof.Email, prof.EmailVerified, prof.Name, cleanAvatar(prof.AvatarURL)
	id.Claims, id.LastLoginAt = prof.Claims, &now
	if err := s.d.Store.UpdateIdentity(ctx, id); err != nil {
		return users.User{}, err
	}
	changed := false
	if name, err := users.ValidDisplayName(prof.Name); err == nil && name != "" && name != u.DisplayName && (u.DisplayName == "" || u.DisplayName == oldName) {
		u.DisplayName, changed = name, true
	}
	if a := cleanAvatar(prof.AvatarURL); a != "" && a != u.AvatarURL {
		u.AvatarURL, changed = a, true
	}
	if changed {
		u.UpdatedAt = now
		if err := s.d.Users.Update(ctx, u); err != nil {
			return users.User{}, fmt.Errorf("sync profile: %w", err)
		}
	}
	return u, nil
}

// failed records a failed flow and returns err.
func (s *Service) failed(ctx context.Context, slug, subject, reason string, err error, meta auth.Meta) error {
	details := map[string]any{"reason": reason}
	if slug != "" {
		details["provider"] = slug
	}
	if rerr := s.record(ctx, api.EventOAuthFailed, api.OutcomeFailure, "", subject, meta, details); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

func reasonOf(err error) string {
	for _, r := range []struct {
		err    error
		reason string
	}{
		{ErrEmailUnverified, "email_unverified"}, {ErrEmailDomain, "domain"}, {ErrLinkRequired, "link_required"},
		{ErrNoAccount, "no_account"}, {ErrIdentityTaken, "identity_taken"}, {ErrAccountInactive, "account_inactive"},
	} {
		if errors.Is(err, r.err) {
			return r.reason
		}
	}
	return "error"
}

func outcomeOf(l auth.CookieLogin) string {
	if l.Pending != nil {
		return "mfa_required"
	}
	return "success"
}

func checkDomain(c Config, prof Profile) error {
	if len(c.AllowedDomains) == 0 {
		return nil
	}
	_, domain, ok := strings.Cut(prof.Email, "@")
	if !ok || !prof.EmailVerified {
		return ErrEmailUnverified // a domain cannot be trusted from an unverified address
	}
	for _, d := range c.AllowedDomains {
		if strings.EqualFold(d, domain) {
			return nil
		}
	}
	return ErrEmailDomain
}

// MyIdentities lists the caller's identities.
func (s *Service) MyIdentities(ctx context.Context, p auth.Principal) ([]api.Identity, error) {
	return s.UserIdentities(ctx, p.UserID)
}

// UserIdentities lists a user's identities.
func (s *Service) UserIdentities(ctx context.Context, userID string) ([]api.Identity, error) {
	if _, err := s.d.Users.Get(ctx, userID); err != nil {
		return nil, err
	}
	list, err := s.d.Store.ListIdentities(ctx, userID)
	if err != nil {
		return nil, err
	}
	provs, err := s.d.Store.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]Config{}
	for _, c := range provs {
		byID[c.ID] = c
	}
	out := make([]api.Identity, 0, len(list))
	for _, i := range list {
		c := byID[i.ProviderID]
		out = append(out, api.Identity{ID: i.ID, ProviderID: i.ProviderID, Provider: c.Slug, ProviderType: c.Type, Subject: i.Subject,
			Email: i.Email, EmailVerified: i.EmailVerified, DisplayName: i.DisplayName, AvatarURL: i.AvatarURL,
			CreatedAt: i.CreatedAt, LastLoginAt: i.LastLoginAt})
	}
	return out, nil
}

// Unlink removes one of the caller's identities, unless it is their last way to sign in: no
// password and no other identity on an enabled provider (SEC-34).
func (s *Service) Unlink(ctx context.Context, p auth.Principal, id string, meta auth.Meta) error {
	u, err := s.d.Users.Get(ctx, p.UserID)
	if err != nil {
		return err
	}
	list, err := s.d.Store.ListIdentities(ctx, u.ID)
	if err != nil {
		return err
	}
	var target *Identity
	others := 0
	for i := range list {
		if list[i].ID == id {
			target = &list[i]
			continue
		}
		if c, err := s.d.Store.GetProvider(ctx, list[i].ProviderID); err == nil && c.Enabled {
			others++
		}
	}
	if target == nil {
		return ErrIdentityNotFound
	}
	if u.PasswordHash == "" && others == 0 {
		if err := s.record(ctx, api.EventIdentityUnlinked, api.OutcomeFailure, u.ID, u.ID, meta,
			map[string]any{"identity_id": id, "reason": "last_method"}); err != nil {
			return err
		}
		return ErrLastMethod
	}
	if err := s.d.Store.DeleteIdentity(ctx, u.ID, id); err != nil {
		return err
	}
	return s.record(ctx, api.EventIdentityUnlinked, api.OutcomeSuccess, u.ID, u.ID, meta,
		map[string]any{"identity_id": id, "provider_id": target.ProviderID})
}

// hashOf is the stored form of a state, binding or exchange code.
func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// derive makes the flow's nonce and PKCE verifier from the browser-binding secret, so neither
// is stored and only the browser holding the cookie can finish the flow. 43 base64url
// characters: a valid PKCE verifier (RFC 7636).
func derive(binding, purpose, state string) string {
	m := hmac.New(sha256.New, []byte(binding))
	m.Write([]byte(purpose + "\x00" + state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func challengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func validChallenge(c string) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

func callbackURL(base, slug string) string {
	return strings.TrimRight(base, "/") + "/api/v1/auth/oauth/" + url.PathEscape(slug) + "/callback"
}

// cleanAvatar keeps only https (or loopback http) avatar URLs of sane length.
func cleanAvatar(raw string) string {
	if raw == "" || len(raw) > 2048 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !secureScheme(u) {
		return ""
	}
	return u.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
