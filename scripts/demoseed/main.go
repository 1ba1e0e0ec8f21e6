// Command demoseed fills a fresh Gatehouse server with a small, believable organisation for
// demos and the console's screenshots (make screenshots): people with roles, TOTP enrolled for
// some, trusted devices, live sessions, a locked account, failed sign-ins and revoked sessions,
// and secrets with versions, rotation policies (one due) and an audit trail.
// It talks to the server only through its public API (shared/client).
//
//	Usage: go run ./scripts/demoseed -server http://127.0.0.1:8080 -email ADMIN -password PASS \
//	  -people-password DEMO
//
// (the admin's password may come from GATEHOUSE_ADMIN_PASSWORD; every seeded person signs in
// with DEMO, at least 12 characters).
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // TOTP (RFC 6238) is defined over HMAC-SHA1
	"encoding/base32"
	"encoding/binary"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"gatehouse/shared/api"
	"gatehouse/shared/client"
)

// person is one seeded account. Passwords are demo-only and never printed.
type person struct {
	email, name string
	roles       []string
	totp        bool // enroll an authenticator, sign in with it and trust the device
	sessions    int  // extra password sign-ins (live sessions)
	failures    int  // wrong-password attempts
	lock        bool
}

var people = []person{
	{email: "alice.liddell@example.com", name: "Alice Liddell", roles: []string{api.RoleUser}, totp: true, sessions: 1},
	{email: "bob.marley@example.com", name: "Bob Marley", roles: []string{api.RoleUser}, sessions: 2, failures: 3},
	{email: "carol.danvers@example.com", name: "Carol Danvers", roles: []string{api.RoleSupport}, totp: true},
	{email: "dave.bowman@example.com", name: "Dave Bowman", roles: []string{api.RoleUser}, failures: 2, lock: true},
	{email: "erin.brockovich@example.com", name: "Erin Brockovich", roles: []string{api.RoleUser}, sessions: 1},
	{email: "frank.poole@example.com", name: "Frank Poole", roles: []string{api.RoleUser}},
	{email: "grace.hopper@example.com", name: "Grace Hopper", roles: []string{api.RoleAdmin}, totp: true},
	{email: "heidi.lamarr@example.com", name: "Heidi Lamarr", roles: []string{api.RoleUser}, sessions: 1},
	{email: "ivan.petrov@example.com", name: "Ivan Petrov", roles: []string{api.RoleUser}, failures: 1},
	{email: "judy.hopps@example.com", name: "Judy Hopps", roles: []string{api.RoleSupport}},
	{email: "ken.thompson@example.com", name: "Ken Thompson", roles: []string{api.RoleUser}, totp: true},
	{email: "linus.pauling@example.com", name: "Linus Pauling", roles: []string{api.RoleUser}},
}

func main() {
	server := flag.String("server", "http://127.0.0.1:8080", "server base URL")
	email := flag.String("email", os.Getenv("GATEHOUSE_ADMIN_EMAIL"), "an admin's email")
	password := flag.String("password", "", "the admin's password (default: $GATEHOUSE_ADMIN_PASSWORD)")
	peoplePassword := flag.String("people-password", "", "the seeded people's password (at least 12 characters)")
	flag.Parse()
	if *password == "" {
		*password = os.Getenv("GATEHOUSE_ADMIN_PASSWORD")
	}
	if *email == "" || *password == "" || len(*peoplePassword) < 12 {
		fmt.Fprintln(os.Stderr, "usage: demoseed -server URL -email ADMIN [-password PASS | GATEHOUSE_ADMIN_PASSWORD] -people-password DEMO")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	err := seed(ctx, *server, *email, *password, *peoplePassword)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
}

func newClient(server string) (*client.Client, error) {
	return client.New(server, client.WithHTTPClient(&http.Client{Timeout: 20 * time.Second}))
}

func seed(ctx context.Context, server, adminEmail, adminPassword, peoplePassword string) error {
	admin, err := newClient(server)
	if err != nil {
		return err
	}
	if _, err := admin.Login(ctx, adminEmail, adminPassword); err != nil {
		return fmt.Errorf("admin sign-in: %w", err)
	}
	now := time.Now()
	ids := map[string]string{}
	for _, p := range people {
		u, err := admin.CreateUser(ctx, api.CreateUserRequest{Email: p.email, DisplayName: p.name, Password: peoplePassword, Roles: p.roles})
		if err != nil {
			return fmt.Errorf("create %s: %w", p.email, err)
		}
		ids[p.email] = u.ID
	}
	for _, p := range people {
		if err := act(ctx, server, p, peoplePassword, now); err != nil {
			return fmt.Errorf("%s: %w", p.email, err)
		}
	}
	// An admin ends one of Bob's sessions; Dave gets locked after his failed attempts.
	bob := ids["bob.marley@example.com"]
	if list, err := admin.UserSessions(ctx, bob); err == nil && len(list) > 0 {
		if err := admin.RevokeUserSession(ctx, bob, list[0].ID); err != nil {
			return fmt.Errorf("revoke a session of bob: %w", err)
		}
	}
	for _, p := range people {
		if p.lock {
			if _, err := admin.LockUser(ctx, ids[p.email]); err != nil {
				return fmt.Errorf("lock %s: %w", p.email, err)
			}
		}
	}
	if err := seedSecrets(ctx, admin); err != nil {
		return err
	}
	seedProviders(ctx, admin)
	fmt.Printf("demoseed: %d people, sessions, trusted devices, TOTP factors, security events and %d secrets on %s\n", len(people), len(secrets), server)
	return nil
}

// demoSecret is one seeded secret. Values are demo-only, never printed.
type demoSecret struct {
	req      api.CreateSecretRequest
	versions []string // later values, each a new version
	rotation *api.RotationPolicy
	rotate   bool // rotate once now
	delete   bool // soft-delete it (restorable in the console)
}

const day = int64(24 * 60 * 60)

var secrets = []demoSecret{
	{req: api.CreateSecretRequest{Name: "billing/prod/db-password", Value: client.TextValue("demo-Billing-2025-q4"), Description: "Billing primary database (app role)",
		Owner: "billing-team", Labels: map[string]string{"team": "billing", "env": "prod"}},
		versions: []string{"demo-Billing-2026-q1", "demo-Billing-2026-q1b"},
		rotation: &api.RotationPolicy{IntervalSeconds: 30 * day, WindowSeconds: 7 * day, Generator: api.GeneratorSpec{Type: "password", Length: 24}},
		rotate:   true},
	// A weekly rotation warned for the whole week: due at once, so the console highlights it.
	{req: api.CreateSecretRequest{Name: "billing/prod/stripe-api-key", Generate: &api.GeneratorSpec{Type: "apikey", Prefix: "sk_demo_", Length: 40},
		Description: "Payments provider API key", Owner: "billing-team", Labels: map[string]string{"team": "billing", "env": "prod"}},
		rotation: &api.RotationPolicy{IntervalSeconds: 7 * day, WindowSeconds: 7 * day, Generator: api.GeneratorSpec{Type: "apikey", Prefix: "sk_demo_", Length: 40}}},
	{req: api.CreateSecretRequest{Name: "billing/staging/db-password", Value: client.TextValue("demo-staging-pass"), Description: "Billing staging database",
		Owner: "billing-team", Labels: map[string]string{"team": "billing", "env": "staging"}}},
	{req: api.CreateSecretRequest{Name: "platform/smtp-password", Value: client.TextValue("demo-smtp-relay"), Description: "Outgoing mail relay",
		Owner: "platform", Labels: map[string]string{"team": "platform"}},
		rotation: &api.RotationPolicy{IntervalSeconds: 90 * day, WindowSeconds: 14 * day, Generator: api.GeneratorSpec{Type: "password", Length: 32}}},
	{req: api.CreateSecretRequest{Name: "search/api-key", Generate: &api.GeneratorSpec{Type: "base64url", Bytes: 32}, Description: "Search cluster API key",
		Owner: "search-team", Labels: map[string]string{"team": "search"}}},
	{req: api.CreateSecretRequest{Name: "legacy/ftp-password", Value: client.TextValue("demo-ftp-legacy"), Description: "Old partner FTP drop (retired)",
		Owner: "platform", Labels: map[string]string{"team": "platform"}}, delete: true},
}

func seedSecrets(ctx context.Context, admin *client.Client) error {
	for _, s := range secrets {
		if _, err := admin.CreateSecret(ctx, s.req); err != nil {
			return fmt.Errorf("create secret %s: %w", s.req.Name, err)
		}
		for _, v := range s.versions {
			if _, err := admin.PutSecretValue(ctx, s.req.Name, v); err != nil {
				return fmt.Errorf("new version of %s: %w", s.req.Name, err)
			}
		}
		if s.rotation != nil {
			if _, err := admin.SetSecretRotation(ctx, s.req.Name, s.rotation); err != nil {
				return fmt.Errorf("rotation policy of %s: %w", s.req.Name, err)
			}
		}
		if s.rotate {
			if _, err := admin.RotateSecret(ctx, s.req.Name); err != nil {
				return fmt.Errorf("rotate %s: %w", s.req.Name, err)
			}
		}
		if s.delete {
			if _, err := admin.DeleteSecret(ctx, s.req.Name); err != nil {
				return fmt.Errorf("delete %s: %w", s.req.Name, err)
			}
		}
	}
	return nil
}

// seedProviders configures sign-in providers for the console's Providers screen and sign-in
// buttons (demo client IDs: signing in with them goes nowhere). A server without social login
// keeps going without them.
func seedProviders(ctx context.Context, admin *client.Client) {
	off := false
	for _, req := range []api.CreateOAuthProviderRequest{
		{Type: api.ProviderGoogle, DisplayName: "Google", ClientID: "demo-client.apps.googleusercontent.com", ClientSecret: "demo-google-secret", //nolint:gosec // demo values, not credentials
			AllowedDomains: []string{"example.com"}, AutoLink: true},
		{Type: api.ProviderGitHub, DisplayName: "GitHub", ClientID: "Iv1.demo0123456789", ClientSecret: "demo-github-secret", AutoRegister: true}, //nolint:gosec // demo values, not credentials
		{Type: api.ProviderMicrosoft, DisplayName: "Microsoft", ClientID: "00000000-0000-0000-0000-000000000000", ClientSecret: "demo-entra-secret", //nolint:gosec // demo values, not credentials
			Tenant: "organizations", Enabled: &off},
	} {
		if _, err := admin.CreateOAuthProvider(ctx, req); err != nil {
			fmt.Printf("demoseed: no %s provider: %v\n", req.Type, err)
		}
	}
}

func act(ctx context.Context, server string, p person, password string, now time.Time) error {
	for range p.failures {
		c, err := newClient(server)
		if err != nil {
			return err
		}
		if _, err := c.Login(ctx, p.email, "not-the-right-password-1"); client.ErrorCode(err) != api.CodeInvalidCredentials {
			return fmt.Errorf("a wrong password was not refused: %w", err)
		}
	}
	if p.totp {
		c, err := newClient(server)
		if err != nil {
			return err
		}
		if _, err := c.Login(ctx, p.email, password); err != nil {
			return fmt.Errorf("sign in: %w", err)
		}
		enr, err := c.EnrollTOTP(ctx)
		if err != nil {
			return fmt.Errorf("enroll totp: %w", err)
		}
		// The previous time step confirms, the current one signs in: each code works once.
		if err := c.ConfirmTOTP(ctx, totp(enr.Secret, now.Add(-30*time.Second))); err != nil {
			return fmt.Errorf("confirm totp: %w", err)
		}
		c2, err := newClient(server)
		if err != nil {
			return err
		}
		res, err := c2.Login(ctx, p.email, password)
		if err != nil {
			return fmt.Errorf("sign in again: %w", err)
		}
		if res.Status == api.LoginMFARequired {
			if _, err := c2.MFAVerify(ctx, api.MFAVerifyRequest{Factor: api.FactorTOTP, Code: totp(enr.Secret, now), RememberDevice: true}); err != nil {
				return fmt.Errorf("verify totp: %w", err)
			}
		}
	}
	for range p.sessions {
		c, err := newClient(server)
		if err != nil {
			return err
		}
		if _, err := c.Login(ctx, p.email, password); err != nil {
			return fmt.Errorf("sign in: %w", err)
		}
	}
	return nil
}

// totp computes an RFC 6238 code (SHA-1, 6 digits, 30 s steps), as an authenticator app does.
func totp(secret string, at time.Time) string {
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil {
		return ""
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(at.Unix()/30)) //nolint:gosec // time is positive
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binary.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}
