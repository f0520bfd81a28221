package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Reading the audit log. Events are read in pages of auditPage events, one read transaction
// per page, so no transaction stays open while callers work on them.
//
// Filters are applied while scanning, not through an index: a page's records are checked
// with the filter's literal needles (eventFilter) on the stored bytes before anything is
// copied or decoded, and only the records that may match are decoded (with the fast
// decoder, auditdecode.go) and checked with audit.Filter.Match. A device, profile or actor
// filter therefore costs one byte search per stored event, which keeps a filtered export of
// a large log at the speed of the scan itself: over bbolt a device's 200 events among
// 1,000,000 export in 0.1 s (BenchmarkExportCSV1MFiltered; decoding every event, as
// store/bolt did, took 2.3 s), over PostgreSQL (the records cross the connection) a
// device's 20 among 100,000 in 0.36 s. The log therefore has no second index (store/postgres
// had one on device_id): it would cost every append, check-ins included, one more write
// per event, and retention one more delete.

// auditPage is how many events are read per read transaction.
const auditPage = 256

var _ audit.Reader = auditReader{}

// AuditEvents calls fn for the tenant's events with Seq > afterSeq in chain order, until fn
// returns false or an error. It reads auditPage events per read transaction and calls fn
// outside any transaction, so fn may use the store.
//
// Pending events of the tenant (a store with a sequencer) are sealed first, so the read
// sees every event committed before it started.
func (s *Store) AuditEvents(ctx context.Context, tenantID string, afterSeq uint64, fn func(e *audit.Event) (bool, error)) error {
	if err := s.sealBeforeRead(ctx, tenantID); err != nil {
		return err
	}
	next := afterSeq + 1
	var arena eventArena
	for next != 0 {
		p := s.readAuditPage(ctx, tenantID, next, nil, &arena, nil)
		if p.err != nil {
			return p.err
		}
		for i := range p.events {
			more, err := fn(&p.events[i])
			if err != nil || !more {
				return err
			}
		}
		if p.last {
			return nil
		}
		next = p.next
	}
	return nil
}

// eventPage is a page of decoded events (those that match the filter), or the error that
// ended reading. next is the Seq to read from after it; last marks the final page.
type eventPage struct {
	events []audit.Event
	next   uint64
	err    error
	last   bool
}

// eventArena holds copies of stored records, so decoded events can alias them after their
// read transaction ended. A chunk is only appended to, except that the bytes of the last
// record are given back when its event is dropped (nothing aliases them then), so bytes an
// event aliases are never written again.
type eventArena struct{ buf []byte }

// arenaChunk is the size of the buffers stored records are copied into; a decoded event
// keeps its chunk alive, so chunks stay small.
const arenaChunk = 32 << 10

// decode copies v into the arena and decodes it into ev.
func (a *eventArena) decode(v []byte, ev *audit.Event) error {
	if cap(a.buf)-len(a.buf) < len(v) {
		a.buf = make([]byte, 0, max(arenaChunk, len(v)))
	}
	off := len(a.buf)
	a.buf = append(a.buf, v...)
	return decodeOwnedEvent(a.buf[off:len(a.buf):len(a.buf)], ev)
}

// drop gives back the bytes of the record decoded last, whose event is not kept.
func (a *eventArena) drop(n int) { a.buf = a.buf[:len(a.buf)-n] }

// readAuditPage reads, in one read transaction, the tenant's stored events from Seq next on,
// record by record until auditPage events or more were read, and returns those that match
// f (every one when f is nil), decoded into reuse's backing array when it has one.
func (s *Store) readAuditPage(ctx context.Context, tenantID string, next uint64, f *eventFilter, arena *eventArena, reuse []audit.Event) eventPage {
	p := eventPage{events: reuse[:0]}
	if p.events == nil {
		p.events = make([]audit.Event, 0, auditPage) // one allocation per page, not per event
	}
	n := 0
	pre := prefix(tenantID, 0)
	var records [][]byte
	p.err = s.view(ctx, func(tx kv.Tx) error {
		p.events, n = p.events[:0], 0
		return tx.Scan(bAudit, kv.Span{Prefix: pre, Start: seqKey(tenantID, next)}, func(k, v []byte) (bool, error) {
			if len(k) != len(pre)+8 {
				return false, fmt.Errorf("audit event key %x: not a sequence number", k[len(pre):])
			}
			last := binary.BigEndian.Uint64(k[len(pre):])
			var err error
			if records, err = splitRecords(v, records[:0]); err == nil && uint64(len(records)) > last {
				err = fmt.Errorf("%w: %d events", errBatch, len(records))
			}
			if err != nil {
				return false, fmt.Errorf("audit events up to %d: %w", last, err)
			}
			// A batch record holds the events up to its key's Seq (auditbatch.go); those
			// before next were on an earlier page.
			first := last + 1 - uint64(len(records))
			for i, rec := range records {
				if first+uint64(i) < next {
					continue
				}
				n++
				if err := p.add(rec, f, arena); err != nil {
					return false, fmt.Errorf("audit event %d: %w", first+uint64(i), err)
				}
			}
			p.next = last + 1
			return n < auditPage, nil
		})
	})
	if p.err != nil {
		p.err = fmt.Errorf("reading audit events of tenant %s: %w", tenantID, p.err)
	}
	p.last = p.err != nil || n < auditPage || p.next == 0
	return p
}

// add decodes the stored event record rec into the page when it matches f (every record
// when f is nil).
func (p *eventPage) add(rec []byte, f *eventFilter, arena *eventArena) error {
	if f != nil && !f.mayMatch(rec) {
		return nil
	}
	p.events = append(p.events, audit.Event{})
	ev := &p.events[len(p.events)-1]
	if err := arena.decode(rec, ev); err != nil {
		return err
	}
	if f != nil && !f.Match(ev) {
		p.events = p.events[:len(p.events)-1]
		arena.drop(len(rec))
	}
	return nil
}

// eventFilter is an audit.Filter with the byte strings a stored event matching it must
// contain: a value the filter asks for followed by its closing quote. The opening quote is
// left out on purpose: bytes.Index looks for a needle's first byte with IndexByte, and a
// quote occurs dozens of times in every record while an ID's first byte is rare there.
type eventFilter struct {
	audit.Filter
	needles [][]byte // each must occur in the record
	kinds   [][]byte // one must occur in the record (none: no condition)
}

// newEventFilter returns the eventFilter of f, nil when f lets every event through.
func newEventFilter(f audit.Filter) *eventFilter {
	if f.From.IsZero() && f.To.IsZero() && len(f.Kinds) == 0 && f.DeviceID == "" && f.ProfileID == "" && f.ActorID == "" {
		return nil
	}
	ef := &eventFilter{Filter: f}
	for _, id := range []string{f.DeviceID, f.ProfileID, f.ActorID} {
		if id != "" && literalJSON(id) {
			ef.needles = append(ef.needles, []byte(id+`"`))
		}
	}
	for _, k := range f.Kinds {
		if !literalJSON(string(k)) {
			ef.kinds = nil // a kind without a needle: no condition on kinds
			break
		}
		ef.kinds = append(ef.kinds, []byte(string(k)+`"`))
	}
	return ef
}

// mayMatch reports whether the stored record v may match: false only when it lacks one of
// the filter's needles, so it cannot.
func (f *eventFilter) mayMatch(v []byte) bool {
	for _, n := range f.needles {
		if !bytes.Contains(v, n) {
			return false
		}
	}
	if len(f.kinds) == 0 {
		return true
	}
	for _, k := range f.kinds {
		if bytes.Contains(v, k) {
			return true
		}
	}
	return false
}

// literalJSON reports whether s is made only of bytes that encoding/json (which writes every
// stored event, encodeEvent) never escapes and that cannot be part of an escape of another
// character: then a stored string equal to s appears in the record exactly as `"s"`.
func literalJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c == '@') {
			return false
		}
	}
	return true
}

// AuditReader returns the store as an audit.Reader, for audit.VerifyTenant and
// audit.Export.
func (s *Store) AuditReader() audit.Reader { return auditReader{s} }

type auditReader struct{ s *Store }

var _ audit.UnsealedReader = auditReader{}

func (r auditReader) AuditUnsealed(ctx context.Context, tenantID string) (audit.Unsealed, error) {
	return r.s.AuditUnsealed(ctx, tenantID)
}

func (r auditReader) AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error) {
	return r.s.AuditAnchor(ctx, tenantID)
}

// AuditEvents returns an iterator over the tenant's events in Seq order that match f. From
// the first Next on, a goroutine of the iterator reads and decodes pages ahead of the
// caller (each page in its own read transaction, at most iterAhead pages buffered), so
// decoding and the caller's work (filtering, writing CSV) run on two cores. Close stops
// that goroutine and waits for it; it also stops by itself when ctx is done.
//
// As Store.AuditEvents, it seals the tenant's pending events first.
func (r auditReader) AuditEvents(ctx context.Context, tenantID string, f audit.Filter) (audit.EventIterator, error) {
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	if err := r.s.sealBeforeRead(ctx, tenantID); err != nil {
		return nil, fmt.Errorf("reading audit events: %w", err)
	}
	return &eventIterator{ctx: ctx, s: r.s, tenantID: tenantID, filter: newEventFilter(f)}, nil
}

// iterAhead is how many decoded pages the reading goroutine may hold for the caller,
// besides the one the caller is on and the one being decoded.
const iterAhead = 2

// eventIterator pages through a tenant's log with a reading goroutine.
type eventIterator struct {
	ctx      context.Context
	s        *Store
	tenantID string
	filter   *eventFilter // nil: every event

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
// Close is called or ctx is done, and returns then. A page on which nothing matched is not
// sent, and its backing array serves the next page.
func (it *eventIterator) read() {
	defer close(it.stopped)
	defer close(it.pages)
	var (
		arena eventArena
		reuse []audit.Event
	)
	next := uint64(1)
	for {
		select {
		case <-it.stop:
			return
		default:
		}
		p := it.s.readAuditPage(it.ctx, it.tenantID, next, it.filter, &arena, reuse)
		next, reuse = p.next, nil
		if len(p.events) == 0 && !p.last {
			reuse = p.events
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
