package core_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/core"
)

// testReplicas runs the rules of the dev area that concurrent writers must keep, with the
// writers spread over a and b: two servers on one database (PostgreSQL), or the same store
// twice (bbolt, one process).
func testReplicas(t *testing.T, a, b *core.Store) {
	stores := []*core.Store{a, b, a, b}
	t.Run("FailedSignInsAllCounted", func(t *testing.T) { signInsAllCounted(t, stores) })
	t.Run("RedeemOneWinner", func(t *testing.T) { redeemOneWinner(t, stores) })
	t.Run("ReserveOneWinner", func(t *testing.T) { reserveOneWinner(t, stores) })
	t.Run("RegisterOneCreation", func(t *testing.T) { registerOneCreation(t, stores) })
	t.Run("PrunersShareTheWork", func(t *testing.T) { prunersShare(t, stores) })
	t.Run("ChurnWithoutDeadlock", func(t *testing.T) { churn(t, stores) })
}

// Every failure counts, the first ones racing to create the window included.
func signInsAllCounted(t *testing.T, stores []*core.Store) {
	const each = 20
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for i := range each {
				if _, _, err := s.RecordFailedSignIn(t.Context(), "alice@contoso.com", pruneBase.Add(time.Duration(i)*time.Millisecond), time.Minute); err != nil {
					t.Errorf("RecordFailedSignIn: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i, s := range stores[:2] {
		n, end, err := s.FailedSignIns(t.Context(), "alice@contoso.com", pruneBase.Add(time.Second))
		if err != nil || n != len(stores)*each || !end.Equal(pruneBase.Add(time.Minute)) {
			t.Errorf("store %d: FailedSignIns = %d, %s, %v; want %d, %s", i, n, end, err, len(stores)*each, pruneBase.Add(time.Minute))
		}
	}
}

// Of concurrent redemptions of one ID exactly one succeeds; the others learn its holder.
func redeemOneWinner(t *testing.T, stores []*core.Store) {
	for round := range 5 {
		id := fmt.Sprintf("jti-%d", round)
		var (
			wg      sync.WaitGroup
			wins    atomic.Int32
			winner  sync.Map
			holders = make([]string, len(stores))
		)
		for i, s := range stores {
			wg.Go(func() {
				holder := fmt.Sprintf("h%d", i)
				first, err := s.Redeem(t.Context(), id, holder, pruneBase.Add(time.Hour), pruneBase)
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store("w", holder)
				case errors.Is(err, store.ErrConflict):
					holders[i] = first
				default:
					t.Errorf("Redeem: %v", err)
				}
			})
		}
		wg.Wait()
		w, _ := winner.Load("w")
		if wins.Load() != 1 {
			t.Fatalf("round %d: %d redemptions succeeded, want 1", round, wins.Load())
		}
		for i, h := range holders {
			if h != "" && h != w {
				t.Fatalf("round %d: store %d was told holder %q, the winner is %q", round, i, h, w)
			}
		}
	}
}

// Of concurrent reservations of one key exactly one is mine, and every caller sees its record.
func reserveOneWinner(t *testing.T, stores []*core.Store) {
	for round := range 5 {
		key := fmt.Sprintf("k-%d", round)
		var (
			wg    sync.WaitGroup
			mines atomic.Int32
		)
		hashes := make([]string, len(stores))
		for i, s := range stores {
			wg.Go(func() {
				rec := store.IdempotencyRecord{Scope: "token:a", Key: key, RequestHash: fmt.Sprintf("h%d", i),
					LeaseUntil: pruneBase.Add(time.Minute), CreatedAt: pruneBase, ExpiresAt: pruneBase.Add(time.Hour)}
				held, mine, err := s.ReserveIdempotencyKey(t.Context(), rec, pruneBase)
				if err != nil {
					t.Errorf("ReserveIdempotencyKey: %v", err)
					return
				}
				if mine {
					mines.Add(1)
				}
				hashes[i] = held.RequestHash
			})
		}
		wg.Wait()
		if mines.Load() != 1 {
			t.Fatalf("round %d: %d reservations were mine, want 1", round, mines.Load())
		}
		for i, h := range hashes {
			if h != hashes[0] {
				t.Fatalf("round %d: store %d holds %q, store 0 %q", round, i, h, hashes[0])
			}
		}
	}
}

// Concurrent registrations of one new device all succeed: one creates it, the others
// re-enroll it, each revoking the serial it replaced.
func registerOneCreation(t *testing.T, stores []*core.Store) {
	var (
		wg      sync.WaitGroup
		created atomic.Int32
	)
	for i, s := range stores {
		wg.Go(func() {
			prev, err := s.RegisterDevice(t.Context(), store.Device{ID: "d1", TenantID: "t1",
				CertSerial: fmt.Sprintf("0%d", i), State: store.DeviceEnrolled})
			if err != nil {
				t.Errorf("RegisterDevice: %v", err)
				return
			}
			if prev == nil {
				created.Add(1)
			}
		})
	}
	wg.Wait()
	if created.Load() != 1 {
		t.Fatalf("%d registrations created the device, want 1", created.Load())
	}
	dev, err := stores[0].Device(t.Context(), "d1")
	if err != nil {
		t.Fatal(err)
	}
	revoked := 0
	for i := range stores {
		serial := fmt.Sprintf("0%d", i)
		r, err := stores[0].CertRevoked(t.Context(), serial)
		if err != nil {
			t.Fatal(err)
		}
		if r {
			revoked++
		} else if serial != dev.CertSerial {
			t.Errorf("serial %s replaced but not revoked", serial)
		}
	}
	if revoked != len(stores)-1 {
		t.Fatalf("%d serials revoked, want %d", revoked, len(stores)-1)
	}
}

// Writers on several stores prune one expiry index together: no write fails, and every
// expired record goes.
func prunersShare(t *testing.T, stores []*core.Store) {
	k := expiringKinds[1] // redemptions
	n := 3 * k.max
	for i := range n {
		if err := k.write(stores[0], fmt.Sprintf("old-%03d", i), pruneBase, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			if err := k.write(s, fmt.Sprintf("new-%d", i), pruneBase.Add(time.Hour), time.Hour); err != nil {
				t.Errorf("Redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if err := k.write(stores[1], "last", pruneBase.Add(time.Hour), time.Hour); err != nil {
		t.Fatal(err)
	}
	want := len(stores) + 1
	if recs, index := count(t, stores[0], k.recs), count(t, stores[0], k.index); recs != want || index != want {
		t.Fatalf("%d records and %d index entries left, want %d of each", recs, index, want)
	}
}

// Writers on several stores create, reset, release and replace records of a few keys that
// keep expiring, so every write prunes entries other writers' records are named by: no write
// fails (a deadlock between a pruner and a writer would fail the Updates).
func churn(t *testing.T, stores []*core.Store) {
	const rounds = 60
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			ctx := t.Context()
			for r := range rounds {
				now := pruneBase.Add(time.Duration(r) * 10 * time.Millisecond)
				key := fmt.Sprintf("c%d", (r+i)%3)
				if _, _, err := s.RecordFailedSignIn(ctx, key, now, 15*time.Millisecond); err != nil {
					t.Errorf("RecordFailedSignIn: %v", err)
					return
				}
				if _, err := s.Redeem(ctx, key, "h", now.Add(15*time.Millisecond), now); err != nil && !errors.Is(err, store.ErrConflict) {
					t.Errorf("Redeem: %v", err)
					return
				}
				rec := store.IdempotencyRecord{Scope: "token:c", Key: key, RequestHash: "h", LeaseUntil: now,
					CreatedAt: now, ExpiresAt: now.Add(15 * time.Millisecond)}
				if _, _, err := s.ReserveIdempotencyKey(ctx, rec, now); err != nil {
					t.Errorf("ReserveIdempotencyKey: %v", err)
					return
				}
				var err error
				if r%2 == 0 {
					err = s.ReleaseIdempotencyKey(ctx, "token:c", key)
				} else {
					err = s.ResetFailedSignIns(ctx, key)
				}
				if err != nil {
					t.Errorf("release or reset: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestReplicasBolt(t *testing.T) {
	s := openBolt(t)
	testReplicas(t, s, s)
}

// TestReplicasPostgres runs testReplicas on two stores of one PostgreSQL schema, as two
// servers sharing a database.
func TestReplicasPostgres(t *testing.T) {
	dsn, key := testpg.Schema(t), testpg.Key(t)
	testReplicas(t, openPostgres(t, dsn, key), openPostgres(t, dsn, key))
}
