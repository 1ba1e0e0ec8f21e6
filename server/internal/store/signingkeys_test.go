package store_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/token/tokentest"
)

// TestSigningKeyStore runs the token package's KeyStore contract on both dialects.
func TestSigningKeyStore(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		tokentest.ExerciseKeyStore(t, func(t *testing.T) token.KeyStore { return migrated(t, dialect).SigningKeys() })
	})
}

// TestSigningKeysWithKeyring is the production pairing end to end: keys encrypted by the real
// keyring in the real table survive a restart (a new manager) and keep verifying the tokens
// issued before it, and a keyring from another database cannot open them.
func TestSigningKeysWithKeyring(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		const passphrase = "signing-keys-test-passphrase"
		opts := token.Options{Issuer: "https://gatehouse.test", Audience: "gatehouse"}
		db := migrated(t, dialect)

		kr, err := keyring.Open(ctx, db.Keyring(), passphrase, keyring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := token.Open(ctx, db.SigningKeys(), kr, opts)
		if err != nil {
			t.Fatalf("token.Open on an empty table: %v", err)
		}
		before, _, err := m.Issue(token.Claims{Subject: "user-1", SessionID: "session-1", AAL: "aal1"})
		if err != nil {
			t.Fatal(err)
		}
		newKID, err := m.Rotate(ctx)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		after, _, err := m.Issue(token.Claims{Subject: "user-1", SessionID: "session-1", AAL: "aal1"})
		if err != nil {
			t.Fatal(err)
		}

		rows, err := db.SigningKeys().Keys(ctx)
		if err != nil || len(rows) != 2 {
			t.Fatalf("stored keys = %d, %v; want 2", len(rows), err)
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.PrivateKeyEnc, "v1:") {
				t.Errorf("key %s: private key is not a keyring ciphertext: %.8q...", r.KID, r.PrivateKeyEnc)
			}
			if strings.Contains(r.PrivateKeyEnc, "ed25519:") {
				t.Errorf("key %s: private key stored in the clear", r.KID)
			}
		}

		// Restart: a new manager reads and decrypts the keys from the table. (The keyring's own
		// restart is the keyring's tests' business; reusing it saves a PBKDF2 run.)
		m2, err := token.Open(ctx, db.SigningKeys(), kr, opts)
		if err != nil {
			t.Fatalf("token.Open after restart: %v", err)
		}
		if got := m2.SigningKID(); got != newKID {
			t.Fatalf("after restart signing kid = %s, want the rotated key %s", got, newKID)
		}
		for name, tok := range map[string]string{"before rotation": before, "after rotation": after} {
			if _, err := m2.Verify(tok); err != nil {
				t.Errorf("token issued %s does not verify after restart: %v", name, err)
			}
		}
		if n := len(m2.JWKS().Keys); n != 2 {
			t.Errorf("JWKS after restart has %d keys, want 2 (rotated, retired in overlap)", n)
		}

		// A keyring with another master key cannot read the keys: Open fails, writes nothing.
		other := migrated(t, testenv.SQLite)
		wrong, err := keyring.Open(ctx, other.Keyring(), "a different master passphrase", keyring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := token.Open(ctx, db.SigningKeys(), wrong, opts); !errors.Is(err, keyring.ErrDecrypt) && !errors.Is(err, keyring.ErrUnknownKeyVersion) {
			t.Fatalf("token.Open with the wrong keyring: err = %v, want a keyring decryption error", err)
		}
		if rows, _ := db.SigningKeys().Keys(ctx); len(rows) != 2 {
			t.Fatalf("a failed Open changed the table: %d keys", len(rows))
		}
	})
}

// TestSigningKeyRowsDecodeToJWKS checks the stored public key is the raw key the JWKS publishes.
func TestSigningKeyRowsDecodeToJWKS(t *testing.T) {
	ctx := context.Background()
	db := migrated(t, testenv.SQLite)
	m, err := token.Open(ctx, db.SigningKeys(), tokentest.NewEncrypter(t), token.Options{Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.SigningKeys().Keys(ctx)
	if err != nil || len(rows) != 1 {
		t.Fatalf("Keys = %v, %v", rows, err)
	}
	jwks := m.JWKS()
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kid != rows[0].KID || jwks.Keys[0].X != base64.RawURLEncoding.EncodeToString(rows[0].PublicKey) {
		t.Fatalf("JWKS %+v does not publish the stored key %s", jwks, rows[0].KID)
	}
}
