package core

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Audit records that hold several events (format version 8, store/doc.go "Audit
// sequencer"). A value of bAudit or bAuditPending is either one event's record, the JSON
// encodeEvent writes (it starts with '{'), or a batch: batchTag, then for each event the
// length of its record (uvarint) and the record, the same bytes it would have alone.
//
//   - In bAuditPending a batch is the events one write transaction appended for one tenant,
//     in argument order: one row per transaction and tenant instead of one per event.
//   - In bAudit a batch is consecutive events of the tenant's chain under the key of its
//     last Seq; the sequencer writes the events one sealing transaction sealed as one batch
//     per segment they fall in (SegmentSize), so that retention drops whole records. A
//     reader looking for Seq n seeks to the first key at or after n: the record holding n.
//
// Readers of both buckets read either form, so nothing stored by earlier versions is
// rewritten; bbolt, which seals inline, keeps writing one event per record.

// batchTag is the first byte of a batch record; an event's JSON record starts with '{'.
const batchTag = 0x01

// errBatch reports a batch record whose framing is broken.
var errBatch = errors.New("malformed audit batch record")

// encodeBatch returns the stored value of records: the record itself when there is one,
// a batch otherwise.
func encodeBatch(records [][]byte) []byte {
	if len(records) == 1 {
		return records[0]
	}
	size := 1
	for _, r := range records {
		size += binary.MaxVarintLen32 + len(r)
	}
	v := make([]byte, 1, size)
	v[0] = batchTag
	for _, r := range records {
		v = binary.AppendUvarint(v, uint64(len(r)))
		v = append(v, r...)
	}
	return v
}

// splitRecords appends to dst the event records of the stored value v (sub-slices of v, in
// order) and returns it.
func splitRecords(v []byte, dst [][]byte) ([][]byte, error) {
	if len(v) == 0 || v[0] != batchTag {
		return append(dst, v), nil
	}
	start := len(dst)
	for rest := v[1:]; len(rest) > 0; {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n == 0 || n > uint64(len(rest)-w) {
			return dst[:start], fmt.Errorf("%w: a record of %d bytes at offset %d", errBatch, n, len(v)-len(rest))
		}
		dst = append(dst, rest[w:w+int(n):w+int(n)])
		rest = rest[w+int(n):]
	}
	if len(dst) == start {
		return dst, fmt.Errorf("%w: no event", errBatch)
	}
	return dst, nil
}

// segmentOf returns the retention segment of seq (seqs (k*SegmentSize, (k+1)*SegmentSize]
// form segment k).
func segmentOf(seq uint64) uint64 { return (seq - 1) / SegmentSize }
