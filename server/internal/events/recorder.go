package events

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/server/internal/txhook"
)

// recordTimeout bounds one Append. Record detaches from the caller's cancellation (see Record),
// so this is what stops a stuck database from holding a request forever.
const recordTimeout = 5 * time.Second

// Length caps for the request-derived fields. They come from the client (the user agent is
// whatever the client sends), so they are cut to a size worth keeping rather than trusted.
const (
	maxIPLen        = 64
	maxUserAgentLen = 512
	maxRequestIDLen = 128
)

// Options configures a Recorder. The zero value is usable.
type Options struct {
	// Now stamps events; nil means time.Now. Must be safe for concurrent use.
	Now func() time.Time
	// RequestID, when set, fills Event.RequestID from the context for callers that left it
	// empty. The composition root passes httpapi.RequestID; this package does not import the
	// HTTP layer.
	RequestID func(context.Context) string
}

// Recorder records and lists security events. It is safe for concurrent use.
type Recorder struct {
	store     Store
	now       func() time.Time
	requestID func(context.Context) string

	recorded *prometheus.CounterVec
	failed   prometheus.Counter
}

// New returns a Recorder writing to s. Its metrics count from the start; Register exports them.
func New(s Store, o Options) *Recorder {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Recorder{
		store:     s,
		now:       now,
		requestID: o.RequestID,
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_security_events_total",
			Help: "Security events recorded, by type and outcome.",
		}, []string{"type", "outcome"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_security_events_record_errors_total",
			Help: "Security events that could not be recorded (invalid, or the database failed). " +
				"Anything above zero means the audit trail has gaps.",
		}),
	}
}

// Register exports the recorder's counters on reg.
func (r *Recorder) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{r.recorded, r.failed} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register security event metrics: %w", err)
		}
	}
	return nil
}

// Record validates e, sets its ID (a random UUID) and CreatedAt (the recorder's clock, UTC,
// truncated to the microsecond), strips credential-like detail keys (SEC-18, see
// guardDetails) and appends it. Any ID or CreatedAt the caller set is replaced: the log, not
// the caller, decides identity and time. ErrInvalidEvent (wrapped) means e was refused and
// nothing was stored.
//
// The write is not cancelled with ctx: a client that hangs up right after a failed login must
// not be able to keep that failure out of the log. It is bounded by its own timeout instead.
//
// Whether a failed write fails the action is the caller's decision;
// gatehouse_security_events_record_errors_total counts every event that was not recorded, so
// gaps in the audit trail show up on a dashboard either way.
func (r *Recorder) Record(ctx context.Context, e Event) error {
	stored, err := r.prepare(ctx, e)
	if err != nil {
		r.failed.Inc()
		return err
	}
	writeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := r.store.Append(writeCtx, stored); err != nil {
		r.failed.Inc()
		return fmt.Errorf("record %s event: %w", stored.Type, err)
	}
	// Counted once it is durable: inside a longer transaction, after its commit.
	return txhook.Defer(ctx, func(context.Context) error {
		r.recorded.WithLabelValues(stored.Type, stored.Outcome).Inc()
		return nil
	})
}

func (r *Recorder) prepare(ctx context.Context, e Event) (Event, error) {
	if e.Type == "" {
		return Event{}, fmt.Errorf("%w: type is empty", ErrInvalidEvent)
	}
	if !validType(e.Type) {
		return Event{}, fmt.Errorf("%w: malformed type %q", ErrInvalidEvent, clean(e.Type, maxTypeLen))
	}
	if !validOutcome(e.Outcome) {
		return Event{}, fmt.Errorf("%w: %s: unknown outcome %q", ErrInvalidEvent, e.Type, clean(e.Outcome, 16))
	}
	var err error
	if e.ActorID, err = optionalUUID(e.ActorID); err != nil {
		return Event{}, fmt.Errorf("%w: %s: actor is not a UUID", ErrInvalidEvent, e.Type)
	}
	if e.SubjectUserID, err = optionalUUID(e.SubjectUserID); err != nil {
		return Event{}, fmt.Errorf("%w: %s: subject user is not a UUID", ErrInvalidEvent, e.Type)
	}
	details, removed, err := guardDetails(e.Details)
	if err != nil {
		return Event{}, fmt.Errorf("%w: %s: %w", ErrInvalidEvent, e.Type, err)
	}
	if len(removed) > 0 {
		list := make([]any, len(removed)) // []any: what the list reads back as from JSON
		for i, p := range removed {
			list[i] = p
		}
		details[RedactedKeysDetail] = list
	}
	e.Details = details

	if e.RequestID == "" && r.requestID != nil {
		e.RequestID = r.requestID(ctx)
	}
	e.IP = clean(e.IP, maxIPLen)
	e.UserAgent = clean(e.UserAgent, maxUserAgentLen)
	e.RequestID = clean(e.RequestID, maxRequestIDLen)

	id, err := uuid.NewRandom()
	if err != nil {
		return Event{}, fmt.Errorf("event id: %w", err)
	}
	e.ID = id.String()
	e.CreatedAt = r.now().UTC().Truncate(time.Microsecond)
	return e, nil
}

// List returns one page of the events matching f, newest first, and the number of all matching
// events. f is normalized first (see Filter.Normalize); ErrInvalidFilter (wrapped) means it
// could not be.
func (r *Recorder) List(ctx context.Context, f Filter) ([]Event, int, error) {
	f, err := f.Normalize()
	if err != nil {
		return nil, 0, err
	}
	evs, total, err := r.store.List(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("list security events: %w", err)
	}
	return evs, total, nil
}

func optionalUUID(id string) (string, error) {
	if id == "" {
		return "", nil
	}
	return canonicalUUID(id)
}

// clean makes a client-supplied string safe to store and show: invalid UTF-8 replaced (PostgreSQL
// refuses it in TEXT, and the event would be lost), control characters removed (NUL is refused
// too, and line breaks would let a user agent forge lines in a console or an export), and the
// result cut to at most max bytes on a character boundary.
func clean(s string, maxLen int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if len(s) <= maxLen {
		return s
	}
	cut := maxLen
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
