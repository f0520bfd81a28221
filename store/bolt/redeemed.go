package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// A redemption is stored twice, like a sign-in window: under its ID in bRedeemed (expiry,
// holder) and as expiry+ID in bRedeemedExpiry, so expired records are found in expiry order.

// Redeem records id as used by holder until expires, in one batched write transaction,
// after deleting up to store.MaxRedemptionPrune records that expired at or before now.
func (d *DB) Redeem(ctx context.Context, id, holder string, expires, now time.Time) (string, error) {
	if err := checkID("redemption id", id); err != nil {
		return "", fmt.Errorf("redeeming: %w", err)
	}
	if !expires.After(now) {
		return "", fmt.Errorf("redeeming %q: expiry %s is not after now", id, expires.UTC().Format(time.RFC3339))
	}
	var first string
	// batch may run the function more than once; every run recomputes the result.
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		first = ""
		recs, expiry := bucket(tx, bRedeemed), bucket(tx, bRedeemedExpiry)
		if err := pruneRedemptions(recs, expiry, now); err != nil {
			return err
		}
		if raw := recs.Get([]byte(id)); raw != nil {
			if len(raw) < 8 {
				return fmt.Errorf("redemption %q: malformed record", id)
			}
			end := time.Unix(0, int64(binary.BigEndian.Uint64(raw)))
			if now.Before(end) {
				first = string(raw[8:])
				return fmt.Errorf("redeeming %q: already redeemed: %w", id, store.ErrConflict)
			}
			if err := expiry.Delete(signInExpiryKey(end, id)); err != nil {
				return err
			}
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(holder)), uint64(expires.UnixNano()))
		if err := recs.Put([]byte(id), append(v, holder...)); err != nil {
			return err
		}
		return expiry.Put(signInExpiryKey(expires, id), nil)
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return first, err
		}
		return "", fmt.Errorf("redeeming: %w", err)
	}
	return "", nil
}

// pruneRedemptions deletes up to store.MaxRedemptionPrune records that expired at or before
// now, oldest first. A record starts with its expiry, so one whose expiry entry was moved
// (redeemed again after it expired) no longer matches the entry and stays.
func pruneRedemptions(recs, expiry *bbolt.Bucket, now time.Time) error {
	return pruneExpired(recs, expiry, now, store.MaxRedemptionPrune, "redemption", func(stamp, raw []byte) bool {
		return len(raw) >= 8 && bytes.Equal(raw[:8], stamp)
	})
}
