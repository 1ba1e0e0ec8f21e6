package token_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/server/internal/clocktest"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/token/tokentest"
)

const (
	testIssuer   = "https://gatehouse.test"
	testAudience = "gatehouse-api"
)

// t0 is the tests' starting time: whole seconds, since iat/exp are.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newClock() *clocktest.Clock { return clocktest.New(t0) }

// fixture is a manager whose first signing key the test knows, so it can forge tokens that
// differ from genuine ones in exactly one respect.
type fixture struct {
	m     *token.Manager
	store *tokentest.MemoryKeyStore
	enc   *tokentest.Encrypter
	clock *clocktest.Clock
	priv  ed25519.PrivateKey
	kid   string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	seed := bytes.Repeat([]byte{0x5E}, ed25519.SeedSize)
	kidRaw := bytes.Repeat([]byte{0x4B}, 16)
	f := &fixture{
		store: tokentest.NewMemoryKeyStore(),
		enc:   tokentest.NewEncrypter(t),
		clock: newClock(),
		priv:  ed25519.NewKeyFromSeed(seed),
		kid:   base64.RawURLEncoding.EncodeToString(kidRaw),
	}
	// Options.Rand yields the seed, then the kid: exactly what Open reads for the first key.
	// Later keys (Rotate) are random.
	f.m = f.open(t, token.Options{Rand: io.MultiReader(bytes.NewReader(append(seed, kidRaw...)), rand.Reader)})
	if got := f.m.SigningKID(); got != f.kid {
		t.Fatalf("first key kid = %s, want %s from Options.Rand", got, f.kid)
	}
	return f
}

// open opens another manager (a replica, or a restart) on the fixture's store.
func (f *fixture) open(t testing.TB, o token.Options) *token.Manager {
	t.Helper()
	m, err := token.Open(context.Background(), f.store, f.enc, f.opts(o))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

func (f *fixture) opts(o token.Options) token.Options {
	o.Issuer, o.Audience = testIssuer, testAudience
	if o.Now == nil {
		o.Now = f.clock.Now
	}
	return o
}

func (f *fixture) issue(t testing.TB, m *token.Manager) string {
	t.Helper()
	tok, _, err := m.Issue(token.Claims{Subject: "user-1", SessionID: "session-1", AAL: "aal1", Roles: []string{"user"}})
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok
}

// claims are what a genuine token issued now carries.
func (f *fixture) claims() jwt.MapClaims {
	now := f.clock.Now()
	return jwt.MapClaims{
		"iss":   testIssuer,
		"aud":   []string{testAudience},
		"sub":   "user-1",
		"sid":   "session-1",
		"aal":   "aal1",
		"roles": []string{"user"},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(10 * time.Minute).Unix(),
		"jti":   "forged",
	}
}

// header is the header of a genuine token.
func (f *fixture) header(alg string) map[string]any {
	return map[string]any{"alg": alg, "kid": f.kid, "typ": "at+jwt"}
}

// sign builds a token with golang-jwt itself, as an attacker with the library would.
func sign(t testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header = header
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

// without returns m minus the named keys.
func without[M ~map[string]any](m M, keys ...string) M {
	out := M{}
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// with returns m with k set to v.
func with[M ~map[string]any](m M, k string, v any) M {
	out := without(m)
	out[k] = v
	return out
}

// segments splits a compact JWS.
func segments(t testing.TB, tok string) (header, payload, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	if len(p) != 3 {
		t.Fatalf("token has %d segments", len(p))
	}
	return p[0], p[1], p[2]
}
