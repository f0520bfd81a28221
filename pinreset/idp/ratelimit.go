package idp

import (
	"sync"
	"time"
)

// failureLimiter counts failed sign-ins per UPN in fixed windows. It is keyed only on the
// UPN the client typed (never on X-Forwarded-For or other client-controlled addressing:
// field-notes.md "Rate limits keyed on X-Forwarded-For"). State is per process and
// rebuildable: with N replicas the effective limit is at most N times the configured one.
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

// blocked returns how long key must wait, or 0 when it may try.
func (l *failureLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.entries[key]
	if !ok {
		return 0
	}
	end := w.start.Add(l.window)
	if !now.Before(end) {
		delete(l.entries, key)
		return 0
	}
	if w.count >= l.limit {
		return end.Sub(now)
	}
	return 0
}

// fail records one failure for key.
func (l *failureLimiter) fail(key string, now time.Time) {
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
