// Package token issues and verifies the short-lived JWT access tokens that API clients send as
// bearer tokens.
//
// Tokens are signed with Ed25519 (JWS "EdDSA") and name their key in a "kid" header. Signing keys
// are generated here, stored through a KeyStore with the private key encrypted by the keyring,
// and rotated with Rotate: the new key signs at once, and the previous one keeps verifying until
// every token it signed has expired. JWKS publishes the public keys for apps that verify offline.
//
// Verification is pinned to EdDSA and to the keys this package made (SEC-15), costs a map lookup
// and one Ed25519 verification, and never touches the database: keys are read and decrypted only
// by Open, Reload and Rotate.
//
// # Token format
//
// Header: {"alg":"EdDSA","kid":"<kid>","typ":"at+jwt"} (the RFC 9068 type, so a JWT of another
// kind signed with the same key can never pass as an access token).
// Claims: iss, sub, aud, exp, nbf, iat, jti (registered), sid (session id), aal (assurance level)
// and roles.
package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"gatehouse/shared/api"
)

// Defaults for Options.
const (
	DefaultAccessTTL = 15 * time.Minute
	DefaultLeeway    = 30 * time.Second
)

// MaxTokenSize is the longest token Verify looks at (8 KiB). Ours are a few hundred bytes; the
// limit stops an attacker making the server base64- and JSON-decode megabytes per request.
const MaxTokenSize = 8 << 10

// algorithm is the only JWS algorithm issued and accepted.
const algorithm = "EdDSA"

// tokenType is the "typ" header of access tokens (RFC 9068).
const tokenType = "at+jwt"

// Errors returned by Verify. Every error Verify returns wraps exactly one of them. The wrapped
// detail (which check failed) is meant for logs; show users a generic message. Neither ever
// contains the token (SEC-18).
var (
	// ErrExpired means the token was genuine and otherwise valid, but has expired: the client
	// should refresh it.
	ErrExpired = errors.New("token: expired")
	// ErrInvalid means the token is not one this server issued or is not valid for it: forged,
	// malformed, signed with an unknown or dropped key, wrong issuer or audience, not yet valid,
	// or missing a required claim.
	ErrInvalid = errors.New("token: invalid")
)

// Options configures Open. Issuer and Audience are required.
type Options struct {
	// Issuer is the "iss" claim written and required.
	Issuer string
	// Audience is the "aud" claim written and required.
	Audience string
	// AccessTTL is how long a token is valid; 0 means DefaultAccessTTL. It also bounds how long
	// a retired key keeps verifying, so keep it the same on every replica.
	AccessTTL time.Duration
	// Leeway is the clock skew tolerated on exp, nbf and iat; 0 means DefaultLeeway.
	Leeway time.Duration
	// Now is the clock; nil means time.Now. Must be safe for concurrent use.
	Now func() time.Time
	// Rand supplies new key pairs and kids; nil means crypto/rand. It is only read under the
	// Manager's lock (Open, Rotate), never concurrently. Token IDs come from crypto/rand.
	Rand io.Reader
}

// Claims are the contents of an access token.
type Claims struct {
	// Subject is the user ID ("sub").
	Subject string
	// SessionID is the session the token belongs to ("sid"); revoking the session must refuse
	// the token, which is the caller's check.
	SessionID string
	// AAL is the assurance level, "aal1" or "aal2" ("aal").
	AAL string
	// Roles are the user's roles when the token was issued ("roles").
	Roles []string
	// IssuedAt is set by Issue ("iat", whole seconds).
	IssuedAt time.Time
	// ExpiresAt is set by Issue ("exp", whole seconds). A non-zero ExpiresAt given to Issue that
	// comes before IssuedAt + AccessTTL shortens the token, e.g. to the session's end.
	ExpiresAt time.Time
	// ID is the token's unique ID ("jti"); Issue generates one when empty.
	ID string
}

// wireClaims is the JSON form of Claims.
type wireClaims struct {
	SessionID string   `json:"sid"`
	AAL       string   `json:"aal"`
	Roles     []string `json:"roles"`
	jwt.RegisteredClaims
}

// Validate adds our required claims to the library's checks; jwt.Parser calls it after the
// signature has been verified.
func (c *wireClaims) Validate() error {
	switch {
	case c.Subject == "":
		return fmt.Errorf("%w: sub", jwt.ErrTokenRequiredClaimMissing)
	case c.SessionID == "":
		return fmt.Errorf("%w: sid", jwt.ErrTokenRequiredClaimMissing)
	case c.IssuedAt == nil:
		return fmt.Errorf("%w: iat", jwt.ErrTokenRequiredClaimMissing)
	}
	return nil
}

// Manager issues and verifies access tokens and manages the signing keys. It is safe for
// concurrent use.
type Manager struct {
	store    KeyStore
	enc      Encrypter
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	rand     io.Reader
	parser   *jwt.Parser

	// mu serialises Open's bootstrap, Rotate and Reload: they read the store, decide, and
	// install a new key set, and two of them interleaving could install an older view.
	mu sync.Mutex
	// keys is read without locks by Issue, Verify and JWKS.
	keys atomic.Pointer[keySet]
}

// Open loads the signing keys from store and decrypts the ones that may sign. When the store has
// no key that may sign (first start), it creates one. A wrong Encrypter (not the keyring the keys
// were stored with) fails Open with an error wrapping the Encrypter's and writes nothing.
//
// If two replicas start together on an empty store, both add a key; the newest one signs
// everywhere once each replica has reloaded (see Reload).
func Open(ctx context.Context, store KeyStore, enc Encrypter, opts Options) (*Manager, error) {
	switch {
	case store == nil:
		return nil, errors.New("open token manager: nil key store")
	case enc == nil:
		return nil, errors.New("open token manager: nil encrypter")
	case opts.Issuer == "":
		return nil, errors.New("open token manager: issuer is required")
	case opts.Audience == "":
		return nil, errors.New("open token manager: audience is required")
	case opts.AccessTTL < 0:
		return nil, fmt.Errorf("open token manager: negative access token lifetime %s", opts.AccessTTL)
	case opts.Leeway < 0:
		return nil, fmt.Errorf("open token manager: negative leeway %s", opts.Leeway)
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.Leeway == 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	m := &Manager{
		store:    store,
		enc:      enc,
		issuer:   opts.Issuer,
		audience: opts.Audience,
		ttl:      opts.AccessTTL,
		leeway:   opts.Leeway,
		now:      opts.Now,
		rand:     opts.Rand,
	}
	// One parser for every Verify: it is immutable after NewParser, so sharing it is safe.
	m.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{algorithm}),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithAudience(opts.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithTimeFunc(opts.Now),
		// Refuse non-canonical base64, so one token has exactly one spelling.
		jwt.WithStrictDecoding(),
	)

	m.mu.Lock()
	defer m.mu.Unlock()
	stored, err := store.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("open token manager: load signing keys: %w", err)
	}
	err = m.install(stored)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, errNoSigningKey) {
		return nil, fmt.Errorf("open token manager: %w", err)
	}
	if err := m.checkEncrypter(stored); err != nil {
		return nil, fmt.Errorf("open token manager: %w", err)
	}
	_, err = m.rotate(ctx)
	if errors.Is(err, ErrKeyExists) {
		// Lost a race to store the first key: use what the store holds.
		err = m.reload(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("open token manager: create first signing key: %w", err)
	}
	return m, nil
}

// checkEncrypter makes sure enc can read the newest stored key before a new key is added next to
// it: otherwise a wrong keyring on a store whose keys are all retired would quietly start a
// second, unreadable generation of keys.
func (m *Manager) checkEncrypter(stored []StoredKey) error {
	if len(stored) == 0 {
		return nil
	}
	newest := stored[0]
	for _, s := range stored[1:] {
		if newer(s.CreatedAt, s.KID, newest.CreatedAt, newest.KID) {
			newest = s
		}
	}
	if _, err := m.enc.DecryptString(newest.PrivateKeyEnc); err != nil {
		return fmt.Errorf("decrypt private key of signing key %s (is this the keyring the keys were stored with?): %w", newest.KID, err)
	}
	return nil
}

// window is how long a retired key keeps verifying: a token signed just before retirement lives
// AccessTTL, and a verifier's clock may be Leeway behind.
func (m *Manager) window() time.Duration { return m.ttl + m.leeway }

// install builds a key set from stored keys and makes it current. Callers hold mu.
func (m *Manager) install(stored []StoredKey) error {
	ks, err := buildKeySet(stored, m.enc, m.keys.Load(), m.now(), m.window())
	if err != nil {
		return err
	}
	m.keys.Store(ks)
	return nil
}

// Reload re-reads the signing keys, to pick up a rotation made by another replica (and drop keys
// whose verification window has passed). Call it when told another replica rotated, and
// periodically, well within AccessTTL. Only keys new since the last load are decrypted. On error
// the current keys stay in use.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reload(ctx)
}

func (m *Manager) reload(ctx context.Context) error {
	stored, err := m.store.Keys(ctx)
	if err != nil {
		return fmt.Errorf("reload signing keys: %w", err)
	}
	if err := m.install(stored); err != nil {
		return fmt.Errorf("reload signing keys: %w", err)
	}
	return nil
}

// Rotate adds a new signing key, which signs from now on, and retires every older key that was
// still signing. Tokens signed by a retired key keep verifying until the key's RetiredAt +
// AccessTTL + Leeway, after which the key leaves verification and JWKS. It returns the new kid.
// Other replicas switch to the new key when they Reload.
func (m *Manager) Rotate(ctx context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	kid, err := m.rotate(ctx)
	if err != nil {
		return "", fmt.Errorf("rotate signing key: %w", err)
	}
	return kid, nil
}

// rotate is Rotate for callers holding mu.
func (m *Manager) rotate(ctx context.Context) (string, error) {
	before, err := m.store.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("load signing keys: %w", err)
	}
	// The new key must sort newest even when this replica's clock is behind the one that made
	// the current key (or, in tests, stands still). Microseconds are what PostgreSQL keeps.
	created := m.now().UTC().Truncate(time.Microsecond)
	for _, s := range before {
		if !created.After(s.CreatedAt) {
			created = s.CreatedAt.UTC().Truncate(time.Microsecond).Add(time.Microsecond)
		}
	}
	sk, err := newStoredKey(m.rand, m.enc, created)
	if err != nil {
		return "", err
	}
	if err := m.store.Add(ctx, sk); err != nil {
		// ErrKeyExists passes through for Open; with 128-bit random kids only a broken random
		// source (or a store that allows one first key) produces it.
		return "", fmt.Errorf("add signing key %s: %w", sk.KID, err)
	}

	// Re-read after adding, so keys another replica added meanwhile are seen and the older ones
	// retired too; a newer one (a concurrent rotation that won) is left alone.
	after, err := m.store.Keys(ctx)
	if err != nil {
		return "", fmt.Errorf("signing key %s added, but reloading keys failed: %w", sk.KID, err)
	}
	now := m.now()
	for _, s := range after {
		if s.RetiredAt != nil || s.KID == sk.KID || newer(s.CreatedAt, s.KID, sk.CreatedAt, sk.KID) {
			continue
		}
		if err := m.store.Retire(ctx, s.KID, now); err != nil {
			// The new key is stored and newest, so it signs after a reload anyway; the old one
			// keeps verifying until a later rotation retires it.
			_ = m.reload(ctx)
			return "", fmt.Errorf("signing key %s added, but retiring %s failed: %w", sk.KID, s.KID, err)
		}
	}
	if err := m.reload(ctx); err != nil {
		return "", err
	}
	return sk.KID, nil
}

// Issue signs an access token for c with the current signing key. Subject and SessionID are
// required. IssuedAt is now; ExpiresAt is now + AccessTTL, or c.ExpiresAt if that is earlier.
// It returns the token and its expiry.
func (m *Manager) Issue(c Claims) (string, time.Time, error) {
	if c.Subject == "" || c.SessionID == "" {
		return "", time.Time{}, errors.New("issue access token: subject and session ID are required")
	}
	ks := m.keys.Load()
	iat := m.now().Truncate(time.Second)
	exp := iat.Add(m.ttl)
	if !c.ExpiresAt.IsZero() && c.ExpiresAt.Before(exp) {
		exp = c.ExpiresAt.Truncate(time.Second)
	}
	if !exp.After(iat) {
		return "", time.Time{}, errors.New("issue access token: it would expire immediately")
	}
	id := c.ID
	if id == "" {
		b := make([]byte, jtiBytes)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		id = base64.RawURLEncoding.EncodeToString(b)
	}
	roles := c.Roles
	if roles == nil {
		roles = []string{} // "roles":[] rather than null, for apps that expect an array
	}
	wc := wireClaims{
		SessionID: c.SessionID,
		AAL:       c.AAL,
		Roles:     roles,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    m.issuer,
			Subject:   c.Subject,
			Audience:  jwt.ClaimStrings{m.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        id,
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &wc)
	t.Header["kid"] = ks.signerKID
	t.Header["typ"] = tokenType
	s, err := t.SignedString(ks.signer)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign access token: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token and returns its claims. It accepts only EdDSA tokens with a "kid" naming
// a key this manager may verify with, a valid signature, the configured issuer and audience,
// sub, sid, iat and exp present, and exp/nbf/iat within Leeway of now (SEC-15). Tokens longer
// than MaxTokenSize are refused before parsing. Errors wrap ErrExpired or ErrInvalid.
func (m *Manager) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, invalid("larger than 8 KiB")
	}
	ks := m.keys.Load()
	var wc wireClaims
	t, err := m.parser.ParseWithClaims(token, &wc, func(t *jwt.Token) (any, error) {
		return ks.verificationKey(t.Header, m.now())
	})
	if err != nil {
		return Claims{}, classify(t, err)
	}
	return Claims{
		Subject:   wc.Subject,
		SessionID: wc.SessionID,
		AAL:       wc.AAL,
		Roles:     wc.Roles,
		IssuedAt:  wc.IssuedAt.Time,
		ExpiresAt: wc.ExpiresAt.Time,
		ID:        wc.ID,
	}, nil
}

// Reasons a key lookup fails; classify turns them into ErrInvalid.
var (
	errNoKID       = errors.New("no kid header")
	errUnknownKID  = errors.New("unknown or dropped signing key")
	errWrongHeader = errors.New("unexpected header")
)

// verificationKey picks the public key for a token's header. The header must be exactly what
// Issue writes: alg (already pinned by the parser), kid, and typ at+jwt. Unknown parameters such
// as jku, jwk, x5u or crit are refused rather than ignored: no token of ours carries them.
func (ks *keySet) verificationKey(header map[string]any, now time.Time) (any, error) {
	kid, ok := header["kid"].(string)
	if !ok || kid == "" {
		return nil, errNoKID
	}
	if typ, _ := header["typ"].(string); typ != tokenType || len(header) != 3 {
		return nil, errWrongHeader
	}
	k := ks.byKID[kid]
	if k == nil || !k.usable(now) {
		return nil, errUnknownKID
	}
	return k.pub, nil
}

// classify maps a parse error to ErrExpired or ErrInvalid with a fixed reason. The library's own
// messages are not passed on because some quote header values (e.g. the alg), and callers log
// what Verify returns. Every failure other than expiry wins over expiry, so ErrExpired means the
// token was genuine and otherwise valid.
func classify(t *jwt.Token, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("malformed")
	case t == nil || t.Method == nil || t.Method.Alg() != algorithm:
		// none, HS256 (the public key as an HMAC secret), RS256, ...: refused by the pin before
		// any key is looked up.
		return invalid("algorithm not allowed")
	}
	for _, r := range []struct {
		target error
		reason string
	}{
		{errNoKID, "no kid header"},
		{errWrongHeader, "unexpected header"},
		{errUnknownKID, "unknown or dropped signing key"},
		{jwt.ErrTokenSignatureInvalid, "bad signature"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "missing required claim"},
		{jwt.ErrTokenNotValidYet, "not valid yet"},
		{jwt.ErrTokenUsedBeforeIssued, "issued in the future"},
	} {
		if errors.Is(err, r.target) {
			return invalid(r.reason)
		}
	}
	if errors.Is(err, jwt.ErrTokenExpired) {
		return ErrExpired
	}
	return invalid("rejected")
}

func invalid(reason string) error { return fmt.Errorf("%w: %s", ErrInvalid, reason) }

// JWKS returns the public keys that verify tokens now, newest first: the signing key and every
// retired key still inside its verification window. Serve it at /.well-known/jwks.json.
func (m *Manager) JWKS() api.JWKS {
	return m.keys.Load().jwks(m.now())
}

// SigningKID is the kid of the key Issue signs with.
func (m *Manager) SigningKID() string { return m.keys.Load().signerKID }

// AccessTTL is the lifetime of issued tokens.
func (m *Manager) AccessTTL() time.Duration { return m.ttl }

// String describes the manager without key material, so printing one cannot leak keys into logs.
func (m *Manager) String() string {
	if m == nil {
		return "token.Manager(nil)"
	}
	ks := m.keys.Load()
	if ks == nil {
		return "token.Manager(not open)"
	}
	kids := make([]string, 0, len(ks.newest))
	for _, k := range ks.newest {
		kids = append(kids, k.kid)
	}
	return fmt.Sprintf("token.Manager(signing=%s, keys=%v)", ks.signerKID, kids)
}

// GoString is String for %#v.
func (m *Manager) GoString() string { return m.String() }
