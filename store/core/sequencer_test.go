package core_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store/core"
)

func seqEvent(tenant string, i int) *audit.Event {
	return &audit.Event{ID: fmt.Sprintf("ev-%s-%04d", tenant, i), Time: time.Now(), TenantID: tenant,
		Kind: audit.KindCommandDelivered, Actor: audit.Actor{Type: audit.ActorDevice, ID: "d1"},
		Subject: audit.Subject{Type: audit.SubjectCommand, ID: fmt.Sprintf("c%d", i)}, DeviceID: "d1", Action: "deliver"}
}

// waitSealed waits until s reports no unsealed event of tenant, without reading the log
// (which would seal it in this goroutine): the sequencer must do it.
func waitSealed(t *testing.T, s *core.Store, tenant string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		u, err := s.AuditUnsealed(t.Context(), tenant)
		if err != nil {
			t.Fatal(err)
		}
		if u.Count == 0 {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%d events of %s still unsealed after %v (oldest %v)", u.Count, tenant, within, u.Oldest)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOnce reads tenant's chain, verifies it and checks that it holds exactly the events
// of ids, each once.
func checkOnce(t *testing.T, s *core.Store, tenant string, ids map[string]bool) {
	t.Helper()
	rep, err := audit.VerifyTenant(t.Context(), s.AuditReader(), tenant)
	if err != nil {
		t.Fatalf("VerifyTenant: %v", err)
	}
	if rep.Unsealed.Count != 0 {
		t.Fatalf("verify reports %d unsealed events after sealing", rep.Unsealed.Count)
	}
	seen := map[string]int{}
	err = s.AuditEvents(t.Context(), tenant, 0, func(e *audit.Event) (bool, error) {
		seen[e.ID]++
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("event %s stored %d times, want once", id, seen[id])
		}
	}
	if len(seen) != len(ids) || rep.Checked != uint64(len(ids)) {
		t.Errorf("%d distinct events stored, %d verified; want %d", len(seen), rep.Checked, len(ids))
	}
}

// On PostgreSQL appends store events unsealed (the caller's event gets no Seq) and the
// sequencer seals them without any reader asking; the unsealed tail is reported meanwhile.
// On bbolt appends seal inline.
func TestSequencerSealsAppends(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) {
		s := openBolt(t)
		ev := seqEvent("ta", 1)
		if err := s.AppendAudit(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
		if !s.SealsInline() || ev.Seq != 1 || ev.Hash == "" {
			t.Fatalf("bbolt: SealsInline %v, event Seq %d", s.SealsInline(), ev.Seq)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, key := testpg.Schema(t), testpg.Key(t)
		s := openPostgres(t, dsn, key)
		if s.SealsInline() {
			t.Fatal("the PostgreSQL store seals inline")
		}
		ids := map[string]bool{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 50 {
					ev := seqEvent("ta", w*100+i)
					if err := s.AppendAudit(t.Context(), ev); err != nil {
						t.Error(err)
						return
					}
					if ev.Seq != 0 || ev.Hash != "" || ev.ID == "" {
						t.Errorf("caller's event has Seq %d Hash %q before sealing", ev.Seq, ev.Hash)
					}
				}
			})
			for i := range 50 {
				ids[fmt.Sprintf("ev-ta-%04d", w*100+i)] = true
			}
		}
		wg.Wait()
		d := waitSealed(t, s, "ta", 10*time.Second)
		t.Logf("sealed %v after the last append", d)
		checkOnce(t, s, "ta", ids)
	})
}

// Two servers on one database: the sequencer's server dies in the middle of a batch (its
// goroutine stops inside the sealing transaction, whose connection is then closed
// uncommitted, as when the process is killed); the other takes the lease over once it has
// expired and seals every event exactly once, the dead batch's included.
func TestSequencerTakeoverAfterDeathMidBatch(t *testing.T) {
	dsn, key := testpg.Schema(t), testpg.Key(t)
	a := openPostgres(t, dsn, key)
	deadline := time.Now().Add(5 * time.Second)
	for !a.HoldsSequencerLease() {
		if time.Now().After(deadline) {
			t.Fatal("the only server never took the sequencer lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := openPostgres(t, dsn, key)
	died := make(chan struct{})
	var once sync.Once
	defer core.SetSealHook(func(s *core.Store) {
		if s == a {
			once.Do(func() { close(died) })
			runtime.Goexit() // a's sequencer stops mid-batch, its transaction uncommitted
		}
	})()

	ids := map[string]bool{}
	for i := range 300 {
		ev := seqEvent("ta", i)
		if err := b.AppendAudit(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		ids[ev.ID] = true
	}
	select {
	case <-died:
	case <-time.After(10 * time.Second):
		t.Fatal("the lease holder never started a batch")
	}
	d := waitSealed(t, b, "ta", 15*time.Second)
	t.Logf("b sealed everything %v after a died", d)
	if !b.HoldsSequencerLease() {
		t.Fatal("the events were sealed but b does not hold the lease")
	}
	checkOnce(t, b, "ta", ids)
}
