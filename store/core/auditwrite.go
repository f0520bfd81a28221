package core

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/audit"
)

// sealedEvent is an event sealed in a transaction, copied to dst once it commits.
type sealedEvent struct {
	dst *audit.Event
	ev  audit.Event
}

// copyBack copies sealed events to the caller's events, after their transaction committed.
func copyBack(sealed []sealedEvent) {
	for _, s := range sealed {
		*s.dst = s.ev
	}
}

// appendAudit seals copies of events after their tenants' chain heads and writes them in
// w; the sealed values reach the caller's events when the transaction commits (publish).
// The heads are locked in tenant order (lockHeads, as PostgreSQL's lockHeads did), so a
// tenant's chain stays linear however many writers (and servers) append to it, its first
// events included, and two appends to the same tenants cannot deadlock on each other.
// Events are written with Insert, so that a sealed Seq that is somehow taken fails
// (store.ErrExists) instead of overwriting an event. Each head is written once, after the
// events.
//
// With a sequencer (a backend with concurrent writers), the events are written unsealed
// instead (appendPending) and sealed after the commit (sequencer.go): the caller's events
// then receive their canonical form but no Seq, PrevHash or Hash.
func (w *wtx) appendAudit(events ...*audit.Event) error {
	if len(events) == 0 {
		return nil
	}
	if w.seq != nil {
		return w.appendPending(w.seq, events)
	}
	evs := make([]audit.Event, len(events))
	for i, dst := range events {
		if dst == nil {
			return errors.New("appending audit event: nil event")
		}
		evs[i] = *dst
		validUTF8(&evs[i])
		if err := checkID("audit tenant id", evs[i].TenantID); err != nil {
			return fmt.Errorf("appending audit event: %w", err)
		}
	}
	heads, err := w.lockHeads(evs)
	if err != nil {
		return err
	}
	var recs eventRecords
	for i := range evs {
		ev := &evs[i]
		h := heads.of(ev.TenantID)
		if err := audit.SealAfter(h.head, ev); err != nil {
			return fmt.Errorf("sealing audit event: %w", err)
		}
		h.head = ev.Head()
		rec, err := recs.encode(ev)
		if err != nil {
			return err
		}
		if err := w.Insert(bAudit, seqKey(ev.TenantID, ev.Seq), rec); err != nil {
			return fmt.Errorf("writing audit event %d of tenant %s: %w", ev.Seq, ev.TenantID, err)
		}
		w.sealed = append(w.sealed, sealedEvent{dst: events[i], ev: *ev})
	}
	for _, h := range heads {
		if err := w.Put(bAuditHead, []byte(h.tenant), anchorValue(h.head)); err != nil {
			return fmt.Errorf("writing the audit chain head of tenant %s: %w", h.tenant, err)
		}
	}
	return nil
}

// zeroAnchor is the head record (anchorValue) of a chain without events.
var zeroAnchor [8]byte

// chainHead is a tenant's chain head while an append seals events after it.
type chainHead struct {
	tenant string
	head   audit.Anchor
}

// chainHeads are the heads of an append's tenants, sorted by tenant.
type chainHeads []chainHead

// of returns the head of tenant, which lockHeads read.
func (hs chainHeads) of(tenant string) *chainHead {
	i, _ := slices.BinarySearchFunc(hs, tenant, func(h chainHead, t string) int { return strings.Compare(h.tenant, t) })
	return &hs[i]
}

// lockHeads locks, in tenant order, the chain heads of the tenants of evs and returns them.
// A chain without a head yet is given one at the zero anchor (lockOrCreate), so writers
// racing to start a chain run one after the other, as on a chain that has a head.
func (w *wtx) lockHeads(evs []audit.Event) (chainHeads, error) {
	heads := make(chainHeads, 0, 1)
	for i := range evs {
		if t := evs[i].TenantID; len(heads) == 0 || heads[len(heads)-1].tenant != t {
			heads = append(heads, chainHead{tenant: t})
		}
	}
	slices.SortFunc(heads, func(a, b chainHead) int { return strings.Compare(a.tenant, b.tenant) })
	heads = slices.CompactFunc(heads, func(a, b chainHead) bool { return a.tenant == b.tenant })
	for i := range heads {
		h, err := readAnchor(lockOrCreate(w, bAuditHead, []byte(heads[i].tenant), zeroAnchor[:]))
		if err != nil {
			return nil, fmt.Errorf("reading the audit chain head of tenant %s: %w", heads[i].tenant, err)
		}
		heads[i].head = h
	}
	return heads, nil
}

// Audit appends events in w (store.Writer): they commit with the changes of the Write or
// not at all.
func (w *wtx) Audit(events ...*audit.Event) error { return w.appendAudit(events...) }

// encodeEvent writes ev as JSON without HTML escaping, so Details keeps its exact bytes.
func encodeEvent(w io.Writer, ev *audit.Event) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return fmt.Errorf("encoding audit event: %w", err)
	}
	return nil
}

// eventRecords encodes the records of the events one write stores into one slice that is
// only ever appended to: a record, once encoded, is never overwritten (a slice that outgrows
// its capacity moves to a new array and leaves the old one as it was), so each can be handed
// to Put or Insert, which keep it until the commit (kv.Tx), without a copy of its own.
type eventRecords struct{ buf []byte }

// Write appends p (io.Writer, for encodeEvent).
func (r *eventRecords) Write(p []byte) (int, error) {
	r.buf = append(r.buf, p...)
	return len(p), nil
}

// encode appends ev's record (encodeEvent) and returns it.
func (r *eventRecords) encode(ev *audit.Event) ([]byte, error) {
	start := len(r.buf)
	if err := encodeEvent(r, ev); err != nil {
		return nil, err
	}
	return r.buf[start:len(r.buf):len(r.buf)], nil
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

// readAnchor decodes an anchor record (seq (8) + hash); the zero Anchor when v is nil.
func readAnchor(v []byte, err error) (audit.Anchor, error) {
	switch {
	case err != nil:
		return audit.Anchor{}, err
	case v == nil:
		return audit.Anchor{}, nil
	case len(v) < 8:
		return audit.Anchor{}, errors.New("short anchor record")
	}
	return audit.Anchor{Seq: binary.BigEndian.Uint64(v), Hash: string(v[8:])}, nil
}

// anchorValue encodes an anchor record.
func anchorValue(a audit.Anchor) []byte {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(a.Hash)), a.Seq)
	return append(v, a.Hash...)
}
