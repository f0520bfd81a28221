package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Records that expire (sign-in windows, redemptions, idempotency records) are stored twice:
// under their key in a record bucket, and as expiryKey(moment, record key) → nil in an
// expiry index, so the pruner finds what fell due in time order without a scan of the
// records. One mechanism, expiryIndex.prune, deletes them for every kind.
//
// Locking (backends with concurrent writers, PostgreSQL). A write that prunes first does
// its own work, locking its record (GetForUpdate, Insert): the only lock it may wait for.
// Then it prunes without ever waiting: it takes the due index entries no other transaction
// holds (Span.SkipLocked: pruners on several servers share the work), and for each one the
// record it names only if no other transaction holds it (tryLock); an entry whose record is
// held stays for a later prune. So a transaction waits for a lock only while it holds no
// other lock of these buckets, and no two of them can wait for each other (a deadlock).
// Writers add index entries with Insert (an entry that exists already is kept: Insert ON
// CONFLICT DO NOTHING waits for no row lock) and never delete or rewrite one. So an entry can
// outlive the record it was made for (reset, released, replaced by a newer one): the pruner
// deletes it when it falls due, and the record only when owns says the record is still the
// entry's.

// expiryIndex is a record bucket, its expiry index, and how to prune them.
type expiryIndex struct {
	recs, index kv.Bucket
	// max bounds the entries one prune deletes.
	max int
	// what names the records in errors.
	what string
	// owns reports whether raw, the record an entry of moment stamp (8 bytes) names, is
	// still the one the entry was made for (a record it cannot read is not).
	owns func(stamp, raw []byte) bool
}

// errCreateRace marks an Insert that lost to a concurrent creation of the same record
// (another server): the write runs again and finds the record.
var errCreateRace = errors.New("record created concurrently")

// createAttempts bounds the runs of a write that keeps losing creation races. Each lost race
// is another writer's success, so the system progresses; but one writer can lose several in
// a row when others keep creating and deleting the same short-lived record (a release, a
// reset or a prune between its runs: ChurnWithoutDeadlock on a loaded machine once lost 3),
// so the bound is generous. It only guards against a backend that reports ErrExists falsely.
const createAttempts = 16

// lostRace turns the store.ErrExists of an Insert into errCreateRace.
func lostRace(err error, what string) error {
	if errors.Is(err, store.ErrExists) {
		return fmt.Errorf("%s: %w", what, errCreateRace)
	}
	return err
}

// writeRetrying runs fn in a write transaction (batched when shared) and runs it again, in
// a new transaction, when it lost a creation race (errCreateRace), up to createAttempts
// times.
func (s *Store) writeRetrying(ctx context.Context, shared bool, fn func(w *wtx) error) error {
	var err error
	for range createAttempts {
		if err = s.write(ctx, shared, fn); !errors.Is(err, errCreateRace) {
			break
		}
	}
	return err
}

// expiryKey is an expiry index key: the moment (UnixNano, 8 bytes big-endian, so keys sort
// in time order) followed by the key of the record.
func expiryKey(at time.Time, k []byte) []byte {
	e := make([]byte, 8, 8+len(k))
	binary.BigEndian.PutUint64(e, uint64(at.UnixNano()))
	return append(e, k...)
}

// prune deletes, in w, up to x.max index entries that fell due at or before now, oldest
// first, each with the record it names when x.owns says the record is still the entry's. A
// malformed entry is an error.
func (x expiryIndex) prune(w *wtx, now time.Time) error {
	limit := expiryKey(now, nil)
	var due [][]byte
	span := kv.Span{KeysOnly: true, SkipLocked: true}
	err := w.Scan(x.index, span, func(k, _ []byte) (bool, error) {
		if len(k) < 8 {
			return false, fmt.Errorf("malformed %s expiry key %x", x.what, k)
		}
		if bytes.Compare(k[:8], limit) > 0 {
			return false, nil
		}
		due = append(due, bytes.Clone(k))
		return len(due) < x.max, nil
	})
	if err != nil {
		return fmt.Errorf("pruning expired %s records: %w", x.what, err)
	}
	for _, k := range due {
		if err := x.drop(w, k); err != nil {
			return fmt.Errorf("pruning expired %s records: %w", x.what, err)
		}
	}
	return nil
}

// drop deletes the index entry k, and the record it names if that is still the entry's,
// unless another transaction holds the record (then both stay for a later prune).
func (x expiryIndex) drop(w *wtx, k []byte) error {
	rk := k[8:]
	if len(rk) > 0 {
		raw, mine, err := tryLock(w, x.recs, rk)
		switch {
		case err != nil:
			return err
		case mine && x.owns(k[:8], raw):
			if err := w.Delete(x.recs, rk); err != nil {
				return err
			}
		case !mine && raw != nil:
			return nil // held by another transaction: being written
		}
	}
	return w.Delete(x.index, k)
}

// tryLock locks the record at k in b unless another transaction holds it, without waiting
// (a SkipLocked scan of k alone). It returns the record and true when it holds it; the
// committed record (nil when absent) and false when another transaction holds it or it is
// absent.
func tryLock(w *wtx, b kv.Bucket, k []byte) (raw []byte, mine bool, err error) {
	err = w.Scan(b, kv.Span{Prefix: k, SkipLocked: true}, func(key, v []byte) (bool, error) {
		if bytes.Equal(key, k) {
			raw, mine = bytes.Clone(v), true
		}
		return false, nil
	})
	if err != nil || mine {
		return raw, mine, err
	}
	raw, err = w.Get(b, k)
	return raw, false, err
}

// addExpiry adds the index entry of the record at k expiring at at, keeping an entry that
// exists already.
func addExpiry(w *wtx, index kv.Bucket, at time.Time, k []byte) error {
	if err := w.Insert(index, expiryKey(at, k), nil); err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	return nil
}
