package secrets_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/server/internal/accesscache"
	"gatehouse/server/internal/secrets"
	"gatehouse/server/internal/testenv"
)

// policyCounter counts the policy reads of access checks.
type policyCounter struct {
	secrets.Store
	reads atomic.Int64
}

func (p *policyCounter) Policies(ctx context.Context, subjectType string, subjects []string) ([]secrets.Policy, error) {
	p.reads.Add(1)
	return p.Store.Policies(ctx, subjectType, subjects)
}

// SEC-42 with the access cache: policies are read once per subject, and a created or deleted
// policy applies at the very next request (the cache's max age is far beyond the test, so
// only invalidation can make it read again).
func TestSEC42CachedPoliciesApplyAtOnce(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		var counter *policyCounter
		f := newFixtureDeps(t, dialect, func(d *secrets.Deps) {
			counter = &policyCounter{Store: d.Store}
			d.Store = counter
			d.AccessCache = accesscache.New(accesscache.Options{MaxAge: 24 * time.Hour})
		})
		ctx := context.Background()
		f.create(t, "billing/prod/db", "db-pass")
		app := sa("00000000-0000-4000-8000-0000000000f1")
		forbidden := func(a secrets.Actor, what string) {
			t.Helper()
			if _, err := f.svc.Value(ctx, a, "billing/prod/db", 0); !errors.Is(err, secrets.ErrForbidden) {
				t.Fatalf("%s: err = %v, want forbidden", what, err)
			}
		}
		allowed := func(a secrets.Actor, what string) {
			t.Helper()
			if v, _ := f.read(t, a, "billing/prod/db", 0); v != "db-pass" {
				t.Fatalf("%s: read %q", what, v)
			}
		}

		for range 3 {
			forbidden(app, "no policy yet")
			forbidden(user, "no role policy yet")
		}
		if n := counter.reads.Load(); n != 2 {
			t.Fatalf("%d policy reads for 6 checks of 2 subjects, want 2", n)
		}

		saPolicy, err := f.svc.CreatePolicy(ctx, admin, secrets.NewPolicy{SubjectType: secrets.PolicyServiceAccount, Subject: app.ID, Pattern: "billing/**", Actions: []secrets.Action{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		allowed(app, "the service account right after its policy was created")
		forbidden(user, "a user, whose role's policies did not change")
		rolePolicy, err := f.svc.CreatePolicy(ctx, admin, secrets.NewPolicy{SubjectType: secrets.PolicyRole, Subject: "user", Pattern: "billing/prod/*", Actions: []secrets.Action{"read"}})
		if err != nil {
			t.Fatal(err)
		}
		allowed(user, "a user right after the role's policy was created")
		reads := counter.reads.Load()
		for range 3 {
			allowed(app, "cached")
			allowed(user, "cached")
		}
		if counter.reads.Load() != reads {
			t.Fatal("cached checks read the policies")
		}

		if err := f.svc.DeletePolicy(ctx, admin, saPolicy.ID); err != nil {
			t.Fatal(err)
		}
		forbidden(app, "the service account right after its policy was deleted")
		allowed(user, "a user, whose role's policy is still there")
		if err := f.svc.DeletePolicy(ctx, admin, rolePolicy.ID); err != nil {
			t.Fatal(err)
		}
		forbidden(user, "a user right after the role's policy was deleted")
		if err := f.svc.DeletePolicy(ctx, admin, rolePolicy.ID); !errors.Is(err, secrets.ErrPolicyNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		// The administrators' listing is never cached.
		ps, err := f.svc.Policies(ctx, admin, "", "")
		if err != nil || len(ps) != 0 {
			t.Fatalf("policies left: %v %v", ps, err)
		}
	})
}
