package token_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/server/internal/token"
	"gatehouse/server/internal/token/tokentest"
)

// The in-memory store the tests use must honour the contract the database store passes.
func TestMemoryKeyStoreConformance(t *testing.T) {
	tokentest.ExerciseKeyStore(t, func(*testing.T) token.KeyStore { return tokentest.NewMemoryKeyStore() })
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newFixture(t)
	in := token.Claims{Subject: "user-42", SessionID: "session-7", AAL: "aal2", Roles: []string{"admin", "user"}, ID: "jti-1"}
	f.clock.Advance(1500 * time.Millisecond) // iat/exp are whole seconds; Issue must not pretend otherwise
	tok, exp, err := f.m.Issue(in)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	iat := f.clock.Now().Truncate(time.Second)
	if want := iat.Add(token.DefaultAccessTTL); !exp.Equal(want) {
		t.Fatalf("expiresAt = %v, want %v", exp, want)
	}
	got, err := f.m.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Subject != in.Subject || got.SessionID != in.SessionID || got.AAL != in.AAL || got.ID != in.ID ||
		!slices.Equal(got.Roles, in.Roles) || !got.IssuedAt.Equal(iat) || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("Verify = %+v; issued %+v at %v until %v", got, in, iat, exp)
	}
}

// The wire format is what offline apps and other libraries see: pin it.
func TestTokenWireFormat(t *testing.T) {
	f := newFixture(t)
	tok := f.issue(t, f.m)
	h, p, _ := segments(t, tok)
	var header map[string]any
	decodeSegment(t, h, &header)
	if want := map[string]any{"alg": "EdDSA", "kid": f.kid, "typ": "at+jwt"}; fmt.Sprint(header) != fmt.Sprint(want) {
		t.Fatalf("header = %v, want %v", header, want)
	}
	var payload map[string]any
	decodeSegment(t, p, &payload)
	var names []string
	for k := range payload {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"aal", "aud", "exp", "iat", "iss", "jti", "nbf", "roles", "sid", "sub"}; !slices.Equal(names, want) {
		t.Fatalf("claims %v, want %v", names, want)
	}
	if payload["iss"] != testIssuer || payload["sub"] != "user-1" || payload["sid"] != "session-1" || payload["aal"] != "aal1" {
		t.Fatalf("claims = %v", payload)
	}
	if exp, iat := payload["exp"].(float64), payload["iat"].(float64); exp-iat != token.DefaultAccessTTL.Seconds() {
		t.Fatalf("exp - iat = %v s, want %v", exp-iat, token.DefaultAccessTTL.Seconds())
	}

	// No roles still means an array, and every token gets its own jti.
	a, _, err := f.m.Issue(token.Claims{Subject: "s", SessionID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := f.m.Issue(token.Claims{Subject: "s", SessionID: "x"})
	var pa, pb map[string]any
	_, p, _ = segments(t, a)
	decodeSegment(t, p, &pa)
	_, p, _ = segments(t, b)
	decodeSegment(t, p, &pb)
	if roles, ok := pa["roles"].([]any); !ok || len(roles) != 0 {
		t.Fatalf("roles without roles = %#v, want []", pa["roles"])
	}
	if pa["jti"] == "" || pa["jti"] == pb["jti"] {
		t.Fatalf("jti %v and %v: want distinct, non-empty", pa["jti"], pb["jti"])
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

func TestIssueExpiresAtCapsLifetime(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	cases := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"earlier end (session ends sooner)", now.Add(5 * time.Minute), now.Add(5 * time.Minute)},
		{"later end is capped at AccessTTL", now.Add(time.Hour), now.Add(token.DefaultAccessTTL)},
		{"zero means AccessTTL", time.Time{}, now.Add(token.DefaultAccessTTL)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, exp, err := f.m.Issue(token.Claims{Subject: "u", SessionID: "s", ExpiresAt: c.in})
			if err != nil || !exp.Equal(c.want) {
				t.Fatalf("Issue = %v, %v; want expiry %v", exp, err, c.want)
			}
			got, err := f.m.Verify(tok)
			if err != nil || !got.ExpiresAt.Equal(c.want) {
				t.Fatalf("Verify = %v, %v; want expiry %v", got.ExpiresAt, err, c.want)
			}
		})
	}
}

func TestIssueRefusesIncompleteClaims(t *testing.T) {
	f := newFixture(t)
	for name, c := range map[string]token.Claims{
		"no subject":      {SessionID: "s"},
		"no session":      {Subject: "u"},
		"already expired": {Subject: "u", SessionID: "s", ExpiresAt: f.clock.Now().Add(-time.Second)},
	} {
		if tok, _, err := f.m.Issue(c); err == nil {
			t.Errorf("%s: Issue = %q, want an error", name, tok)
		}
	}
}

// TestVerifyRefusesSEC15 is the SEC-15 table: each token differs from a genuine one in one
// respect, and is built with golang-jwt as an attacker would.
func TestVerifyRefusesSEC15(t *testing.T) {
	f := newFixture(t)
	now := f.clock.Now()
	pub, _ := f.priv.Public().(ed25519.PublicKey)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, otherEd, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	genuine := f.issue(t, f.m)
	gh, gp, gs := segments(t, genuine)
	ed := func(h map[string]any, c jwt.MapClaims) string { return sign(t, jwt.SigningMethodEdDSA, f.priv, h, c) }
	hdr, claims := f.header("EdDSA"), f.claims()

	// Control: the forging helpers make tokens Verify accepts when nothing is wrong, so each
	// refusal below is caused by its one defect.
	if _, err := f.m.Verify(ed(hdr, claims)); err != nil {
		t.Fatalf("control token refused: %v", err)
	}

	// A token longer than 8 KiB, validly signed: refused on length alone.
	big := ed(hdr, with(claims, "roles", []string{strings.Repeat("r", token.MaxTokenSize)}))

	// The signature's last base64 character carries 4 unused bits; setting one spells the same
	// signature differently. Strict decoding refuses the second spelling.
	last := gs[len(gs)-1]
	alt := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", last) | 1
	nonCanonical := gh + "." + gp + "." + gs[:len(gs)-1] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[alt])

	// Change one signature character to another valid base64url character (a bit flip could
	// produce '.' or a backslash from '-' or '_', which is a malformed token, not a bad signature).
	flipped := []byte(gs)
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}
	tamperedPayload := gh + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, with(claims, "sub", "admin"))) + "." + gs

	cases := []struct {
		name   string
		tok    string
		want   error
		reason string // the detail for logs
	}{
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, f.header("none"), claims), token.ErrInvalid, "algorithm not allowed"},
		{"genuine header and claims, signature stripped", gh + "." + gp + ".", token.ErrInvalid, "bad signature"},
		{"missing alg", ed(without(hdr, "alg"), claims), token.ErrInvalid, "algorithm not allowed"},
		{"unknown alg", base64.RawURLEncoding.EncodeToString(mustJSON(t, with(hdr, "alg", "HS999"))) + "." + gp + "." + gs, token.ErrInvalid, "algorithm not allowed"},
		{"alg eddsa in lower case", base64.RawURLEncoding.EncodeToString(mustJSON(t, with(hdr, "alg", "eddsa"))) + "." + gp + "." + gs, token.ErrInvalid, "algorithm not allowed"},
		{"HS256 keyed with the public key (algorithm confusion)", sign(t, jwt.SigningMethodHS256, []byte(pub), f.header("HS256"), claims), token.ErrInvalid, "algorithm not allowed"},
		{"HS256 keyed with the JWK x value", sign(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), f.header("HS256"), claims), token.ErrInvalid, "algorithm not allowed"},
		{"RS256 with a fresh RSA key and the right kid", sign(t, jwt.SigningMethodRS256, rsaKey, f.header("RS256"), claims), token.ErrInvalid, "algorithm not allowed"},
		{"ES256 with a fresh key and the right kid", sign(t, jwt.SigningMethodES256, ecKey, f.header("ES256"), claims), token.ErrInvalid, "algorithm not allowed"},
		{"EdDSA with another key and the right kid", sign(t, jwt.SigningMethodEdDSA, otherEd, hdr, claims), token.ErrInvalid, "bad signature"},
		{"unknown kid", ed(with(hdr, "kid", "no-such-key"), claims), token.ErrInvalid, "unknown or dropped signing key"},
		{"missing kid", ed(without(hdr, "kid"), claims), token.ErrInvalid, "no kid header"},
		{"empty kid", ed(with(hdr, "kid", ""), claims), token.ErrInvalid, "no kid header"},
		{"kid not a string", ed(with(hdr, "kid", 7), claims), token.ErrInvalid, "no kid header"},
		{"typ JWT instead of at+jwt", ed(with(hdr, "typ", "JWT"), claims), token.ErrInvalid, "unexpected header"},
		{"missing typ", ed(without(hdr, "typ"), claims), token.ErrInvalid, "unexpected header"},
		{"extra jku header", ed(with(hdr, "jku", "https://evil.example/jwks.json"), claims), token.ErrInvalid, "unexpected header"},
		{"crit header", ed(with(hdr, "crit", []string{"exp"}), claims), token.ErrInvalid, "unexpected header"},
		{"wrong issuer", ed(hdr, with(claims, "iss", "https://evil.example")), token.ErrInvalid, "wrong issuer"},
		{"missing issuer", ed(hdr, without(claims, "iss")), token.ErrInvalid, "missing required claim"},
		{"wrong audience", ed(hdr, with(claims, "aud", []string{"another-api"})), token.ErrInvalid, "wrong audience"},
		{"missing audience", ed(hdr, without(claims, "aud")), token.ErrInvalid, "missing required claim"},
		{"expired", ed(hdr, with(with(claims, "iat", now.Add(-time.Hour).Unix()), "exp", now.Add(-30*time.Minute).Unix())), token.ErrExpired, "expired"},
		{"expired beyond leeway", ed(hdr, with(claims, "exp", now.Add(-31*time.Second).Unix())), token.ErrExpired, "expired"},
		{"expired and wrong issuer", ed(hdr, with(with(claims, "exp", now.Add(-time.Hour).Unix()), "iss", "x")), token.ErrInvalid, "wrong issuer"},
		{"expired and forged", sign(t, jwt.SigningMethodEdDSA, otherEd, hdr, with(claims, "exp", now.Add(-time.Hour).Unix())), token.ErrInvalid, "bad signature"},
		{"nbf in the future", ed(hdr, with(claims, "nbf", now.Add(time.Hour).Unix())), token.ErrInvalid, "not valid yet"},
		{"nbf just beyond leeway", ed(hdr, with(claims, "nbf", now.Add(31*time.Second).Unix())), token.ErrInvalid, "not valid yet"},
		{"iat in the future", ed(hdr, with(claims, "iat", now.Add(time.Hour).Unix())), token.ErrInvalid, "issued in the future"},
		{"missing sub", ed(hdr, without(claims, "sub")), token.ErrInvalid, "missing required claim"},
		{"empty sub", ed(hdr, with(claims, "sub", "")), token.ErrInvalid, "missing required claim"},
		{"missing sid", ed(hdr, without(claims, "sid")), token.ErrInvalid, "missing required claim"},
		{"missing exp", ed(hdr, without(claims, "exp")), token.ErrInvalid, "missing required claim"},
		{"missing iat", ed(hdr, without(claims, "iat")), token.ErrInvalid, "missing required claim"},
		{"exp not a number", ed(hdr, with(claims, "exp", "tomorrow")), token.ErrInvalid, "malformed"},
		{"tampered signature", gh + "." + gp + "." + string(flipped), token.ErrInvalid, "bad signature"},
		{"tampered payload", tamperedPayload, token.ErrInvalid, "bad signature"},
		{"non-canonical base64 signature", nonCanonical, token.ErrInvalid, "malformed"},
		{"signature from another token", gh + "." + base64.RawURLEncoding.EncodeToString(mustJSON(t, claims)) + "." + gs, token.ErrInvalid, "bad signature"},
		{"oversized", big, token.ErrInvalid, "larger than 8 KiB"},
		{"empty", "", token.ErrInvalid, "malformed"},
		{"garbage", "not a token", token.ErrInvalid, "malformed"},
		{"two segments", gh + "." + gp, token.ErrInvalid, "malformed"},
		{"four segments", genuine + ".x", token.ErrInvalid, "malformed"},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("{")) + "." + gp + "." + gs, token.ErrInvalid, "malformed"},
		{"not base64", "###." + gp + "." + gs, token.ErrInvalid, "malformed"},
	}
	if len(big) <= token.MaxTokenSize {
		t.Fatalf("oversized token is only %d bytes", len(big))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.m.Verify(c.tok)
			if err == nil {
				t.Fatalf("Verify accepted it: %+v", got)
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			other := token.ErrExpired
			if errors.Is(c.want, token.ErrExpired) {
				other = token.ErrInvalid
			}
			if errors.Is(err, other) {
				t.Fatalf("err = %v is both ErrInvalid and ErrExpired", err)
			}
			if got.Subject != "" || got.SessionID != "" {
				t.Fatalf("a refused token returned claims %+v", got)
			}
			if !strings.HasSuffix(err.Error(), c.reason) {
				t.Fatalf("err = %q, want the reason %q", err, c.reason)
			}
			assertNoTokenIn(t, err.Error(), c.tok)
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNoTokenIn checks an error message quotes no part of a token (SEC-18).
func assertNoTokenIn(t *testing.T, msg, tok string) {
	t.Helper()
	for part := range strings.SplitSeq(tok, ".") {
		if len(part) >= 8 && strings.Contains(msg, part) {
			t.Fatalf("error %q contains part of the token", msg)
		}
	}
}

// Clock skew between replicas up to Leeway is tolerated on exp, nbf and iat; beyond it is not.
func TestVerifyLeewaySEC15(t *testing.T) {
	f := newFixture(t)
	tok := f.issue(t, f.m)

	f.clock.Advance(token.DefaultAccessTTL + 29*time.Second)
	if _, err := f.m.Verify(tok); err != nil {
		t.Fatalf("expired 29 s ago, within leeway: %v", err)
	}
	f.clock.Advance(2 * time.Second)
	if _, err := f.m.Verify(tok); !errors.Is(err, token.ErrExpired) {
		t.Fatalf("expired 31 s ago: err = %v, want ErrExpired", err)
	}

	// A replica whose clock runs ahead issues a token "from the future".
	ahead := newClock()
	m := f.open(t, token.Options{Now: ahead.Now})
	f.clock.Set(t0)
	ahead.Set(t0.Add(20 * time.Second))
	if _, err := f.m.Verify(f.issue(t, m)); err != nil {
		t.Fatalf("issued by a clock 20 s ahead: %v", err)
	}
	ahead.Set(t0.Add(40 * time.Second))
	if _, err := f.m.Verify(f.issue(t, m)); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("issued by a clock 40 s ahead: err = %v, want ErrInvalid", err)
	}
}

// An app verifying offline needs only the JWKS and crypto/ed25519.
func TestJWKSVerifiesOffline(t *testing.T) {
	f := newFixture(t)
	tok := f.issue(t, f.m)

	raw, err := json.Marshal(f.m.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	// Decode as the app would, with its own field names.
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	h, p, s := segments(t, tok)
	var header struct{ Alg, Kid string }
	decodeSegment(t, h, &header)
	var jwk map[string]string
	for _, k := range set.Keys {
		if k["kid"] == header.Kid {
			jwk = k
		}
	}
	if jwk == nil {
		t.Fatalf("kid %s not in JWKS %s", header.Kid, raw)
	}
	if jwk["kty"] != "OKP" || jwk["crv"] != "Ed25519" || jwk["alg"] != "EdDSA" || jwk["use"] != "sig" || header.Alg != jwk["alg"] {
		t.Fatalf("JWK = %v", jwk)
	}
	x, err := base64.RawURLEncoding.DecodeString(jwk["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("x = %q: %d bytes, %v", jwk["x"], len(x), err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(ed25519.PublicKey(x), []byte(h+"."+p), sig) {
		t.Fatal("the JWKS key does not verify the token")
	}
	if ed25519.Verify(ed25519.PublicKey(x), []byte(h+"."+p+"x"), sig) {
		t.Fatal("the JWKS key verifies a different message")
	}
}

// TestRotationOverlap: after Rotate the new key signs at once; tokens of the retired key keep
// verifying until RetiredAt + AccessTTL + Leeway, then the key leaves verification and JWKS.
func TestRotationOverlap(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	lagging := f.open(t, token.Options{}) // a replica that will not hear of the rotation in time
	old := f.issue(t, f.m)

	f.clock.Advance(5 * time.Minute)
	retiredAt := f.clock.Now()
	kid2, err := f.m.Rotate(ctx)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if kid2 == f.kid || f.m.SigningKID() != kid2 {
		t.Fatalf("after Rotate: new kid %s, signing %s, old %s", kid2, f.m.SigningKID(), f.kid)
	}
	assertJWKS(t, f.m, kid2, f.kid)
	if _, err := f.m.Verify(old); err != nil {
		t.Fatalf("a token of the retired key, inside the overlap: %v", err)
	}
	fresh := f.issue(t, f.m)
	if _, err := f.m.Verify(fresh); err != nil {
		t.Fatalf("a token of the new key: %v", err)
	}
	// The lagging replica still signs with the retired key: its tokens verify here...
	f.clock.Advance(5 * time.Minute)
	late := f.issue(t, lagging)
	if _, err := f.m.Verify(late); err != nil {
		t.Fatalf("a token of the retired key from a lagging replica: %v", err)
	}
	// ...but not on itself for new-key tokens until it reloads.
	if _, err := lagging.Verify(fresh); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("lagging replica verified a new-key token before Reload: %v", err)
	}
	if err := lagging.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := lagging.Verify(fresh); err != nil || lagging.SigningKID() != kid2 {
		t.Fatalf("after Reload: verify %v, signing %s want %s", err, lagging.SigningKID(), kid2)
	}

	// The window ends at retiredAt + AccessTTL + Leeway, inclusive. late has not expired yet
	// then, so only the key's retirement can refuse it.
	end := retiredAt.Add(token.DefaultAccessTTL + token.DefaultLeeway)
	f.clock.Set(end)
	if _, err := f.m.Verify(late); err != nil {
		t.Fatalf("at the end of the window: %v", err)
	}
	assertJWKS(t, f.m, kid2, f.kid)
	f.clock.Set(end.Add(time.Second))
	if _, err := f.m.Verify(late); !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("after the window: err = %v, want ErrInvalid (key dropped)", err)
	}
	assertJWKS(t, f.m, kid2)
	if _, err := f.m.Verify(f.issue(t, f.m)); err != nil {
		t.Fatalf("a new-key token after the window: %v", err)
	}
	// A reload after the window leaves the old key out altogether; the store keeps it.
	if err := f.m.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if s := f.m.String(); strings.Contains(s, f.kid) {
		t.Fatalf("after Reload the dropped key is still loaded: %s", s)
	}
	if f.store.Len() != 2 {
		t.Fatalf("store holds %d keys, want 2", f.store.Len())
	}
}

func assertJWKS(t *testing.T, m *token.Manager, kids ...string) {
	t.Helper()
	var got []string
	for _, k := range m.JWKS().Keys {
		got = append(got, k.Kid)
	}
	if !slices.Equal(got, kids) {
		t.Fatalf("JWKS kids = %v, want %v (newest first)", got, kids)
	}
}

// Rotating twice retires both older keys; each keeps its own window.
func TestRotateTwice(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	first := f.issue(t, f.m)
	kid2, err := f.m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := f.issue(t, f.m)
	kid3, err := f.m.Rotate(ctx) // same instant: the new key must still sort newest
	if err != nil {
		t.Fatal(err)
	}
	if f.m.SigningKID() != kid3 {
		t.Fatalf("signing %s, want %s", f.m.SigningKID(), kid3)
	}
	assertJWKS(t, f.m, kid3, kid2, f.kid)
	for _, tok := range []string{first, second, f.issue(t, f.m)} {
		if _, err := f.m.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ := f.store.Keys(ctx)
	retired := 0
	for _, k := range keys {
		if k.RetiredAt != nil {
			retired++
		}
	}
	if retired != 2 {
		t.Fatalf("%d keys retired, want 2", retired)
	}
}

// TestReopenDecryptsKeys is a restart: a new manager on the same store decrypts the keys, signs
// with the newest, verifies what the old one issued, and adds nothing.
func TestReopenDecryptsKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.issue(t, f.m)
	kid2, err := f.m.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := f.issue(t, f.m)

	m2 := f.open(t, token.Options{})
	if m2.SigningKID() != kid2 {
		t.Fatalf("reopened manager signs with %s, want %s", m2.SigningKID(), kid2)
	}
	for _, tok := range []string{a, b} {
		if _, err := m2.Verify(tok); err != nil {
			t.Fatalf("reopened manager: %v", err)
		}
	}
	if _, err := f.m.Verify(f.issue(t, m2)); err != nil {
		t.Fatalf("first manager refuses the reopened one's token: %v", err)
	}
	if f.store.Len() != 2 {
		t.Fatalf("reopening changed the store: %d keys", f.store.Len())
	}
	keys, _ := f.store.Keys(ctx)
	for _, k := range keys {
		if strings.Contains(k.PrivateKeyEnc, "ed25519:") {
			t.Fatalf("key %s stored in the clear", k.KID)
		}
	}
}

func TestOpenWithWrongEncrypterFails(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	wrong := tokentest.NewEncrypter(t)
	_, err := token.Open(ctx, f.store, wrong, f.opts(token.Options{}))
	if !errors.Is(err, tokentest.ErrDecrypt) || !strings.Contains(err.Error(), "keyring") {
		t.Fatalf("Open with the wrong encrypter: err = %v, want ErrDecrypt naming the keyring", err)
	}

	// Even when every key is retired (so Open would create one), a wrong encrypter must not
	// start a second generation of keys nobody else can read.
	if err := f.store.Retire(ctx, f.kid, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := token.Open(ctx, f.store, wrong, f.opts(token.Options{})); !errors.Is(err, tokentest.ErrDecrypt) {
		t.Fatalf("Open with the wrong encrypter on retired keys: err = %v", err)
	}
	if f.store.Len() != 1 {
		t.Fatalf("a failed Open wrote keys: %d stored", f.store.Len())
	}
	// The right encrypter replaces the retired key.
	m := f.open(t, token.Options{})
	if m.SigningKID() == f.kid || f.store.Len() != 2 {
		t.Fatalf("Open on retired keys: signing %s, %d stored", m.SigningKID(), f.store.Len())
	}
}

func TestOpenRefusesDamagedKeys(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]func(f *fixture, k *token.StoredKey){
		"public key of another pair": func(_ *fixture, k *token.StoredKey) {
			pub, _, _ := ed25519.GenerateKey(rand.Reader)
			k.PublicKey = pub
		},
		"short public key": func(_ *fixture, k *token.StoredKey) { k.PublicKey = k.PublicKey[:16] },
		"private key not a seed": func(f *fixture, k *token.StoredKey) {
			k.PrivateKeyEnc, _ = f.enc.EncryptString("ed25519:AAAA")
		},
		"unknown private key format": func(f *fixture, k *token.StoredKey) {
			k.PrivateKeyEnc, _ = f.enc.EncryptString("rsa:AAAA")
		},
		"empty kid": func(_ *fixture, k *token.StoredKey) { k.KID = "" },
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			keys, _ := f.store.Keys(ctx)
			k := keys[0]
			damage(f, &k)
			f.store.Set(k)
			if _, err := token.Open(ctx, f.store, f.enc, f.opts(token.Options{})); err == nil {
				t.Fatal("Open accepted a damaged key")
			}
		})
	}
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	store, enc := tokentest.NewMemoryKeyStore(), tokentest.NewEncrypter(t)
	ok := token.Options{Issuer: "i", Audience: "a"}
	for name, c := range map[string]struct {
		store token.KeyStore
		enc   token.Encrypter
		opts  token.Options
	}{
		"nil store":      {nil, enc, ok},
		"nil encrypter":  {store, nil, ok},
		"no issuer":      {store, enc, token.Options{Audience: "a"}},
		"no audience":    {store, enc, token.Options{Issuer: "i"}},
		"negative ttl":   {store, enc, token.Options{Issuer: "i", Audience: "a", AccessTTL: -time.Second}},
		"negative skew":  {store, enc, token.Options{Issuer: "i", Audience: "a", Leeway: -time.Second}},
		"short rand":     {store, enc, token.Options{Issuer: "i", Audience: "a", Rand: strings.NewReader("too short")}},
		"failing reader": {store, enc, token.Options{Issuer: "i", Audience: "a", Rand: errReader{}}},
	} {
		if _, err := token.Open(ctx, c.store, c.enc, c.opts); err == nil {
			t.Errorf("%s: Open succeeded", name)
		}
	}
	if store.Len() != 0 {
		t.Fatalf("failed Opens wrote %d keys", store.Len())
	}
	m, err := token.Open(ctx, store, enc, ok)
	if err != nil {
		t.Fatal(err)
	}
	if m.AccessTTL() != token.DefaultAccessTTL {
		t.Fatalf("AccessTTL = %v", m.AccessTTL())
	}
	m, err = token.Open(ctx, store, enc, token.Options{Issuer: "i", Audience: "a", AccessTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	_, exp, err := m.Issue(token.Claims{Subject: "u", SessionID: "s"})
	if err != nil || time.Until(exp) > time.Minute {
		t.Fatalf("AccessTTL 1m: token expires %v (%v)", exp, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

// Replicas starting together on an empty store each add a key; after a reload they agree on the
// newest and verify each other's tokens.
func TestOpenConcurrentReplicasConverge(t *testing.T) {
	ctx := context.Background()
	store, enc := tokentest.NewMemoryKeyStore(), tokentest.NewEncrypter(t)
	const n = 4
	ms := make([]*token.Manager, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ms[i], errs[i] = token.Open(ctx, store, enc, token.Options{Issuer: "i", Audience: "a"}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	for _, m := range ms {
		if err := m.Reload(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range ms {
		if m.SigningKID() != ms[0].SigningKID() {
			t.Fatalf("replica %d signs with %s, replica 0 with %s", i, m.SigningKID(), ms[0].SigningKID())
		}
		tok, _, err := m.Issue(token.Claims{Subject: "u", SessionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range ms {
			if _, err := v.Verify(tok); err != nil {
				t.Fatalf("replica %d refuses replica %d's token: %v", j, i, err)
			}
		}
	}
}

// racingStore lets a test run code just before Add and replace its result.
type racingStore struct {
	*tokentest.MemoryKeyStore
	beforeAdd func() error
	retireErr error
}

func (s *racingStore) Add(ctx context.Context, k token.StoredKey) error {
	if s.beforeAdd != nil {
		if err := s.beforeAdd(); err != nil {
			return err
		}
	}
	return s.MemoryKeyStore.Add(ctx, k)
}

func (s *racingStore) Retire(ctx context.Context, kid string, at time.Time) error {
	if s.retireErr != nil {
		return s.retireErr
	}
	return s.MemoryKeyStore.Retire(ctx, kid, at)
}

// The loser of a first-key race (Add reports ErrKeyExists) reloads and uses the winner's key.
func TestOpenLosesFirstKeyRace(t *testing.T) {
	ctx := context.Background()
	mem, enc := tokentest.NewMemoryKeyStore(), tokentest.NewEncrypter(t)
	opts := token.Options{Issuer: "i", Audience: "a"}
	var winner *token.Manager
	rs := &racingStore{MemoryKeyStore: mem, beforeAdd: func() error {
		var err error
		if winner, err = token.Open(ctx, mem, enc, opts); err != nil {
			return err
		}
		return token.ErrKeyExists
	}}
	loser, err := token.Open(ctx, rs, enc, opts)
	if err != nil {
		t.Fatalf("the loser of the race failed to open: %v", err)
	}
	if loser.SigningKID() != winner.SigningKID() || mem.Len() != 1 {
		t.Fatalf("loser signs with %s, winner with %s; %d keys stored", loser.SigningKID(), winner.SigningKID(), mem.Len())
	}
}

// A rotation whose retire step fails reports it, but the new key signs and the old verifies.
func TestRotateRetireFailure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	old := f.issue(t, f.m)
	rs := &racingStore{MemoryKeyStore: f.store, retireErr: errors.New("database is down")}
	m, err := token.Open(ctx, rs, f.enc, f.opts(token.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(ctx); err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("Rotate = %v, want the retire error", err)
	}
	if m.SigningKID() == f.kid {
		t.Fatal("after a half-done rotation the old key still signs")
	}
	if _, err := m.Verify(old); err != nil {
		t.Fatalf("old token after a half-done rotation: %v", err)
	}
}

// Issue, Verify, JWKS, Rotate and Reload at once, for the race detector.
func TestConcurrentIssueVerifyRotate(t *testing.T) {
	ctx := context.Background()
	store, enc := tokentest.NewMemoryKeyStore(), tokentest.NewEncrypter(t)
	opts := token.Options{Issuer: "i", Audience: "a"}
	m, err := token.Open(ctx, store, enc, opts)
	if err != nil {
		t.Fatal(err)
	}
	replica, err := token.Open(ctx, store, enc, opts)
	if err != nil {
		t.Fatal(err)
	}
	var (
		stop     atomic.Bool
		verified atomic.Int64
		wg       sync.WaitGroup
	)
	for i := range 8 {
		wg.Go(func() {
			for n := 0; !stop.Load() || n < 50; n++ {
				tok, _, err := m.Issue(token.Claims{Subject: fmt.Sprint("user-", i), SessionID: "s", Roles: []string{"user"}})
				if err != nil {
					t.Error(err)
					return
				}
				c, err := m.Verify(tok)
				if err != nil || c.Subject != fmt.Sprint("user-", i) {
					t.Errorf("Verify = %+v, %v", c, err)
					return
				}
				_ = m.JWKS()
				_ = m.String()
				verified.Add(1)
			}
		})
	}
	wg.Go(func() {
		defer stop.Store(true)
		for range 5 {
			if _, err := m.Rotate(ctx); err != nil {
				t.Error(err)
				return
			}
			if err := replica.Reload(ctx); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Wait()
	if verified.Load() == 0 {
		t.Fatal("nothing verified")
	}
	if replica.SigningKID() != m.SigningKID() {
		t.Fatalf("replica signs with %s after reloading, manager with %s", replica.SigningKID(), m.SigningKID())
	}
}

// Printing a manager must not print key material (it is logged by mistake sooner or later).
func TestManagerStringHidesKeys(t *testing.T) {
	f := newFixture(t)
	seed := f.priv.Seed()
	for _, s := range []string{fmt.Sprint(f.m), fmt.Sprintf("%+v", f.m), fmt.Sprintf("%#v", f.m), fmt.Sprintf("%+v", f.m.JWKS())} {
		for _, enc := range []string{base64.StdEncoding.EncodeToString(seed), base64.RawStdEncoding.EncodeToString(seed), fmt.Sprintf("%x", seed), string(seed)} {
			if strings.Contains(s, enc) {
				t.Fatalf("%q contains the private key", s)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(f.m), f.kid) {
		t.Fatalf("String() = %q, want the signing kid", fmt.Sprint(f.m))
	}
}
