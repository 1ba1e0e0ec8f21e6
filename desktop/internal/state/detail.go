package state

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"gatehouse/shared/api"
)

// MinReasonLength keeps "x" out of the audit trail: a reset needs a real reason.
const MinReasonLength = 10

// Section is a part of the detail pane that loads on its own: when the server lacks the
// endpoint, the section says so instead of failing the whole pane.
type Section int

// Section states.
const (
	SectionLoading Section = iota
	SectionReady
	SectionUnavailable // the server does not offer it (yet)
	SectionFailed      // it failed; the error was reported
)

// UserDetail is the account open in the detail pane.
type UserDetail struct {
	users   UsersAPI
	support SupportAPI
	caps    Caps

	mu            sync.Mutex
	user          api.User
	loaded        bool
	sessions      []api.Session
	devices       []api.Device
	mfa           *api.MFAStatus
	devicesState  Section
	mfaState      Section
	sessionsState Section
	identities    []api.Identity
	identState    Section
}

// NewUserDetail acts with the signed-in account's caps.
func NewUserDetail(users UsersAPI, support SupportAPI, caps Caps) *UserDetail {
	return &UserDetail{users: users, support: support, caps: caps}
}

// ErrNotAllowed is returned for an action the signed-in account may not take (the screen hides
// such actions; this is the guard behind it).
var ErrNotAllowed = errors.New("not allowed for your role")

// Open loads an account with its sessions, devices and MFA status.
func (d *UserDetail) Open(ctx context.Context, id string) error {
	u, err := d.users.GetUser(ctx, id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.sessions, d.devices, d.mfa, d.identities = nil, nil, nil, nil
	d.sessionsState, d.devicesState, d.identState = SectionLoading, SectionLoading, SectionLoading
	d.setUserLocked(*u)
	d.loaded = true
	d.mu.Unlock()
	return errors.Join(d.loadSessions(ctx), d.loadDevices(ctx), d.loadIdentities(ctx))
}

func (d *UserDetail) loadIdentities(ctx context.Context) error {
	id, _ := d.ID()
	list, err := d.users.UserIdentities(ctx, id)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.identities, d.identState = list, sectionFor(err)
	return reportable(err)
}

// Identities are the provider accounts linked to the open account.
func (d *UserDetail) Identities() ([]api.Identity, Section) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]api.Identity(nil), d.identities...), d.identState
}

// Refresh reloads the open account.
func (d *UserDetail) Refresh(ctx context.Context) error {
	id, ok := d.ID()
	if !ok {
		return nil
	}
	return d.Open(ctx, id)
}

// Close empties the pane.
func (d *UserDetail) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.user, d.loaded, d.sessions, d.devices, d.mfa, d.identities = api.User{}, false, nil, nil, nil, nil
}

// setUserLocked keeps the account and its MFA status, which GetUser carries (servers before
// MFA do not: the section is unavailable). Lock and update answers may omit it: keep the last.
func (d *UserDetail) setUserLocked(u api.User) {
	same := d.user.ID == u.ID
	d.user = u
	switch {
	case u.MFA != nil:
		d.mfa, d.mfaState = u.MFA, SectionReady
	case !same || d.mfa == nil:
		d.mfa, d.mfaState = nil, SectionUnavailable
	}
}

func (d *UserDetail) loadSessions(ctx context.Context) error {
	id, _ := d.ID()
	list, err := d.users.UserSessions(ctx, id)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sessions, d.sessionsState = list, sectionFor(err)
	return reportable(err)
}

func (d *UserDetail) loadDevices(ctx context.Context) error {
	id, _ := d.ID()
	list, err := d.support.UserDevices(ctx, id)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.devices, d.devicesState = list, sectionFor(err)
	return reportable(err)
}

// reloadUser fetches the account again (after a reset its MFA status changed).
func (d *UserDetail) reloadUser(ctx context.Context) error {
	id, _ := d.ID()
	u, err := d.users.GetUser(ctx, id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.mfa = nil
	d.setUserLocked(*u)
	d.mu.Unlock()
	return nil
}

func sectionFor(err error) Section {
	switch {
	case err == nil:
		return SectionReady
	case unsupported(err):
		return SectionUnavailable
	default:
		return SectionFailed
	}
}

// unsupported is ErrNotSupported, or a server that answers 404/405 for the route itself.
func unsupported(err error) bool {
	if errors.Is(err, ErrNotSupported) {
		return true
	}
	var e *api.Error
	return errors.As(err, &e) && e.Code == api.CodeMethodNotAllowed
}

func reportable(err error) error {
	if err == nil || unsupported(err) {
		return nil
	}
	return err
}

// ID is the open account's ID.
func (d *UserDetail) ID() (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.user.ID, d.loaded
}

// User is the open account.
func (d *UserDetail) User() (api.User, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.user, d.loaded
}

// Sessions are the open account's live sessions.
func (d *UserDetail) Sessions() ([]api.Session, Section) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]api.Session(nil), d.sessions...), d.sessionsState
}

// Devices are the open account's trusted devices.
func (d *UserDetail) Devices() ([]api.Device, Section) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]api.Device(nil), d.devices...), d.devicesState
}

// MFA is the open account's MFA status (zero when unavailable).
func (d *UserDetail) MFA() (api.MFAStatus, Section) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mfa == nil {
		return api.MFAStatus{}, d.mfaState
	}
	return *d.mfa, d.mfaState
}

// Actions says which buttons the pane shows for the open account.
type Actions struct {
	EditRoles, EditName, Lock, Unlock, RevokeSessions, RevokeDevices, ResetMFA bool
}

// Actions are the actions the signed-in account may take on the open one.
func (d *UserDetail) Actions() Actions {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		return Actions{}
	}
	c, u := d.caps, d.user
	manage := c.CanManage(u)
	return Actions{
		EditRoles:      c.EditRoles,
		EditName:       c.EditProfiles,
		Lock:           c.LockUsers && manage && u.Status == api.UserActive,
		Unlock:         c.LockUsers && manage && u.Status == api.UserLocked,
		RevokeSessions: c.RevokeSessions && manage,
		RevokeDevices:  c.RevokeDevices && manage && d.devicesState == SectionReady,
		ResetMFA:       c.ResetMFA && manage && d.mfaState != SectionUnavailable,
	}
}

func (d *UserDetail) guard(allowed bool) (string, error) {
	id, ok := d.ID()
	if !ok {
		return "", errors.New("no user is open")
	}
	if !allowed {
		return "", ErrNotAllowed
	}
	return id, nil
}

func (d *UserDetail) replace(u *api.User) {
	d.mu.Lock()
	d.setUserLocked(*u)
	d.mu.Unlock()
}

// Lock locks the account; the server also ends its sessions.
func (d *UserDetail) Lock(ctx context.Context) error {
	id, err := d.guard(d.Actions().Lock)
	if err != nil {
		return err
	}
	u, err := d.users.LockUser(ctx, id)
	if err != nil {
		return err
	}
	d.replace(u)
	return d.loadSessions(ctx)
}

// Unlock reactivates a locked account.
func (d *UserDetail) Unlock(ctx context.Context) error {
	id, err := d.guard(d.Actions().Unlock)
	if err != nil {
		return err
	}
	u, err := d.users.UnlockUser(ctx, id)
	if err != nil {
		return err
	}
	d.replace(u)
	return nil
}

// SetRoles replaces the account's roles (admin).
func (d *UserDetail) SetRoles(ctx context.Context, roles []string) error {
	id, err := d.guard(d.Actions().EditRoles)
	if err != nil {
		return err
	}
	if len(roles) == 0 {
		return invalid("roles", "Give the account at least one role.")
	}
	roles = slices.Clone(roles)
	slices.Sort(roles)
	u, err := d.users.UpdateUser(ctx, id, api.UpdateUserRequest{Roles: &roles})
	if err != nil {
		return err
	}
	d.replace(u)
	return nil
}

// SetDisplayName changes the account's name (admin).
func (d *UserDetail) SetDisplayName(ctx context.Context, name string) error {
	id, err := d.guard(d.Actions().EditName)
	if err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	u, err := d.users.UpdateUser(ctx, id, api.UpdateUserRequest{DisplayName: &name})
	if err != nil {
		return err
	}
	d.replace(u)
	return nil
}

// RevokeSession ends one session of the account.
func (d *UserDetail) RevokeSession(ctx context.Context, sessionID string) error {
	id, err := d.guard(d.Actions().RevokeSessions)
	if err != nil {
		return err
	}
	if err := d.users.RevokeUserSession(ctx, id, sessionID); err != nil {
		return err
	}
	return d.loadSessions(ctx)
}

// RevokeAllSessions ends every session of the account.
func (d *UserDetail) RevokeAllSessions(ctx context.Context) error {
	id, err := d.guard(d.Actions().RevokeSessions)
	if err != nil {
		return err
	}
	if err := d.users.RevokeUserSessions(ctx, id); err != nil {
		return err
	}
	return d.loadSessions(ctx)
}

// RevokeDevice forgets one trusted device: its next sign-in asks for the second factor again.
func (d *UserDetail) RevokeDevice(ctx context.Context, deviceID string) error {
	id, err := d.guard(d.Actions().RevokeDevices)
	if err != nil {
		return err
	}
	if err := d.support.RevokeUserDevice(ctx, id, deviceID); err != nil {
		return err
	}
	return d.loadDevices(ctx)
}

// RevokeAllDevices forgets every trusted device of the account.
func (d *UserDetail) RevokeAllDevices(ctx context.Context) error {
	id, err := d.guard(d.Actions().RevokeDevices)
	if err != nil {
		return err
	}
	if err := d.support.RevokeUserDevices(ctx, id); err != nil {
		return err
	}
	return d.loadDevices(ctx)
}

// CheckResetReason validates the reason for an MFA reset before the confirmation is shown.
func CheckResetReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) < MinReasonLength {
		return "", invalid("reason", fmt.Sprintf("Give a reason of at least %d characters; it goes into the audit trail.", MinReasonLength))
	}
	return reason, nil
}

// ResetConfirmation is the question asked before an MFA reset: it names the account, so the
// wrong person is not reset by a slip in the list.
func (d *UserDetail) ResetConfirmation() string {
	u, _ := d.User()
	who := u.Email
	if u.DisplayName != "" {
		who = u.DisplayName + " <" + u.Email + ">"
	}
	return "Reset multi-factor authentication for " + who + "?\n\n" +
		"This removes every second factor, recovery code and trusted device of the account and signs it out everywhere. " +
		"The user must enroll again at the next sign-in, and is told by email."
}

// ResetMFA removes the account's factors, recovery codes and trusted devices (support, admin).
func (d *UserDetail) ResetMFA(ctx context.Context, reason string) error {
	id, err := d.guard(d.Actions().ResetMFA)
	if err != nil {
		return err
	}
	reason, err = CheckResetReason(reason)
	if err != nil {
		return err
	}
	if err := d.support.ResetMFA(ctx, id, reason); err != nil {
		return err
	}
	return errors.Join(d.reloadUser(ctx), d.loadDevices(ctx), d.loadSessions(ctx))
}
