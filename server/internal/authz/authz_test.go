package authz

import (
	"testing"

	"gatehouse/shared/api"
)

// SEC-51: the permission table, role by role.
func TestSEC51PermissionTable(t *testing.T) {
	admin := []string{api.RoleAdmin, api.RoleUser}
	support := []string{api.RoleSupport, api.RoleUser}
	user := []string{api.RoleUser}
	for _, p := range []Permission{UsersRead, UsersCreate, UsersUpdate, UsersRoles, UsersLock, SessionsRevoke, EventsRead, PoolRead, TokensInspect} {
		if !Allowed(admin, p) {
			t.Errorf("admin lacks %s", p)
		}
		if Allowed(user, p) {
			t.Errorf("user has %s", p)
		}
		if Allowed(nil, p) {
			t.Errorf("no roles has %s", p)
		}
	}
	for p, want := range map[Permission]bool{UsersRead: true, UsersLock: true, SessionsRevoke: true, UsersRoles: false, UsersCreate: false, PoolRead: false, EventsRead: false} {
		if Allowed(support, p) != want {
			t.Errorf("support %s = %v", p, !want)
		}
	}
}

func TestCanManage(t *testing.T) {
	admin := []string{api.RoleAdmin}
	support := []string{api.RoleSupport}
	if CanManage(support, []string{api.RoleAdmin, api.RoleUser}) {
		t.Error("support must not manage an admin")
	}
	if !CanManage(support, []string{api.RoleUser}) || !CanManage(admin, []string{api.RoleAdmin}) || !CanManage(support, []string{api.RoleSupport}) {
		t.Error("allowed cases refused")
	}
}
