package core

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// SegmentSize is the retention unit of an audit chain: seqs (k*SegmentSize, (k+1)*SegmentSize]
// form segment k, and DropAuditSegments drops a segment only as a whole.
const SegmentSize = store.AuditSegmentSize

// The audit package trims logs through its own interface: Store implements audit.Retainer
// directly and audit.Reader through AuditReader (auditread.go), since store.AuditLog already
// uses the method name AuditEvents.
var _ audit.Retainer = (*Store)(nil)

// AppendAudit seals events onto their tenants' chains and stores them in one transaction
// (shared with concurrent appends). On success each event holds its Seq, PrevHash and Hash,
// unless the store has a sequencer (SealsInline false): then the events are stored unsealed
// and hold their ID and canonical Time and Details, and the sequencer seals them after the
// commit (sequencer.go).
// Invalid UTF-8 in string fields is replaced by U+FFFD before sealing, so that the stored
// event hashes to what was sealed.
func (s *Store) AppendAudit(ctx context.Context, events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.batch(ctx, func(w *wtx) error { return w.appendAudit(events...) })
	if err != nil {
		return fmt.Errorf("appending audit events: %w", err)
	}
	return nil
}

// Audit appends events to their tenants' chains in this transaction. The events receive Seq,
// PrevHash and Hash when the check-in commits, or, with a sequencer, when it seals them.
func (t *deviceTx) Audit(events ...*audit.Event) error {
	// An admin write in a Checkin (a queued command) marks its Idempotency-Key committed here.
	if err := t.w.markIdem(); err != nil {
		return fmt.Errorf("marking the idempotency key: %w", err)
	}
	return t.w.appendAudit(events...)
}

// AuditAnchor returns the anchor left by retention (zero when none).
func (s *Store) AuditAnchor(ctx context.Context, tenantID string) (audit.Anchor, error) {
	var a audit.Anchor
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		a, err = readAnchor(tx.Get(bAuditAnchor, []byte(tenantID)))
		return err
	})
	if err != nil {
		return audit.Anchor{}, fmt.Errorf("reading audit anchor of tenant %s: %w", tenantID, err)
	}
	return a, nil
}

// DropAuditSegments drops, in one transaction, the tenant's oldest segments while a segment
// is complete (its last seq is at or before the chain head) and every event in it is older
// than before; it stores the new anchor (the last dropped event's Seq and Hash) and appends
// the event record returns, sealed after the current head. The head and the anchor are
// read with GetForUpdate first, so concurrent retention runs and appends wait for each
// other. When nothing qualifies it calls nothing and returns the current anchor.
func (s *Store) DropAuditSegments(ctx context.Context, tenantID string, before time.Time,
	record func(dropped uint64, upTo audit.Anchor) (*audit.Event, error)) (audit.Anchor, error) {
	if record == nil {
		return audit.Anchor{}, errors.New("dropping audit segments: nil record function")
	}
	// Retention drops sealed events only; sealing the tenant's pending events first lets it
	// judge every event committed before it started. Events committed later stay pending and
	// are never dropped unsealed.
	if err := s.sealBeforeRead(ctx, tenantID); err != nil {
		return audit.Anchor{}, fmt.Errorf("dropping audit segments of tenant %s: %w", tenantID, err)
	}
	var (
		anchor audit.Anchor
		total  int
	)
	err := s.update(ctx, func(w *wtx) error {
		var err error
		anchor, total, err = w.dropSegments(tenantID, before)
		if err != nil || total == 0 {
			return err
		}
		ev, err := record(uint64(total), anchor)
		if err != nil {
			return fmt.Errorf("recording retention: %w", err)
		}
		return w.appendAudit(ev)
	})
	if err != nil {
		return audit.Anchor{}, fmt.Errorf("dropping audit segments of tenant %s: %w", tenantID, err)
	}
	if total > 0 {
		s.log.Info("audit retention", "tenant", tenantID, "dropped", total, "anchor_seq", anchor.Seq)
	}
	return anchor, nil
}

// dropSegments drops the tenant's segments that may go, oldest first, and stores the new
// anchor. It returns the anchor afterwards and the number of events dropped.
func (w *wtx) dropSegments(tenantID string, before time.Time) (audit.Anchor, int, error) {
	head, err := readAnchor(w.GetForUpdate(bAuditHead, []byte(tenantID)))
	if err != nil {
		return audit.Anchor{}, 0, fmt.Errorf("reading the audit chain head: %w", err)
	}
	anchor, err := readAnchor(w.GetForUpdate(bAuditAnchor, []byte(tenantID)))
	if err != nil {
		return audit.Anchor{}, 0, fmt.Errorf("reading the audit anchor: %w", err)
	}
	total := 0
	for {
		last := (anchor.Seq/SegmentSize + 1) * SegmentSize
		if head.Seq < last {
			break
		}
		n, lastHash, err := w.dropSegment(tenantID, anchor.Seq+1, last, before)
		if err != nil {
			return audit.Anchor{}, 0, err
		}
		if n == 0 {
			break
		}
		total += n
		anchor = audit.Anchor{Seq: last, Hash: lastHash}
	}
	if total > 0 {
		if err := w.Put(bAuditAnchor, []byte(tenantID), anchorValue(anchor)); err != nil {
			return audit.Anchor{}, 0, fmt.Errorf("writing the audit anchor: %w", err)
		}
	}
	return anchor, total, nil
}

// dropSegment deletes the tenant's events first..last (one segment) if every one of them is
// older than before, and returns how many it deleted (0 when the segment must stay) and the
// hash of the last one.
func (w *wtx) dropSegment(tenantID string, first, last uint64, before time.Time) (int, string, error) {
	p := prefix(tenantID, 0)
	var (
		keys     [][]byte
		lastHash string
		young    bool
		records  [][]byte
		events   int
	)
	err := w.Scan(bAudit, kv.Span{Prefix: p, Start: seqKey(tenantID, first)}, func(k, v []byte) (bool, error) {
		if len(k) != len(p)+8 {
			return false, fmt.Errorf("audit event key %x: not a sequence number", k[len(p):])
		}
		end := binary.BigEndian.Uint64(k[len(p):])
		if end > last {
			return false, nil
		}
		var err error
		if records, err = splitRecords(v, records[:0]); err != nil {
			return false, fmt.Errorf("audit events up to %d: %w", end, err)
		}
		// The sequencer never writes a batch record across a segment's end (auditbatch.go),
		// so a segment is whole records.
		if uint64(len(records)) > end-first+1 {
			return false, fmt.Errorf("audit record of %d events up to %d crosses the segment from %d: %w", len(records), end, first, store.ErrConflict)
		}
		for i, rec := range records {
			seq := end + 1 - uint64(len(records)) + uint64(i)
			var ev audit.Event
			if err := decodeEvent(rec, &ev); err != nil {
				return false, fmt.Errorf("audit event %d: %w", seq, err)
			}
			if !ev.Time.Before(before) {
				young = true
				return false, nil
			}
			if seq == last {
				lastHash = ev.Hash
			}
		}
		keys = append(keys, cloneBytes(k))
		events += len(records)
		return true, nil
	})
	switch {
	case err != nil:
		return 0, "", err
	case young:
		return 0, "", nil
	case lastHash == "":
		return 0, "", fmt.Errorf("audit segment ending at %d has no last event: %w", last, store.ErrConflict)
	}
	for _, k := range keys {
		if err := w.Delete(bAudit, k); err != nil {
			return 0, "", fmt.Errorf("deleting audit events: %w", err)
		}
	}
	return events, lastHash, nil
}
