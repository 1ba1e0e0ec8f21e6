package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// OAuthAPI is social sign-in from a native app: the public provider list, the address that
// starts a flow, and the exchange of the one-time code from the loopback redirect.
type OAuthAPI interface {
	PublicProviders(ctx context.Context) ([]api.PublicProvider, error)
	// OAuthStartURL is where the browser goes to sign in with provider (its slug).
	OAuthStartURL(provider, redirectTo, codeChallenge string) string
	// OAuthExchange trades the code (with the PKCE verifier) for a cookie session or a
	// pending login that wants a second factor, like Login.
	OAuthExchange(ctx context.Context, code, verifier string) (LoginResult, error)
}

// ProvidersAPI is the administrators' provider configuration.
type ProvidersAPI interface {
	ListOAuthProviders(ctx context.Context) ([]api.OAuthProvider, error)
	CreateOAuthProvider(ctx context.Context, req api.CreateOAuthProviderRequest) (*api.OAuthProvider, error)
	UpdateOAuthProvider(ctx context.Context, id string, req api.UpdateOAuthProviderRequest) (*api.OAuthProvider, error)
	DeleteOAuthProvider(ctx context.Context, id string) error
}

// Loopback receives the browser's redirect on 127.0.0.1 (internal/loopback).
type Loopback interface {
	RedirectURL() string
	// Wait returns the one-time code, the flow's error, or ctx's.
	Wait(ctx context.Context) (string, error)
	Close() error
}

// ListenFunc opens a Loopback.
type ListenFunc func() (Loopback, error)

// ProviderSignInTimeout bounds the wait for the browser.
const ProviderSignInTimeout = 5 * time.Minute

// newPKCE is a verifier (256 random bits) and its S256 challenge (RFC 7636).
func newPKCE() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// Providers lists the server's enabled sign-in providers (for the sign-in screen's buttons).
// A server without social login answers an empty list.
func (s *Session) Providers(ctx context.Context, server string) ([]api.PublicProvider, error) {
	base, err := NormalizeServerURL(server)
	if err != nil {
		return nil, err
	}
	b, err := s.backendFor(base)
	if err != nil {
		return nil, err
	}
	list, err := b.PublicProviders(ctx)
	if unsupported(err) {
		return nil, nil
	}
	return list, err
}

// SignInWithProvider runs the loopback flow (RFC 8252): listen on 127.0.0.1, open the browser
// at the server's start address with a PKCE challenge, wait for the one-time code, and
// exchange it with the verifier. Like SignIn it may end at NeedSecondFactor. open is called
// with the address for the browser; ctx cancels the wait (the Cancel button).
func (s *Session) SignInWithProvider(ctx context.Context, server string, p api.PublicProvider, listen ListenFunc, open func(string) error) (Stage, error) {
	base, err := NormalizeServerURL(server)
	if err != nil {
		return SignedOut, err
	}
	b, err := s.backendFor(base)
	if err != nil {
		return SignedOut, err
	}
	lb, err := listen()
	if err != nil {
		return SignedOut, err
	}
	defer func() { _ = lb.Close() }()
	verifier, challenge := newPKCE()
	if err := open(b.OAuthStartURL(p.Slug, lb.RedirectURL(), challenge)); err != nil {
		return SignedOut, fmt.Errorf("open the browser: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, ProviderSignInTimeout)
	defer cancel()
	code, err := lb.Wait(wait)
	if errors.Is(err, context.DeadlineExceeded) {
		return SignedOut, invalid("provider", "The browser did not finish signing in within 5 minutes. Try again.")
	}
	if err != nil {
		return SignedOut, err
	}
	res, err := b.OAuthExchange(ctx, code, verifier)
	if err != nil {
		return SignedOut, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.provider = p.DisplayName
	switch res.Status {
	case api.LoginMFARequired:
		s.email = ""
		s.stage, s.factors = NeedSecondFactor, res.Factors
		if len(s.factors) == 0 {
			s.factors = AllFactors()
		}
		return s.stage, nil
	case api.LoginOK:
		if res.User == nil {
			return SignedOut, errors.New("sign-in answer without the account")
		}
		s.email = res.User.Email
		s.signedInLocked(*res.User, api.AAL1)
		return s.stage, nil
	default:
		return SignedOut, fmt.Errorf("unknown login status %q", res.Status)
	}
}

// Provider is the display name of the provider used for the current sign-in ("" for a
// password).
func (s *Session) Provider() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.provider
}

// ProviderButtonLabel is a sign-in button's text.
func ProviderButtonLabel(p api.PublicProvider) string {
	name := p.DisplayName
	if name == "" {
		name = Title(p.Type)
	}
	return "Sign in with " + name
}

// OAuthProviders is the Providers screen: every configured provider.
type OAuthProviders struct {
	api ProvidersAPI

	mu   sync.Mutex
	list []api.OAuthProvider
}

// NewOAuthProviders starts empty.
func NewOAuthProviders(a ProvidersAPI) *OAuthProviders { return &OAuthProviders{api: a} }

// Load fetches the providers.
func (p *OAuthProviders) Load(ctx context.Context) error {
	list, err := p.api.ListOAuthProviders(ctx)
	if err != nil {
		return err
	}
	slices.SortStableFunc(list, func(a, b api.OAuthProvider) int { return strings.Compare(a.DisplayName, b.DisplayName) })
	p.mu.Lock()
	p.list = list
	p.mu.Unlock()
	return nil
}

// Rows are the providers, by display name.
func (p *OAuthProviders) Rows() []api.OAuthProvider {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]api.OAuthProvider(nil), p.list...)
}

// Find returns a provider by ID.
func (p *OAuthProviders) Find(id string) (api.OAuthProvider, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, x := range p.list {
		if x.ID == id {
			return x, true
		}
	}
	return api.OAuthProvider{}, false
}

// Save creates the draft's provider (ID empty) or updates it, then reloads the list.
func (p *OAuthProviders) Save(ctx context.Context, d ProviderDraft) (api.OAuthProvider, error) {
	var saved *api.OAuthProvider
	if d.ID == "" {
		req, err := d.Create()
		if err != nil {
			return api.OAuthProvider{}, err
		}
		if saved, err = p.api.CreateOAuthProvider(ctx, req); err != nil {
			return api.OAuthProvider{}, err
		}
	} else {
		req, err := d.Update()
		if err != nil {
			return api.OAuthProvider{}, err
		}
		if saved, err = p.api.UpdateOAuthProvider(ctx, d.ID, req); err != nil {
			return api.OAuthProvider{}, err
		}
	}
	return *saved, p.Load(ctx)
}

// SetEnabled turns a provider on or off (its sign-in button appears or goes).
func (p *OAuthProviders) SetEnabled(ctx context.Context, id string, on bool) error {
	if _, err := p.api.UpdateOAuthProvider(ctx, id, api.UpdateOAuthProviderRequest{Enabled: &on}); err != nil {
		return err
	}
	return p.Load(ctx)
}

// DeleteConfirmation is the question asked before a delete.
func DeleteProviderConfirmation(pr api.OAuthProvider) string {
	return fmt.Sprintf("Delete %s (%s)?\n\nIts sign-in button goes, and every identity linked through it is unlinked: people who signed in only with %s need a password reset to get back in.",
		pr.DisplayName, pr.Slug, pr.DisplayName)
}

// Delete removes a provider and reloads the list.
func (p *OAuthProviders) Delete(ctx context.Context, id string) error {
	if err := p.api.DeleteOAuthProvider(ctx, id); err != nil {
		return err
	}
	return p.Load(ctx)
}

// ProviderColumns are the providers table's headings.
func ProviderColumns() [5]string {
	return [5]string{"Name", "Type", "Slug", "Status", "Email domains"}
}

// ProviderCells is one providers table row.
func ProviderCells(pr api.OAuthProvider) [5]string {
	status := "Disabled"
	if pr.Enabled {
		status = "Enabled"
	}
	domains := "any"
	if len(pr.AllowedDomains) > 0 {
		domains = strings.Join(pr.AllowedDomains, ", ")
	}
	return [5]string{pr.DisplayName, ProviderTypeLabel(pr.Type), pr.Slug, status, domains}
}

// ProviderTypeLabel is a provider type's human name.
func ProviderTypeLabel(t string) string {
	switch t {
	case api.ProviderGoogle:
		return "Google"
	case api.ProviderGitHub:
		return "GitHub"
	case api.ProviderLinkedIn:
		return "LinkedIn"
	case api.ProviderMicrosoft:
		return "Microsoft"
	case api.ProviderOIDC:
		return "OpenID Connect"
	default:
		return t
	}
}

// ProviderDraft is the provider editor. ClientSecret is write-only: blank keeps the stored one
// (a new provider needs one).
type ProviderDraft struct {
	ID                              string // empty: a new provider
	Type, Slug, DisplayName         string
	ClientID, ClientSecret          string
	Scopes, AllowedDomains          string // separated by spaces or commas
	Tenant, BaseURL                 string
	AutoRegister, AutoLink, Enabled bool
	HasClientSecret                 bool // the stored provider has one
}

// DraftForProvider fills the editor from a provider.
func DraftForProvider(pr api.OAuthProvider) ProviderDraft {
	return ProviderDraft{
		ID: pr.ID, Type: pr.Type, Slug: pr.Slug, DisplayName: pr.DisplayName, ClientID: pr.ClientID,
		Scopes: strings.Join(pr.Scopes, " "), AllowedDomains: strings.Join(pr.AllowedDomains, ", "),
		Tenant: pr.Tenant, BaseURL: pr.BaseURL, AutoRegister: pr.AutoRegister, AutoLink: pr.AutoLink,
		Enabled: pr.Enabled, HasClientSecret: pr.HasClientSecret,
	}
}

// NewProviderDraft is the editor for a new provider of type t.
func NewProviderDraft(t string) ProviderDraft {
	d := ProviderDraft{Type: t, DisplayName: ProviderTypeLabel(t), Enabled: true}
	if t == api.ProviderMicrosoft {
		d.Tenant = "common"
	}
	return d
}

// ProviderNeedsTenant and ProviderNeedsIssuer say which type-specific fields the editor shows.
func ProviderNeedsTenant(t string) bool { return t == api.ProviderMicrosoft }

// ProviderNeedsIssuer reports whether the type needs its issuer (discovery) URL.
func ProviderNeedsIssuer(t string) bool { return t == api.ProviderOIDC }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		if f = strings.TrimSpace(f); f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

func (d ProviderDraft) check() (scopes, domains []string, err error) {
	if !slices.Contains(api.ProviderTypes(), d.Type) {
		return nil, nil, invalid("type", "Choose the provider type.")
	}
	if strings.TrimSpace(d.ClientID) == "" {
		return nil, nil, invalid("client_id", "Enter the client ID from the provider's console.")
	}
	if d.ID == "" && d.ClientSecret == "" {
		return nil, nil, invalid("client_secret", "Enter the client secret (it is stored encrypted and never shown again).")
	}
	base := strings.TrimSpace(d.BaseURL)
	if ProviderNeedsIssuer(d.Type) && base == "" {
		return nil, nil, invalid("base_url", "Enter the issuer URL, e.g. https://login.example.com (its discovery document is read from there).")
	}
	if base != "" && !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		return nil, nil, invalid("base_url", "The issuer must be an http(s) URL.")
	}
	domains = splitList(strings.ToLower(d.AllowedDomains))
	for _, dom := range domains {
		if strings.Contains(dom, "@") || !strings.Contains(dom, ".") {
			return nil, nil, invalid("allowed_domains", "Write email domains like example.com, separated by commas.")
		}
	}
	return splitList(d.Scopes), domains, nil
}

// Create validates a new provider.
func (d ProviderDraft) Create() (api.CreateOAuthProviderRequest, error) {
	scopes, domains, err := d.check()
	if err != nil {
		return api.CreateOAuthProviderRequest{}, err
	}
	on := d.Enabled
	req := api.CreateOAuthProviderRequest{
		Slug: strings.TrimSpace(d.Slug), Type: d.Type, DisplayName: strings.TrimSpace(d.DisplayName),
		ClientID: strings.TrimSpace(d.ClientID), ClientSecret: d.ClientSecret, BaseURL: strings.TrimSpace(d.BaseURL),
		Scopes: scopes, AllowedDomains: domains, AutoRegister: d.AutoRegister, AutoLink: d.AutoLink, Enabled: &on,
	}
	if ProviderNeedsTenant(d.Type) {
		req.Tenant = strings.TrimSpace(d.Tenant)
	}
	return req, nil
}

// Update validates an edit. Every editable field is sent; the client secret only when typed.
func (d ProviderDraft) Update() (api.UpdateOAuthProviderRequest, error) {
	scopes, domains, err := d.check()
	if err != nil {
		return api.UpdateOAuthProviderRequest{}, err
	}
	name, cid, base := strings.TrimSpace(d.DisplayName), strings.TrimSpace(d.ClientID), strings.TrimSpace(d.BaseURL)
	ar, al, on := d.AutoRegister, d.AutoLink, d.Enabled
	if scopes == nil {
		scopes = []string{}
	}
	if domains == nil {
		domains = []string{}
	}
	req := api.UpdateOAuthProviderRequest{DisplayName: &name, ClientID: &cid, BaseURL: &base, Scopes: &scopes,
		AllowedDomains: &domains, AutoRegister: &ar, AutoLink: &al, Enabled: &on}
	if d.ClientSecret != "" {
		sec := d.ClientSecret
		req.ClientSecret = &sec
	}
	if ProviderNeedsTenant(d.Type) {
		t := strings.TrimSpace(d.Tenant)
		req.Tenant = &t
	}
	return req, nil
}
