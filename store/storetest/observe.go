package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// testQueueStats: QueueStats counts open commands of every device and finds the oldest; a
// command that reaches a final state leaves both.
func testQueueStats(t *testing.T, open opener) {
	s := registered(t, open)
	qs, err := s.QueueStats(t.Context())
	must(t, "QueueStats", err)
	if qs.Open != 0 || !qs.OldestOpen.IsZero() {
		t.Fatalf("empty queue: %+v", qs)
	}
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	c1, c2, c3 := command("d1", "c1"), command("d2", "c2"), command("d1", "c3")
	c1.CreatedAt, c2.CreatedAt, c3.CreatedAt = base.Add(2*time.Minute), base, base.Add(time.Minute)
	must(t, "Enqueue", s.Enqueue(t.Context(), c1, c2, c3))
	qs, err = s.QueueStats(t.Context())
	must(t, "QueueStats", err)
	if qs.Open != 3 || !qs.OldestOpen.Equal(base) {
		t.Fatalf("QueueStats = %+v, want 3 open, oldest %v", qs, base)
	}
	// The oldest (on d2) succeeds: it leaves the open set, c3 becomes the oldest.
	must(t, "Checkin", s.Checkin(t.Context(), "d2", func(tx store.DeviceTx) error {
		c, err := tx.Command("c2")
		if err != nil {
			return err
		}
		c.State = store.CommandSucceeded
		return tx.PutCommand(c)
	}))
	// A command that stays open (sent, awaiting its Status) still counts.
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		c, err := tx.Command("c3")
		if err != nil {
			return err
		}
		c.State = store.CommandSent
		return tx.PutCommand(c)
	}))
	qs, err = s.QueueStats(t.Context())
	must(t, "QueueStats", err)
	if want := base.Add(time.Minute); qs.Open != 2 || !qs.OldestOpen.Equal(want) {
		t.Fatalf("after delivery QueueStats = %+v, want 2 open, oldest %v", qs, want)
	}
}

type recordingObserver struct {
	mu     sync.Mutex
	txs    int
	failed int
	events []audit.Kind
}

func (o *recordingObserver) WriteTx(d time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.txs++
	if err != nil {
		o.failed++
	}
}

func (o *recordingObserver) AuditAppended(e *audit.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, e.Kind)
}

func (o *recordingObserver) snapshot() (int, int, []audit.Kind) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.txs, o.failed, append([]audit.Kind(nil), o.events...)
}

// testObserver: a backend reports each write transaction and, only once it committed, each
// audit event appended in it.
func testObserver(t *testing.T, open opener) {
	s := registered(t, open)
	obs, ok := s.(store.Observable)
	if !ok {
		t.Fatalf("%s store is not store.Observable", s.Backend())
	}
	rec := &recordingObserver{}
	obs.SetObserver(rec)
	t.Cleanup(func() { obs.SetObserver(nil) })

	ev := event("t1", time.Now().UTC(), "d1")
	must(t, "Checkin", s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error { return tx.Audit(ev) }))
	txs, failed, kinds := rec.snapshot()
	if txs != 1 || failed != 0 || len(kinds) != 1 || kinds[0] != audit.KindDeviceAlert {
		t.Fatalf("after a committed check-in: %d txs, %d failed, events %v", txs, failed, kinds)
	}
	boom := errors.New("boom")
	err := s.Checkin(t.Context(), "d1", func(tx store.DeviceTx) error {
		if err := tx.Audit(event("t1", time.Now().UTC(), "d1")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Checkin = %v, want boom", err)
	}
	txs, failed, kinds = rec.snapshot()
	if txs != 2 || failed != 1 || len(kinds) != 1 {
		t.Fatalf("after a rolled-back check-in: %d txs, %d failed, events %v (a rolled-back event was reported)", txs, failed, kinds)
	}
	must(t, "AppendAudit", s.AppendAudit(t.Context(), event("t1", time.Now().UTC(), "d2")))
	if txs, _, kinds = rec.snapshot(); txs != 3 || len(kinds) != 2 {
		t.Fatalf("after AppendAudit: %d txs, events %v", txs, kinds)
	}
}
