package token_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/server/internal/token"
)

// FuzzVerify: Verify never panics, accepts only tokens the manager issued (byte for byte: the
// clock stands still, so nothing else can be valid), and every refusal wraps exactly one of
// ErrInvalid and ErrExpired without quoting the token (SEC-15, SEC-18).
//
//	go test -run '^$' -fuzz FuzzVerify ./internal/token/
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	// Key, clock and jti are fixed, and Ed25519 signatures are deterministic, so every fuzz
	// worker process issues exactly the same tokens as the coordinator.
	issued := map[string]bool{}
	for _, c := range []token.Claims{
		{Subject: "user-1", SessionID: "session-1", AAL: "aal1", Roles: []string{"user"}, ID: "jti-1"},
		{Subject: "admin-1", SessionID: "session-2", AAL: "aal2", Roles: []string{"admin", "support"}, ID: "jti-2"},
	} {
		tok, _, err := fx.m.Issue(c)
		if err != nil {
			f.Fatal(err)
		}
		issued[tok] = true
		f.Add(tok)
	}
	pub, _ := fx.priv.Public().(ed25519.PublicKey)
	f.Add(sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, fx.header("none"), fx.claims()))
	f.Add(sign(f, jwt.SigningMethodHS256, []byte(pub), fx.header("HS256"), fx.claims()))
	f.Add(sign(f, jwt.SigningMethodEdDSA, fx.priv, with(fx.header("EdDSA"), "kid", "unknown"), fx.claims()))
	f.Add("")
	f.Add("..")
	f.Add("garbage")
	f.Add("eyJhbGciOiJFZERTQSJ9.e30.")
	f.Add(strings.Repeat("A", token.MaxTokenSize+1))

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := fx.m.Verify(tok)
		if err == nil {
			if !issued[tok] {
				t.Fatalf("accepted a token the manager did not issue: %q -> %+v", tok, c)
			}
			return
		}
		if errors.Is(err, token.ErrInvalid) == errors.Is(err, token.ErrExpired) {
			t.Fatalf("err = %v: want exactly one of ErrInvalid, ErrExpired", err)
		}
		if len(tok) >= 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error %q quotes the token", err)
		}
	})
}
