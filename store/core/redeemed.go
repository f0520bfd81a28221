package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// A redemption is stored under its ID in bRedeemed (expiry (8) + holder) and indexed by its
// expiry in bRedeemedExpiry (expiry.go), so expired records are found in expiry order.

// redeemedExpiry prunes expired redemptions. A record starts with its expiry, so one
// redeemed again after it expired no longer matches the entry of its first use and stays.
var redeemedExpiry = expiryIndex{
	recs: bRedeemed, index: bRedeemedExpiry, max: store.MaxRedemptionPrune, what: "redemption",
	owns: func(stamp, raw []byte) bool { return len(raw) >= 8 && bytes.Equal(raw[:8], stamp) },
}

// errRedeemed carries the holder of an unexpired redemption out of the transaction.
type errRedeemed struct{ holder string }

func (e errRedeemed) Error() string { return "already redeemed by " + e.holder }

// Redeem records id as used by holder until expires, in one batched write transaction that
// also deletes up to store.MaxRedemptionPrune records that expired at or before now. The
// record is read with GetForUpdate and created with Insert, so of concurrent calls for one
// id on any number of servers exactly one succeeds.
func (s *Store) Redeem(ctx context.Context, id, holder string, expires, now time.Time) (string, error) {
	if err := checkID("redemption id", id); err != nil {
		return "", fmt.Errorf("redeeming: %w", err)
	}
	if !expires.After(now) {
		return "", fmt.Errorf("redeeming %q: expiry %s is not after now", id, expires.UTC().Format(time.RFC3339))
	}
	// The function may run more than once; every run decides afresh.
	err := s.writeRetrying(ctx, true, func(w *wtx) error {
		k := []byte(id)
		raw, err := w.GetForUpdate(bRedeemed, k)
		if err != nil {
			return err
		}
		if raw != nil {
			if len(raw) < 8 {
				return fmt.Errorf("redemption %q: malformed record", id)
			}
			if now.Before(time.Unix(0, int64(binary.BigEndian.Uint64(raw)))) {
				return errRedeemed{holder: string(raw[8:])}
			}
		}
		v := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(holder)), uint64(expires.UnixNano()))
		v = append(v, holder...)
		if raw == nil {
			err = lostRace(w.Insert(bRedeemed, k, v), "redemption")
		} else {
			err = w.Put(bRedeemed, k, v)
		}
		if err == nil {
			err = addExpiry(w, bRedeemedExpiry, expires, k)
		}
		if err != nil {
			return err
		}
		return redeemedExpiry.prune(w, now)
	})
	if r, ok := errors.AsType[errRedeemed](err); ok {
		return r.holder, fmt.Errorf("redeeming %q: already redeemed: %w", id, store.ErrConflict)
	}
	if err != nil {
		return "", fmt.Errorf("redeeming: %w", err)
	}
	return "", nil
}
