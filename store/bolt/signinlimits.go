package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// A sign-in window is stored twice: under its key in bSignInFailures (end, count) and as
// end+key in bSignInExpiry, so expired windows are found in end order without a scan.

// encodeSignInWindow returns the value of a window: its end (Unix nanoseconds) and count,
// 8 bytes each, big-endian.
func encodeSignInWindow(end time.Time, count int) []byte {
	v := make([]byte, 16)
	binary.BigEndian.PutUint64(v, uint64(end.UnixNano()))
	binary.BigEndian.PutUint64(v[8:], uint64(count))
	return v
}

func decodeSignInWindow(v []byte) (end time.Time, count int, err error) {
	if len(v) != 16 {
		return time.Time{}, 0, fmt.Errorf("sign-in window of %d bytes, want 16", len(v))
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), int(binary.BigEndian.Uint64(v[8:])), nil
}

// signInExpiryKey is the bSignInExpiry key of key's window ending at end.
func signInExpiryKey(end time.Time, key string) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, uint64(end.UnixNano()))
	return append(k, key...)
}

// FailedSignIns returns the failures counted for key in its window open at now.
func (d *DB) FailedSignIns(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	if err := checkID("sign-in limit key", key); err != nil {
		return 0, time.Time{}, fmt.Errorf("reading failed sign-ins: %w", err)
	}
	var (
		count int
		end   time.Time
	)
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		raw := bucket(tx, bSignInFailures).Get([]byte(key))
		if raw == nil {
			return nil
		}
		var err error
		end, count, err = decodeSignInWindow(raw)
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("reading failed sign-ins: %w", err)
	}
	if !now.Before(end) {
		return 0, time.Time{}, nil
	}
	return count, end, nil
}

// RecordFailedSignIn counts one failure for key in one batched write transaction, after
// deleting up to store.MaxSignInPrune windows that ended at or before now.
func (d *DB) RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := checkID("sign-in limit key", key); err != nil {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: %w", err)
	}
	if window <= 0 {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: window %s is not positive", window)
	}
	var (
		count int
		end   time.Time
	)
	// batch may run the function more than once; every run recomputes both results.
	err := d.batch(ctx, func(tx *bbolt.Tx) error {
		windows, expiry := bucket(tx, bSignInFailures), bucket(tx, bSignInExpiry)
		if err := pruneSignInWindows(windows, expiry, now); err != nil {
			return err
		}
		count, end = 0, now.Add(window)
		if raw := windows.Get([]byte(key)); raw != nil {
			oldEnd, oldCount, err := decodeSignInWindow(raw)
			if err != nil {
				return fmt.Errorf("sign-in window %q: %w", key, err)
			}
			if now.Before(oldEnd) {
				count, end = oldCount, oldEnd
			} else if err := expiry.Delete(signInExpiryKey(oldEnd, key)); err != nil {
				return err
			}
		}
		count++
		if err := windows.Put([]byte(key), encodeSignInWindow(end, count)); err != nil {
			return err
		}
		return expiry.Put(signInExpiryKey(end, key), nil)
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: %w", err)
	}
	return count, end.UTC(), nil
}

// ResetFailedSignIns deletes key's window.
func (d *DB) ResetFailedSignIns(ctx context.Context, key string) error {
	if err := checkID("sign-in limit key", key); err != nil {
		return fmt.Errorf("resetting failed sign-ins: %w", err)
	}
	err := d.batch(ctx, func(tx *bbolt.Tx) error { return resetSignInWindow(tx, key) })
	if err != nil {
		return fmt.Errorf("resetting failed sign-ins: %w", err)
	}
	return nil
}

// resetSignInWindow deletes key's window in tx; nothing when there is none.
func resetSignInWindow(tx *bbolt.Tx, key string) error {
	windows := bucket(tx, bSignInFailures)
	raw := windows.Get([]byte(key))
	if raw == nil {
		return nil
	}
	end, _, err := decodeSignInWindow(raw)
	if err != nil {
		return fmt.Errorf("sign-in window %q: %w", key, err)
	}
	if err := bucket(tx, bSignInExpiry).Delete(signInExpiryKey(end, key)); err != nil {
		return err
	}
	return windows.Delete([]byte(key))
}

// pruneSignInWindows deletes up to store.MaxSignInPrune windows that ended at or before now,
// oldest first. The window under a key is the entry's unless a newer window replaced it (then
// its expiry entry was moved, so this one cannot be found here): only a match is deleted.
func pruneSignInWindows(windows, expiry *bbolt.Bucket, now time.Time) error {
	return pruneExpired(windows, expiry, now, store.MaxSignInPrune, "sign-in", func(stamp, raw []byte) bool {
		return len(raw) == 16 && bytes.Equal(raw[:8], stamp)
	})
}
