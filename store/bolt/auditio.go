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

// AuditEvents returns an iterator over the tenant's events in Seq order that match f. From
// the first Next on, a goroutine of the iterator reads and decodes pages ahead of the
// caller (each page in its own read transaction, at most iterAhead pages buffered), so
// decoding and the caller's work (filtering, writing CSV) run on two cores. Close stops
// that goroutine and waits for it; it also stops by itself when ctx is done.
func (r auditReader) AuditEvents(ctx context.Context, tenantID string, f audit.Filter) (audit.EventIterator, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	return &eventIterator{ctx: ctx, d: r.d, tenantID: tenantID, filter: f}, nil
}

const (
	// iterAhead is how many decoded pages the reading goroutine may hold for the caller,
	// besides the one the caller is on and the one being decoded.
	iterAhead = 2
	// arenaChunk is the size of the buffers stored records are copied into; a decoded event
	// keeps its chunk alive, so chunks stay small.
	arenaChunk = 32 << 10
)

// eventPage is a page of decoded events that match the filter, or the error that ended
// reading. last marks the final page.
type eventPage struct {
	events []audit.Event
	err    error
	last   bool
}

// eventIterator pages through a tenant's log with a reading goroutine.
type eventIterator struct {
	ctx      context.Context
	d        *DB
	tenantID string
	filter   audit.Filter

	pages   chan eventPage // nil until the first Next
	stop    chan struct{}  // closed by Close
	stopped chan struct{}  // closed when the goroutine has returned
	page    []audit.Event
	end     bool  // the last page was received
	err     error // sticky error
	closed  bool
}

// Next returns the next matching event.
func (it *eventIterator) Next() (audit.Event, bool, error) {
	for {
		if len(it.page) > 0 {
			ev := it.page[0]
			it.page = it.page[1:]
			return ev, true, nil
		}
		switch {
		case it.err != nil:
			return audit.Event{}, false, it.err
		case it.end:
			return audit.Event{}, false, nil
		case it.closed:
			return audit.Event{}, false, errors.New("reading audit events: iterator closed")
		}
		if it.pages == nil {
			it.pages = make(chan eventPage, iterAhead)
			it.stop = make(chan struct{})
			it.stopped = make(chan struct{})
			go it.read()
		}
		p, ok := <-it.pages
		switch {
		case !ok: // the goroutine gave up because ctx is done
			it.err = fmt.Errorf("reading audit events of tenant %s: %w", it.tenantID, context.Cause(it.ctx))
		case p.err != nil:
			it.err = p.err
		default:
			it.page, it.end = p.events, p.last
		}
	}
}

// read runs on the iterator's goroutine: it reads pages until the log ends, reading fails,
// Close is called or ctx is done, and returns then.
func (it *eventIterator) read() {
	defer close(it.stopped)
	defer close(it.pages)
	var arena []byte
	next := uint64(1)
	for {
		select {
		case <-it.stop:
			return
		default:
		}
		var (
			p       eventPage
			lastSeq uint64
			n       int
		)
		p.err = it.d.view(it.ctx, func(tx *bbolt.Tx) error {
			p.events = make([]audit.Event, 0, auditPage)
			pre := prefix(it.tenantID, 0)
			c := bucket(tx, bAudit).Cursor()
			for k, v := c.Seek(seqKey(it.tenantID, next)); k != nil && hasPrefix(k, pre) && n < auditPage; k, v = c.Next() {
				n++
				// Copy the record out of the mmap into the arena; a chunk is only
				// appended to, so bytes events alias are never written again.
				if cap(arena)-len(arena) < len(v) {
					arena = make([]byte, 0, max(arenaChunk, len(v)))
				}
				off := len(arena)
				arena = append(arena, v...)
				p.events = append(p.events, audit.Event{})
				ev := &p.events[len(p.events)-1]
				if err := decodeOwnedEvent(arena[off:len(arena):len(arena)], ev); err != nil {
					return fmt.Errorf("audit event %x: %w", k[len(pre):], err)
				}
				lastSeq = ev.Seq
				if !it.filter.Match(ev) {
					p.events = p.events[:len(p.events)-1]
				}
			}
			return nil
		})
		if p.err != nil {
			p.err = fmt.Errorf("reading audit events of tenant %s: %w", it.tenantID, p.err)
		}
		next = lastSeq + 1
		p.last = p.err != nil || n < auditPage || next == 0
		if len(p.events) == 0 && !p.last {
			continue // nothing on this page matched: read on (ctx is checked by view)
		}
		select {
		case it.pages <- p:
		case <-it.stop:
			return
		case <-it.ctx.Done():
			return
		}
		if p.last {
			return
		}
	}
}

// Close stops the reading goroutine, if any, and waits for it to return. No transaction
// stays open between pages.
func (it *eventIterator) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	if it.stop != nil {
		close(it.stop)
		<-it.stopped
	}
	it.page = nil
	return nil
}
