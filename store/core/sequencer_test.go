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

// The sequencer stores what one sealing transaction sealed as one chain record per
// retention segment (format version 8): 1,500 events appended in one transaction become the
// records ending at Seq 1,000 and 1,500. Readers find every event from any Seq, newest
// first too, and retention drops the first segment whole. bbolt keeps one event per record.
func TestSealedBatchRecords(t *testing.T) {
	const n = core.SegmentSize + core.SegmentSize/2
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, backend := range []string{"bbolt", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var s *core.Store
			if backend == "bbolt" {
				s = openBolt(t)
			} else {
				s = openPostgres(t, testpg.Schema(t), testpg.Key(t))
			}
			ctx := t.Context()
			evs := make([]*audit.Event, n)
			for i := range evs {
				evs[i] = seqEvent("ta", i)
				evs[i].Time = base.Add(time.Duration(i) * time.Second)
			}
			if err := s.AppendAudit(ctx, evs...); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SealAudit(ctx); err != nil {
				t.Fatal(err)
			}
			ends, counts, err := s.AuditRecords(ctx, "ta")
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case backend == "bbolt" && (len(ends) != n || ends[n-1] != n || counts[0] != 1):
				t.Fatalf("bbolt: %d records, the last ending at %d, the first of %d events", len(ends), ends[len(ends)-1], counts[0])
			case backend == "postgres" && (fmt.Sprint(ends) != fmt.Sprint([]uint64{1000, n}) || fmt.Sprint(counts) != "[1000 500]"):
				t.Fatalf("postgres: records ending at %v holding %v events", ends, counts)
			}
			var seqs []uint64
			err = s.AuditEvents(ctx, "ta", 700, func(e *audit.Event) (bool, error) {
				if want := uint64(701 + len(seqs)); e.Seq != want || e.ID != fmt.Sprintf("ev-ta-%04d", want-1) {
					return false, fmt.Errorf("event %s at Seq %d, want Seq %d", e.ID, e.Seq, want)
				}
				seqs = append(seqs, e.Seq)
				return true, nil
			})
			if err != nil || len(seqs) != n-700 {
				t.Fatalf("read %d events after Seq 700, want %d: %v", len(seqs), n-700, err)
			}
			page, err := s.AuditReader().(audit.PageReader).AuditPage(ctx, "ta", audit.Filter{}, 1003, 4, 100)
			if err != nil || len(page.Events) != 4 || page.Events[0].Seq != 1002 || page.Events[3].Seq != 999 || page.Next != 999 {
				t.Fatalf("page before 1003: %d events from %v, next %d: %v", len(page.Events), page.Events, page.Next, err)
			}
			anchor, err := s.DropAuditSegments(ctx, "ta", base.Add(time.Duration(n)*time.Second), func(dropped uint64, upTo audit.Anchor) (*audit.Event, error) {
				if dropped != core.SegmentSize || upTo.Seq != core.SegmentSize {
					return nil, fmt.Errorf("record(%d, %+v)", dropped, upTo)
				}
				e, err := audit.RetentionEvent("ta", dropped, upTo, base, audit.Actor{Type: audit.ActorSystem})
				e.ID, e.Time = "retention", base.Add(2*n*time.Second)
				return &e, err
			})
			if err != nil || anchor.Seq != core.SegmentSize || anchor.Hash != hashOf(t, s, core.SegmentSize+1) {
				t.Fatalf("retention anchor %+v: %v", anchor, err)
			}
			rep, err := audit.VerifyTenant(ctx, s.AuditReader(), "ta")
			if err != nil || rep.Checked != n-core.SegmentSize+1 || rep.Start != anchor {
				t.Fatalf("VerifyTenant after retention: %+v, %v", rep, err)
			}
		})
	}
}

// hashOf returns the PrevHash of the tenant ta's event at seq, which is the Hash of the one
// before.
func hashOf(t *testing.T, s *core.Store, seq uint64) string {
	t.Helper()
	var h string
	err := s.AuditEvents(t.Context(), "ta", seq-1, func(e *audit.Event) (bool, error) {
		h = e.PrevHash
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
