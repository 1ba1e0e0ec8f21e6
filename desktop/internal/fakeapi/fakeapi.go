// Package fakeapi is an in-memory Gatehouse for the console's tests: it implements
// state.Backend with the server's rules that the console relies on (sessions, roles, step-up,
// paging, filters) and records every call, so tests assert on what the console asked for.
package fakeapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

// Call is one recorded request.
type Call struct {
	Method string
	Args   []string
}

func (c Call) String() string { return c.Method + "(" + strings.Join(c.Args, ", ") + ")" }

// API is the fake server. Set its fields before use; methods are safe for concurrent use.
type API struct {
	mu sync.Mutex

	users     []*api.User
	passwords map[string]string // email -> password
	sessions  map[string][]api.Session
	devices   map[string][]api.Device
	mfa       map[string]api.MFAStatus
	events    []api.SecurityEvent

	// SecondFactor lists, per email, the factors that login asks for (mfa_required).
	SecondFactor map[string][]string
	// Code is the one valid second-factor code.
	Code string
	// RequireStepUp makes admin/support writes answer step_up_required until the session is aal2.
	RequireStepUp bool
	// NoMFA makes the MFA and device endpoints answer as an older server would (not supported).
	NoMFA bool
	// NoKeys makes GET /admin/keys answer as a server without it would (not supported).
	NoKeys bool
	// Backends are the secret backends reported with their health.
	Backends []api.SecretBackend
	// Keys is the master key status (nil: one key, nothing to re-wrap).
	Keys *api.KeyStatus

	secrets     map[string]*fakeSecret
	secretAudit []api.SecretAuditRecord

	providers       []api.OAuthProvider
	providerSecrets map[string]string
	identities      map[string][]api.Identity
	oauthCodes      map[string]string // one-time code -> email
	challenge       string            // the PKCE challenge of the last start address

	me      *api.User
	pending string // email waiting for its second factor
	aal     string
	fail    map[string][]error
	calls   []Call
	streams []Stream
	nextID  int

	Now func() time.Time
}

// Stream scripts one connection of the pool stream: samples, then Err (nil: stay open until
// the context ends).
type Stream struct {
	Samples []api.PoolStats
	Err     error
}

// New returns an empty fake server.
func New() *API {
	return &API{
		passwords: map[string]string{}, sessions: map[string][]api.Session{},
		devices: map[string][]api.Device{}, mfa: map[string]api.MFAStatus{},
		SecondFactor: map[string][]string{}, fail: map[string][]error{}, Code: "123456",
		secrets:         map[string]*fakeSecret{},
		providerSecrets: map[string]string{}, identities: map[string][]api.Identity{}, oauthCodes: map[string]string{},
		Backends: []api.SecretBackend{{Kind: "db", Default: true, Writable: true, Healthy: true}},
		Now:      func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	}
}

// Dialer returns a state.Dialer that hands out this fake for any URL and records the URL.
func (f *API) Dialer() state.Dialer {
	return func(base string) (state.Backend, error) {
		f.record("Dial", base)
		return f, nil
	}
}

// AddUser creates an account.
func (f *API) AddUser(email, name, password string, roles ...string) api.User {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addUserLocked(email, name, password, roles)
}

func (f *API) addUserLocked(email, name, password string, roles []string) api.User {
	f.nextID++
	now := f.Now()
	u := &api.User{
		ID: fmt.Sprintf("u%03d", f.nextID), Email: email, DisplayName: name, Roles: roles,
		Status: api.UserActive, HasPassword: true, CreatedAt: now, UpdatedAt: now,
	}
	f.users = append(f.users, u)
	f.passwords[strings.ToLower(email)] = password
	return *u
}

// AddSession gives a user a live session.
func (f *API) AddSession(userID, sessionID, ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Now()
	f.sessions[userID] = append(f.sessions[userID], api.Session{
		ID: sessionID, Kind: "cookie", AAL: api.AAL1, IP: ip, UserAgent: "Firefox on Linux",
		CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-5 * time.Minute), ExpiresAt: now.Add(24 * time.Hour),
	})
}

// AddDevice gives a user a trusted device.
func (f *API) AddDevice(userID, deviceID, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.Now()
	f.devices[userID] = append(f.devices[userID], api.Device{
		ID: deviceID, Name: name, IP: "192.0.2.7", CreatedAt: now.Add(-48 * time.Hour),
		LastUsedAt: now.Add(-time.Hour), ExpiresAt: now.Add(28 * 24 * time.Hour),
	})
}

// SetMFA sets a user's MFA status.
func (f *API) SetMFA(userID string, st api.MFAStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mfa[userID] = st
}

// AddEvent appends a security event.
func (f *API) AddEvent(ev api.SecurityEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ev.ID == "" {
		ev.ID = fmt.Sprintf("e%04d", len(f.events)+1)
	}
	f.events = append(f.events, ev)
}

// AddStream scripts the next pool stream connection.
func (f *API) AddStream(s Stream) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams = append(f.streams, s)
}

// FailNext makes the next call of method return err.
func (f *API) FailNext(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = append(f.fail[method], err)
}

// Expire ends the current session, as an admin revoking it would: the next call answers 401.
func (f *API) Expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.me, f.aal = nil, ""
}

// Calls returns the recorded calls.
func (f *API) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Methods returns the recorded method names, in order.
func (f *API) Methods() []string {
	var out []string
	for _, c := range f.Calls() {
		out = append(out, c.Method)
	}
	return out
}

// Called reports whether method was called with exactly args.
func (f *API) Called(method string, args ...string) bool {
	for _, c := range f.Calls() {
		if c.Method == method && slices.Equal(c.Args, args) {
			return true
		}
	}
	return false
}

// User returns an account by email.
func (f *API) User(email string) (api.User, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if strings.EqualFold(u.Email, email) {
			return *u, true
		}
	}
	return api.User{}, false
}

// Sessions returns a user's sessions.
func (f *API) Sessions(userID string) []api.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Session(nil), f.sessions[userID]...)
}

// Devices returns a user's devices.
func (f *API) Devices(userID string) []api.Device {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Device(nil), f.devices[userID]...)
}

func (f *API) record(method string, args ...string) {
	f.mu.Lock()
	f.calls = append(f.calls, Call{Method: method, Args: args})
	f.mu.Unlock()
}

// begin records the call and returns a scripted failure, if any (caller holds no lock).
func (f *API) begin(method string, args ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Method: method, Args: args})
	if q := f.fail[method]; len(q) > 0 {
		f.fail[method] = q[1:]
		return q[0]
	}
	return nil
}

func apiErr(code api.Code, msg string) *api.Error {
	return &api.Error{Code: code, Message: msg, HTTPStatus: code.Status(), RequestID: "req-fake"}
}

// authLocked checks the session and, when need is set, the permission and aal.
func (f *API) authLocked(need func(roles []string) bool, write bool) error {
	if f.me == nil {
		return apiErr(api.CodeUnauthorized, "authentication required")
	}
	if need != nil && !need(f.me.Roles) {
		return apiErr(api.CodeForbidden, "you may not do this")
	}
	if write && f.RequireStepUp && f.aal != api.AAL2 {
		return apiErr(api.CodeStepUpRequired, "this action needs a second factor")
	}
	return nil
}

func staff(roles []string) bool {
	return slices.Contains(roles, api.RoleAdmin) || slices.Contains(roles, api.RoleSupport)
}

func admin(roles []string) bool { return slices.Contains(roles, api.RoleAdmin) }

func (f *API) findLocked(id string) (*api.User, error) {
	for _, u := range f.users {
		if u.ID == id {
			return u, nil
		}
	}
	return nil, apiErr(api.CodeNotFound, "no such user")
}

// guardTargetLocked: support may not act on admins.
func (f *API) guardTargetLocked(u *api.User) error {
	if slices.Contains(u.Roles, api.RoleAdmin) && !admin(f.me.Roles) {
		return apiErr(api.CodeForbidden, "only admins may manage admins")
	}
	return nil
}

// Login implements state.AuthAPI.
func (f *API) Login(_ context.Context, email, password string) (state.LoginResult, error) {
	if err := f.begin("Login", email); err != nil {
		return state.LoginResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var found *api.User
	for _, u := range f.users {
		if strings.EqualFold(u.Email, email) {
			found = u
		}
	}
	if found == nil || f.passwords[strings.ToLower(email)] != password || found.Status != api.UserActive {
		return state.LoginResult{}, apiErr(api.CodeInvalidCredentials, "wrong email or password")
	}
	if factors, ok := f.SecondFactor[strings.ToLower(email)]; ok {
		f.pending, f.me = found.Email, nil
		return state.LoginResult{Status: api.LoginMFARequired, Factors: factors}, nil
	}
	f.me, f.aal = found, api.AAL1
	now := f.Now()
	found.LastLoginAt = &now
	u := *found
	return state.LoginResult{Status: api.LoginOK, User: &u}, nil
}

// Logout implements state.AuthAPI.
func (f *API) Logout(context.Context) error {
	if err := f.begin("Logout"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(nil, false); err != nil {
		return err
	}
	f.me, f.aal = nil, ""
	return nil
}

// Me implements state.AuthAPI.
func (f *API) Me(context.Context) (*api.User, error) {
	if err := f.begin("Me"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(nil, false); err != nil {
		return nil, err
	}
	u := *f.me
	return &u, nil
}

// ChallengeMFA implements state.MFAAPI.
func (f *API) ChallengeMFA(_ context.Context, factor string) error {
	if err := f.begin("ChallengeMFA", factor); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return state.ErrNotSupported
	}
	if f.pending == "" && f.me == nil {
		return apiErr(api.CodeUnauthorized, "authentication required")
	}
	return nil
}

// ChallengeStepUp implements state.MFAAPI.
func (f *API) ChallengeStepUp(_ context.Context, factor string) error {
	if err := f.begin("ChallengeStepUp", factor); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return state.ErrNotSupported
	}
	return f.authLocked(nil, false)
}

// VerifyMFA implements state.MFAAPI.
func (f *API) VerifyMFA(_ context.Context, factor, code string, remember bool) (*api.User, error) {
	if err := f.begin("VerifyMFA", factor, code, fmt.Sprint(remember)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pending == "" {
		return nil, apiErr(api.CodeMFALoginExpired, "this sign-in has expired: sign in again")
	}
	if code != f.Code {
		return nil, apiErr(api.CodeMFAInvalidCode, "the code is wrong, expired or already used")
	}
	for _, u := range f.users {
		if strings.EqualFold(u.Email, f.pending) {
			f.me, f.aal, f.pending = u, api.AAL2, ""
			if remember {
				now := f.Now()
				f.devices[u.ID] = append(f.devices[u.ID], api.Device{ID: fmt.Sprintf("d%d", len(f.devices[u.ID])+1), Name: "Gatehouse Console", CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)})
			}
			c := *u
			return &c, nil
		}
	}
	return nil, apiErr(api.CodeUnauthorized, "account gone")
}

// StepUp implements state.MFAAPI.
func (f *API) StepUp(_ context.Context, factor, code string) error {
	if err := f.begin("StepUp", factor, code); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(nil, false); err != nil {
		return err
	}
	if code != f.Code {
		return apiErr(api.CodeMFAInvalidCode, "the code is wrong, expired or already used")
	}
	f.aal = api.AAL2
	return nil
}

// MyMFA implements state.MFAAPI.
func (f *API) MyMFA(context.Context) (api.MFAStatus, error) {
	if err := f.begin("MyMFA"); err != nil {
		return api.MFAStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return api.MFAStatus{}, state.ErrNotSupported
	}
	if err := f.authLocked(nil, false); err != nil {
		return api.MFAStatus{}, err
	}
	return f.mfaLocked(f.me.ID), nil
}

func (f *API) mfaLocked(id string) api.MFAStatus {
	st := f.mfa[id]
	st.Available = []string{api.FactorTOTP, api.FactorSMS, api.FactorEmail}
	st.TrustedDevices = len(f.devices[id])
	return st
}

// Version implements state.ServerAPI.
func (f *API) Version(context.Context) (*api.Version, error) {
	if err := f.begin("Version"); err != nil {
		return nil, err
	}
	return &api.Version{Version: "v0.9.0-test", Commit: "abc1234", BuildDate: "2026-03-01T00:00:00Z", GoVersion: "go1.26.8"}, nil
}

// Livez implements state.ServerAPI.
func (f *API) Livez(context.Context) (*api.Health, error) {
	if err := f.begin("Livez"); err != nil {
		return nil, err
	}
	return &api.Health{Status: api.StatusOK}, nil
}

// Readyz implements state.ServerAPI.
func (f *API) Readyz(context.Context) (*api.Health, error) {
	if err := f.begin("Readyz"); err != nil {
		var e *api.Error
		if errors.As(err, &e) && e.Code == api.CodeUnavailable {
			return &api.Health{Status: api.StatusFail, Checks: map[string]api.HealthCheck{"database": {Status: api.StatusFail, Error: "unreachable"}}}, err
		}
		return nil, err
	}
	return &api.Health{Status: api.StatusOK, Checks: map[string]api.HealthCheck{"database": {Status: api.StatusOK, DurationMS: 0.4}}}, nil
}

// ListUsers implements state.UsersAPI.
func (f *API) ListUsers(_ context.Context, q api.UserQuery) (*api.UserList, error) {
	if err := f.begin("ListUsers", q.Query, q.Status, q.Role, fmt.Sprint(q.Page)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, false); err != nil {
		return nil, err
	}
	var match []api.User
	for _, u := range f.users {
		text := strings.ToLower(q.Query)
		if text != "" && !strings.Contains(strings.ToLower(u.Email), text) && !strings.Contains(strings.ToLower(u.DisplayName), text) {
			continue
		}
		if q.Status != "" && u.Status != q.Status {
			continue
		}
		if q.Role != "" && !slices.Contains(u.Roles, q.Role) {
			continue
		}
		match = append(match, *u)
	}
	page, per := max(q.Page, 1), q.PerPage
	if per <= 0 {
		per = 25
	}
	lo, hi := min((page-1)*per, len(match)), min(page*per, len(match))
	out := match[lo:hi]
	if !f.NoMFA { // as the server: one batched summary per page, never the full status
		for i := range out {
			sum := summaryOf(f.mfaLocked(out[i].ID))
			out[i].MFASummary = &sum
		}
	}
	return &api.UserList{Users: out, Page: page, PerPage: per, Total: len(match)}, nil
}

// summaryOf is the list's MFA summary of a full status (the server's rules).
func summaryOf(st api.MFAStatus) api.MFASummary {
	sum := api.MFASummary{Factors: []string{}, Required: st.Required}
	for _, fa := range st.Factors {
		if fa.Enrolled {
			sum.Factors = append(sum.Factors, fa.Factor)
			sum.Enrolled = sum.Enrolled || fa.Factor != api.FactorRecoveryCode
		}
	}
	return sum
}

// GetUser implements state.UsersAPI.
func (f *API) GetUser(_ context.Context, id string) (*api.User, error) {
	if err := f.begin("GetUser", id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, false); err != nil {
		return nil, err
	}
	u, err := f.findLocked(id)
	if err != nil {
		return nil, err
	}
	c := *u
	if !f.NoMFA {
		st := f.mfaLocked(id)
		sum := summaryOf(st)
		c.MFA, c.MFASummary = &st, &sum
	}
	return &c, nil
}

// CreateUser implements state.UsersAPI.
func (f *API) CreateUser(_ context.Context, req api.CreateUserRequest) (*api.User, error) {
	if err := f.begin("CreateUser", req.Email, strings.Join(req.Roles, "+")); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, true); err != nil {
		return nil, err
	}
	for _, u := range f.users {
		if strings.EqualFold(u.Email, req.Email) {
			return nil, apiErr(api.CodeConflict, "an account with this email exists")
		}
	}
	u := f.addUserLocked(req.Email, req.DisplayName, req.Password, req.Roles)
	return &u, nil
}

// UpdateUser implements state.UsersAPI.
func (f *API) UpdateUser(_ context.Context, id string, req api.UpdateUserRequest) (*api.User, error) {
	args := []string{id}
	if req.Roles != nil {
		args = append(args, "roles="+strings.Join(*req.Roles, "+"))
	}
	if req.DisplayName != nil {
		args = append(args, "name="+*req.DisplayName)
	}
	if err := f.begin("UpdateUser", args...); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, true); err != nil {
		return nil, err
	}
	if (req.Roles != nil || req.DisplayName != nil) && !admin(f.me.Roles) {
		return nil, apiErr(api.CodeForbidden, "only admins change roles and names")
	}
	u, err := f.findLocked(id)
	if err != nil {
		return nil, err
	}
	if req.Roles != nil {
		u.Roles = *req.Roles
	}
	if req.DisplayName != nil {
		u.DisplayName = *req.DisplayName
	}
	c := *u
	return &c, nil
}

func (f *API) setStatus(method, id, status string) (*api.User, error) {
	if err := f.begin(method, id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, true); err != nil {
		return nil, err
	}
	u, err := f.findLocked(id)
	if err != nil {
		return nil, err
	}
	if err := f.guardTargetLocked(u); err != nil {
		return nil, err
	}
	u.Status = status
	if status == api.UserLocked {
		delete(f.sessions, id)
	}
	c := *u
	return &c, nil
}

// LockUser implements state.UsersAPI.
func (f *API) LockUser(_ context.Context, id string) (*api.User, error) {
	return f.setStatus("LockUser", id, api.UserLocked)
}

// UnlockUser implements state.UsersAPI.
func (f *API) UnlockUser(_ context.Context, id string) (*api.User, error) {
	return f.setStatus("UnlockUser", id, api.UserActive)
}

// UserSessions implements state.UsersAPI.
func (f *API) UserSessions(_ context.Context, id string) ([]api.Session, error) {
	if err := f.begin("UserSessions", id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, false); err != nil {
		return nil, err
	}
	return append([]api.Session(nil), f.sessions[id]...), nil
}

// RevokeUserSession implements state.UsersAPI.
func (f *API) RevokeUserSession(_ context.Context, id, sid string) error {
	if err := f.begin("RevokeUserSession", id, sid); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, true); err != nil {
		return err
	}
	f.sessions[id] = slices.DeleteFunc(f.sessions[id], func(s api.Session) bool { return s.ID == sid })
	return nil
}

// RevokeUserSessions implements state.UsersAPI.
func (f *API) RevokeUserSessions(_ context.Context, id string) error {
	if err := f.begin("RevokeUserSessions", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(staff, true); err != nil {
		return err
	}
	delete(f.sessions, id)
	return nil
}

// UserDevices implements state.SupportAPI.
func (f *API) UserDevices(_ context.Context, id string) ([]api.Device, error) {
	if err := f.begin("UserDevices", id); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return nil, state.ErrNotSupported
	}
	if err := f.authLocked(staff, false); err != nil {
		return nil, err
	}
	return append([]api.Device(nil), f.devices[id]...), nil
}

// RevokeUserDevice implements state.SupportAPI.
func (f *API) RevokeUserDevice(_ context.Context, id, did string) error {
	if err := f.begin("RevokeUserDevice", id, did); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return state.ErrNotSupported
	}
	if err := f.authLocked(staff, true); err != nil {
		return err
	}
	f.devices[id] = slices.DeleteFunc(f.devices[id], func(d api.Device) bool { return d.ID == did })
	return nil
}

// RevokeUserDevices implements state.SupportAPI.
func (f *API) RevokeUserDevices(_ context.Context, id string) error {
	if err := f.begin("RevokeUserDevices", id); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return state.ErrNotSupported
	}
	if err := f.authLocked(staff, true); err != nil {
		return err
	}
	delete(f.devices, id)
	return nil
}

// ResetMFA implements state.SupportAPI.
func (f *API) ResetMFA(_ context.Context, id, reason string) error {
	if err := f.begin("ResetMFA", id, reason); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoMFA {
		return state.ErrNotSupported
	}
	if err := f.authLocked(staff, true); err != nil {
		return err
	}
	u, err := f.findLocked(id)
	if err != nil {
		return err
	}
	if err := f.guardTargetLocked(u); err != nil {
		return err
	}
	delete(f.mfa, id)
	delete(f.devices, id)
	delete(f.sessions, id)
	return nil
}

// ListEvents implements state.EventsAPI: newest first.
func (f *API) ListEvents(_ context.Context, q api.SecurityEventQuery) (*api.SecurityEventList, error) {
	if err := f.begin("ListEvents", q.Type, q.User, fmt.Sprint(q.Page)); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.authLocked(admin, false); err != nil {
		return nil, err
	}
	var match []api.SecurityEvent
	for _, ev := range f.events {
		if q.Type != "" && ev.Type != q.Type {
			continue
		}
		if q.User != "" && ev.ActorID != q.User && ev.SubjectUserID != q.User {
			continue
		}
		if !q.Since.IsZero() && ev.CreatedAt.Before(q.Since) {
			continue
		}
		if !q.Until.IsZero() && ev.CreatedAt.After(q.Until) {
			continue
		}
		match = append(match, ev)
	}
	sort.SliceStable(match, func(i, j int) bool { return match[i].CreatedAt.After(match[j].CreatedAt) })
	page, per := max(q.Page, 1), q.PerPage
	if per <= 0 {
		per = 50
	}
	lo, hi := min((page-1)*per, len(match)), min(page*per, len(match))
	return &api.SecurityEventList{Events: match[lo:hi], Page: page, PerPage: per, Total: len(match)}, nil
}

// PoolStream implements state.PoolAPI: it plays the scripted connections in order, then stays
// open until ctx ends.
func (f *API) PoolStream(ctx context.Context, fn func(api.PoolStats) error) error {
	if err := f.begin("PoolStream"); err != nil {
		return err
	}
	f.mu.Lock()
	if err := f.authLocked(admin, false); err != nil {
		f.mu.Unlock()
		return err
	}
	var s *Stream
	if len(f.streams) > 0 {
		s = &f.streams[0]
		f.streams = f.streams[1:]
	}
	f.mu.Unlock()
	if s == nil {
		<-ctx.Done()
		return ctx.Err()
	}
	for _, sample := range s.Samples {
		if err := fn(sample); err != nil {
			return err
		}
	}
	if s.Err != nil {
		return s.Err
	}
	<-ctx.Done()
	return ctx.Err()
}

var _ state.Backend = (*API)(nil)
