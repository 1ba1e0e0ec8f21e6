// Package authz is the permission table: which role may do what (architecture.md, "Roles"),
// plus the object-level rules that a role check alone cannot express. The HTTP layer checks
// permissions in one middleware; services check object-level rules.
package authz

import (
	"slices"

	"gatehouse/shared/api"
)

// Permission names one kind of action.
type Permission string

// Permissions. Later capabilities (devices, MFA reset, providers, secrets) add theirs here.
const (
	UsersRead       Permission = "users.read"        // find users, view status and sessions
	UsersCreate     Permission = "users.create"      // create accounts
	UsersUpdate     Permission = "users.update"      // display name
	UsersRoles      Permission = "users.roles"       // change roles
	UsersLock       Permission = "users.lock"        // lock, unlock (status changes)
	SessionsRevoke  Permission = "sessions.revoke"   // revoke another user's sessions
	EventsRead      Permission = "events.read"       // security events
	PoolRead        Permission = "pool.read"         // database pool statistics
	TokensInspect   Permission = "tokens.introspect" // token introspection
	DevicesRevoke   Permission = "devices.revoke"    // end trust in another user's devices
	MFAReset        Permission = "mfa.reset"         // remove another user's second factors (SEC-26)
	SecretsAdmin    Permission = "secrets.admin"     // secret backends, policies, service accounts, the secret audit trail
	KeysRead        Permission = "keys.read"         // master key versions and re-wrap progress
	ProvidersManage Permission = "providers.manage"  // social-login providers (client secrets are write-only)
)

var table = map[string][]Permission{
	api.RoleAdmin: {UsersRead, UsersCreate, UsersUpdate, UsersRoles, UsersLock, SessionsRevoke, EventsRead, PoolRead, TokensInspect, DevicesRevoke, MFAReset, SecretsAdmin, KeysRead, ProvidersManage},
	// Support helps people: find them, lock/unlock, revoke sessions. Never roles, never secrets.
	api.RoleSupport: {UsersRead, UsersLock, SessionsRevoke, DevicesRevoke, MFAReset},
	api.RoleUser:    {},
}

// Allowed reports whether any of roles grants p.
func Allowed(roles []string, p Permission) bool {
	for _, r := range roles {
		if slices.Contains(table[r], p) {
			return true
		}
	}
	return false
}

// CanManage reports whether an actor with actorRoles may act on an account with targetRoles:
// only admins may touch admins (support cannot lock, revoke or reset an admin).
func CanManage(actorRoles, targetRoles []string) bool {
	if slices.Contains(targetRoles, api.RoleAdmin) {
		return slices.Contains(actorRoles, api.RoleAdmin)
	}
	return true
}
