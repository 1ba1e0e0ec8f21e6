package rewrap_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"gatehouse/server/internal/keyring"
	"gatehouse/server/internal/oauth"
	"gatehouse/server/internal/rewrap"
	secretsdb "gatehouse/server/internal/secrets/db"
	"gatehouse/server/internal/store"
	"gatehouse/server/internal/testenv"
	"gatehouse/server/internal/token"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

func migratedDB(t *testing.T, dialect string) *store.DB {
	t.Helper()
	o := store.Options{SQLitePath: filepath.Join(t.TempDir(), "gatehouse.db")}
	if dialect == testenv.Postgres {
		o = store.Options{URL: testenv.FreshPostgres(t)}
	}
	db, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	m, err := db.Migrator()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// protected is everything the keyring protects in one database, with the plaintexts.
type protected struct {
	db      *store.DB
	kr      *keyring.Keyring
	secrets *secretsdb.Backend
	totp    map[string]string // user id → seed
	values  map[[2]string]string
	kids    []string
	oauth   map[string]string // provider id → client secret
}

func populate(t *testing.T, db *store.DB, kr *keyring.Keyring) *protected {
	t.Helper()
	ctx := context.Background()
	p := &protected{db: db, kr: kr, secrets: secretsdb.New(db.SecretValues(), kr, nil),
		totp: map[string]string{}, values: map[[2]string]string{}}
	now := time.Now().UTC()
	for i := range 60 {
		id := uuid.NewString()
		if err := db.Users().Create(ctx, users.User{ID: id, Email: fmt.Sprintf("rewrap-%d@example.test", i), Status: api.UserActive,
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		seed := fmt.Sprintf("JBSWY3DPEHPK3PX%d", i)
		ct, err := kr.EncryptString(seed)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.TOTP().PutPending(ctx, id, ct, now); err != nil {
			t.Fatal(err)
		}
		p.totp[id] = seed
	}
	tm, err := token.Open(ctx, db.SigningKeys(), kr, token.Options{Issuer: "rewrap-test", Audience: "rewrap-test"})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := tm.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 45 {
		name := fmt.Sprintf("app/prod/s%02d", i%15) // three versions each
		value := fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i))
		ver, err := p.secrets.Put(ctx, name, []byte(value))
		if err != nil {
			t.Fatal(err)
		}
		p.values[[2]string{name, ver}] = value
	}
	keys, err := db.SigningKeys().Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		p.kids = append(p.kids, k.KID)
	}
	p.oauth = map[string]string{}
	for i := range 3 {
		secret := fmt.Sprintf("oauth-client-secret-%d", i)
		ct, err := kr.EncryptString(secret)
		if err != nil {
			t.Fatal(err)
		}
		id := uuid.NewString()
		if err := db.OAuth().CreateProvider(ctx, oauth.Config{ID: id, Slug: fmt.Sprintf("idp-%d", i), Type: api.ProviderOIDC, DisplayName: "IdP",
			ClientID: "client", SealedSecret: ct, BaseURL: "https://idp.example.com", Scopes: []string{"openid"}, Enabled: true,
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		p.oauth[id] = secret
	}
	return p
}

// assertReadable reads everything back through the code that uses it (SEC-43).
func (p *protected) assertReadable(t *testing.T, kr *keyring.Keyring) {
	t.Helper()
	ctx := context.Background()
	for id, seed := range p.totp {
		s, err := p.db.TOTP().Get(ctx, id)
		if err != nil {
			t.Fatalf("TOTP row of %s: %v", id, err)
		}
		got, err := kr.DecryptString(s.SecretEnc)
		if err != nil || got != seed {
			t.Fatalf("TOTP seed of %s: %v", id, err)
		}
	}
	keys, err := p.db.SigningKeys().Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(p.kids) {
		t.Fatalf("%d signing keys, want %d", len(keys), len(p.kids))
	}
	for _, k := range keys {
		if _, err := kr.DecryptString(k.PrivateKeyEnc); err != nil {
			t.Fatalf("signing key %s: %v", k.KID, err)
		}
	}
	// A fresh token manager decrypts the active key and signs.
	tm, err := token.Open(ctx, p.db.SigningKeys(), kr, token.Options{Issuer: "rewrap-test", Audience: "rewrap-test"})
	if err != nil {
		t.Fatalf("token manager over re-wrapped keys: %v", err)
	}
	if _, _, err := tm.Issue(token.Claims{Subject: "u", SessionID: "s", AAL: api.AAL1}); err != nil {
		t.Fatalf("sign with a re-wrapped key: %v", err)
	}
	for id, secret := range p.oauth {
		c, err := p.db.OAuth().GetProvider(ctx, id)
		if err != nil {
			t.Fatalf("OAuth provider %s: %v", id, err)
		}
		if got, err := kr.DecryptString(c.SealedSecret); err != nil || got != secret {
			t.Fatalf("OAuth client secret of %s: %v", id, err)
		}
	}
	backend := secretsdb.New(p.db.SecretValues(), kr, nil)
	for k, want := range p.values {
		v, err := backend.Get(ctx, k[0], k[1])
		if err != nil || string(v.Data) != want {
			t.Fatalf("secret %s version %s: %v", k[0], k[1], err)
		}
	}
}

func rewrappers(db *store.DB, kr rewrap.Keyring) []rewrap.Rewrapper {
	var rws []rewrap.Rewrapper
	for _, c := range db.SealedColumns() {
		rws = append(rws, rewrap.Column(c, kr))
	}
	return append(rws, rewrap.SecretDataKeys(db.SecretValues(), db.CountSecretDataKeys, kr))
}

// TestMasterKeyRotationSEC43: after rotating the master key, a re-wrap interrupted half-way
// leaves every TOTP seed, signing key, OAuth client secret and secret readable; a second run (here: two replicas at
// once, as a lock hand-over can briefly cause) completes it and loses nothing.
func TestMasterKeyRotationSEC43(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedDB(t, dialect)
		kr, err := keyring.Open(ctx, db.Keyring(), "sec43-master-key-for-tests", keyring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p := populate(t, db, kr)
		target, err := kr.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		later := func() time.Time { return time.Now().Add(time.Hour) } // past the grace period
		opts := rewrap.Options{BatchSize: 7, Now: later, Logger: slog.New(slog.DiscardHandler)}

		// The crash: the context ends after the third batch.
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		var mu sync.Mutex
		batches := 0
		var crashing []rewrap.Rewrapper
		for _, rw := range rewrappers(db, kr) {
			crashing = append(crashing, &hooked{Rewrapper: rw, after: func() {
				mu.Lock()
				defer mu.Unlock()
				if batches++; batches == 3 {
					cancel()
				}
			}})
		}
		job := rewrap.New(kr, db.Keyring(), crashing, opts)
		if err := job.Run(runCtx); !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run: %v", err)
		}
		p.assertReadable(t, kr)
		st, err := job.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantTotal := len(p.totp) + len(p.kids) + len(p.values) + len(p.oauth)
		if st.CurrentVersion != target || st.Rewrap.Total != wantTotal || st.Rewrap.Done != 21 || st.Rewrap.Remaining != wantTotal-21 {
			t.Fatalf("after the interruption: version %d, %+v", st.CurrentVersion, st.Rewrap)
		}

		// Resume, on two replicas at once.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range 2 {
			j := rewrap.New(kr, db.Keyring(), rewrappers(db, kr), opts)
			wg.Go(func() { errs[i] = j.Run(ctx) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		p.assertReadable(t, kr)
		st, err = rewrap.New(kr, db.Keyring(), rewrappers(db, kr), opts).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Rewrap.State != api.RewrapDone || st.Rewrap.Remaining != 0 || st.Rewrap.Total != wantTotal {
			t.Fatalf("after resuming: %+v", st.Rewrap)
		}
		for _, tb := range st.Rewrap.Tables {
			if tb.Total == 0 || tb.Remaining != 0 {
				t.Fatalf("table %+v", tb)
			}
		}
		// Nothing depends on version 1 any more: the very rows say v<target>.
		prefix := fmt.Sprintf("v%d:", target)
		for id := range p.totp {
			s, _ := db.TOTP().Get(ctx, id)
			if !strings.HasPrefix(s.SecretEnc, prefix) {
				t.Fatalf("TOTP row %s still on an old version", id)
			}
		}
		if _, stale, err := db.CountSecretDataKeys(ctx, target); err != nil || stale != 0 {
			t.Fatalf("%d secret data keys on old versions (%v)", stale, err)
		}
	})
}
