package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// SegmentSize is the retention unit of an audit chain: seqs (k*SegmentSize, (k+1)*SegmentSize]
// form segment k, and DropAudit drops a segment only as a whole.
const SegmentSize = store.AuditSegmentSize

// auditPage is how many events AuditEvents reads per read transaction.
const auditPage = 256

// sealedEvent is an event sealed in a transaction, copied to dst once it commits.
type sealedEvent struct {
	dst *audit.Event
	ev  audit.Event
}

// AppendAudit seals events onto their tenants' chains and stores them in one transaction
// (shared with concurrent appends). On success each event holds its Seq, PrevHash and Hash.
// Invalid UTF-8 in string fields is replaced by U+FFFD before sealing, so that the stored
// event hashes to what was sealed.
func (d *DB) AppendAudit(ctx context.Context, events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	var sealed []sealedEvent
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		var err error
		sealed, err = appendAuditTx(tx, events)
		return err
	})
	if err != nil {
		return fmt.Errorf("appending audit events: %w", err)
	}
	d.publish(sealed)
	return nil
}

// auditFillPercent is how full the audit log's pages are left when bbolt splits them.
const auditFillPercent = 0.95

// appendAuditTx seals copies of events after their tenants' heads and writes them.
func appendAuditTx(tx *bbolt.Tx, events []*audit.Event) ([]sealedEvent, error) {
	log, heads := bucket(tx, bAudit), bucket(tx, bAuditHead)
	// Each tenant's chain only ever grows at its end (keys are tenant, seq), so pages can be
	// split nearly full: bbolt's default of half-full pages would double the log's size.
	log.FillPercent = auditFillPercent
	out := make([]sealedEvent, 0, len(events))
	var buf bytes.Buffer
	for _, dst := range events {
		if dst == nil {
			return nil, errors.New("appending audit event: nil event")
		}
		ev := *dst
		validUTF8(&ev)
		if err := checkID("audit tenant id", ev.TenantID); err != nil {
			return nil, fmt.Errorf("appending audit event: %w", err)
		}
		head, err := getAnchor(heads, ev.TenantID)
		if err != nil {
			return nil, err
		}
		if err := audit.SealAfter(head, &ev); err != nil {
			return nil, fmt.Errorf("sealing audit event: %w", err)
		}
		buf.Reset()
		if err := encodeEvent(&buf, &ev); err != nil {
			return nil, err
		}
		if err := log.Put(seqKey(ev.TenantID, ev.Seq), bytes.Clone(buf.Bytes())); err != nil {
			return nil, fmt.Errorf("writing audit event: %w", err)
		}
		if err := putAnchor(heads, ev.TenantID, ev.Head()); err != nil {
			return nil, err
		}
		out = append(out, sealedEvent{dst: dst, ev: ev})
	}
	return out, nil
}

// encodeEvent writes ev as JSON without HTML escaping, so Details keeps its exact bytes.
func encodeEvent(buf *bytes.Buffer, ev *audit.Event) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("encoding audit event: %w", err)
	}
	return nil
}

// validUTF8 replaces invalid UTF-8 in the string fields of e, which JSON could not store
// exactly.
func validUTF8(e *audit.Event) {
	for _, f := range []*string{
		&e.ID, &e.TenantID, &e.Actor.Type, &e.Actor.ID, &e.Actor.TokenID, &e.Actor.Role,
		&e.Actor.SourceAddr, &e.Subject.Type, &e.Subject.ID, &e.DeviceID, &e.ProfileID, &e.Action,
	} {
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
	e.Kind = audit.Kind(strings.ToValidUTF8(string(e.Kind), "\uFFFD"))
}

func getAnchor(b *bbolt.Bucket, tenantID string) (audit.Anchor, error) {
	v := b.Get([]byte(tenantID))
	switch {
	case v == nil:
		return audit.Anchor{}, nil
	case len(v) < 8:
		return audit.Anchor{}, fmt.Errorf("reading audit anchor of tenant %s: short record", tenantID)
	}
	return audit.Anchor{Seq: binary.BigEndian.Uint64(v), Hash: string(v[8:])}, nil
}

func putAnchor(b *bbolt.Bucket, tenantID string, a audit.Anchor) error {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(a.Hash)), a.Seq)
	if err := b.Put([]byte(tenantID), append(v, a.Hash...)); err != nil {
		return fmt.Errorf("writing audit anchor of tenant %s: %w", tenantID, err)
	}
	return nil
}

// AuditEvents calls fn for the tenant's events with Seq > afterSeq in chain order, until fn
// returns false or an error. It reads auditPage events per read transaction and calls fn
// outside any transaction, so fn may use the store.
func (d *DB) AuditEvents(ctx context.Context, tenantID string, afterSeq uint64, fn func(e *audit.Event) (bool, error)) error {
	next := afterSeq + 1
	for next != 0 {
		page := make([]audit.Event, 0, auditPage) // one allocation per page, not per event
		err := d.view(ctx, func(tx *bbolt.Tx) error {
			p := prefix(tenantID, 0)
			c := bucket(tx, bAudit).Cursor()
			for k, v := c.Seek(seqKey(tenantID, next)); k != nil && hasPrefix(k, p) && len(page) < auditPage; k, v = c.Next() {
				page = append(page, audit.Event{})
				if err := decodeEvent(v, &page[len(page)-1]); err != nil {
					return fmt.Errorf("audit event %x: %w", k[len(p):], err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading audit events of tenant %s: %w", tenantID, err)
		}
		for i := range page {
			more, err := fn(&page[i])
			if err != nil || !more {
				return err
			}
		}
		if len(page) < auditPage {
			return nil
		}
		next = page[len(page)-1].Seq + 1
	}
	return nil
}

// AuditAnchor returns the anchor left by retention (zero when none).
func (d *DB) AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error) {
	var a audit.Anchor
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		a, err = getAnchor(bucket(tx, bAuditAnchor), tenantID)
		return err
	})
	if err != nil {
		return audit.Anchor{}, fmt.Errorf("reading audit anchor: %w", err)
	}
	return a, nil
}

// DropAudit drops the tenant's oldest segments, one transaction per segment, while a
// segment is complete (its last seq is at or before the chain head) and every event in it
// is older than before. The anchor becomes the last dropped event's Seq and Hash. It
// returns how many events were dropped and the anchor afterwards (the existing one, or
// zero, when nothing was dropped).
func (d *DB) DropAudit(ctx context.Context, tenantID string, before time.Time) (int, audit.Anchor, error) {
	total := 0
	for {
		var (
			dropped int
			anchor  audit.Anchor
		)
		err := d.update(ctx, func(tx *bbolt.Tx) error {
			var err error
			dropped, anchor, err = dropSegment(tx, tenantID, before)
			return err
		})
		if err != nil {
			return total, anchor, fmt.Errorf("dropping audit events of tenant %s: %w", tenantID, err)
		}
		total += dropped
		if dropped == 0 {
			if total > 0 {
				d.log.Info("audit retention", "tenant", tenantID, "dropped", total, "anchor_seq", anchor.Seq)
			}
			return total, anchor, nil
		}
	}
}

// dropSegment drops the segment after the tenant's anchor if it may go, and returns the
// number of events dropped and the anchor afterwards.
func dropSegment(tx *bbolt.Tx, tenantID string, before time.Time) (int, audit.Anchor, error) {
	anchors := bucket(tx, bAuditAnchor)
	anchor, err := getAnchor(anchors, tenantID)
	if err != nil {
		return 0, anchor, err
	}
	head, err := getAnchor(bucket(tx, bAuditHead), tenantID)
	if err != nil {
		return 0, anchor, err
	}
	first := anchor.Seq + 1
	last := (anchor.Seq/SegmentSize + 1) * SegmentSize
	if head.Seq < last {
		return 0, anchor, nil
	}
	log := bucket(tx, bAudit)
	p := prefix(tenantID, 0)
	var (
		keys     [][]byte
		lastHash string
	)
	c := log.Cursor()
	for k, v := c.Seek(seqKey(tenantID, first)); k != nil && hasPrefix(k, p); k, v = c.Next() {
		seq := binary.BigEndian.Uint64(k[len(p):])
		if seq > last {
			break
		}
		var ev struct {
			Time time.Time `json:"time"`
			Hash string    `json:"hash"`
		}
		if err := unmarshal(v, &ev); err != nil {
			return 0, anchor, fmt.Errorf("audit event %d: %w", seq, err)
		}
		if !ev.Time.Before(before) {
			return 0, anchor, nil
		}
		keys = append(keys, cloneBytes(k))
		if seq == last {
			lastHash = ev.Hash
		}
	}
	if lastHash == "" {
		return 0, anchor, fmt.Errorf("audit segment ending at %d has no last event: %w", last, store.ErrConflict)
	}
	for _, k := range keys {
		if err := log.Delete(k); err != nil {
			return 0, anchor, err
		}
	}
	anchor = audit.Anchor{Seq: last, Hash: lastHash}
	if err := putAnchor(anchors, tenantID, anchor); err != nil {
		return 0, anchor, err
	}
	return len(keys), anchor, nil
}

// writeAuditTx appends, in tx, the events of ctx's store.AuditFunc (store.WithAudit) for the
// record the write stored. It returns the sealed events, to be published once tx commits;
// nothing when ctx has no AuditFunc.
func writeAuditTx(ctx context.Context, tx *bbolt.Tx, stored any) ([]sealedEvent, error) {
	if err := markIdemTx(ctx, tx); err != nil {
		return nil, fmt.Errorf("marking the idempotency key: %w", err)
	}
	f := store.AuditFrom(ctx)
	if f == nil {
		return nil, nil
	}
	events, err := f(stored)
	if err != nil {
		return nil, fmt.Errorf("building audit events: %w", err)
	}
	return appendAuditTx(tx, events)
}

// copyBack copies sealed events to the caller's events, after their transaction committed.
func copyBack(sealed []sealedEvent) {
	for _, s := range sealed {
		*s.dst = s.ev
	}
}
