package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/audit"
)

// The audit package reads and trims logs through its own interfaces (audit.Reader,
// audit.Retainer). DB implements audit.Retainer directly and audit.Reader through
// AuditReader, since store.AuditLog already uses the method name AuditEvents.
var (
	_ audit.Retainer = (*DB)(nil)
	_ audit.Reader   = auditReader{}
)

// DropAuditSegments drops, in one transaction, the tenant's oldest segments whose events
// are all older than before (as DropAudit does), stores the new anchor, and appends the
// event record returns, sealed after the current head. When nothing qualifies it calls
// nothing and returns the current anchor.
func (d *DB) DropAuditSegments(ctx context.Context, tenantID string, before time.Time,
	record func(dropped uint64, upTo audit.Anchor) (*audit.Event, error)) (audit.Anchor, error) {
	if record == nil {
		return audit.Anchor{}, errors.New("dropping audit segments: nil record function")
	}
	var (
		anchor audit.Anchor
		sealed []sealedEvent
		total  int
	)
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		total, sealed = 0, nil
		for {
			n, a, err := dropSegment(tx, tenantID, before)
			if err != nil {
				return err
			}
			anchor = a
			if n == 0 {
				break
			}
			total += n
		}
		if total == 0 {
			return nil
		}
		ev, err := record(uint64(total), anchor)
		if err != nil {
			return fmt.Errorf("recording retention: %w", err)
		}
		sealed, err = appendAuditTx(tx, []*audit.Event{ev})
		return err
	})
	if err != nil {
		return audit.Anchor{}, fmt.Errorf("dropping audit segments of tenant %s: %w", tenantID, err)
	}
	for _, s := range sealed {
		*s.dst = s.ev
	}
	if total > 0 {
		d.log.Info("audit retention", "tenant", tenantID, "dropped", total, "anchor_seq", anchor.Seq)
	}
	return anchor, nil
}

// AuditReader returns the store as an audit.Reader, for audit.VerifyTenant and
// audit.Export.
func (d *DB) AuditReader() audit.Reader { return auditReader{d} }

type auditReader struct{ d *DB }

func (r auditReader) AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error) {
	return r.d.AuditAnchor(ctx, tenantID)
}

// AuditEvents returns an iterator over the tenant's events in Seq order that match f. It
// reads a page at a time, each page in its own read transaction.
func (r auditReader) AuditEvents(ctx context.Context, tenantID string, f audit.Filter) (audit.EventIterator, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	return &eventIterator{ctx: ctx, d: r.d, tenantID: tenantID, filter: f}, nil
}

// eventIterator pages through a tenant's log.
type eventIterator struct {
	ctx      context.Context
	d        *DB
	tenantID string
	filter   audit.Filter
	next     uint64 // last Seq returned
	page     []*audit.Event
	done     bool
}

// Next returns the next matching event.
func (it *eventIterator) Next() (audit.Event, bool, error) {
	for {
		for len(it.page) > 0 {
			ev := it.page[0]
			it.page = it.page[1:]
			if it.filter.Match(ev) {
				return *ev, true, nil
			}
		}
		if it.done {
			return audit.Event{}, false, nil
		}
		if err := it.fill(); err != nil {
			return audit.Event{}, false, err
		}
	}
}

func (it *eventIterator) fill() error {
	page := make([]*audit.Event, 0, auditPage)
	err := it.d.AuditEvents(it.ctx, it.tenantID, it.next, func(e *audit.Event) (bool, error) {
		page = append(page, e)
		return len(page) < auditPage, nil
	})
	if err != nil {
		return err
	}
	if len(page) < auditPage {
		it.done = true
	}
	if len(page) > 0 {
		it.next = page[len(page)-1].Seq
	}
	it.page = page
	return nil
}

// Close releases nothing: no transaction stays open between pages.
func (it *eventIterator) Close() error { return nil }
