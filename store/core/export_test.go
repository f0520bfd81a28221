package core

import (
	"context"
	"encoding/binary"

	"github.com/hellomdm/hellomdm/store/kv"
)

// SetSealHook sets the function every sealing batch calls after its writes, before its
// commit, for the duration of a test.
func SetSealHook(f func(s *Store)) (restore func()) {
	old := sealHook.Swap(&f)
	return func() { sealHook.Store(old) }
}

// HoldsSequencerLease reports whether s holds the audit sequencer lease.
func (s *Store) HoldsSequencerLease() bool { return s.seq != nil && s.seq.holds() }

// AuditRecords returns, for each stored record of the tenant's chain in key order, the Seq
// its key names and how many events it holds.
func (s *Store) AuditRecords(ctx context.Context, tenant string) (ends []uint64, counts []int, err error) {
	pre := prefix(tenant, 0)
	err = s.view(ctx, func(tx kv.Tx) error {
		return tx.Scan(bAudit, kv.Span{Prefix: pre}, func(k, v []byte) (bool, error) {
			records, err := splitRecords(v, nil)
			ends, counts = append(ends, binary.BigEndian.Uint64(k[len(pre):])), append(counts, len(records))
			return err == nil, err
		})
	})
	return ends, counts, err
}
