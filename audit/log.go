package audit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"
)

// Store appends events; store backends implement it.
type Store interface {
	// AppendAudit appends events to their tenants' chains atomically (all or
	// none). For each event it must read the tenant's current head (last
	// event, or the retention anchor, or the zero Anchor) and call SealAfter
	// under the same lock or transaction that writes the sealed event, so
	// chains stay linear under concurrent writers and replicas: in the
	// append's own transaction, or in a sequencer's after the append
	// committed the event unsealed (then the caller's events hold no Seq when
	// AppendAudit returns). Events of one call for the same tenant are chained
	// in argument order. Details and every
	// string must be stored byte for byte (text/bytea, not jsonb), and Time
	// to the microsecond.
	AppendAudit(ctx context.Context, events ...*Event) error
}

// Reader reads a tenant's log back; store backends implement it.
type Reader interface {
	// AuditAnchor returns the tenant's retention anchor: the zero Anchor when
	// nothing was ever dropped.
	AuditAnchor(ctx context.Context, tenantID string) (Anchor, error)
	// AuditEvents returns the tenant's events in ascending Seq that may match
	// f (backends may use their DeviceID/ProfileID/Kind/Time indexes; callers
	// re-check with f.Match). The zero Filter yields every event. The caller
	// must Close the iterator.
	AuditEvents(ctx context.Context, tenantID string, f Filter) (EventIterator, error)
}

// Unsealed describes a tenant's events that were appended (their transactions committed)
// but are not sealed onto the chain yet: a store with a sequencer seals them shortly after
// (store/doc.go, "Audit sequencer").
type Unsealed struct {
	Count  uint64    `json:"count"`
	Oldest time.Time `json:"oldest,omitzero"` // Time of the oldest unsealed event
}

// UnsealedReader is a Reader of a store that seals events after their transactions commit;
// reports (verification, exports) call it to show the unsealed tail instead of silently
// leaving it out.
type UnsealedReader interface {
	// AuditUnsealed returns the tenant's events committed but not sealed yet.
	AuditUnsealed(ctx context.Context, tenantID string) (Unsealed, error)
}

// EventIterator is an Iterator over stored events that holds resources.
type EventIterator interface {
	Iterator
	Close() error
}

// Retainer drops old events; store backends implement it.
type Retainer interface {
	// DropAuditSegments removes the tenant's whole storage segments whose
	// newest event is older than before. In the same transaction it must
	// call record with the count dropped and the Anchor of the last dropped
	// event, store that Anchor as the tenant's retention anchor, and append
	// the returned event (sealed after the current head) as AppendAudit
	// would. When nothing qualifies it calls nothing and returns the current
	// anchor. It returns the new anchor.
	DropAuditSegments(ctx context.Context, tenantID string, before time.Time,
		record func(dropped uint64, upTo Anchor) (*Event, error)) (Anchor, error)
}

// Log records events for server code paths.
type Log struct {
	store Store
	now   func() time.Time
	ids   *IDGenerator
}

// Option configures a Log.
type Option func(*options)

type options struct {
	now  func() time.Time
	rand io.Reader
}

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRand sets the randomness for IDs (default crypto/rand.Reader).
func WithRand(r io.Reader) Option { return func(o *options) { o.rand = r } }

// ErrNilStore is returned by New without a store.
var ErrNilStore = errors.New("audit: nil store")

// New returns a Log appending to store.
func New(store Store, opts ...Option) (*Log, error) {
	if store == nil {
		return nil, ErrNilStore
	}
	o := options{now: time.Now, rand: rand.Reader}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil || o.rand == nil {
		return nil, errors.New("audit: nil clock or randomness")
	}
	return &Log{store: store, now: o.now, ids: NewIDGenerator(o.now, o.rand)}, nil
}

// Prepare gives e a new UUIDv7 ID and the current time (UTC, microseconds),
// canonicalises Details, and validates it, without storing it. Use it to
// build events that a store transaction appends together with the change
// they record. Seq, PrevHash and Hash are cleared; the store seals it (SealAfter).
func (l *Log) Prepare(e Event) (*Event, error) {
	id, err := l.ids.New()
	if err != nil {
		return nil, fmt.Errorf("preparing audit event: %w", err)
	}
	e.ID = id
	e.Time = canonicalTime(l.now())
	e.Seq, e.PrevHash, e.Hash = 0, "", ""
	d, err := canonicalDetails(e.Details)
	if err != nil {
		return nil, fmt.Errorf("preparing audit event: %w", err)
	}
	e.Details = d
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("preparing audit event: %w", err)
	}
	return &e, nil
}

// Record prepares e and appends it to its tenant's chain.
func (l *Log) Record(ctx context.Context, e Event) error {
	p, err := l.Prepare(e)
	if err != nil {
		return err
	}
	if err := l.store.AppendAudit(ctx, p); err != nil {
		return fmt.Errorf("appending audit event: %w", err)
	}
	return nil
}

// Retain drops the tenant's whole segments older than before through r and
// records the drop as an audit.retention event by actor. It returns the new
// retention anchor.
func (l *Log) Retain(ctx context.Context, r Retainer, tenantID string, before time.Time, actor Actor) (Anchor, error) {
	a, err := r.DropAuditSegments(ctx, tenantID, before, func(dropped uint64, upTo Anchor) (*Event, error) {
		e, err := RetentionEvent(tenantID, dropped, upTo, before, actor)
		if err != nil {
			return nil, err
		}
		return l.Prepare(e)
	})
	if err != nil {
		return Anchor{}, fmt.Errorf("dropping audit segments: %w", err)
	}
	return a, nil
}

// VerifyTenant verifies the tenant's stored chain from its retention anchor. When r reports
// unsealed events (UnsealedReader), the report says how many there are after the verified
// head and how old the oldest is: they are not part of the chain yet, so not verified.
func VerifyTenant(ctx context.Context, r Reader, tenantID string) (VerifyReport, error) {
	anchor, err := r.AuditAnchor(ctx, tenantID)
	if err != nil {
		return VerifyReport{}, fmt.Errorf("reading audit anchor: %w", err)
	}
	it, err := r.AuditEvents(ctx, tenantID, Filter{})
	if err != nil {
		return VerifyReport{}, fmt.Errorf("reading audit events: %w", err)
	}
	rep, err := verify(ctx, anchor, tenantID, it)
	if cerr := it.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing audit iterator: %w", cerr)
	}
	if u, ok := r.(UnsealedReader); ok && err == nil {
		// Read after the chain: events sealed meanwhile were verified or are counted here
		// only if they are still unsealed, so none is left out of the report.
		if rep.Unsealed, err = u.AuditUnsealed(ctx, tenantID); err != nil {
			err = fmt.Errorf("reading unsealed audit events: %w", err)
		}
	}
	return rep, err
}

// Export streams the tenant's events matching f to exp, and closes exp. It
// returns the number of events written.
func Export(ctx context.Context, r Reader, tenantID string, f Filter, exp Exporter) (n uint64, err error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	it, err := r.AuditEvents(ctx, tenantID, f)
	if err != nil {
		return 0, fmt.Errorf("reading audit events: %w", err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing audit iterator: %w", cerr)
		}
	}()
	for read := 0; ; read++ {
		if read%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("exporting audit events: %w", err)
			}
		}
		e, ok, err := it.Next()
		if err != nil {
			return n, fmt.Errorf("reading audit events: %w", err)
		}
		if !ok {
			break
		}
		if e.TenantID != tenantID || !f.Match(&e) {
			continue
		}
		if err := exp.Write(&e); err != nil {
			return n, err
		}
		n++
	}
	if err := exp.Close(); err != nil {
		return n, err
	}
	return n, nil
}
