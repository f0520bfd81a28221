package audit

import (
	"context"
	"errors"
	"fmt"
)

// Iterator yields a tenant's events in the order the store holds them
// (ascending Seq for an intact log). Next returns ok=false after the last
// event; an error ends iteration.
type Iterator interface {
	Next() (e Event, ok bool, err error)
}

// Reason says how a chain is broken.
type Reason string

// Reasons reported by Verify, in the order they are checked for each event.
const (
	// ReasonTenantMismatch: the event belongs to another tenant than the
	// first event of the stream.
	ReasonTenantMismatch Reason = "tenant mismatch"
	// ReasonSeqGap: Seq is higher than expected: events before it were removed.
	ReasonSeqGap Reason = "seq gap: events removed"
	// ReasonReordered: Seq is not the expected one and the expected event
	// appears later, or Seq went backwards: events were reordered or duplicated.
	ReasonReordered Reason = "events reordered or duplicated"
	// ReasonPrevHashMismatch: the seq is right but PrevHash does not match the
	// previous event's Hash: the previous event was replaced (and re-hashed)
	// or the anchor was altered.
	ReasonPrevHashMismatch Reason = "prev_hash does not match previous event"
	// ReasonHashMismatch: Hash does not match the event's content: the event
	// was altered.
	ReasonHashMismatch Reason = "hash does not match content"
	// ReasonAnchorUnrecorded: verification started from a retention anchor
	// but no audit.retention event in the log names that anchor.
	ReasonAnchorUnrecorded Reason = "anchor not recorded by an audit.retention event"
)

// BrokenLink is the first place a chain fails to verify.
type BrokenLink struct {
	Seq      uint64 `json:"seq"`      // Seq of the offending event as stored (anchor Seq for ReasonAnchorUnrecorded)
	EventID  string `json:"event_id"` // its ID ("" for ReasonAnchorUnrecorded)
	Position uint64 `json:"position"` // 1-based index in the iterated stream (0 for ReasonAnchorUnrecorded)
	Reason   Reason `json:"reason"`
	Detail   string `json:"detail"` // expected vs found
}

// VerifyReport is the outcome of Verify.
type VerifyReport struct {
	TenantID string      `json:"tenant_id"`
	Start    Anchor      `json:"start"`   // where verification started
	Checked  uint64      `json:"checked"` // events that passed every check
	Head     Anchor      `json:"head"`    // last verified position
	Broken   *BrokenLink `json:"broken,omitempty"`
	// Unsealed counts the tenant's events committed but not sealed yet when verification
	// ended (VerifyTenant on a store with a sequencer); they follow Head once sealed.
	Unsealed Unsealed `json:"unsealed"`
}

// OK reports whether the chain verified.
func (r VerifyReport) OK() bool { return r.Broken == nil }

// ErrChainBroken is wrapped by the *ChainError Verify returns.
var ErrChainBroken = errors.New("audit chain broken")

// ChainError is returned by Verify when the chain does not verify.
type ChainError struct{ Link BrokenLink }

func (e *ChainError) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d (event %q): %s: %s", e.Link.Seq, e.Link.EventID, e.Link.Reason, e.Link.Detail)
}

func (e *ChainError) Unwrap() error { return ErrChainBroken }

// Verify checks a whole chain from genesis; see VerifyFrom.
func Verify(ctx context.Context, it Iterator) (VerifyReport, error) {
	return VerifyFrom(ctx, Anchor{}, it)
}

// ctxCheckEvery is how many events Verify checks between context checks.
const ctxCheckEvery = 1024

// VerifyFrom checks a tenant's chain from start (the store's retention
// anchor, or the zero Anchor) to its head. it must yield every stored event
// of one tenant after start, in stored order.
//
// For each event, in order: same tenant as the first event; Seq is the
// previous Seq+1; PrevHash is the previous Hash (start.Hash for the first);
// Hash matches the content. The first failure is reported at the event
// where it shows: an altered event fails its own hash check; a removed
// event shows as a seq gap at its successor; for reordered events the first
// out-of-place event is reported. An altered event whose Hash was also
// recomputed shows at its successor (prev_hash mismatch): the chain is
// tamper-evident, not keyed, so a writer able to rewrite the whole tail
// after an event can rewrite history; export the head Anchor regularly to
// pin it. When start is not zero, some audit.retention event must name it.
//
// A broken chain returns the report (with Broken set) and a *ChainError;
// iterator and context errors are returned wrapped, with the report so far.
func VerifyFrom(ctx context.Context, start Anchor, it Iterator) (VerifyReport, error) {
	return verify(ctx, start, "", it)
}

// verify is VerifyFrom; a non-empty tenantID is required of every event.
func verify(ctx context.Context, start Anchor, tenantID string, it Iterator) (VerifyReport, error) {
	rep := VerifyReport{TenantID: tenantID, Start: start, Head: start}
	anchorRecorded := start.IsZero()
	var pos uint64
	fail := func(e *Event, reason Reason, detail string) (VerifyReport, error) {
		rep.Broken = &BrokenLink{Seq: e.Seq, EventID: e.ID, Position: pos, Reason: reason, Detail: detail}
		return rep, &ChainError{Link: *rep.Broken}
	}
	for {
		if pos%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("verifying audit chain: %w", err)
			}
		}
		e, ok, err := it.Next()
		if err != nil {
			return rep, fmt.Errorf("reading audit events: %w", err)
		}
		if !ok {
			break
		}
		pos++
		if pos == 1 && rep.TenantID == "" {
			rep.TenantID = e.TenantID
		}
		want := rep.Head.Seq + 1
		switch {
		case e.TenantID != rep.TenantID:
			return fail(&e, ReasonTenantMismatch, fmt.Sprintf("tenant %q, chain is %q", e.TenantID, rep.TenantID))
		case e.Seq > want:
			reason := ReasonSeqGap
			// One event of look-ahead tells a removal from a reordering.
			if next, ok, err := it.Next(); err == nil && ok && next.Seq < e.Seq {
				reason = ReasonReordered
			}
			return fail(&e, reason, fmt.Sprintf("seq %d, expected %d", e.Seq, want))
		case e.Seq < want:
			return fail(&e, ReasonReordered, fmt.Sprintf("seq %d, expected %d", e.Seq, want))
		case e.PrevHash != rep.Head.Hash:
			return fail(&e, ReasonPrevHashMismatch, fmt.Sprintf("prev_hash %q, previous hash %q", e.PrevHash, rep.Head.Hash))
		}
		if got := ComputeHash(&e); got != e.Hash {
			return fail(&e, ReasonHashMismatch, fmt.Sprintf("hash %q, content hashes to %q", e.Hash, got))
		}
		if !anchorRecorded && e.Kind == KindRetention {
			if d, err := ParseRetention(&e); err == nil && d.UpTo == start {
				anchorRecorded = true
			}
		}
		rep.Checked++
		rep.Head = e.Head()
	}
	if !anchorRecorded {
		rep.Broken = &BrokenLink{Seq: start.Seq, Reason: ReasonAnchorUnrecorded,
			Detail: fmt.Sprintf("anchor seq %d hash %q", start.Seq, start.Hash)}
		return rep, &ChainError{Link: *rep.Broken}
	}
	return rep, nil
}

// SliceIterator iterates over events held in memory.
type SliceIterator struct {
	events []Event
	i      int
}

// NewSliceIterator returns an Iterator over events (not copied).
func NewSliceIterator(events []Event) *SliceIterator { return &SliceIterator{events: events} }

// Next implements Iterator.
func (s *SliceIterator) Next() (Event, bool, error) {
	if s.i >= len(s.events) {
		return Event{}, false, nil
	}
	s.i++
	return s.events[s.i-1], true, nil
}
