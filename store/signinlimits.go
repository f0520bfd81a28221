package store

import (
	"context"
	"time"
)

// SignInLimits counts failed sign-ins per key in fixed windows, so that every replica of a
// server enforces one shared limit (pinreset/idp rate-limits failed sign-ins per UPN). A
// window opens at the first failure of a key and lasts the window given with it; a failure
// at or after its end opens a new window with a count of one.
//
// Keys are non-empty and at most MaxIDLen bytes (CheckID); anything else is refused with an
// error and counts nothing. Backends delete expired windows as they record new failures, a
// bounded number per call, so storage holds about one row per key that failed within the
// last window, not one per key that ever failed.
type SignInLimits interface {
	// FailedSignIns returns the failures counted for key in its window open at now and when
	// that window ends; 0 and the zero time when no window is open.
	FailedSignIns(ctx context.Context, key string, now time.Time) (count int, windowEnd time.Time, err error)
	// RecordFailedSignIn counts one failure for key at now, opening a window of length
	// window (> 0) when none is open, and returns the count and end of that window. It is one
	// atomic read-modify-write: concurrent calls, from any number of processes sharing the
	// store, are all counted.
	RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (count int, windowEnd time.Time, err error)
	// ResetFailedSignIns forgets key's window (after a successful sign-in); no error when
	// there is none.
	ResetFailedSignIns(ctx context.Context, key string) error
}

// MaxSignInPrune is how many expired sign-in windows a backend deletes, at most, while
// recording one failure.
const MaxSignInPrune = 64
