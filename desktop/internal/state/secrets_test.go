package state_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/desktop/internal/fakeapi"
	"gatehouse/desktop/internal/state"
	"gatehouse/shared/api"
)

var secretsNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func seedSecrets(f *fakeapi.API) {
	due := secretsNow.Add(2 * 24 * time.Hour)
	over := secretsNow.Add(-time.Hour)
	pol := &api.RotationPolicy{IntervalSeconds: 30 * 86400, WindowSeconds: 7 * 86400, Generator: api.GeneratorSpec{Type: "password", Length: 32}}
	f.AddSecret(api.Secret{Name: "billing/prod/db-password", Labels: map[string]string{"team": "billing"}, Rotation: pol, NextRotationAt: &due, RotationDue: true}, "first-pass", "second-pass")
	f.AddSecret(api.Secret{Name: "billing/prod/stripe-key", Labels: map[string]string{"team": "billing"}, Rotation: pol, NextRotationAt: &over, RotationDue: true}, "sk_live_1")
	f.AddSecret(api.Secret{Name: "search/api-key", Labels: map[string]string{"team": "search"}}, "k1")
}

func TestCapsHideSecretsFromSupport(t *testing.T) {
	if !state.CapsFor([]string{api.RoleAdmin}).ViewSecrets {
		t.Fatal("admins manage secrets")
	}
	if state.CapsFor([]string{api.RoleSupport}).ViewSecrets || state.CapsFor([]string{api.RoleUser}).ViewSecrets {
		t.Fatal("support never sees secret values, nor the screen")
	}
}

func TestSecretsFilterByPrefixAndLabel(t *testing.T) {
	f := newFake()
	seedSecrets(f)
	signedIn(t, f, adminEmail, adminPass)
	s := state.NewSecrets(f)
	ctx := context.Background()
	if err := s.Filter(ctx, " billing/ ", ""); err != nil {
		t.Fatal(err)
	}
	if got := names(s.Rows()); !slices.Equal(got, []string{"billing/prod/db-password", "billing/prod/stripe-key"}) {
		t.Fatalf("prefix: %v", got)
	}
	if err := s.Filter(ctx, "", " team = search "); err != nil {
		t.Fatal(err)
	}
	if got := names(s.Rows()); !slices.Equal(got, []string{"search/api-key"}) || !f.Called("ListSecrets", "", "team=search", "1") {
		t.Fatalf("label: %v %v", got, f.Calls())
	}
	before := len(f.Calls())
	if err := s.Filter(ctx, "", "team"); state.Describe(err).Code != state.CodeInvalidInput || len(f.Calls()) != before {
		t.Fatalf("a label without a value is refused before sending: %v", err)
	}
	for _, r := range s.Rows() {
		if strings.Contains(r.Description+r.Owner, "pass") {
			t.Fatal("rows are metadata only")
		}
	}
}

func names(list []api.Secret) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}

func TestSecretUrgencyAndSummary(t *testing.T) {
	next := secretsNow.Add(3 * 24 * time.Hour)
	past := secretsNow.Add(-2 * time.Hour)
	pol := &api.RotationPolicy{IntervalSeconds: 86400}
	cases := []struct {
		s    api.Secret
		u    state.Urgency
		text string
	}{
		{api.Secret{}, state.UrgencyNone, "No rotation"},
		{api.Secret{Rotation: &api.RotationPolicy{}}, state.UrgencyNone, "On demand"},
		{api.Secret{Rotation: pol, NextRotationAt: &next}, state.UrgencyNone, "Next in 3 days"},
		{api.Secret{Rotation: pol, NextRotationAt: &next, RotationDue: true}, state.UrgencyDue, "Due in 3 days"},
		{api.Secret{Rotation: pol, NextRotationAt: &past, RotationDue: true}, state.UrgencyOverdue, "Overdue since 2 h ago"},
	}
	for _, c := range cases {
		if u, text := state.SecretUrgency(c.s, secretsNow), state.RotationSummary(c.s, secretsNow); u != c.u || text != c.text {
			t.Errorf("%+v: %v %q, want %v %q", c.s, u, text, c.u, c.text)
		}
	}
}

func openSecret(t *testing.T, f *fakeapi.API, timers *fakeapi.Timers, name string) *state.SecretDetail {
	t.Helper()
	d := state.NewSecretDetail(f, timers.After)
	if err := d.Open(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSecretRevealHidesAfterExposure(t *testing.T) {
	f := newFake()
	seedSecrets(f)
	signedIn(t, f, adminEmail, adminPass)
	timers := &fakeapi.Timers{}
	d := openSecret(t, f, timers, "billing/prod/db-password")
	if _, ok := d.Revealed(); ok || f.Called("SecretValue", "billing/prod/db-password", "0") {
		t.Fatal("opening a secret never reads its value")
	}
	vs, st := d.Versions()
	if st != state.SectionReady || len(vs) != 2 || vs[0].Version != 2 || vs[0].Stage != api.StageCurrent {
		t.Fatalf("versions newest first: %+v", vs)
	}
	hidden := 0
	ctx := context.Background()
	if err := d.Reveal(ctx, 0, func() { hidden++ }); err != nil {
		t.Fatal(err)
	}
	if v, ok := d.Revealed(); !ok || v.Value != "second-pass" || v.Version != 2 {
		t.Fatalf("revealed %+v", v)
	}
	if got := timers.Pending(); !slices.Equal(got, []time.Duration{30 * time.Second}) {
		t.Fatalf("timers %v", got)
	}
	if err := d.RefreshAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if recs, _, _ := d.Audit(); len(recs) == 0 || recs[0].Action != "read" {
		t.Fatalf("the read is in the audit trail: %+v", recs)
	}
	timers.FireAll()
	if _, ok := d.Revealed(); ok || hidden != 1 {
		t.Fatalf("hidden after 30 s (%d)", hidden)
	}

	// A second reveal restarts the clock; Hide stops it, so a late timer changes nothing.
	if err := d.Reveal(ctx, 1, func() { hidden++ }); err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Revealed(); v.Value != "first-pass" {
		t.Fatalf("version 1: %+v", v)
	}
	d.Hide()
	if timers.FireAll() != 0 || hidden != 1 {
		t.Fatal("a hidden value's timer is stopped")
	}

	// Opening another secret hides the value first.
	if err := d.Reveal(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Open(ctx, "search/api-key"); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Revealed(); ok {
		t.Fatal("another secret hides the value")
	}
}

func TestSecretCopyClearsTheClipboardOnlyIfUnchanged(t *testing.T) {
	f := newFake()
	seedSecrets(f)
	signedIn(t, f, adminEmail, adminPass)
	timers := &fakeapi.Timers{}
	d := openSecret(t, f, timers, "billing/prod/db-password")
	ctx := context.Background()
	clip := &fakeapi.Clipboard{}

	v, err := d.ValueToCopy(ctx, 0)
	if err != nil || v != "second-pass" || !f.Called("SecretValue", "billing/prod/db-password", "0") {
		t.Fatalf("copy reads the value (audited): %q %v", v, err)
	}
	cleared := 0
	d.CopyValue(clip, v, func() { cleared++ })
	if clip.Content() != "second-pass" {
		t.Fatal("copied")
	}
	timers.FireAll()
	if clip.Content() != "" || cleared != 1 {
		t.Fatalf("cleared after 30 s: %q", clip.Content())
	}

	// The user copied something else since: it is left alone.
	d.CopyValue(clip, v, func() { cleared++ })
	clip.SetContent("my own notes")
	timers.FireAll()
	if clip.Content() != "my own notes" || cleared != 1 {
		t.Fatalf("someone else's clipboard: %q", clip.Content())
	}

	// Signing out clears a copied value at once (and only that value).
	d.CopyValue(clip, v, func() { cleared++ })
	d.ForgetClipboard(clip)
	if clip.Content() != "" || timers.FireAll() != 0 {
		t.Fatalf("forgotten: %q", clip.Content())
	}
	d.CopyValue(clip, v, nil)
	clip.SetContent("mine")
	d.ForgetClipboard(clip)
	if clip.Content() != "mine" {
		t.Fatal("the user's own clipboard is left alone")
	}

	// A revealed value is copied without a second read.
	if err := d.Reveal(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	reads := countCalls(f, "SecretValue")
	if v, err := d.ValueToCopy(ctx, 0); err != nil || v != "second-pass" || countCalls(f, "SecretValue") != reads {
		t.Fatalf("copy of the revealed value: %q %v", v, err)
	}
}

func countCalls(f *fakeapi.API, method string) int {
	n := 0
	for _, m := range f.Methods() {
		if m == method {
			n++
		}
	}
	return n
}

func TestSecretCreateNewVersionRollbackRotate(t *testing.T) {
	f := newFake()
	signedIn(t, f, adminEmail, adminPass)
	ctx := context.Background()
	list := state.NewSecrets(f)
	before := len(f.Calls())
	if _, err := list.Create(ctx, state.SecretDraft{Name: "app/token"}); state.Describe(err).Code != state.CodeInvalidInput || len(f.Calls()) != before {
		t.Fatalf("a value or a generator is needed: %v", err)
	}
	if _, err := list.Create(ctx, state.SecretDraft{Name: "app/token", Generate: true, Generator: state.NewGenerator("password", 0)}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("a generator needs a length: %v", err)
	}
	if _, err := list.Create(ctx, state.SecretDraft{Name: "x", Value: "v", Labels: "team"}); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("labels are key=value: %v", err)
	}
	sec, err := list.Create(ctx, state.SecretDraft{Name: " /app/token/ ", Labels: "team=app, env=prod", Generate: true, Generator: state.NewGenerator("hex", 16)})
	if err != nil || sec.Name != "app/token" || sec.Labels["env"] != "prod" || !f.Called("CreateSecret", "app/token", "generate=hex") {
		t.Fatalf("create: %+v %v", sec, err)
	}
	if v, _, _ := f.SecretValueOf("app/token"); len(v) != 32 {
		t.Fatalf("hex 16 bytes: %q", v)
	}
	if _, err := list.Create(ctx, state.SecretDraft{Name: "app/manual", Value: "typed value"}); err != nil {
		t.Fatal(err)
	}

	timers := &fakeapi.Timers{}
	d := openSecret(t, f, timers, "app/manual")
	if err := d.NewVersion(ctx, ""); state.Describe(err).Code != state.CodeInvalidInput {
		t.Fatalf("empty value: %v", err)
	}
	if err := d.NewVersion(ctx, "second value"); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Secret(); s.CurrentVersion != 2 {
		t.Fatalf("current %d", s.CurrentVersion)
	}
	for _, c := range f.Calls() {
		if strings.Contains(c.String(), "second value") {
			t.Fatal("a value never reaches the call log (nor any log)")
		}
	}
	if !strings.Contains(d.RollbackConfirmation(1), "version 1 of app/manual") {
		t.Fatal(d.RollbackConfirmation(1))
	}
	if err := d.Reveal(ctx, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Rollback(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, n, _ := f.SecretValueOf("app/manual"); v != "typed value" || n != 3 {
		t.Fatalf("rolled back: %q v%d", v, n)
	}
	if _, ok := d.Revealed(); ok {
		t.Fatal("a rollback hides the (no longer current) value")
	}
	if s, _ := d.Secret(); s.CurrentVersion != 3 {
		t.Fatalf("metadata reloaded: %d", s.CurrentVersion)
	}
	vs, _ := d.Versions()
	if len(vs) != 3 || vs[0].Stage != api.StageCurrent || vs[1].Stage != api.StagePrevious {
		t.Fatalf("versions %+v", vs)
	}

	// Rotate needs a policy; the policy editor validates before sending.
	if d.CanRotate() {
		t.Fatal("no policy, no rotation")
	}
	if err := d.Rotate(ctx); state.Describe(err).Code != state.CodeInvalidInput || f.Called("RotateSecret", "app/manual") {
		t.Fatalf("rotate without a policy: %v", err)
	}
	bad := []state.RotationDraft{
		{Interval: "monthly", Generator: state.NewGenerator("password", 32)},
		{Interval: "1d", Window: "2d", Generator: state.NewGenerator("password", 32)},
		{Interval: "30d", Generator: api.GeneratorSpec{Type: "rot13", Length: 3}},
		{Interval: "30d", Generator: state.NewGenerator("password", 32), HookURL: "ftp://x"},
	}
	for _, b := range bad {
		if _, err := b.Policy(); state.Describe(err).Code != state.CodeInvalidInput {
			t.Errorf("%+v: %v", b, err)
		}
	}
	pol, err := state.DraftFor(nil).Policy()
	if err != nil || pol.IntervalSeconds != 30*86400 || pol.WindowSeconds != 7*86400 || pol.Generator.Length != 32 {
		t.Fatalf("default policy %+v %v", pol, err)
	}
	if err := d.SetRotation(ctx, pol); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Secret(); s.Rotation == nil || s.NextRotationAt == nil {
		t.Fatalf("policy set: %+v", s)
	}
	if got := state.DraftFor(pol); got.Interval != "30d" || got.Window != "7d" {
		t.Fatalf("draft round trip %+v", got)
	}
	if err := d.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Secret(); s.CurrentVersion != 4 || s.LastRotatedAt == nil {
		t.Fatalf("rotated: %+v", s)
	}
	recs, total, _ := d.Audit()
	if total < 5 || recs[0].Action != "rotate" {
		t.Fatalf("audit trail newest first: %d %+v", total, recs)
	}
	// The server's own rule (an hour at least) comes back as its error.
	if err := d.SetRotation(ctx, &api.RotationPolicy{IntervalSeconds: 60, Generator: state.NewGenerator("hex", 8)}); state.Describe(err).Code != string(api.CodeInvalidRequest) {
		t.Fatalf("server refusal: %v", err)
	}
}

func TestShortActor(t *testing.T) {
	for in, want := range map[string]string{"user:e0c215b3-7d98-4810-bd65-b1f01806fa14": "user:e0c215b3…", "user:u001": "user:u001", "": "", "service_account:ci": "service_account:ci"} {
		if got := state.ShortActor(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

func TestIntervals(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "": 0, "30d": 30 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute, "7D": 7 * 24 * time.Hour} {
		if got, err := state.ParseInterval(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := state.ParseInterval("-1d"); err == nil {
		t.Error("negative")
	}
	if state.FormatInterval(36*time.Hour) != "36h" || state.FormatInterval(0) != "0" {
		t.Error("format")
	}
}

func TestSecretOpsBackendsAndRewrap(t *testing.T) {
	f := newFake()
	f.Backends = []api.SecretBackend{{Kind: "db", Default: true, Writable: true, Healthy: true}, {Kind: "vault", Writable: true, Error: "connection refused"}}
	f.Keys = &api.KeyStatus{CurrentVersion: 2, Rewrap: api.RewrapStatus{State: api.RewrapRunning, Total: 200, Done: 50, Remaining: 150}}
	signedIn(t, f, adminEmail, adminPass)
	o := state.NewSecretOps(f)
	if err := o.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	bs, st := o.Backends()
	if st != state.SectionReady || len(bs) != 2 || bs[1].Healthy {
		t.Fatalf("backends %+v", bs)
	}
	k, st := o.Keys()
	if st != state.SectionReady || state.RewrapProgress(k.Rewrap) != 0.25 {
		t.Fatalf("keys %+v", k)
	}
	if got := state.RewrapSummary(k, secretsNow); got != "Master key v2 · re-wrap running: 50 of 200 done, 150 remaining" {
		t.Fatal(got)
	}
	if state.RewrapProgress(api.RewrapStatus{}) != 1 {
		t.Fatal("nothing to re-wrap is done")
	}

	// An older server without the keys endpoint: that section is unavailable, no error.
	f.NoKeys = true
	if err := o.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, st := o.Keys(); st != state.SectionUnavailable {
		t.Fatal(st)
	}
	f.FailNext("SecretBackends", &api.Error{Code: api.CodeUnavailable, Message: "down"})
	if err := o.Load(context.Background()); err == nil {
		t.Fatal("a failure is reported")
	}
	if _, st := o.Backends(); st != state.SectionFailed {
		t.Fatal(st)
	}
}

func TestSupportCannotReadSecrets(t *testing.T) {
	f := newFake()
	seedSecrets(f)
	signedIn(t, f, supportEmail, supportPass)
	d := state.NewSecretDetail(f, (&fakeapi.Timers{}).After)
	err := d.Open(context.Background(), "search/api-key")
	var e *api.Error
	if !errors.As(err, &e) || e.Code != api.CodeForbidden {
		t.Fatalf("%v", err)
	}
}
