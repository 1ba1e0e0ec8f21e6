package state

import (
	"slices"

	"gatehouse/shared/api"
)

// Caps is what the signed-in account may do, derived from its roles (architecture.md, "Roles").
// Screens hide what is not allowed instead of letting it fail; the server still decides.
type Caps struct {
	ViewUsers      bool
	CreateUsers    bool
	EditProfiles   bool
	EditRoles      bool
	LockUsers      bool
	RevokeSessions bool
	RevokeDevices  bool
	ResetMFA       bool
	ViewEvents     bool
	ViewPool       bool
	// ViewSecrets: admins only; support never sees secret values, so not even the screen.
	ViewSecrets bool
	// ManageProviders: the OAuth providers and the secret backends' health (admins).
	ManageProviders bool
	admin           bool
}

// CapsFor mirrors the server's permission table (server/internal/authz).
func CapsFor(roles []string) Caps {
	switch {
	case slices.Contains(roles, api.RoleAdmin):
		return Caps{
			ViewUsers: true, CreateUsers: true, EditProfiles: true, EditRoles: true, LockUsers: true,
			RevokeSessions: true, RevokeDevices: true, ResetMFA: true, ViewEvents: true, ViewPool: true,
			ViewSecrets: true, ManageProviders: true, admin: true,
		}
	case slices.Contains(roles, api.RoleSupport):
		// Support helps people: find them, lock/unlock, revoke sessions and devices, reset MFA.
		return Caps{ViewUsers: true, LockUsers: true, RevokeSessions: true, RevokeDevices: true, ResetMFA: true}
	default:
		return Caps{}
	}
}

// CanManage reports whether these caps may act on target: only admins touch admins.
func (c Caps) CanManage(target api.User) bool {
	return c.admin || !slices.Contains(target.Roles, api.RoleAdmin)
}

// Console reports whether the account has any reason to use the console.
func (c Caps) Console() bool { return c.ViewUsers || c.ViewEvents }

// AssignableRoles are the roles an admin can give.
func AssignableRoles() []string { return []string{api.RoleAdmin, api.RoleSupport, api.RoleUser} }
