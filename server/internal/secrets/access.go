package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gatehouse/shared/api"
)

// Access rules (SEC-42):
//   - admin: everything;
//   - support: nothing, whatever other role or policy applies (support never sees secrets);
//   - other users: what the policies of their roles grant, nothing by default;
//   - service accounts: what their own policies grant; an unscoped one gets nothing.

// isAdmin reports whether the actor is an administrator (a user with the admin role).
func isAdmin(a Actor) bool {
	return a.Type == ActorUser && slices.Contains(a.Roles, api.RoleAdmin)
}

// IsAdmin is isAdmin for the HTTP layer's admin-only secrets routes.
func IsAdmin(a Actor) bool { return isAdmin(a) }

// grants returns the policies that apply to the actor (nil for admins, who need none).
func (s *Service) grants(ctx context.Context, a Actor) ([]Policy, error) {
	switch {
	case a.Type == ActorSystem || isAdmin(a):
		return nil, nil
	case a.Type == ActorUser && slices.Contains(a.Roles, api.RoleSupport):
		return []Policy{}, nil
	case a.Type == ActorUser:
		if len(a.Roles) == 0 {
			return []Policy{}, nil
		}
		return s.subjectPolicies(ctx, PolicyRole, a.Roles)
	case a.Type == ActorServiceAccount && a.ID != "":
		return s.subjectPolicies(ctx, PolicyServiceAccount, []string{a.ID})
	default:
		return []Policy{}, nil
	}
}

// PolicyGroup is the access-cache group of a subject's policies. A service account's is
// also the group of its tokens (serviceaccount.CacheGroup), so deleting the account, which
// deletes its policies, drops both.
func PolicyGroup(subjectType, subject string) string { return subjectType + ":" + subject }

// policyCacheKind labels the access cache's metrics.
const policyCacheKind = "secret_policy"

// subjectPolicies returns the policies of the subjects, from the access cache when there is
// one (one entry per subject). Cached slices are shared: callers only read them.
func (s *Service) subjectPolicies(ctx context.Context, subjectType string, subjects []string) ([]Policy, error) {
	if s.access == nil {
		return s.store.Policies(ctx, subjectType, subjects)
	}
	var out []Policy
	for _, subject := range subjects {
		group := PolicyGroup(subjectType, subject)
		v, err := s.access.Fetch(ctx, policyCacheKind, group, "policies:"+group, func(ctx context.Context) (any, error) {
			return s.store.Policies(ctx, subjectType, []string{subject})
		})
		if err != nil {
			return nil, err
		}
		ps, ok := v.([]Policy)
		if !ok {
			return nil, errors.New("secrets: the access cache returned a value of the wrong type")
		}
		if len(subjects) == 1 {
			return ps, nil
		}
		out = append(out, ps...)
	}
	if out == nil {
		out = []Policy{}
	}
	return out, nil
}

// policyWritten invalidates the subject's cached policies after a write that committed (werr
// nil) or may have (any error but ErrPolicyNotFound).
func (s *Service) policyWritten(ctx context.Context, p Policy, werr error) error {
	if s.access == nil || p.SubjectType == "" || errors.Is(werr, ErrPolicyNotFound) {
		return werr
	}
	return errors.Join(werr, s.access.Invalidate(ctx, PolicyGroup(p.SubjectType, p.Subject)))
}

func allows(ps []Policy, act Action, name string) bool {
	for _, p := range ps {
		if slices.Contains(p.Actions, act) && MatchPattern(p.Pattern, name) {
			return true
		}
	}
	return false
}

// authorize returns nil when the actor may do act on name, ErrForbidden otherwise.
func (s *Service) authorize(ctx context.Context, a Actor, act Action, name string) error {
	if a.Type == ActorSystem || isAdmin(a) {
		return nil
	}
	ps, err := s.grants(ctx, a)
	if err != nil {
		return err
	}
	if !allows(ps, act, name) {
		return fmt.Errorf("%w: %s on %q", ErrForbidden, act, name)
	}
	return nil
}

// requireAdmin guards the administration of policies and the global audit trail.
func requireAdmin(a Actor) error {
	if !isAdmin(a) {
		return fmt.Errorf("%w: administrators only", ErrForbidden)
	}
	return nil
}

// NewPolicy is a policy to create.
type NewPolicy struct {
	SubjectType string
	Subject     string
	Pattern     string
	Actions     []Action
}

// CreatePolicy adds a policy (administrators only).
func (s *Service) CreatePolicy(ctx context.Context, a Actor, np NewPolicy) (Policy, error) {
	if err := requireAdmin(a); err != nil {
		return Policy{}, err
	}
	switch np.SubjectType {
	case PolicyRole:
		switch np.Subject {
		case api.RoleUser:
		case api.RoleAdmin:
			return Policy{}, invalid("subject", "administrators need no policy: they may do everything")
		case api.RoleSupport:
			return Policy{}, invalid("subject", "support never gets access to secrets (SEC-42)")
		default:
			return Policy{}, invalid("subject", "unknown role")
		}
	case PolicyServiceAccount:
		if s.accountExists == nil {
			return Policy{}, invalid("subject", "service accounts are not available")
		}
		if err := s.accountExists(ctx, np.Subject); err != nil {
			return Policy{}, err
		}
	default:
		return Policy{}, invalid("subject_type", "subject_type must be role or service_account")
	}
	if err := ValidatePattern(np.Pattern); err != nil {
		return Policy{}, invalid("pattern", err.Error())
	}
	if len(np.Actions) == 0 {
		return Policy{}, invalid("actions", "name at least one of read, write, rotate, delete")
	}
	var acts []Action
	for _, act := range np.Actions {
		if !slices.Contains(Actions(), act) {
			return Policy{}, invalid("actions", fmt.Sprintf("unknown action %q (read, write, rotate, delete)", act))
		}
		if !slices.Contains(acts, act) {
			acts = append(acts, act)
		}
	}
	p := Policy{ID: s.opts.NewID(), SubjectType: np.SubjectType, Subject: np.Subject, Pattern: np.Pattern,
		Actions: acts, CreatedBy: a.Ref(), CreatedAt: s.now()}
	if err := s.policyWritten(ctx, p, s.store.CreatePolicy(ctx, p)); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Policies lists policies (administrators only); subjectType and subject narrow the list.
func (s *Service) Policies(ctx context.Context, a Actor, subjectType, subject string) ([]Policy, error) {
	if err := requireAdmin(a); err != nil {
		return nil, err
	}
	var subjects []string
	if subject != "" {
		subjects = []string{subject}
	}
	return s.store.Policies(ctx, subjectType, subjects)
}

// DeletePolicy removes a policy (administrators only).
func (s *Service) DeletePolicy(ctx context.Context, a Actor, id string) error {
	if err := requireAdmin(a); err != nil {
		return err
	}
	p, err := s.store.DeletePolicy(ctx, id)
	return s.policyWritten(ctx, p, err)
}
