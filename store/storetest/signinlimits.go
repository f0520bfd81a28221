package storetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// signInWindow is the window length the tests count failures in.
const signInWindow = time.Minute

// testSignInLimits checks the failed sign-in counters: fixed windows, a fresh window after
// expiry, reset, isolation of keys (including ones that are prefixes of each other and keys
// that are not UTF-8), refusal of bad keys and windows, and atomic counting under concurrency.
func testSignInLimits(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.SignInLimits)
	}{
		{"NoWindow", signInNoWindow},
		{"CountWithinWindow", signInCountWithinWindow},
		{"NewWindowAfterExpiry", signInNewWindowAfterExpiry},
		{"WindowLengthFromFirstFailure", signInWindowLengthFromFirstFailure},
		{"Reset", signInReset},
		{"KeysIsolated", signInKeysIsolated},
		{"BadInput", signInBadInput},
		{"Concurrent", signInConcurrent},
		{"ManyExpiredKeys", signInManyExpiredKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func signInNoWindow(t *testing.T, s store.SignInLimits) {
	wantWindow(t, s, "alice@contoso.com", t0, 0, time.Time{})
}

func signInCountWithinWindow(t *testing.T, s store.SignInLimits) {
	for i := 1; i <= 3; i++ {
		wantRecord(t, s, "alice@contoso.com", t0.Add(time.Duration(i)*time.Second), signInWindow, i, t0.Add(time.Second+signInWindow))
	}
	wantWindow(t, s, "alice@contoso.com", t0.Add(30*time.Second), 3, t0.Add(time.Second+signInWindow))
	// The last instant of the window still counts in it.
	wantWindow(t, s, "alice@contoso.com", t0.Add(signInWindow), 3, t0.Add(time.Second+signInWindow))
}

func signInNewWindowAfterExpiry(t *testing.T, s store.SignInLimits) {
	wantRecord(t, s, "alice@contoso.com", t0, signInWindow, 1, t0.Add(signInWindow))
	wantRecord(t, s, "alice@contoso.com", t0.Add(time.Second), signInWindow, 2, t0.Add(signInWindow))
	wantWindow(t, s, "alice@contoso.com", t0.Add(signInWindow), 0, time.Time{})
	later := t0.Add(signInWindow + 5*time.Second)
	wantRecord(t, s, "alice@contoso.com", later, signInWindow, 1, later.Add(signInWindow))
	wantWindow(t, s, "alice@contoso.com", later, 1, later.Add(signInWindow))
}

func signInWindowLengthFromFirstFailure(t *testing.T, s store.SignInLimits) {
	wantRecord(t, s, "alice@contoso.com", t0, signInWindow, 1, t0.Add(signInWindow))
	// A later failure with another window length joins the open window unchanged.
	wantRecord(t, s, "alice@contoso.com", t0.Add(time.Second), time.Hour, 2, t0.Add(signInWindow))
}

func signInReset(t *testing.T, s store.SignInLimits) {
	for range 5 {
		wantRecord(t, s, "alice@contoso.com", t0, signInWindow, -1, t0.Add(signInWindow))
	}
	must(t, "ResetFailedSignIns", s.ResetFailedSignIns(t.Context(), "alice@contoso.com"))
	wantWindow(t, s, "alice@contoso.com", t0, 0, time.Time{})
	wantRecord(t, s, "alice@contoso.com", t0.Add(time.Second), signInWindow, 1, t0.Add(time.Second+signInWindow))
	must(t, "ResetFailedSignIns of a key without a window", s.ResetFailedSignIns(t.Context(), "nobody@contoso.com"))
}

func signInKeysIsolated(t *testing.T, s store.SignInLimits) {
	keys := []string{"alice@contoso.com", "alice@contoso.co", "bob@contoso.com", "tenant/alice@contoso.com", "a\x00b", "\xff\xfe@x", strings.Repeat("k", store.MaxIDLen)}
	for i, k := range keys {
		for range i + 1 {
			wantRecord(t, s, k, t0, signInWindow, -1, t0.Add(signInWindow))
		}
	}
	for i, k := range keys {
		wantWindow(t, s, k, t0, i+1, t0.Add(signInWindow))
	}
	must(t, "ResetFailedSignIns", s.ResetFailedSignIns(t.Context(), keys[0]))
	wantWindow(t, s, keys[0], t0, 0, time.Time{})
	wantWindow(t, s, keys[1], t0, 2, t0.Add(signInWindow))
}

func signInBadInput(t *testing.T, s store.SignInLimits) {
	ctx := t.Context()
	long := strings.Repeat("k", store.MaxIDLen+1)
	for _, k := range []string{"", long} {
		if _, _, err := s.RecordFailedSignIn(ctx, k, t0, signInWindow); err == nil {
			t.Errorf("RecordFailedSignIn(key of %d bytes) succeeded", len(k))
		}
		if _, _, err := s.FailedSignIns(ctx, k, t0); err == nil {
			t.Errorf("FailedSignIns(key of %d bytes) succeeded", len(k))
		}
		if err := s.ResetFailedSignIns(ctx, k); err == nil {
			t.Errorf("ResetFailedSignIns(key of %d bytes) succeeded", len(k))
		}
	}
	for _, w := range []time.Duration{0, -time.Second} {
		if _, _, err := s.RecordFailedSignIn(ctx, "alice@contoso.com", t0, w); err == nil {
			t.Errorf("RecordFailedSignIn(window %s) succeeded", w)
		}
	}
	wantWindow(t, s, "alice@contoso.com", t0, 0, time.Time{})
}

func signInConcurrent(t *testing.T, s store.SignInLimits) {
	const workers, each = 16, 10
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seen = map[int]bool{}
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				now := t0.Add(time.Duration(w*each+i) * time.Millisecond)
				n, _, err := s.RecordFailedSignIn(t.Context(), "alice@contoso.com", now, signInWindow)
				if err != nil {
					t.Errorf("RecordFailedSignIn: %v", err)
					return
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("count %d returned twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	n, _, err := s.FailedSignIns(t.Context(), "alice@contoso.com", t0.Add(time.Second))
	must(t, "FailedSignIns", err)
	if n != workers*each {
		t.Fatalf("count %d after %d concurrent failures", n, workers*each)
	}
}

func signInManyExpiredKeys(t *testing.T, s store.SignInLimits) {
	// More expired windows than one call prunes: every key still starts afresh.
	const n = 2*store.MaxSignInPrune + 3
	for i := range n {
		wantRecord(t, s, name("user", i), t0, signInWindow, 1, t0.Add(signInWindow))
	}
	later := t0.Add(2 * signInWindow)
	for i := range n {
		wantWindow(t, s, name("user", i), later, 0, time.Time{})
		wantRecord(t, s, name("user", i), later, signInWindow, 1, later.Add(signInWindow))
	}
}

// wantRecord records one failure and checks the count (unless want < 0) and window end.
func wantRecord(t *testing.T, s store.SignInLimits, key string, now time.Time, window time.Duration, want int, wantEnd time.Time) {
	t.Helper()
	n, end, err := s.RecordFailedSignIn(t.Context(), key, now, window)
	must(t, "RecordFailedSignIn", err)
	if (want >= 0 && n != want) || !end.Equal(wantEnd) {
		t.Fatalf("RecordFailedSignIn(%.20q, %s) = %d, %s; want %d, %s", key, now.Format(time.RFC3339Nano), n, end, want, wantEnd)
	}
}

// wantWindow checks the count and window end of key at now.
func wantWindow(t *testing.T, s store.SignInLimits, key string, now time.Time, want int, wantEnd time.Time) {
	t.Helper()
	n, end, err := s.FailedSignIns(t.Context(), key, now)
	must(t, "FailedSignIns", err)
	if n != want || !end.Equal(wantEnd) {
		t.Fatalf("FailedSignIns(%.20q, %s) = %d, %s; want %d, %s", key, now.Format(time.RFC3339Nano), n, end, want, wantEnd)
	}
}
