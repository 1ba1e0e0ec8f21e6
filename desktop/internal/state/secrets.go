package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// SecretsAPI is the secrets manager (issue 7, item 6). Lists and metadata never carry values;
// SecretValue is the one audited read.
type SecretsAPI interface {
	ListSecrets(ctx context.Context, q api.SecretQuery) (*api.SecretList, error)
	GetSecret(ctx context.Context, name string) (*api.Secret, error)
	CreateSecret(ctx context.Context, req api.CreateSecretRequest) (*api.Secret, error)
	SecretValue(ctx context.Context, name string, version int) (*api.SecretValue, error)
	PutSecretValue(ctx context.Context, name, value string) (*api.Secret, error)
	SecretVersions(ctx context.Context, name string) ([]api.SecretVersion, error)
	RollbackSecret(ctx context.Context, name string, version int) (*api.SecretVersion, error)
	RotateSecret(ctx context.Context, name string) (*api.SecretVersion, error)
	SetSecretRotation(ctx context.Context, name string, p *api.RotationPolicy) (*api.Secret, error)
	SecretAudit(ctx context.Context, name string, page, perPage int) (*api.SecretAuditList, error)
	// DeleteSecret soft-deletes: the answer says until when RestoreSecret can undo it.
	DeleteSecret(ctx context.Context, name string) (*api.Secret, error)
	RestoreSecret(ctx context.Context, name string) (*api.Secret, error)
	// SecretsAuditTrail is the whole audit trail (administrators), newest first.
	SecretsAuditTrail(ctx context.Context, q api.SecretAuditQuery) (*api.SecretAuditList, error)
}

// SecretOpsAPI is what administrators watch: backend health and the master key re-wrap.
type SecretOpsAPI interface {
	SecretBackends(ctx context.Context) ([]api.SecretBackend, error)
	KeyStatus(ctx context.Context) (*api.KeyStatus, error)
}

// SecretExposure is how long a revealed value stays on screen and a copied one in the
// clipboard.
const SecretExposure = 30 * time.Second

// AfterFunc calls f once d has passed unless the returned stop is called first
// (time.AfterFunc in production; tests fire it by hand instead of sleeping).
type AfterFunc func(d time.Duration, f func()) (stop func())

// RealAfter is AfterFunc over time.AfterFunc (f runs on the timer's goroutine).
func RealAfter(d time.Duration, f func()) func() {
	t := time.AfterFunc(d, f)
	return func() { t.Stop() }
}

// Clipboard is the system clipboard (fyne.Clipboard has these methods).
type Clipboard interface {
	Content() string
	SetContent(content string)
}

// Secrets is the secrets list: a prefix and label filter and the page on screen.
type Secrets struct {
	api SecretsAPI

	mu    sync.Mutex
	query api.SecretQuery
	rows  []api.Secret
	total int
}

// NewSecrets starts on page 1 with no filter.
func NewSecrets(a SecretsAPI) *Secrets {
	return &Secrets{api: a, query: api.SecretQuery{Page: 1, PerPage: DefaultPerPage}}
}

// Filter lists secrets whose names start with prefix and, when label is given, carry it
// ("key=value").
func (s *Secrets) Filter(ctx context.Context, prefix, label string) error {
	label = strings.TrimSpace(label)
	if label != "" {
		k, v, ok := strings.Cut(label, "=")
		if !ok || strings.TrimSpace(k) == "" || strings.TrimSpace(v) == "" {
			return invalid("label", "Write the label as key=value, e.g. team=billing.")
		}
		label = strings.TrimSpace(k) + "=" + strings.TrimSpace(v)
	}
	s.mu.Lock()
	q := s.query
	s.mu.Unlock()
	q.Prefix, q.Label, q.Page = strings.TrimSpace(prefix), label, 1
	return s.load(ctx, q)
}

// Reload fetches the current page again.
func (s *Secrets) Reload(ctx context.Context) error {
	s.mu.Lock()
	q := s.query
	s.mu.Unlock()
	return s.load(ctx, q)
}

// Next moves one page forward (a no-op on the last page).
func (s *Secrets) Next(ctx context.Context) error {
	s.mu.Lock()
	q, info := s.query, s.pageLocked()
	s.mu.Unlock()
	if !info.HasNext() {
		return nil
	}
	q.Page++
	return s.load(ctx, q)
}

// Prev moves one page back (a no-op on the first page).
func (s *Secrets) Prev(ctx context.Context) error {
	s.mu.Lock()
	q := s.query
	s.mu.Unlock()
	if q.Page <= 1 {
		return nil
	}
	q.Page--
	return s.load(ctx, q)
}

func (s *Secrets) load(ctx context.Context, q api.SecretQuery) error {
	res, err := s.api.ListSecrets(ctx, q)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q.Page, q.PerPage = max(res.Page, 1), res.PerPage
	if q.PerPage <= 0 {
		q.PerPage = DefaultPerPage
	}
	s.query, s.rows, s.total = q, res.Secrets, res.Total
	return nil
}

// ShowDeleted switches between live secrets and soft-deleted ones (restorable until their
// purge), from the first page with the same filter.
func (s *Secrets) ShowDeleted(ctx context.Context, on bool) error {
	s.mu.Lock()
	q := s.query
	s.mu.Unlock()
	q.Deleted, q.Page = on, 1
	return s.load(ctx, q)
}

// Deleted reports whether the list shows soft-deleted secrets.
func (s *Secrets) Deleted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.query.Deleted
}

// Restore undoes a soft delete and reloads the page (the secret leaves the deleted list).
func (s *Secrets) Restore(ctx context.Context, name string) (api.Secret, error) {
	sec, err := s.api.RestoreSecret(ctx, name)
	if err != nil {
		return api.Secret{}, err
	}
	return *sec, s.Reload(ctx)
}

// Rows is the page on screen.
func (s *Secrets) Rows() []api.Secret {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.Secret(nil), s.rows...)
}

// Page describes the page on screen.
func (s *Secrets) Page() PageInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pageLocked()
}

func (s *Secrets) pageLocked() PageInfo {
	return PageInfo{Page: s.query.Page, PerPage: s.query.PerPage, Total: s.total}
}

// Update replaces a row after the detail pane changed the secret.
func (s *Secrets) Update(sec api.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.rows {
		if s.rows[i].Name == sec.Name {
			s.rows[i] = sec
		}
	}
}

// SecretDraft is the New secret form.
type SecretDraft struct {
	Name, Description, Owner, Labels string
	// Generate makes the server generate the value with Generator; else Value is stored.
	Generate  bool
	Value     string
	Generator api.GeneratorSpec
}

// Create creates a secret from the form.
func (s *Secrets) Create(ctx context.Context, d SecretDraft) (api.Secret, error) {
	req, err := d.Request()
	if err != nil {
		return api.Secret{}, err
	}
	sec, err := s.api.CreateSecret(ctx, req)
	if err != nil {
		return api.Secret{}, err
	}
	return *sec, nil
}

// Request validates the form and builds the request.
func (d SecretDraft) Request() (api.CreateSecretRequest, error) {
	name := strings.Trim(strings.TrimSpace(d.Name), "/")
	if name == "" {
		return api.CreateSecretRequest{}, invalid("name", "Enter a name, e.g. billing/prod/db-password.")
	}
	labels, err := ParseLabels(d.Labels)
	if err != nil {
		return api.CreateSecretRequest{}, err
	}
	req := api.CreateSecretRequest{Name: name, Description: strings.TrimSpace(d.Description), Owner: strings.TrimSpace(d.Owner), Labels: labels}
	if d.Generate {
		g, err := checkGenerator(d.Generator)
		if err != nil {
			return api.CreateSecretRequest{}, err
		}
		req.Generate = &g
	} else {
		if d.Value == "" {
			return api.CreateSecretRequest{}, invalid("value", "Enter the value, or let the server generate one.")
		}
		v := d.Value
		req.Value = &v
	}
	return req, nil
}

// ParseLabels reads "team=billing, env=prod".
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, invalid("labels", "Write labels as key=value, separated by commas.")
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// GeneratorTypes are the server's generators (api.GeneratorSpec).
func GeneratorTypes() []string { return []string{"password", "hex", "base64", "base64url", "apikey"} }

// generatorUsesBytes: these generators are sized in random bytes, the others in characters.
func generatorUsesBytes(t string) bool { return t == "hex" || t == "base64" || t == "base64url" }

// NewGenerator is a generator of type t with size n (characters or bytes, as the type wants).
func NewGenerator(t string, n int) api.GeneratorSpec {
	if generatorUsesBytes(t) {
		return api.GeneratorSpec{Type: t, Bytes: n}
	}
	return api.GeneratorSpec{Type: t, Length: n}
}

// GeneratorSize is the size shown for a generator (characters or bytes).
func GeneratorSize(g api.GeneratorSpec) int {
	if generatorUsesBytes(g.Type) {
		return g.Bytes
	}
	return g.Length
}

func checkGenerator(g api.GeneratorSpec) (api.GeneratorSpec, error) {
	known := false
	for _, t := range GeneratorTypes() {
		known = known || t == g.Type
	}
	if !known {
		return g, invalid("generator", "Choose a generator.")
	}
	if GeneratorSize(g) <= 0 {
		return g, invalid("generator", "Give the generated value a length.")
	}
	return g, nil
}

// DescribeGenerator is a short description: "password, 32 characters".
func DescribeGenerator(g api.GeneratorSpec) string {
	if generatorUsesBytes(g.Type) {
		return fmt.Sprintf("%s, %d bytes", g.Type, g.Bytes)
	}
	s := fmt.Sprintf("%s, %d characters", g.Type, g.Length)
	if g.Prefix != "" {
		s += ", prefix " + g.Prefix
	}
	return s
}

// ParseInterval reads "30d", "12h", "90m" or "0" (on demand only).
func ParseInterval(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(strings.TrimSpace(days))
		if err != nil || n < 0 {
			return 0, invalid("interval", "Write the interval as 30d, 12h or 0 (on demand only).")
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, invalid("interval", "Write the interval as 30d, 12h or 0 (on demand only).")
	}
	return d, nil
}

// FormatInterval is the inverse of ParseInterval for the editor and the detail pane.
func FormatInterval(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d%(24*time.Hour) == 0:
		return strconv.Itoa(int(d/(24*time.Hour))) + "d"
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	default:
		return d.String()
	}
}

// RotationDraft is the rotation policy editor.
type RotationDraft struct {
	Interval, Window string // ParseInterval
	Generator        api.GeneratorSpec
	HookURL          string
}

// DraftFor fills the editor from a policy (nil: a sensible new one).
func DraftFor(p *api.RotationPolicy) RotationDraft {
	if p == nil {
		return RotationDraft{Interval: "30d", Window: "7d", Generator: NewGenerator("password", 32)}
	}
	return RotationDraft{
		Interval:  FormatInterval(time.Duration(p.IntervalSeconds) * time.Second),
		Window:    FormatInterval(time.Duration(p.WindowSeconds) * time.Second),
		Generator: p.Generator, HookURL: p.HookURL,
	}
}

// Policy validates the editor. The server has the last word (minimum interval, hook key).
func (d RotationDraft) Policy() (*api.RotationPolicy, error) {
	iv, err := ParseInterval(d.Interval)
	if err != nil {
		return nil, err
	}
	win, err := ParseInterval(d.Window)
	if err != nil {
		return nil, invalid("window", "Write the warning window as 7d, 12h or 0.")
	}
	if iv > 0 && win > iv {
		return nil, invalid("window", "The warning window cannot be longer than the interval.")
	}
	g, err := checkGenerator(d.Generator)
	if err != nil {
		return nil, err
	}
	hook := strings.TrimSpace(d.HookURL)
	if hook != "" && !strings.HasPrefix(hook, "https://") && !strings.HasPrefix(hook, "http://") {
		return nil, invalid("hook", "The hook must be an http(s) URL.")
	}
	return &api.RotationPolicy{IntervalSeconds: int64(iv / time.Second), WindowSeconds: int64(win / time.Second), Generator: g, HookURL: hook}, nil
}

// RotationSummary says when a secret rotates, for the list and the detail pane.
func RotationSummary(s api.Secret, now time.Time) string {
	switch {
	case s.Rotation == nil:
		return "No rotation"
	case s.RotationDue && s.NextRotationAt != nil && !s.NextRotationAt.After(now):
		return "Overdue since " + Ago(*s.NextRotationAt, now)
	case s.RotationDue && s.NextRotationAt != nil:
		return "Due " + In(*s.NextRotationAt, now)
	case s.NextRotationAt != nil:
		return "Next " + In(*s.NextRotationAt, now)
	default:
		return "On demand"
	}
}

// Urgency is how loudly a row asks for attention.
type Urgency int

// Urgencies.
const (
	UrgencyNone    Urgency = iota
	UrgencyDue             // within the policy's warning window
	UrgencyOverdue         // the scheduled rotation time has passed
)

// SecretUrgency says whether a secret is due (the API's rotation_due) or already overdue.
func SecretUrgency(s api.Secret, now time.Time) Urgency {
	switch {
	case s.RotationDue && s.NextRotationAt != nil && !s.NextRotationAt.After(now):
		return UrgencyOverdue
	case s.RotationDue:
		return UrgencyDue
	default:
		return UrgencyNone
	}
}

// In says how far ahead t is ("in 3 days"); past times read as Ago.
func In(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return Ago(t, now)
	case d < time.Hour:
		return fmt.Sprintf("in %d min", max(int(d.Minutes()), 1))
	case d < 48*time.Hour:
		return fmt.Sprintf("in %d h", int(d.Hours()))
	default:
		return fmt.Sprintf("in %d days", int(d.Hours()/24))
	}
}

// ShortActor shortens "user:<uuid>" to "user:e0c215b3…" for narrow rows (the full ID is in
// the audit trail's export and the server's logs).
func ShortActor(a string) string {
	kind, id, ok := strings.Cut(a, ":")
	if !ok {
		kind, id = "", a
	}
	if len(id) > 12 {
		id = id[:8] + "…"
	}
	if kind == "" {
		return id
	}
	return kind + ":" + id
}

// SecretColumns are the list's headings.
func SecretColumns() [4]string {
	return [4]string{"Name", "Version", "Rotation", "Updated"}
}

// DeletedSecretColumns are the headings of the deleted secrets list.
func DeletedSecretColumns() [4]string {
	return [4]string{"Name", "Version", "Deleted", "Restorable"}
}

// SecretCells is one list row (due rows are highlighted by the screen: SecretUrgency). A
// deleted secret shows when it was deleted and how long it can still be restored.
func SecretCells(s api.Secret, now time.Time) [4]string {
	if s.DeletedAt != nil {
		left := "until purged"
		switch {
		case s.PurgeAfter != nil && !s.PurgeAfter.After(now):
			left = "purge due"
		case s.PurgeAfter != nil:
			left = In(*s.PurgeAfter, now)
		}
		return [4]string{s.Name, "v" + strconv.Itoa(s.CurrentVersion), Ago(*s.DeletedAt, now), left}
	}
	return [4]string{s.Name, "v" + strconv.Itoa(s.CurrentVersion), RotationSummary(s, now), Ago(s.UpdatedAt, now)}
}

// RecoveryDeadline says until when a deleted secret can be restored.
func RecoveryDeadline(s api.Secret, now time.Time) string {
	switch {
	case s.DeletedAt == nil:
		return ""
	case s.PurgeAfter == nil:
		return "until purged"
	case !s.PurgeAfter.After(now):
		return "purge due now"
	default:
		return "until " + Stamp(*s.PurgeAfter) + " (" + In(*s.PurgeAfter, now) + ")"
	}
}

// RestoreUrgency is how close a deleted secret is to its purge: due within a day, or past it.
func RestoreUrgency(s api.Secret, now time.Time) Urgency {
	switch {
	case s.DeletedAt == nil || s.PurgeAfter == nil:
		return UrgencyNone
	case !s.PurgeAfter.After(now):
		return UrgencyOverdue
	case s.PurgeAfter.Sub(now) < 24*time.Hour:
		return UrgencyDue
	default:
		return UrgencyNone
	}
}

// SecretDetail is the secret open in the detail pane: metadata, versions, audit trail and, only
// after an explicit Reveal, a value that hides itself again after SecretExposure.
type SecretDetail struct {
	api   SecretsAPI
	after AfterFunc

	mu          sync.Mutex
	secret      api.Secret
	loaded      bool
	versions    []api.SecretVersion
	versionsSt  Section
	audit       []api.SecretAuditRecord
	auditTotal  int
	auditSt     Section
	revealed    *api.SecretValue
	hideTimer   func()
	clearTimer  func()
	revealGen   int
	copiedValue string
}

// NewSecretDetail uses after for the reveal and clipboard timers (nil: RealAfter).
func NewSecretDetail(a SecretsAPI, after AfterFunc) *SecretDetail {
	if after == nil {
		after = RealAfter
	}
	return &SecretDetail{api: a, after: after}
}

// AuditPerPage is how many audit lines the pane shows.
const AuditPerPage = 20

// Open loads a secret's metadata, versions and audit trail. A value shown for another secret
// is hidden first.
func (d *SecretDetail) Open(ctx context.Context, name string) error {
	sec, err := d.api.GetSecret(ctx, name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	if d.secret.Name != sec.Name {
		d.hideLocked()
	}
	d.secret, d.loaded = *sec, true
	d.versions, d.audit = nil, nil
	d.versionsSt, d.auditSt = SectionLoading, SectionLoading
	d.mu.Unlock()
	return errors.Join(d.loadVersions(ctx), d.loadAudit(ctx))
}

// Refresh reloads the open secret.
func (d *SecretDetail) Refresh(ctx context.Context) error {
	name, ok := d.Name()
	if !ok {
		return nil
	}
	return d.Open(ctx, name)
}

// Close empties the pane and hides any value.
func (d *SecretDetail) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hideLocked()
	d.secret, d.loaded, d.versions, d.audit = api.Secret{}, false, nil, nil
}

func (d *SecretDetail) loadVersions(ctx context.Context) error {
	name, _ := d.Name()
	list, err := d.api.SecretVersions(ctx, name)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.versions, d.versionsSt = list, sectionFor(err)
	return reportable(err)
}

func (d *SecretDetail) loadAudit(ctx context.Context) error {
	name, _ := d.Name()
	res, err := d.api.SecretAudit(ctx, name, 1, AuditPerPage)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.audit, d.auditTotal, d.auditSt = nil, 0, sectionFor(err)
	if res != nil {
		d.audit, d.auditTotal = res.Records, res.Total
	}
	return reportable(err)
}

// reloadMeta fetches the metadata again (a new version moved the current one).
func (d *SecretDetail) reloadMeta(ctx context.Context) error {
	name, _ := d.Name()
	sec, err := d.api.GetSecret(ctx, name)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.secret = *sec
	d.mu.Unlock()
	return nil
}

// Name is the open secret's name.
func (d *SecretDetail) Name() (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.secret.Name, d.loaded
}

// Secret is the open secret's metadata.
func (d *SecretDetail) Secret() (api.Secret, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.secret, d.loaded
}

// Versions are the open secret's versions, newest first.
func (d *SecretDetail) Versions() ([]api.SecretVersion, Section) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]api.SecretVersion, 0, len(d.versions))
	for i := len(d.versions) - 1; i >= 0; i-- {
		out = append(out, d.versions[i])
	}
	return out, d.versionsSt
}

// Audit is the newest page of the open secret's audit trail and its total length.
func (d *SecretDetail) Audit() ([]api.SecretAuditRecord, int, Section) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]api.SecretAuditRecord(nil), d.audit...), d.auditTotal, d.auditSt
}

func (d *SecretDetail) need() (string, error) {
	name, ok := d.Name()
	if !ok {
		return "", errors.New("no secret is open")
	}
	return name, nil
}

// Reveal reads a version's value (0: current) — an audited read — and shows it until Hide or
// SecretExposure has passed; onHidden is called (on the timer's goroutine) when the timer hides it.
func (d *SecretDetail) Reveal(ctx context.Context, version int, onHidden func()) error {
	name, err := d.need()
	if err != nil {
		return err
	}
	v, err := d.api.SecretValue(ctx, name, version)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.secret.Name != name {
		return nil // another secret was opened meanwhile: never show this value there
	}
	d.hideLocked()
	d.revealed = v
	d.revealGen++
	gen := d.revealGen
	d.hideTimer = d.after(SecretExposure, func() {
		d.mu.Lock()
		mine := d.revealGen == gen && d.revealed != nil
		if mine {
			d.revealed, d.hideTimer = nil, nil
		}
		d.mu.Unlock()
		if mine && onHidden != nil {
			onHidden()
		}
	})
	return nil
}

// RefreshAudit reloads the audit trail (after a reveal or a copy, which the server logged).
func (d *SecretDetail) RefreshAudit(ctx context.Context) error { return d.loadAudit(ctx) }

// Hide removes a revealed value now.
func (d *SecretDetail) Hide() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.hideLocked()
}

func (d *SecretDetail) hideLocked() {
	if d.hideTimer != nil {
		d.hideTimer()
		d.hideTimer = nil
	}
	d.revealed = nil
	d.revealGen++
}

// Revealed is the value on screen, if any.
func (d *SecretDetail) Revealed() (api.SecretValue, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.revealed == nil {
		return api.SecretValue{}, false
	}
	return *d.revealed, true
}

// ValueToCopy is a version's value (0: current) for the clipboard: the revealed one, else it
// is read from the server (an audited read, like a reveal). Put it on the clipboard with
// CopyValue.
func (d *SecretDetail) ValueToCopy(ctx context.Context, version int) (string, error) {
	name, err := d.need()
	if err != nil {
		return "", err
	}
	if r, ok := d.Revealed(); ok && r.Name == name && (version == 0 || r.Version == version) {
		return r.Value, nil
	}
	v, err := d.api.SecretValue(ctx, name, version)
	if err != nil {
		return "", err
	}
	return v.Value, nil
}

// CopyValue puts value on the clipboard. After SecretExposure the clipboard is cleared, but
// only if it still holds this value: something the user copied since is left alone. onCleared
// runs when it was cleared. Call it where the clipboard may be used (the UI thread; the UI's
// AfterFunc brings the timer back there too).
func (d *SecretDetail) CopyValue(clip Clipboard, value string, onCleared func()) {
	clip.SetContent(value)
	d.mu.Lock()
	if d.clearTimer != nil {
		d.clearTimer()
	}
	d.copiedValue = value
	d.clearTimer = d.after(SecretExposure, func() {
		d.mu.Lock()
		mine := d.copiedValue == value
		if mine {
			d.copiedValue, d.clearTimer = "", nil
		}
		d.mu.Unlock()
		if mine && clip.Content() == value {
			clip.SetContent("")
			if onCleared != nil {
				onCleared()
			}
		}
	})
	d.mu.Unlock()
}

// ForgetClipboard clears the clipboard now if it still holds a value copied here (signing out
// or closing the window: the timer would not outlive the app).
func (d *SecretDetail) ForgetClipboard(clip Clipboard) {
	d.mu.Lock()
	value := d.copiedValue
	d.copiedValue = ""
	if d.clearTimer != nil {
		d.clearTimer()
		d.clearTimer = nil
	}
	d.mu.Unlock()
	if value != "" && clip.Content() == value {
		clip.SetContent("")
	}
}

// NewVersion stores value as the new current version.
func (d *SecretDetail) NewVersion(ctx context.Context, value string) error {
	name, err := d.need()
	if err != nil {
		return err
	}
	if value == "" {
		return invalid("value", "Enter the new value.")
	}
	sec, err := d.api.PutSecretValue(ctx, name, value)
	if err != nil {
		return err
	}
	d.changed(*sec)
	return errors.Join(d.loadVersions(ctx), d.loadAudit(ctx))
}

// RollbackConfirmation is the question asked before a rollback.
func (d *SecretDetail) RollbackConfirmation(version int) string {
	sec, _ := d.Secret()
	return fmt.Sprintf("Make the value of version %d of %s current again?\n\nIt becomes a new version (v%d); applications reading the current value get it at their next read.",
		version, sec.Name, sec.CurrentVersion+1)
}

// Rollback makes an earlier version's value current again (as a new version).
func (d *SecretDetail) Rollback(ctx context.Context, version int) error {
	name, err := d.need()
	if err != nil {
		return err
	}
	if _, err := d.api.RollbackSecret(ctx, name, version); err != nil {
		return err
	}
	d.Hide() // the value on screen may no longer be the current one
	return errors.Join(d.reloadMeta(ctx), d.loadVersions(ctx), d.loadAudit(ctx))
}

// CanRotate reports whether Rotate now applies (the server rotates by the policy's generator).
func (d *SecretDetail) CanRotate() bool {
	sec, ok := d.Secret()
	return ok && sec.Rotation != nil
}

// Rotate rotates the open secret now, following its policy.
func (d *SecretDetail) Rotate(ctx context.Context) error {
	name, err := d.need()
	if err != nil {
		return err
	}
	if !d.CanRotate() {
		return invalid("rotation", "Set a rotation policy first: it says how the new value is generated.")
	}
	if _, err := d.api.RotateSecret(ctx, name); err != nil {
		return err
	}
	d.Hide()
	return errors.Join(d.reloadMeta(ctx), d.loadVersions(ctx), d.loadAudit(ctx))
}

// SetRotation saves the rotation policy (nil removes it).
func (d *SecretDetail) SetRotation(ctx context.Context, p *api.RotationPolicy) error {
	name, err := d.need()
	if err != nil {
		return err
	}
	sec, err := d.api.SetSecretRotation(ctx, name, p)
	if err != nil {
		return err
	}
	d.changed(*sec)
	return d.loadAudit(ctx)
}

// DeleteConfirmation is the question asked before a delete.
func (d *SecretDetail) DeleteConfirmation() string {
	sec, _ := d.Secret()
	return fmt.Sprintf("Delete %s?\n\nApplications can no longer read it. It stays restorable (Show deleted) until the server purges it with all %d versions.",
		sec.Name, sec.CurrentVersion)
}

// Delete soft-deletes the open secret and closes the pane; the answer carries the recovery
// deadline.
func (d *SecretDetail) Delete(ctx context.Context) (api.Secret, error) {
	name, err := d.need()
	if err != nil {
		return api.Secret{}, err
	}
	sec, err := d.api.DeleteSecret(ctx, name)
	if err != nil {
		return api.Secret{}, err
	}
	d.Close()
	return *sec, nil
}

func (d *SecretDetail) changed(sec api.Secret) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.secret.Name == sec.Name {
		d.secret = sec
	}
}

// SecretOps is the backends' health and the master key re-wrap progress.
type SecretOps struct {
	api SecretOpsAPI

	mu         sync.Mutex
	backends   []api.SecretBackend
	backendsSt Section
	keys       *api.KeyStatus
	keysSt     Section
}

// NewSecretOps starts with both sections loading.
func NewSecretOps(a SecretOpsAPI) *SecretOps { return &SecretOps{api: a} }

// Load fetches both; a server without either endpoint shows that section as unavailable.
func (o *SecretOps) Load(ctx context.Context) error {
	backends, berr := o.api.SecretBackends(ctx)
	keys, kerr := o.api.KeyStatus(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.backends, o.backendsSt = backends, sectionFor(berr)
	o.keys, o.keysSt = keys, sectionFor(kerr)
	return errors.Join(reportable(berr), reportable(kerr))
}

// Backends are the configured backends.
func (o *SecretOps) Backends() ([]api.SecretBackend, Section) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]api.SecretBackend(nil), o.backends...), o.backendsSt
}

// Keys is the master key status.
func (o *SecretOps) Keys() (api.KeyStatus, Section) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys == nil {
		return api.KeyStatus{}, o.keysSt
	}
	return *o.keys, o.keysSt
}

// RewrapProgress is the share of protected values on the current key (1 when there are none).
func RewrapProgress(r api.RewrapStatus) float64 {
	if r.Total <= 0 {
		return 1
	}
	return float64(r.Done) / float64(r.Total)
}

// RewrapSummary is one line about the re-wrap.
func RewrapSummary(k api.KeyStatus, now time.Time) string {
	r := k.Rewrap
	head := fmt.Sprintf("Master key v%d", k.CurrentVersion)
	switch r.State {
	case api.RewrapDone:
		if r.Total == 0 {
			return head + " · nothing to re-wrap"
		}
		return fmt.Sprintf("%s · every value re-wrapped (%d)", head, r.Total)
	case api.RewrapWaiting:
		s := head + " · re-wrap waits for every replica to load the new key"
		if r.StartsAfter != nil {
			s += ", starts " + In(*r.StartsAfter, now)
		}
		return s
	case api.RewrapFailed:
		msg := ""
		if r.LastRun != nil && r.LastRun.Error != "" {
			msg = ": " + r.LastRun.Error
		}
		return fmt.Sprintf("%s · re-wrap failed at %d of %d%s (retries at the next run)", head, r.Done, r.Total, msg)
	default:
		return fmt.Sprintf("%s · re-wrap %s: %d of %d done, %d remaining", head, r.State, r.Done, r.Total, r.Remaining)
	}
}
