package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"gatehouse/shared/api"
)

// Defaults of Options.
const (
	DefaultMaxValueBytes  = 64 << 10
	DefaultRecoveryWindow = 7 * 24 * time.Hour
	DefaultPerPage        = 50
	MaxPerPage            = 200
)

// Auditor makes an audit record durable before returning (AuditWriter).
type Auditor interface {
	Record(ctx context.Context, rec AuditRecord) error
}

// Cache is the per-replica value cache (internal/secrets/cache). Entries are resolved reads:
// which version a name's current stage points at, and its value. Without one every read goes
// to the backend.
type Cache interface {
	// Fetch returns the entry under key, or calls load — once for concurrent misses of the
	// same key — and keeps its result until the TTL ends or name is invalidated. Errors are
	// never cached, so a backend that is down is asked again, and past the TTL nothing stale
	// is served.
	Fetch(ctx context.Context, name, key string, load func(context.Context) (any, error)) (any, error)
	// Invalidate drops every entry of name (on every replica, when shared).
	Invalidate(ctx context.Context, name string) error
}

// AccessCache keeps access policies in memory with exact invalidation
// (internal/accesscache.Cache): a policy created or deleted is applied on the next request,
// on every replica sharing Redis. Without one every access check reads the policies.
type AccessCache interface {
	// Fetch returns the value under key, or calls load and keeps its result in group until
	// the group is invalidated (or the cache's max age ends). Errors are never kept.
	Fetch(ctx context.Context, kind, group, key string, load func(context.Context) (any, error)) (any, error)
	// Invalidate drops the group's values here and on every replica; a write is reported
	// done only if it succeeds.
	Invalidate(ctx context.Context, group string) error
}

// ValueGenerator makes new secret values for creation with a generator and for rotation
// (internal/secrets/generate: Spec.Normalize and Generate). Without one, generated values and
// rotation answer ErrRotationOff.
type ValueGenerator interface {
	// Normalize validates g and fills in its defaults.
	Normalize(g Generator) (Generator, error)
	Generate(g Generator) ([]byte, error)
}

// RotationHook tests a pending value before it becomes current
// (internal/secrets/rotationhook, signed with the server's hook key): nil means the hook
// accepted it. Its errors must never contain the value or the URL.
type RotationHook interface {
	Test(ctx context.Context, url, name string, version int, value []byte) error
}

// Options tunes the service.
type Options struct {
	// DefaultBackend is used when a secret is created without naming one.
	DefaultBackend string
	// MaxValueBytes bounds a value; 0 means DefaultMaxValueBytes.
	MaxValueBytes int
	// RecoveryWindow is how long a deleted secret can be restored before Purge removes it;
	// 0 means DefaultRecoveryWindow.
	RecoveryWindow time.Duration
	Now            func() time.Time
	NewID          func() string
}

// Deps are the service's collaborators. Backends is keyed by kind; Cache, Generator and Hook
// may be nil.
type Deps struct {
	Store     Store
	Backends  map[string]Backend
	Audit     Auditor
	Cache     Cache
	Generator ValueGenerator
	Hook      RotationHook
	// ServiceAccountExists returns nil when a service account exists, so policies cannot name
	// one that does not (internal/serviceaccount).
	ServiceAccountExists func(ctx context.Context, id string) error
	// AccessCache, when set, keeps the policies read by access checks (PolicyGroup).
	AccessCache AccessCache
}

// Service is the secrets manager: metadata, versions and stages in Gatehouse's database,
// values in the backends, every access checked (SEC-42) and audited (SEC-41).
type Service struct {
	store     Store
	backends  map[string]Backend
	audit     Auditor
	cache     Cache
	generator ValueGenerator
	hook      RotationHook
	opts      Options

	accountExists func(ctx context.Context, id string) error
	access        AccessCache // nil: policies are read on every check
}

// New builds the service.
func New(d Deps, o Options) (*Service, error) {
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.RecoveryWindow <= 0 {
		o.RecoveryWindow = DefaultRecoveryWindow
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if d.Store == nil || d.Audit == nil || o.NewID == nil {
		return nil, errors.New("secrets: Store, Audit and NewID are required")
	}
	if len(d.Backends) == 0 {
		return nil, errors.New("secrets: no backend configured")
	}
	if o.DefaultBackend == "" {
		o.DefaultBackend = KindDB
	}
	if _, ok := d.Backends[o.DefaultBackend]; !ok {
		return nil, fmt.Errorf("secrets: the default backend %q is not configured", o.DefaultBackend)
	}
	for kind, b := range d.Backends {
		if b.Kind() != kind {
			return nil, fmt.Errorf("secrets: backend registered as %q reports kind %q", kind, b.Kind())
		}
	}
	s := &Service{store: d.Store, backends: d.Backends, audit: d.Audit, cache: d.Cache, generator: d.Generator, hook: d.Hook, opts: o, accountExists: d.ServiceAccountExists, access: d.AccessCache}
	if s.cache == nil {
		s.cache = noCache{}
	}
	return s, nil
}

// MaxValueBytes is the effective value limit.
func (s *Service) MaxValueBytes() int { return s.opts.MaxValueBytes }

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Microsecond) }

// noCache reads through.
type noCache struct{}

func (noCache) Fetch(ctx context.Context, _, _ string, load func(context.Context) (any, error)) (any, error) {
	return load(ctx)
}
func (noCache) Invalidate(context.Context, string) error { return nil }

// op is one audited action in progress; the action fills in what it learns.
type op struct {
	action  string
	name    string
	version int
	backend string
}

// audited runs fn and records its outcome. The result reaches the caller only once the record
// is durable: if the audit write fails, the action's result is withheld and the audit error
// returned instead (the action itself may have happened: a write whose audit failed is not
// rolled back, but it is not acknowledged either).
func (s *Service) audited(ctx context.Context, a Actor, o *op, fn func() error) error {
	err := fn()
	if o.backend == "" && o.name != "" && errors.Is(err, ErrForbidden) {
		// Denials are decided before the secret is looked up (so they reveal nothing);
		// the record still names the backend when the secret exists.
		if sec, gerr := s.store.GetSecret(ctx, o.name); gerr == nil {
			o.backend = sec.Backend
		}
	}
	rec := AuditRecord{
		CreatedAt: s.now(), ActorType: a.Type, ActorID: a.ID, Action: o.action, SecretName: o.name,
		Version: o.version, Backend: o.backend, Outcome: outcome(err), Reason: reason(err),
		RequestID: a.RequestID, IP: a.IP,
	}
	if aerr := s.audit.Record(ctx, rec); aerr != nil {
		return fmt.Errorf("%w: %w", ErrAuditUnwritable, aerr)
	}
	return err
}

// invalid is a 400 naming the offending field.
func invalid(field, message string) *api.Error {
	return &api.Error{Code: api.CodeInvalidRequest, Message: message, Details: map[string]any{"field": field}}
}

func (s *Service) backend(kind string) (Backend, error) {
	b, ok := s.backends[kind]
	if !ok {
		// A secret created with a backend that has since been unconfigured.
		return nil, backendErr(kind, fmt.Errorf("%w: not configured", ErrUnavailable))
	}
	return b, nil
}

func (s *Service) checkName(name, kind string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if b, ok := s.backends[kind]; ok {
		if nl, ok := b.(NameLimiter); ok && len(name) > nl.MaxNameBytes() {
			return &NameError{fmt.Sprintf("the %s backend holds names of at most %d bytes", kind, nl.MaxNameBytes())}
		}
	}
	return nil
}

// checkValue applies the value limit: the service's, or the backend's when it is lower.
func (s *Service) checkValue(b Backend, v []byte) error {
	if len(v) == 0 {
		return invalid("value", "the value must not be empty")
	}
	limit := s.opts.MaxValueBytes
	if vl, ok := b.(ValueLimiter); ok && vl.MaxValueBytes() > 0 {
		limit = min(limit, vl.MaxValueBytes())
	}
	if len(v) > limit {
		return &api.Error{Code: api.CodeSecretTooLarge, Message: fmt.Sprintf("the value is %d bytes; the limit is %d", len(v), limit),
			Details: map[string]any{"limit_bytes": limit}}
	}
	return nil
}

// BackendStatus is one configured backend's state.
type BackendStatus struct {
	Kind     string
	Default  bool
	Writable bool
	Healthy  bool
	Error    string
}

// Backends checks every configured backend concurrently (bounded by timeout each).
func (s *Service) Backends(ctx context.Context, timeout time.Duration) []BackendStatus {
	out := make([]BackendStatus, 0, len(s.backends))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for kind, b := range s.backends {
		wg.Go(func() {
			hctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := b.Health(hctx)
			_, writable := b.(Writer)
			st := BackendStatus{Kind: kind, Default: kind == s.opts.DefaultBackend, Writable: writable, Healthy: err == nil}
			if err != nil {
				st.Error = truncate(err.Error(), 300)
			}
			mu.Lock()
			out = append(out, st)
			mu.Unlock()
		})
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// BackendKinds lists the configured backends, sorted.
func (s *Service) BackendKinds() []string {
	out := make([]string, 0, len(s.backends))
	for k := range s.backends {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// validLabels checks label keys (1-63 bytes of [a-z0-9._/-]) and values (printable, at most
// 256 bytes); at most 64 labels.
func validLabels(labels map[string]string) error {
	if len(labels) > 64 {
		return invalid("labels", "at most 64 labels")
	}
	for k, v := range labels {
		if k == "" || len(k) > 63 {
			return invalid("labels", "label keys are 1 to 63 characters")
		}
		for i := range len(k) {
			c := k[i]
			if ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'; !ok {
				return invalid("labels", fmt.Sprintf("label key %q: use lower-case letters, digits, '.', '_', '-' and '/'", k))
			}
		}
		if err := validText("labels", v, 256); err != nil {
			return err
		}
	}
	return nil
}

// validText checks a short free-text field: no control characters, bounded.
func validText(field, v string, maxLen int) error {
	if len(v) > maxLen {
		return invalid(field, fmt.Sprintf("%s is longer than %d bytes", field, maxLen))
	}
	if !isPrintable(v) {
		return invalid(field, field+" must be UTF-8 text without control characters")
	}
	return nil
}

func isPrintable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
