package auth

import (
	"context"
	"errors"
	"slices"
	"testing"

	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// fakeFactor is enrolled for the users in its set and counts its look-ups.
type fakeFactor struct {
	users   map[string]bool
	lookups *int
	err     error
}

func (f fakeFactor) Enrolled(_ context.Context, userID string) (bool, error) {
	*f.lookups++
	return f.users[userID], f.err
}

func (fakeFactor) Verify(context.Context, string, string, string) error { return nil }

// fakeIndex answers from a fixed map and counts its queries.
type fakeIndex struct {
	found   map[string][]string
	queries int
}

func (x *fakeIndex) EnrolledFactors(_ context.Context, ids []string) (map[string][]string, error) {
	x.queries++
	out := map[string][]string{}
	for _, id := range ids {
		if f, ok := x.found[id]; ok {
			out[id] = f
		}
	}
	return out, nil
}

// The factor look-up behind every login and listing gives the same answers with the batched
// index as with one look-up per factor, and with the index it makes exactly one query and no
// per-factor look-up.
func TestConfirmedFactorsIndexMatchesPerFactorLookups(t *testing.T) {
	const (
		both      = "both"      // TOTP and recovery codes
		codes     = "codes"     // recovery codes only
		nothing   = "nothing"   // no factor
		unoffered = "unoffered" // only a factor this server does not offer
	)
	lookups := 0
	factors := map[string]Factor{
		api.FactorTOTP:         fakeFactor{users: map[string]bool{both: true}, lookups: &lookups},
		api.FactorRecoveryCode: fakeFactor{users: map[string]bool{both: true, codes: true}, lookups: &lookups},
	}
	order := []string{api.FactorTOTP, api.FactorRecoveryCode}
	// The index lists what the database holds, offered or not, in any order.
	index := &fakeIndex{found: map[string][]string{
		both:      {api.FactorRecoveryCode, api.FactorTOTP},
		codes:     {api.FactorRecoveryCode},
		unoffered: {api.FactorEmail},
	}}
	perFactor := &Service{mfa: &MFA{Factors: factors, Order: order}}
	indexed := &Service{mfa: &MFA{Factors: factors, Order: order, Index: index}}

	want := map[string]struct {
		enrolled []string
		has      bool
	}{
		both:      {[]string{api.FactorTOTP, api.FactorRecoveryCode}, true},
		codes:     {nil, true}, // recovery codes alone never make a login ask for a factor
		nothing:   {nil, false},
		unoffered: {nil, false},
	}
	ctx := context.Background()
	for _, svc := range []*Service{perFactor, indexed} {
		name := "per-factor"
		if svc == indexed {
			name = "index"
		}
		for user, w := range want {
			lookups, index.queries = 0, 0
			got, err := svc.enrolledFactors(ctx, user)
			if err != nil || !slices.Equal(got, w.enrolled) {
				t.Errorf("%s: enrolledFactors(%s) = %v, %v; want %v", name, user, got, err, w.enrolled)
			}
			has, err := svc.hasFactor(ctx, user)
			if err != nil || has != w.has {
				t.Errorf("%s: hasFactor(%s) = %v, %v; want %v", name, user, has, err, w.has)
			}
			if svc == indexed && (lookups != 0 || index.queries != 2) {
				t.Errorf("index: %s took %d per-factor look-ups and %d queries; want 0 and 2 (one per call)", user, lookups, index.queries)
			}
		}
	}

	// A listing asks the index once for the whole page, and nothing for an empty one.
	index.queries = 0
	sums, err := indexed.MFASummaries(ctx, nil)
	if err != nil || len(sums) != 0 || index.queries != 0 {
		t.Errorf("an empty page: %v, %v after %d queries", sums, err, index.queries)
	}
	page := []users.User{{ID: both}, {ID: codes}, {ID: nothing}, {ID: unoffered}}
	sums, err = indexed.MFASummaries(ctx, page)
	if err != nil || index.queries != 1 || lookups != 0 {
		t.Fatalf("a page of %d: %v after %d queries and %d per-factor look-ups; want 1 and 0", len(page), err, index.queries, lookups)
	}
	if s := sums[both]; !s.Enrolled || !slices.Equal(s.Factors, []string{api.FactorTOTP, api.FactorRecoveryCode}) {
		t.Errorf("both: %+v", s)
	}
	if s := sums[codes]; s.Enrolled || !slices.Equal(s.Factors, []string{api.FactorRecoveryCode}) {
		t.Errorf("recovery codes alone: %+v", s)
	}
	for _, id := range []string{nothing, unoffered} {
		if s := sums[id]; s.Enrolled || len(s.Factors) != 0 {
			t.Errorf("%s: %+v", id, s)
		}
	}
}

func TestConfirmedFactorsFailuresAreReturned(t *testing.T) {
	lookups := 0
	broken := errors.New("database gone")
	svc := &Service{mfa: &MFA{Factors: map[string]Factor{api.FactorTOTP: fakeFactor{lookups: &lookups, err: broken}}, Order: []string{api.FactorTOTP}}}
	if _, err := svc.enrolledFactors(context.Background(), "someone"); !errors.Is(err, broken) {
		t.Fatalf("a failed look-up answered %v", err)
	}
	off := &Service{}
	if got, err := off.enrolledFactors(context.Background(), "someone"); err != nil || got != nil {
		t.Fatalf("MFA off: %v, %v", got, err)
	}
}
