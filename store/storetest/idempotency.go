package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

func idemRecord(scope, key, hash string, now time.Time) store.IdempotencyRecord {
	return store.IdempotencyRecord{Scope: scope, Key: key, RequestHash: hash, LeaseUntil: now.Add(time.Minute),
		CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
}

func reserve(t *testing.T, s store.Store, rec store.IdempotencyRecord, now time.Time) (store.IdempotencyRecord, bool) {
	t.Helper()
	held, mine, err := s.ReserveIdempotencyKey(t.Context(), rec, now)
	must(t, "ReserveIdempotencyKey", err)
	return held, mine
}

func testIdempotencyKeys(t *testing.T, open opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"ReserveCompleteReplay", idemReserveCompleteReplay},
		{"Expiry", idemExpiry},
		{"LapsedLeaseTakeover", idemLapsedLeaseTakeover},
		{"CommittedInTheWritesTransaction", idemCommittedInTheWritesTransaction},
		{"ConcurrentReservationsOneWinner", idemConcurrentReservationsOneWinner},
		{"BadKeys", idemBadKeys},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func idemReserveCompleteReplay(t *testing.T, s store.Store) {
	if _, mine := reserve(t, s, idemRecord("token:a", "k1", "h1", t0), t0); !mine {
		t.Fatal("first reservation refused")
	}
	held, mine := reserve(t, s, idemRecord("token:a", "k1", "h1", t0.Add(time.Second)), t0.Add(time.Second))
	if mine || held.State != store.IdemReserved || held.RequestHash != "h1" {
		t.Fatalf("second reservation: mine %v, held %+v", mine, held)
	}
	must(t, "Complete", s.CompleteIdempotencyKey(t.Context(), "token:a", "k1", store.IdempotencyAnswer{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"x"}`)}))
	held, mine = reserve(t, s, idemRecord("token:a", "k1", "h2", t0.Add(2*time.Second)), t0.Add(2*time.Second))
	if mine || held.State != store.IdemDone || held.Status != 201 || held.ContentType != "application/json" ||
		!bytes.Equal(held.Body, []byte(`{"id":"x"}`)) || held.RequestHash != "h1" {
		t.Fatalf("after completion: mine %v, held %+v", mine, held)
	}
	// Scopes are separate.
	if _, mine := reserve(t, s, idemRecord("token:b", "k1", "h1", t0), t0); !mine {
		t.Fatal("another scope's key blocked this one")
	}
}

func idemExpiry(t *testing.T, s store.Store) {
	reserve(t, s, idemRecord("token:a", "k1", "h1", t0), t0)
	must(t, "Complete", s.CompleteIdempotencyKey(t.Context(), "token:a", "k1", store.IdempotencyAnswer{Status: 201, Withheld: true}))
	if held, _ := reserve(t, s, idemRecord("token:a", "k1", "h1", t0), t0); !held.Withheld || held.Status != 201 || len(held.Body) != 0 {
		t.Fatalf("withheld answer: %+v", held)
	}
	later := t0.Add(24 * time.Hour)
	held, mine := reserve(t, s, idemRecord("token:a", "k1", "h2", later), later)
	if !mine || held.RequestHash != "h2" || held.State != store.IdemReserved {
		t.Fatalf("expired key not reusable: mine %v, held %+v", mine, held)
	}
}

func idemLapsedLeaseTakeover(t *testing.T, s store.Store) {
	reserve(t, s, idemRecord("token:a", "k1", "h1", t0), t0)
	after := t0.Add(time.Minute)
	if held, mine := reserve(t, s, idemRecord("token:a", "k1", "h2", after), after); mine || held.RequestHash != "h1" {
		t.Fatalf("a different request took over a lapsed lease: %+v", held)
	}
	if _, mine := reserve(t, s, idemRecord("token:a", "k1", "h1", after), after); !mine {
		t.Fatal("the same request could not take over a lapsed, uncommitted reservation")
	}
}

func idemCommittedInTheWritesTransaction(t *testing.T, s store.Store) {
	reserve(t, s, idemRecord("token:a", "k1", "h1", t0), t0)
	ctx := store.WithIdempotency(t.Context(), "token:a", "k1")
	must(t, "CreateTenant", s.CreateTenant(ctx, tenant("t1", "contoso.com")))
	after := t0.Add(time.Hour)
	held, mine := reserve(t, s, idemRecord("token:a", "k1", "h1", after), after)
	if mine || !held.Committed || held.State != store.IdemReserved {
		t.Fatalf("a committed reservation was taken over or not marked: mine %v, held %+v", mine, held)
	}
	must(t, "Release", s.ReleaseIdempotencyKey(t.Context(), "token:a", "k1"))
	if _, mine := reserve(t, s, idemRecord("token:a", "k1", "h1", after), after); mine {
		t.Fatal("Release deleted a committed reservation")
	}

	// A Checkin's Audit marks it too (commands are queued in a Checkin).
	_, err := s.RegisterDevice(t.Context(), device("t1", "d1", "01"))
	must(t, "RegisterDevice", err)
	reserve(t, s, idemRecord("token:a", "k2", "h1", t0), t0)
	ctx = store.WithIdempotency(t.Context(), "token:a", "k2")
	must(t, "Checkin", s.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		if err := tx.Enqueue(command("d1", "c1")); err != nil {
			return err
		}
		return tx.Audit(&audit.Event{ID: "e-idem", Time: t0, TenantID: "t1", Kind: audit.KindCommandQueued,
			Actor: audit.Actor{Type: audit.ActorAdmin, ID: "x"}, Subject: audit.Subject{Type: audit.SubjectCommand, ID: "c1"}})
	}))
	if held, _ := reserve(t, s, idemRecord("token:a", "k2", "h1", after), after); !held.Committed {
		t.Fatalf("Checkin Audit did not mark the key: %+v", held)
	}

	// A Write marks it in the transaction of its changes and events; one whose
	// function fails after a change marks nothing.
	reserve(t, s, idemRecord("token:a", "k4", "h1", t0), t0)
	ctx = store.WithIdempotency(t.Context(), "token:a", "k4")
	err = s.Write(ctx, func(w store.Writer) error {
		if _, err := w.CreateUser(user("t1", "u1", "u1@contoso.com")); err != nil {
			return err
		}
		return errBoom
	})
	mustErr(t, "failing Write", err, errBoom)
	if held, _ := reserve(t, s, idemRecord("token:a", "k4", "h1", after), after); held.Committed {
		t.Fatalf("a failed Write marked the key: %+v", held)
	}
	reserve(t, s, idemRecord("token:a", "k5", "h1", t0), t0)
	ctx = store.WithIdempotency(t.Context(), "token:a", "k5")
	must(t, "Write", s.Write(ctx, func(w store.Writer) error {
		if _, err := w.CreateUser(user("t1", "u1", "u1@contoso.com")); err != nil {
			return err
		}
		return w.Audit(&audit.Event{ID: "e-idem-write", Time: t0, TenantID: "t1", Kind: audit.KindAdminWrite,
			Actor: audit.Actor{Type: audit.ActorAdmin, ID: "x"}, Subject: audit.Subject{Type: audit.SubjectUser, ID: "u1"}})
	}))
	if held, _ := reserve(t, s, idemRecord("token:a", "k5", "h1", after), after); !held.Committed {
		t.Fatalf("Write did not mark the key: %+v", held)
	}

	// A write that fails marks nothing, and Release frees the key.
	reserve(t, s, idemRecord("token:a", "k3", "h1", t0), t0)
	ctx = store.WithIdempotency(t.Context(), "token:a", "k3")
	mustErr(t, "CreateTenant again", s.CreateTenant(ctx, tenant("t1", "contoso.com")), store.ErrExists)
	must(t, "Release", s.ReleaseIdempotencyKey(t.Context(), "token:a", "k3"))
	if _, mine := reserve(t, s, idemRecord("token:a", "k3", "h9", t0), t0); !mine {
		t.Fatal("released key still held")
	}
}

func idemConcurrentReservationsOneWinner(t *testing.T, s store.Store) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, mine, err := s.ReserveIdempotencyKey(context.Background(), idemRecord("token:a", "race", "h1", t0), t0)
			if err != nil {
				t.Error(err)
				return
			}
			if mine {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d reservations won, want 1", wins)
	}
}

func idemBadKeys(t *testing.T, s store.Store) {
	if _, _, err := s.ReserveIdempotencyKey(t.Context(), idemRecord("token:a", "", "h", t0), t0); err == nil {
		t.Fatal("empty key accepted")
	}
	if err := s.CompleteIdempotencyKey(t.Context(), "token:a", "missing", store.IdempotencyAnswer{Status: 200}); err == nil {
		t.Fatal("completing an unknown key succeeded")
	}
}
