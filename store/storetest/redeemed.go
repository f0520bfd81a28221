package storetest

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// redeemExp is when the redemptions of the tests expire.
var redeemExp = t0.Add(5 * time.Minute)

// testRedemptions checks single-use records: the first redemption wins and later ones get
// ErrConflict with the first holder, IDs are isolated, an expired record can be redeemed
// again, bad input records nothing, and of concurrent redemptions exactly one succeeds.
func testRedemptions(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Redemptions)
	}{
		{"FirstWins", redeemFirstWins},
		{"IDsIsolated", redeemIDsIsolated},
		{"ExpiredCanBeRedeemed", redeemExpiredCanBeRedeemed},
		{"BadInput", redeemBadInput},
		{"Concurrent", redeemConcurrent},
		{"ManyExpired", redeemManyExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func redeemFirstWins(t *testing.T, s store.Redemptions) {
	wantRedeemed(t, s, "enroll:jti-1", "device-a", redeemExp, t0)
	for _, holder := range []string{"device-b", "device-a"} {
		first, err := s.Redeem(t.Context(), "enroll:jti-1", holder, redeemExp, t0.Add(time.Minute))
		if !errors.Is(err, store.ErrConflict) || first != "device-a" {
			t.Fatalf("second Redeem by %s = %q, %v; want device-a, ErrConflict", holder, first, err)
		}
	}
	// The last instant before expiry still counts.
	if _, err := s.Redeem(t.Context(), "enroll:jti-1", "device-c", redeemExp, redeemExp.Add(-time.Nanosecond)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Redeem just before expiry: %v, want ErrConflict", err)
	}
}

func redeemIDsIsolated(t *testing.T, s store.Redemptions) {
	ids := []string{"enroll:jti-1", "enroll:jti-10", "pinreset:jti-1", "a\x00b", "\xff\xfe", strings.Repeat("k", store.MaxIDLen)}
	for i, id := range ids {
		wantRedeemed(t, s, id, name("holder", i), redeemExp, t0)
	}
	for i, id := range ids {
		if first, err := s.Redeem(t.Context(), id, "other", redeemExp, t0); !errors.Is(err, store.ErrConflict) || first != name("holder", i) {
			t.Fatalf("Redeem(%.20q) again = %q, %v", id, first, err)
		}
	}
}

func redeemExpiredCanBeRedeemed(t *testing.T, s store.Redemptions) {
	wantRedeemed(t, s, "enroll:jti-1", "device-a", redeemExp, t0)
	wantRedeemed(t, s, "enroll:jti-1", "device-b", redeemExp.Add(time.Hour), redeemExp)
	if first, err := s.Redeem(t.Context(), "enroll:jti-1", "device-c", redeemExp.Add(time.Hour), redeemExp.Add(time.Minute)); !errors.Is(err, store.ErrConflict) || first != "device-b" {
		t.Fatalf("Redeem after re-redemption = %q, %v; want device-b, ErrConflict", first, err)
	}
}

func redeemBadInput(t *testing.T, s store.Redemptions) {
	ctx := t.Context()
	for _, id := range []string{"", strings.Repeat("k", store.MaxIDLen+1)} {
		if _, err := s.Redeem(ctx, id, "h", redeemExp, t0); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("Redeem(id of %d bytes) = %v, want a plain error", len(id), err)
		}
	}
	for _, e := range []time.Time{t0, t0.Add(-time.Second)} {
		if _, err := s.Redeem(ctx, "enroll:jti-1", "h", e, t0); err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("Redeem(expiry %s) = %v, want a plain error", e, err)
		}
	}
	wantRedeemed(t, s, "enroll:jti-1", "h", redeemExp, t0)
}

func redeemConcurrent(t *testing.T, s store.Redemptions) {
	const workers = 16
	var (
		wg        sync.WaitGroup
		won, lost atomic.Int32
	)
	for w := range workers {
		wg.Go(func() {
			_, err := s.Redeem(t.Context(), "pinreset:jti-race", name("device", w), redeemExp, t0)
			switch {
			case err == nil:
				won.Add(1)
			case errors.Is(err, store.ErrConflict):
				lost.Add(1)
			default:
				t.Errorf("Redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 || lost.Load() != workers-1 {
		t.Fatalf("%d of %d concurrent redemptions won, %d lost; want exactly one winner", won.Load(), workers, lost.Load())
	}
}

func redeemManyExpired(t *testing.T, s store.Redemptions) {
	// More expired records than one call prunes: every ID can be redeemed again.
	const n = 2*store.MaxRedemptionPrune + 3
	for i := range n {
		wantRedeemed(t, s, name("jti", i), "a", redeemExp, t0)
	}
	later := redeemExp.Add(time.Minute)
	for i := range n {
		wantRedeemed(t, s, name("jti", i), "b", later.Add(time.Hour), later)
	}
}

func wantRedeemed(t *testing.T, s store.Redemptions, id, holder string, expires, now time.Time) {
	t.Helper()
	if first, err := s.Redeem(t.Context(), id, holder, expires, now); err != nil || first != "" {
		t.Fatalf("Redeem(%.20q, %s) = %q, %v; want the first redemption", id, holder, first, err)
	}
}
