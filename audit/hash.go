package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// hashDomain is the first field of every hash input, so a hash of this
// encoding can never be confused with a hash of some other structure, and a
// future v2 encoding is distinguishable.
const hashDomain = "hellomdm.audit.v1"

// Anchor is a position in a tenant's chain: the Seq and Hash of an event.
// The zero Anchor is the genesis position (before Seq 1, PrevHash "").
// After retention drops old events, the store keeps the Anchor of the last
// dropped event and verification starts from it.
type Anchor struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// IsZero reports whether a is the genesis position.
func (a Anchor) IsZero() bool { return a.Seq == 0 && a.Hash == "" }

// Head returns the Anchor of a sealed event: the position the next event
// chains to.
func (e *Event) Head() Anchor { return Anchor{Seq: e.Seq, Hash: e.Hash} }

// ComputeHash returns the lower-case hex SHA-256 of CanonicalEncoding(e).
// It does not canonicalise e: Seal does that before hashing.
func ComputeHash(e *Event) string {
	var stack [512]byte
	sum := sha256.Sum256(AppendCanonical(stack[:0], e))
	return hex.EncodeToString(sum[:])
}

// AppendCanonical appends the canonical encoding of every field of e except
// Hash to dst, as documented in the package documentation ("Hash chain"):
// every string is a 4-byte big-endian byte length followed by its bytes;
// Seq and Time (Unix nanoseconds, two's complement) are 8-byte big-endian.
func AppendCanonical(dst []byte, e *Event) []byte {
	dst = appendField(dst, hashDomain)
	dst = appendField(dst, e.ID)
	dst = binary.BigEndian.AppendUint64(dst, e.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Time.UnixNano()))
	dst = appendField(dst, e.TenantID)
	dst = appendField(dst, string(e.Kind))
	dst = appendField(dst, e.Actor.Type)
	dst = appendField(dst, e.Actor.ID)
	dst = appendField(dst, e.Actor.TokenID)
	dst = appendField(dst, e.Actor.Role)
	dst = appendField(dst, e.Actor.SourceAddr)
	dst = appendField(dst, e.Subject.Type)
	dst = appendField(dst, e.Subject.ID)
	dst = appendField(dst, e.DeviceID)
	dst = appendField(dst, e.ProfileID)
	dst = appendField(dst, e.Action)
	dst = appendField(dst, e.Details)
	dst = appendField(dst, e.PrevHash)
	return dst
}

func appendField[T ~string | ~[]byte](dst []byte, v T) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

// Seal chains e after prev, the tenant's current head event (nil when e is
// the tenant's first event). See SealAfter.
func Seal(prev *Event, e *Event) error {
	if prev == nil {
		return SealAfter(Anchor{}, e)
	}
	if prev.TenantID != e.TenantID {
		return &EventError{"tenant", ErrTenantMismatch}
	}
	return SealAfter(prev.Head(), e)
}

// SealAfter validates e, canonicalises it (Time to UTC truncated to the
// microsecond, so SQL backends store it exactly; Details to compact JSON),
// and sets Seq = head.Seq+1, PrevHash = head.Hash and Hash. head is the
// tenant's current head: the last event's Anchor, the retention anchor when
// every event after it was dropped, or the zero Anchor for an empty log.
//
// A store must call SealAfter with the head it read under the same lock or
// transaction in which it writes e, so the chain stays linear under
// concurrent writers. On error e is left unchanged.
func SealAfter(head Anchor, e *Event) error {
	if err := Canonicalize(e); err != nil {
		return err
	}
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	e.Hash = ComputeHash(e)
	return nil
}

// Canonicalize validates e and canonicalises it as SealAfter does (Time to UTC truncated to
// the microsecond, Details to compact JSON), without sealing it: a store that queues events
// to seal them later (a sequencer) stores them in the form they will be sealed in, and
// refuses an invalid event when it is appended rather than when it is sealed. On error e is
// left unchanged.
func Canonicalize(e *Event) error {
	if err := e.validate(); err != nil {
		return err
	}
	details, err := canonicalDetails(e.Details)
	if err != nil {
		return err
	}
	e.Time = canonicalTime(e.Time)
	e.Details = details
	return nil
}

func canonicalTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
