package idp

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// FailureCounter holds failed sign-in counts outside the process, so that every replica
// sharing it enforces one limit per UPN (store.SignInLimits has this method set). Windows
// are fixed: the first failure of a key opens one of the given length; failures at or after
// its end open a new one. Keys are the lower-cased UPN the client typed (at most 256 bytes).
type FailureCounter interface {
	// FailedSignIns returns the failures counted for key in its window open at now and when
	// that window ends; 0 when no window is open.
	FailedSignIns(ctx context.Context, key string, now time.Time) (count int, windowEnd time.Time, err error)
	// RecordFailedSignIn atomically counts one failure for key and returns the count and
	// end of its window.
	RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (count int, windowEnd time.Time, err error)
	// ResetFailedSignIns forgets key's window.
	ResetFailedSignIns(ctx context.Context, key string) error
}

// counterTimeout bounds each call to a FailureCounter. The calls run without the request's
// cancellation, so a client that hangs up as soon as its password has been checked still
// has its failure counted.
const counterTimeout = 5 * time.Second

// signInLimiter enforces Config.FailureLimit failed sign-ins per UPN per FailureWindow. It
// is keyed only on the UPN the client typed, never on X-Forwarded-For or other
// client-controlled addressing (docs/protocol.md H.2).
//
// With a shared FailureCounter the limit holds across all replicas using it. Every failure
// is also counted in process memory (local), which is the only counter without a shared
// one. When the shared counter fails, the limiter neither fails open (unlimited guesses
// while the store is down) nor closed (everyone locked out for as long as it is down): it
// decides from local, i.e. it degrades to a per-process limit, at most N times the limit
// with N replicas, until the shared counter answers again. The switch is logged once each
// way. A failed reset after a successful sign-in leaves the shared count in place until its
// window ends, the safe side.
type signInLimiter struct {
	limit    int
	window   time.Duration
	shared   FailureCounter // nil: local only
	local    *failureLimiter
	log      *slog.Logger
	degraded atomic.Bool // the last shared call failed
}

func newSignInLimiter(cfg Config, log *slog.Logger) *signInLimiter {
	return &signInLimiter{
		limit:  cfg.FailureLimit,
		window: cfg.FailureWindow,
		shared: cfg.Failures,
		local:  newFailureLimiter(cfg.FailureLimit, cfg.FailureWindow, cfg.MaxTrackedUPNs),
		log:    log,
	}
}

// attempt counts a sign-in attempt for key as failed before its credentials are checked,
// locally and in the shared counter, and returns how long key must wait when this attempt
// is over the limit (0: go ahead). A sign-in that then succeeds takes the count back with
// reset. Counting first is what makes the limit hold for concurrent attempts: checking
// first and counting after the password check let every attempt in flight through.
func (l *signInLimiter) attempt(ctx context.Context, key string, now time.Time) time.Duration {
	local := l.local.attempt(key, now)
	if l.shared != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), counterTimeout)
		n, end, err := l.shared.RecordFailedSignIn(cctx, key, now, l.window)
		cancel()
		l.sharedResult(ctx, "recording a sign-in attempt", err)
		if err == nil {
			if wait := end.Sub(now); n > l.limit && wait > 0 {
				return wait
			}
			return 0
		}
	}
	return local
}

// reset forgets key (after a successful sign-in), locally and in the shared counter.
func (l *signInLimiter) reset(ctx context.Context, key string) {
	l.local.reset(key)
	if l.shared == nil {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), counterTimeout)
	err := l.shared.ResetFailedSignIns(cctx, key)
	cancel()
	l.sharedResult(ctx, "resetting failed sign-ins", err)
}

// sharedResult logs the shared counter starting to fail and answering again.
func (l *signInLimiter) sharedResult(ctx context.Context, doing string, err error) {
	if err != nil {
		if !l.degraded.Swap(true) {
			l.log.WarnContext(ctx, "sign-in rate limit store failing: limiting failed sign-ins per process until it answers", "doing", doing, "err", err)
		}
		return
	}
	if l.degraded.Swap(false) {
		l.log.InfoContext(ctx, "sign-in rate limit store answers again: limit shared by all replicas")
	}
}

// failureLimiter counts failed sign-ins per UPN in fixed windows in process memory, in a
// table of at most maxEntries keys. Without a FailureCounter it is the whole limit (per
// process); with one it is the fallback while the counter fails.
type failureLimiter struct {
	mu         sync.Mutex
	limit      int
	window     time.Duration
	maxEntries int
	entries    map[string]failureWindow
}

type failureWindow struct {
	start time.Time
	count int
}

func newFailureLimiter(limit int, window time.Duration, maxEntries int) *failureLimiter {
	return &failureLimiter{limit: limit, window: window, maxEntries: maxEntries, entries: map[string]failureWindow{}}
}

// attempt counts one attempt for key as failed and returns how long key must wait when it
// is over the limit, or 0.
func (l *failureLimiter) attempt(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.entries[key]
	if !ok || !now.Before(w.start.Add(l.window)) {
		if len(l.entries) >= l.maxEntries {
			l.sweep(now)
		}
		w = failureWindow{start: now}
	}
	w.count++
	l.entries[key] = w
	if w.count > l.limit {
		return w.start.Add(l.window).Sub(now)
	}
	return 0
}

// reset forgets key (after a successful sign-in).
func (l *failureLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key)
}

// sweep drops expired windows; if the table is still full, it drops entries that have
// not reached the limit (they matter least) until there is room. Called with mu held.
func (l *failureLimiter) sweep(now time.Time) {
	for k, w := range l.entries {
		if !now.Before(w.start.Add(l.window)) {
			delete(l.entries, k)
		}
	}
	for k, w := range l.entries {
		if len(l.entries) < l.maxEntries {
			return
		}
		if w.count < l.limit {
			delete(l.entries, k)
		}
	}
}
