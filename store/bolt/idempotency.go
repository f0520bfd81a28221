package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// An idempotency record is stored as JSON under subKey(scope, key) in bIdempotency, and
// indexed by its expiry in bIdemExpiry (expiry (8) + record key → nil), so expired records
// are found in expiry order without a scan.

func idemKey(scope, key string) []byte { return subKey(scope, key) }

func idemExpiryKey(expires time.Time, k []byte) []byte {
	e := make([]byte, 8, 8+len(k))
	binary.BigEndian.PutUint64(e, uint64(expires.UnixNano()))
	return append(e, k...)
}

func checkIdem(scope, key string) error {
	if err := checkID("idempotency scope", scope); err != nil {
		return err
	}
	return checkID("idempotency key", key)
}

func getIdem(b *bbolt.Bucket, k []byte) (store.IdempotencyRecord, bool, error) {
	raw := b.Get(k)
	if raw == nil {
		return store.IdempotencyRecord{}, false, nil
	}
	var rec store.IdempotencyRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return rec, false, fmt.Errorf("decoding idempotency record: %w", err)
	}
	return rec, true, nil
}

func putIdem(tx *bbolt.Tx, rec store.IdempotencyRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	k := idemKey(rec.Scope, rec.Key)
	if err := bucket(tx, bIdempotency).Put(k, raw); err != nil {
		return err
	}
	return bucket(tx, bIdemExpiry).Put(idemExpiryKey(rec.ExpiresAt, k), nil)
}

func deleteIdem(tx *bbolt.Tx, rec store.IdempotencyRecord) error {
	k := idemKey(rec.Scope, rec.Key)
	if err := bucket(tx, bIdempotency).Delete(k); err != nil {
		return err
	}
	return bucket(tx, bIdemExpiry).Delete(idemExpiryKey(rec.ExpiresAt, k))
}

// pruneIdem deletes up to store.MaxIdempotencyPrune records that expired at or before now.
func pruneIdem(tx *bbolt.Tx, now time.Time) error {
	recs, expiry := bucket(tx, bIdempotency), bucket(tx, bIdemExpiry)
	c := expiry.Cursor()
	var gone [][]byte
	for k, _ := c.First(); k != nil && len(gone) < store.MaxIdempotencyPrune; k, _ = c.Next() {
		if len(k) < 8 || int64(binary.BigEndian.Uint64(k)) > now.UnixNano() {
			break
		}
		gone = append(gone, append([]byte(nil), k...))
	}
	for _, k := range gone {
		rk := k[8:]
		if rec, ok, err := getIdem(recs, rk); err == nil && ok && !rec.ExpiresAt.After(now) {
			if err := recs.Delete(rk); err != nil {
				return err
			}
		}
		if err := expiry.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// ReserveIdempotencyKey stores rec unless a live record holds its key (store.IdempotencyKeys).
func (d *DB) ReserveIdempotencyKey(ctx context.Context, rec store.IdempotencyRecord, now time.Time) (store.IdempotencyRecord, bool, error) {
	if err := checkIdem(rec.Scope, rec.Key); err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	var (
		held store.IdempotencyRecord
		mine bool
	)
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if err := pruneIdem(tx, now); err != nil {
			return err
		}
		old, ok, err := getIdem(bucket(tx, bIdempotency), idemKey(rec.Scope, rec.Key))
		if err != nil {
			return err
		}
		if ok && !store.IdempotencyTakeover(old, rec, now) {
			held, mine = old, false
			return nil
		}
		if ok {
			if err := deleteIdem(tx, old); err != nil {
				return err
			}
		}
		rec.State, rec.Committed = store.IdemReserved, false
		held, mine = rec, true
		return putIdem(tx, rec)
	})
	if err != nil {
		return store.IdempotencyRecord{}, false, fmt.Errorf("reserving idempotency key: %w", err)
	}
	return held, mine, nil
}

// CompleteIdempotencyKey stores the answer of the request that reserved (scope, key).
func (d *DB) CompleteIdempotencyKey(ctx context.Context, scope, key string, ans store.IdempotencyAnswer) error {
	if err := checkIdem(scope, key); err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		rec, ok, err := getIdem(bucket(tx, bIdempotency), idemKey(scope, key))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrNotFound
		}
		rec.State, rec.Status, rec.ContentType, rec.Body, rec.Withheld = store.IdemDone, ans.Status, ans.ContentType, ans.Body, ans.Withheld
		return putIdem(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("completing idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey deletes an uncommitted reservation of (scope, key).
func (d *DB) ReleaseIdempotencyKey(ctx context.Context, scope, key string) error {
	if err := checkIdem(scope, key); err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		rec, ok, err := getIdem(bucket(tx, bIdempotency), idemKey(scope, key))
		if err != nil || !ok || rec.State != store.IdemReserved || rec.Committed {
			return err
		}
		return deleteIdem(tx, rec)
	})
	if err != nil {
		return fmt.Errorf("releasing idempotency key: %w", err)
	}
	return nil
}

// markIdemTx marks the idempotency record of ctx (store.WithIdempotency) Committed in tx, the
// transaction of the admin write it belongs to. Nothing when ctx has none or the record is
// gone.
func markIdemTx(ctx context.Context, tx *bbolt.Tx) error {
	ref, ok := store.IdempotencyFrom(ctx)
	if !ok {
		return nil
	}
	rec, found, err := getIdem(bucket(tx, bIdempotency), idemKey(ref.Scope, ref.Key))
	if err != nil || !found || rec.Committed {
		return err
	}
	rec.Committed = true
	return putIdem(tx, rec)
}
