package state

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse/shared/api"
)

// SecretAuditFilter is what the secrets audit screen filters by. Actor is an email, an actor
// ID, or "type:id" as the table shows it; Secret is an exact name.
type SecretAuditFilter struct {
	Since  time.Time
	Actor  string
	Secret string
}

// SecretAudit is the whole secrets audit trail (administrators): filter, page, and the emails
// behind user actors.
type SecretAudit struct {
	api   SecretsAPI
	users UsersAPI

	mu      sync.Mutex
	filter  SecretAuditFilter
	actorID string // the filter's actor, resolved to an ID
	page    int
	perPage int
	rows    []api.SecretAuditRecord
	total   int
	names   map[string]string // user ID -> email ("" looked up, unknown)
}

// NewSecretAudit pages through the audit trail; users resolves emails in the filter and table.
func NewSecretAudit(a SecretsAPI, users UsersAPI) *SecretAudit {
	return &SecretAudit{api: a, users: users, page: 1, perPage: DefaultPerPage, names: map[string]string{}}
}

// Apply runs a new filter from the first page.
func (s *SecretAudit) Apply(ctx context.Context, f SecretAuditFilter) error {
	f.Actor, f.Secret = strings.TrimSpace(f.Actor), strings.Trim(strings.TrimSpace(f.Secret), "/")
	id, err := s.resolveActor(ctx, f.Actor)
	if err != nil {
		return err
	}
	return s.load(ctx, f, id, 1)
}

// resolveActor turns an email into a user ID and "user:<id>" into the ID (the server filters
// on the actor's ID alone).
func (s *SecretAudit) resolveActor(ctx context.Context, who string) (string, error) {
	switch {
	case who == "":
		return "", nil
	case strings.Contains(who, "@"):
		res, err := s.users.ListUsers(ctx, api.UserQuery{Query: who, Page: 1, PerPage: 10})
		if err != nil {
			return "", err
		}
		for _, u := range res.Users {
			if strings.EqualFold(u.Email, who) {
				s.mu.Lock()
				s.names[u.ID] = u.Email
				s.mu.Unlock()
				return u.ID, nil
			}
		}
		return "", invalid("actor", "No account has the email "+who+".")
	default:
		if kind, id, ok := strings.Cut(who, ":"); ok && (kind == "user" || kind == "service_account") {
			return strings.TrimSpace(id), nil
		}
		return who, nil
	}
}

// Reload fetches the current page again.
func (s *SecretAudit) Reload(ctx context.Context) error {
	s.mu.Lock()
	f, id, p := s.filter, s.actorID, s.page
	s.mu.Unlock()
	return s.load(ctx, f, id, p)
}

// Next moves one page forward.
func (s *SecretAudit) Next(ctx context.Context) error {
	s.mu.Lock()
	f, id, info := s.filter, s.actorID, s.pageLocked()
	s.mu.Unlock()
	if !info.HasNext() {
		return nil
	}
	return s.load(ctx, f, id, info.Page+1)
}

// Prev moves one page back.
func (s *SecretAudit) Prev(ctx context.Context) error {
	s.mu.Lock()
	f, id, p := s.filter, s.actorID, s.page
	s.mu.Unlock()
	if p <= 1 {
		return nil
	}
	return s.load(ctx, f, id, p-1)
}

func auditQuery(f SecretAuditFilter, actorID string, page, perPage int) api.SecretAuditQuery {
	return api.SecretAuditQuery{Since: f.Since, Actor: actorID, Secret: f.Secret, Page: page, PerPage: perPage}
}

func (s *SecretAudit) load(ctx context.Context, f SecretAuditFilter, actorID string, page int) error {
	s.mu.Lock()
	per := s.perPage
	s.mu.Unlock()
	res, err := s.api.SecretsAuditTrail(ctx, auditQuery(f, actorID, page, per))
	if err != nil {
		return err
	}
	s.resolveNames(ctx, res.Records)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filter, s.actorID, s.rows, s.total = f, actorID, res.Records, res.Total
	s.page = max(res.Page, 1)
	if res.PerPage > 0 {
		s.perPage = res.PerPage
	}
	return nil
}

// resolveNames learns the emails of the page's user actors (at most maxLookups new ones); a
// failed look-up leaves the ID: names are a convenience, never a reason to fail the list.
func (s *SecretAudit) resolveNames(ctx context.Context, list []api.SecretAuditRecord) {
	var want []string
	s.mu.Lock()
	for _, r := range list {
		if _, ok := s.names[r.ActorID]; r.ActorType == "user" && r.ActorID != "" && !ok && !containsStr(want, r.ActorID) {
			want = append(want, r.ActorID)
		}
	}
	s.mu.Unlock()
	if len(want) > maxLookups {
		want = want[:maxLookups]
	}
	for _, id := range want {
		u, err := s.users.GetUser(ctx, id)
		if errors.Is(err, context.Canceled) {
			return
		}
		s.mu.Lock()
		if err == nil {
			s.names[id] = u.Email
		} else {
			s.names[id] = ""
		}
		s.mu.Unlock()
	}
}

// Actor is how a record's actor reads: the email of a known user, else "type:id".
func (s *SecretAudit) Actor(r api.SecretAuditRecord) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.names[r.ActorID]; n != "" && r.ActorType == "user" {
		return n
	}
	if r.ActorType == "" {
		return r.ActorID
	}
	return r.ActorType + ":" + r.ActorID
}

// Filter is the current filter.
func (s *SecretAudit) Filter() SecretAuditFilter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.filter
}

// Rows are the records on the current page.
func (s *SecretAudit) Rows() []api.SecretAuditRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]api.SecretAuditRecord(nil), s.rows...)
}

// Page describes the current page.
func (s *SecretAudit) Page() PageInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pageLocked()
}

func (s *SecretAudit) pageLocked() PageInfo {
	return PageInfo{Page: s.page, PerPage: s.perPage, Total: s.total}
}

// SecretAuditColumns are the audit table's headings, in Cells order.
func SecretAuditColumns() [7]string {
	return [7]string{"Time", "Action", "Secret", "Version", "Actor", "Outcome", "IP"}
}

// Cells are the table's columns for one record.
func (s *SecretAudit) Cells(r api.SecretAuditRecord) [7]string {
	version := "—"
	if r.Version > 0 {
		version = "v" + strconv.Itoa(r.Version)
	}
	actor := s.Actor(r)
	if !strings.Contains(actor, "@") {
		actor = ShortActor(actor)
	}
	dash := func(v string) string {
		if v == "" {
			return "—"
		}
		return v
	}
	return [7]string{r.Time.Local().Format("2006-01-02 15:04:05"), r.Action, r.Secret, version, dash(actor), Title(r.Outcome), dash(r.IP)}
}

// Export fetches every record matching the current filter (up to ExportLimit), page by page.
func (s *SecretAudit) Export(ctx context.Context) ([]api.SecretAuditRecord, error) {
	s.mu.Lock()
	f, id := s.filter, s.actorID
	s.mu.Unlock()
	const per = 100
	var out []api.SecretAuditRecord
	for page := 1; len(out) < ExportLimit; page++ {
		res, err := s.api.SecretsAuditTrail(ctx, auditQuery(f, id, page, per))
		if err != nil {
			return nil, err
		}
		out = append(out, res.Records...)
		if len(res.Records) == 0 || page*max(res.PerPage, 1) >= res.Total {
			break
		}
	}
	if len(out) > ExportLimit {
		out = out[:ExportLimit]
	}
	s.resolveNames(ctx, out)
	return out, nil
}

// SecretAuditCSVHeader is the first line of an audit export.
func SecretAuditCSVHeader() []string {
	return []string{"time", "action", "secret", "version", "backend", "outcome", "reason", "actor_type", "actor_id",
		"actor_email", "ip", "request_id", "id"}
}

// WriteSecretAuditCSV writes records as RFC 4180 CSV, cells neutralised against formula
// injection like the events export (secret names and reasons come from callers). email maps a
// user actor's ID to its email ("" unknown).
func WriteSecretAuditCSV(w io.Writer, recs []api.SecretAuditRecord, email func(r api.SecretAuditRecord) string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(SecretAuditCSVHeader()); err != nil {
		return fmt.Errorf("write csv header: %w", err)
	}
	for _, r := range recs {
		version, mail := "", ""
		if r.Version > 0 {
			version = strconv.Itoa(r.Version)
		}
		if email != nil {
			mail = email(r)
		}
		rec := []string{r.Time.UTC().Format(time.RFC3339), r.Action, r.Secret, version, r.Backend, r.Outcome, r.Reason,
			r.ActorType, r.ActorID, mail, r.IP, r.RequestID, strconv.FormatInt(r.ID, 10)}
		for i := range rec {
			rec[i] = safeCell(rec[i])
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write audit record %d: %w", r.ID, err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// Email is the email of a record's user actor when known ("" otherwise), for the export.
func (s *SecretAudit) Email(r api.SecretAuditRecord) string {
	if a := s.Actor(r); strings.Contains(a, "@") {
		return a
	}
	return ""
}

// SecretAuditFileName suggests a file name for an audit export made at now.
func SecretAuditFileName(now time.Time) string {
	return "gatehouse-secrets-audit-" + now.UTC().Format("20060102-150405") + ".csv"
}
