package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"gatehouse/server/internal/authz"
	"gatehouse/server/internal/events"
	"gatehouse/server/internal/users"
	"gatehouse/shared/api"
)

// Pagination bounds for admin listings.
const (
	DefaultPerPage = 50
	MaxPerPage     = 200
)

// ListUsers searches accounts (users.read; checked by the HTTP layer's permission table).
func (s *Service) ListUsers(ctx context.Context, q api.UserQuery) ([]users.User, int, users.Query, error) {
	uq := users.Query{Text: q.Query, Status: q.Status, Role: q.Role, Page: q.Page, PerPage: q.PerPage}
	if uq.Page == 0 {
		uq.Page = 1
	}
	if uq.PerPage == 0 {
		uq.PerPage = DefaultPerPage
	}
	switch {
	case uq.Page < 1:
		return nil, 0, uq, invalid("page", "page starts at 1")
	case uq.PerPage < 1 || uq.PerPage > MaxPerPage:
		return nil, 0, uq, invalid("per_page", fmt.Sprintf("per_page must be between 1 and %d", MaxPerPage))
	case len(uq.Text) > 256:
		return nil, 0, uq, invalid("query", "query is too long")
	}
	if uq.Status != "" {
		if err := users.ValidStatus(uq.Status); err != nil {
			return nil, 0, uq, invalid("status", "status must be active, locked or disabled")
		}
	}
	if uq.Role != "" {
		if _, err := users.ValidRoles([]string{uq.Role}); err != nil {
			return nil, 0, uq, invalid("role", "role must be admin, support or user")
		}
	}
	list, total, err := s.users.List(ctx, uq)
	return list, total, uq, err
}

// FactorIndex looks up the confirmed factors of many accounts at once (internal/store).
type FactorIndex interface {
	EnrolledFactors(ctx context.Context, userIDs []string) (map[string][]string, error)
}

// MFASummaries describes the second factors of a page of accounts, by user ID, with one
// batched look-up when an index is wired. Only factors this server offers are listed; like
// sign-in, recovery codes alone do not make an account enrolled.
func (s *Service) MFASummaries(ctx context.Context, list []users.User) (map[string]api.MFASummary, error) {
	out := make(map[string]api.MFASummary, len(list))
	ids := make([]string, len(list))
	for i, u := range list {
		ids[i] = u.ID
	}
	found, err := s.confirmedFactors(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("mfa summaries: %w", err)
	}
	for _, u := range list {
		sum := api.MFASummary{Factors: []string{}, Required: s.requiresMFA(u.Roles)}
		for _, name := range orderOf(s.mfa) {
			if slices.Contains(found[u.ID], name) {
				sum.Factors = append(sum.Factors, name)
				sum.Enrolled = sum.Enrolled || name != api.FactorRecoveryCode
			}
		}
		out[u.ID] = sum
	}
	return out, nil
}

// orderOf is the offered factors in wire order (none when MFA is off).
func orderOf(m *MFA) []string {
	if !m.on() {
		return nil
	}
	return m.Order
}

// CreateUser creates an account as an admin.
func (s *Service) CreateUser(ctx context.Context, p Principal, req api.CreateUserRequest, meta Meta) (users.User, error) {
	u, err := s.newUser(ctx, req.Email, req.DisplayName, req.Password, req.Roles)
	if err != nil {
		return users.User{}, err
	}
	return u, s.record(ctx, api.EventUserCreated, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"roles": u.Roles})
}

// GetUser loads an account for an admin or support.
func (s *Service) GetUser(ctx context.Context, id string) (users.User, error) {
	return s.users.Get(ctx, id)
}

// target loads the account an admin or support action is about, enforcing that only admins
// touch admins (SEC-51) and recording refusals.
func (s *Service) target(ctx context.Context, p Principal, id string, meta Meta) (users.User, error) {
	u, err := s.users.Get(ctx, id)
	if err != nil {
		return users.User{}, err
	}
	if !authz.CanManage(p.Roles, u.Roles) {
		if err := s.record(ctx, api.EventUserUpdated, api.OutcomeDenied, p.UserID, u.ID, meta, map[string]any{"reason": "cannot_manage_admin"}); err != nil {
			return users.User{}, err
		}
		return users.User{}, ErrCannotManage
	}
	return u, nil
}

// UpdateUser changes display name (users.update), roles (users.roles) and status (users.lock).
// The permission for each field present is checked here, since one route carries all three.
// A role or status change revokes the user's sessions: tokens carry roles, so a privilege
// change must not leave an old token working (SEC-10).
func (s *Service) UpdateUser(ctx context.Context, p Principal, id string, req api.UpdateUserRequest, meta Meta) (users.User, error) {
	need := map[authz.Permission]bool{}
	if req.DisplayName != nil {
		need[authz.UsersUpdate] = true
	}
	if req.Roles != nil {
		need[authz.UsersRoles] = true
	}
	if req.Status != nil {
		need[authz.UsersLock] = true
	}
	for perm := range need {
		if !authz.Allowed(p.Roles, perm) {
			if err := s.record(ctx, api.EventUserUpdated, api.OutcomeDenied, p.UserID, id, meta, map[string]any{"permission": string(perm)}); err != nil {
				return users.User{}, err
			}
			return users.User{}, ErrForbidden
		}
	}
	u, err := s.target(ctx, p, id, meta)
	if err != nil {
		return users.User{}, err
	}
	before := u
	if req.DisplayName != nil {
		if u.DisplayName, err = users.ValidDisplayName(*req.DisplayName); err != nil {
			return users.User{}, invalid("display_name", fmt.Sprintf("display_name must be at most %d printable characters", users.MaxDisplayName))
		}
	}
	if req.Roles != nil {
		if u.Roles, err = users.ValidRoles(*req.Roles); err != nil {
			return users.User{}, invalid("roles", "roles must be among admin, support, user")
		}
	}
	if req.Status != nil {
		if err := users.ValidStatus(*req.Status); err != nil {
			return users.User{}, invalid("status", "status must be active, locked or disabled")
		}
		u.Status = *req.Status
	}
	if err := s.keepAnAdmin(ctx, before, u); err != nil {
		return users.User{}, err
	}
	u.UpdatedAt = s.now()
	if err := s.users.Update(ctx, u); err != nil {
		return users.User{}, err
	}
	rolesChanged := !slices.Equal(before.Roles, u.Roles)
	statusChanged := before.Status != u.Status
	if rolesChanged || statusChanged {
		if _, err := s.sessions.RevokeAllForUser(ctx, u.ID, "", "privileges_changed"); err != nil {
			return users.User{}, fmt.Errorf("revoke sessions: %w", err)
		}
	}
	if rolesChanged {
		err = s.record(ctx, api.EventUserRolesChanged, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"from": before.Roles, "to": u.Roles})
	}
	if err == nil && statusChanged {
		err = s.record(ctx, api.EventUserStatusChanged, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"from": before.Status, "to": u.Status})
	}
	if err == nil && before.DisplayName != u.DisplayName {
		err = s.record(ctx, api.EventUserUpdated, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"fields": []string{"display_name"}})
	}
	return u, err
}

// keepAnAdmin refuses a change that would leave no active admin.
func (s *Service) keepAnAdmin(ctx context.Context, before, after users.User) error {
	wasActiveAdmin := before.HasRole(api.RoleAdmin) && before.Status == api.UserActive
	isActiveAdmin := after.HasRole(api.RoleAdmin) && after.Status == api.UserActive
	if !wasActiveAdmin || isActiveAdmin {
		return nil
	}
	admins, _, err := s.users.List(ctx, users.Query{Role: api.RoleAdmin, Status: api.UserActive, Page: 1, PerPage: 2})
	if err != nil {
		return err
	}
	if len(admins) <= 1 {
		return ErrLastAdmin
	}
	return nil
}

// ErrForbidden: the caller's roles do not allow the action.
var ErrForbidden = errors.New("not allowed")

// SetStatus locks or unlocks an account (users.lock).
func (s *Service) SetStatus(ctx context.Context, p Principal, id, status string, meta Meta) (users.User, error) {
	return s.UpdateUser(ctx, p, id, api.UpdateUserRequest{Status: &status}, meta)
}

// UserSessions lists an account's live sessions (users.read).
func (s *Service) UserSessions(ctx context.Context, id string) ([]api.Session, error) {
	if _, err := s.users.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.listSessions(ctx, id, "")
}

// RevokeUserSessions ends every session of an account (sessions.revoke).
func (s *Service) RevokeUserSessions(ctx context.Context, p Principal, id string, meta Meta) (int, error) {
	u, err := s.target(ctx, p, id, meta)
	if err != nil {
		return 0, err
	}
	n, err := s.sessions.RevokeAllForUser(ctx, u.ID, "", "revoked_by_admin")
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return n, s.record(ctx, api.EventSessionRevoked, api.OutcomeSuccess, p.UserID, u.ID, meta, map[string]any{"sessions_revoked": n})
}

// RevokeUserSession ends one session of an account (sessions.revoke).
func (s *Service) RevokeUserSession(ctx context.Context, p Principal, id, sid string, meta Meta) error {
	u, err := s.target(ctx, p, id, meta)
	if err != nil {
		return err
	}
	return s.revokeUserSession(ctx, p.UserID, u.ID, sid, meta)
}

// ListEvents pages through security events (events.read).
func (s *Service) ListEvents(ctx context.Context, f events.Filter) ([]events.Event, int, events.Filter, error) {
	nf, err := f.Normalize()
	if err != nil {
		return nil, 0, f, &api.Error{Code: api.CodeInvalidRequest, Message: err.Error()}
	}
	list, total, err := s.events.List(ctx, nf)
	return list, total, nf, err
}
