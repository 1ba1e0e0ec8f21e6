package token_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"gatehouse/server/internal/token"
	"gatehouse/server/internal/token/tokentest"
)

// The issue's baseline handler "only verifies the same JWT": BenchmarkVerify is that work, and
// BenchmarkEd25519Verify the bare signature check inside it, to show what parsing adds.

func benchManager(b *testing.B) *token.Manager {
	b.Helper()
	m, err := token.Open(context.Background(), tokentest.NewMemoryKeyStore(), tokentest.NewEncrypter(b),
		token.Options{Issuer: testIssuer, Audience: testAudience})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

var benchClaims = token.Claims{Subject: "8f14e45f-ceea-467f-a0e6-5b2a1d3c9e10", SessionID: "c9f0f895-fb98-4b91-8a1a-7b5b1f5e3d21", AAL: "aal1", Roles: []string{"user"}}

func BenchmarkIssue(b *testing.B) {
	m := benchManager(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Issue(benchClaims); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "issues/s")
}

func BenchmarkVerify(b *testing.B) {
	m := benchManager(b)
	tok, _, err := m.Issue(benchClaims)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(tok)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkVerifyParallel is Verify on every core, as concurrent requests run it: no lock is
// taken, so it should scale with GOMAXPROCS.
func BenchmarkVerifyParallel(b *testing.B) {
	m := benchManager(b)
	tok, _, err := m.Issue(benchClaims)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Verify(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

// BenchmarkVerifyForged is the cost of refusing a forged token (bad signature): an attacker
// gets no cheaper or dearer path than a genuine request.
func BenchmarkVerifyForged(b *testing.B) {
	m := benchManager(b)
	tok, _, err := m.Issue(benchClaims)
	if err != nil {
		b.Fatal(err)
	}
	forged := tok[:strings.LastIndexByte(tok, '.')+1] + strings.Repeat("A", 86)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(forged); err == nil {
			b.Fatal("forged token accepted")
		}
	}
}

func BenchmarkEd25519Verify(b *testing.B) {
	m := benchManager(b)
	tok, _, err := m.Issue(benchClaims)
	if err != nil {
		b.Fatal(err)
	}
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	x, err := base64.RawURLEncoding.DecodeString(m.JWKS().Keys[0].X)
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(tok[:i])
	b.ReportAllocs()
	for b.Loop() {
		if !ed25519.Verify(ed25519.PublicKey(x), msg, sig) {
			b.Fatal("verify failed")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
