// Package oauthtest runs identity providers on loopback for tests, speaking the real protocols:
// an OpenID Connect provider (github.com/oauth2-proxy/mockoidc: discovery, JWKS, RS256 ID
// tokens, PKCE) with per-login claim overrides; Microsoft Entra ID's multi-tenant discovery
// layout in front of it; and GitHub's OAuth2 and REST endpoints. Only the base URLs differ from
// production.
package oauthtest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"
)

// OIDC is an OpenID Connect provider.
type OIDC struct {
	M *mockoidc.MockOIDC

	mu     sync.Mutex
	tokens []url.Values // token endpoint requests, in order
	delay  time.Duration
}

// StartOIDC starts a provider; it stops when the test ends.
func StartOIDC(t testing.TB) *OIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &OIDC{M: m}
	if err := m.AddMiddleware(o.record); err != nil {
		t.Fatal(err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return o
}

// record keeps token requests (to check the PKCE verifier) and applies a configured delay.
func (o *OIDC) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == mockoidc.TokenEndpoint {
			if err := r.ParseForm(); err == nil {
				o.mu.Lock()
				o.tokens = append(o.tokens, r.PostForm)
				d := o.delay
				o.mu.Unlock()
				if d > 0 {
					select { // a client that gives up ends the wait
					case <-time.After(d):
					case <-r.Context().Done():
						return
					}
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Issuer is the provider's issuer URL (discovery at Issuer()/.well-known/openid-configuration).
func (o *OIDC) Issuer() string { return o.M.Issuer() }

// ClientID and ClientSecret are the credentials the provider accepts.
func (o *OIDC) ClientID() string     { return o.M.ClientID }
func (o *OIDC) ClientSecret() string { return o.M.ClientSecret }

// Next makes u the account of the next authorization.
func (o *OIDC) Next(u *User) { o.M.QueueUser(u) }

// FailNext makes the provider's next n endpoint calls answer an OAuth error with status code.
func (o *OIDC) FailNext(n, code int, errCode string) {
	for range n {
		o.M.QueueError(&mockoidc.ServerError{Code: code, Error: errCode, Description: "test failure"})
	}
}

// SetTokenDelay delays every token endpoint answer (a provider timing out).
func (o *OIDC) SetTokenDelay(d time.Duration) {
	o.mu.Lock()
	o.delay = d
	o.mu.Unlock()
}

// TokenRequests returns the token endpoint requests so far.
func (o *OIDC) TokenRequests() []url.Values {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]url.Values(nil), o.tokens...)
}

// User is an account at the OIDC provider. Mutate may change the ID token's registered claims
// (issuer, audience, expiry, nonce) to make it invalid.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Picture       string
	Extra         map[string]any // more claims (tid, xms_edov, hd, ...)
	Mutate        func(c *mockoidc.IDTokenClaims)
}

var _ mockoidc.User = (*User)(nil)

// ID is the subject.
func (u *User) ID() string { return u.Subject }

// Userinfo is the userinfo endpoint's answer.
func (u *User) Userinfo([]string) ([]byte, error) {
	return json.Marshal(u.claims())
}

func (u *User) claims() map[string]any {
	c := map[string]any{"sub": u.Subject}
	if u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if u.Name != "" {
		c["name"] = u.Name
	}
	if u.Picture != "" {
		c["picture"] = u.Picture
	}
	for k, v := range u.Extra {
		c[k] = v
	}
	return c
}

// Claims builds the ID token's claims.
func (u *User) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	if u.Mutate != nil {
		u.Mutate(base)
	}
	raw, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	out := jwt.MapClaims{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	for k, v := range u.claims() {
		out[k] = v
	}
	return out, nil
}

// Microsoft serves Entra ID's discovery layout (/{tenant}/v2.0/.well-known/openid-configuration)
// over an OIDC provider: the multi-tenant tenants (common, organizations, consumers) announce the
// issuer template https://<host>/{tenantid}/v2.0, a tenant id its own issuer.
type Microsoft struct {
	*OIDC
	URL string
}

// StartMicrosoft starts the discovery front for o.
func StartMicrosoft(t testing.TB, o *OIDC) *Microsoft {
	t.Helper()
	ms := &Microsoft{OIDC: o}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if !ok || rest != "v2.0/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		iss := ms.URL + "/" + tenant + "/v2.0"
		switch tenant {
		case "common", "organizations", "consumers":
			iss = ms.URL + "/{tenantid}/v2.0"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss,
			"authorization_endpoint":                o.M.AuthorizationEndpoint(),
			"token_endpoint":                        o.M.TokenEndpoint(),
			"jwks_uri":                              o.M.JWKSEndpoint(),
			"userinfo_endpoint":                     o.M.UserinfoEndpoint(),
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"code_challenge_methods_supported":      []string{"S256"},
		})
	}))
	t.Cleanup(srv.Close)
	ms.URL = srv.URL
	return ms
}

// Issuer is the issuer of tenant tid's tokens.
func (ms *Microsoft) Issuer(tid string) string { return ms.URL + "/" + tid + "/v2.0" }

// GitHub speaks GitHub's OAuth2 web flow (/login/oauth/authorize, /login/oauth/access_token,
// with PKCE) and the REST endpoints /user and /user/emails.
type GitHub struct {
	URL          string
	ClientID     string
	ClientSecret string

	mu        sync.Mutex
	next      []GitHubUser
	codes     map[string]ghGrant
	tokens    map[string]GitHubUser
	verifiers []string // code_verifier of each token request
	failToken bool
}

// GitHubUser is an account at GitHub.
type GitHubUser struct {
	ID     int64
	Login  string
	Name   string
	Avatar string
	Emails []GitHubEmail
}

// GitHubEmail is one of /user/emails.
type GitHubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type ghGrant struct {
	user      GitHubUser
	challenge string
	redirect  string
}

// StartGitHub starts the fake; it stops when the test ends. Its credentials are test values.
func StartGitHub(t testing.TB) *GitHub {
	t.Helper()
	g := &GitHub{ClientID: "Iv1.testclient", codes: map[string]ghGrant{}, tokens: map[string]GitHubUser{}}
	g.ClientSecret = "gh-test-secret-0123456789" //nolint:gosec // a fake provider's test credential
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.token)
	mux.HandleFunc("GET /user", g.user)
	mux.HandleFunc("GET /user/emails", g.emails)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	g.URL = srv.URL
	return g
}

// Next makes u the account of the next authorization.
func (g *GitHub) Next(u GitHubUser) {
	g.mu.Lock()
	g.next = append(g.next, u)
	g.mu.Unlock()
}

// FailNextToken makes the next code exchange fail the way GitHub does (200 with an error).
func (g *GitHub) FailNextToken() {
	g.mu.Lock()
	g.failToken = true
	g.mu.Unlock()
}

// Verifiers returns the code_verifier of every token request.
func (g *GitHub) Verifiers() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.verifiers...)
}

func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != g.ClientID || q.Get("state") == "" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	if len(g.next) == 0 {
		g.mu.Unlock()
		http.Error(w, "no user queued", http.StatusBadRequest)
		return
	}
	u := g.next[0]
	g.next = g.next[1:]
	code := fmt.Sprintf("ghcode-%d-%d", u.ID, time.Now().UnixNano())
	g.codes[code] = ghGrant{user: u, challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	g.mu.Unlock()
	to, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := to.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	to.RawQuery = v.Encode()
	http.Redirect(w, r, to.String(), http.StatusFound) //nolint:gosec // a test provider: it sends the browser back to the redirect_uri it was given, as real ones do after checking registration
}

func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	w.Header().Set("Content-Type", "application/json")
	fail := func(code string) {
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": code})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.verifiers = append(g.verifiers, f.Get("code_verifier"))
	if g.failToken {
		g.failToken = false
		fail("incorrect_client_credentials")
		return
	}
	if f.Get("client_id") != g.ClientID || f.Get("client_secret") != g.ClientSecret {
		fail("incorrect_client_credentials")
		return
	}
	grant, ok := g.codes[f.Get("code")]
	delete(g.codes, f.Get("code"))
	if !ok || f.Get("redirect_uri") != grant.redirect {
		fail("bad_verification_code")
		return
	}
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	if base64.RawURLEncoding.EncodeToString(sum[:]) != grant.challenge {
		fail("bad_verification_code")
		return
	}
	tok := fmt.Sprintf("gho_%d_%d", grant.user.ID, time.Now().UnixNano())
	g.tokens[tok] = grant.user
	_ = json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "bearer", "scope": "read:user,user:email"})
}

func (g *GitHub) caller(w http.ResponseWriter, r *http.Request) (GitHubUser, bool) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	u, ok := g.tokens[tok]
	g.mu.Unlock()
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"message":"Bad credentials"}`))
	}
	return u, ok
}

func (g *GitHub) user(w http.ResponseWriter, r *http.Request) {
	u, ok := g.caller(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": u.ID, "login": u.Login, "name": u.Name, "avatar_url": u.Avatar})
}

func (g *GitHub) emails(w http.ResponseWriter, r *http.Request) {
	u, ok := g.caller(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	list := u.Emails
	if list == nil {
		list = []GitHubEmail{}
	}
	_ = json.NewEncoder(w).Encode(list)
}
