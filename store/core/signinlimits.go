package core

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A sign-in window is stored under its key in bSignInFailures (end, count) and indexed by
// its end in bSignInExpiry (expiry.go), so expired windows are found in end order.

// signInExpiry prunes windows that ended. The window under a key is the entry's unless a
// newer window replaced it (or it was reset): only a window ending at the entry's moment is
// deleted.
var signInExpiry = expiryIndex{
	recs: bSignInFailures, index: bSignInExpiry, max: store.MaxSignInPrune, what: "sign-in",
	owns: func(stamp, raw []byte) bool { return len(raw) == 16 && bytes.Equal(raw[:8], stamp) },
}

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

// FailedSignIns returns the failures counted for key in its window open at now.
func (s *Store) FailedSignIns(ctx context.Context, key string, now time.Time) (int, time.Time, error) {
	if err := checkID("sign-in limit key", key); err != nil {
		return 0, time.Time{}, fmt.Errorf("reading failed sign-ins: %w", err)
	}
	var (
		count int
		end   time.Time
	)
	err := s.view(ctx, func(tx kv.Tx) error {
		raw, err := tx.Get(bSignInFailures, []byte(key))
		if err != nil || raw == nil {
			return err
		}
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

// RecordFailedSignIn counts one failure for key in one batched write transaction, and
// deletes up to store.MaxSignInPrune windows that ended at or before now. The window is
// read with GetForUpdate and created with Insert, so concurrent failures on any server are
// all counted.
func (s *Store) RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
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
	// The function may run more than once; every run recomputes both results.
	err := s.writeRetrying(ctx, true, func(w *wtx) error {
		var err error
		count, end, err = countSignIn(w, key, now, window)
		return err
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("recording failed sign-in: %w", err)
	}
	return count, end.UTC(), nil
}

// countSignIn counts one failure for key in w, then prunes ended windows (expiry.go says
// why in that order).
func countSignIn(w *wtx, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	k := []byte(key)
	raw, err := w.GetForUpdate(bSignInFailures, k)
	if err != nil {
		return 0, time.Time{}, err
	}
	count, end, opened := 0, now.Add(window), true
	if raw != nil {
		oldEnd, oldCount, err := decodeSignInWindow(raw)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("sign-in window %q: %w", key, err)
		}
		if now.Before(oldEnd) {
			count, end, opened = oldCount, oldEnd, false
		}
	}
	count++
	v := encodeSignInWindow(end, count)
	if raw == nil {
		err = lostRace(w.Insert(bSignInFailures, k, v), "sign-in window")
	} else {
		err = w.Put(bSignInFailures, k, v)
	}
	if err == nil && opened {
		err = addExpiry(w, bSignInExpiry, end, k)
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	return count, end, signInExpiry.prune(w, now)
}

// ResetFailedSignIns deletes key's window.
func (s *Store) ResetFailedSignIns(ctx context.Context, key string) error {
	if err := checkID("sign-in limit key", key); err != nil {
		return fmt.Errorf("resetting failed sign-ins: %w", err)
	}
	err := s.batch(ctx, func(w *wtx) error { return resetSignIns(w, key) })
	if err != nil {
		return fmt.Errorf("resetting failed sign-ins: %w", err)
	}
	return nil
}

// resetSignIns deletes key's window in w; nothing when there is none, or when key cannot be
// a sign-in limit key (empty, too long), so no window can exist under it. Its expiry entry
// stays until the pruner reaches it (expiry.go).
func resetSignIns(w *wtx, key string) error {
	if checkID("sign-in limit key", key) != nil {
		return nil
	}
	return w.Delete(bSignInFailures, []byte(key))
}
