package core

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/kv"
)

// iterLog opens a store holding n events of tenant "t1" (device d-<i%3>) and a few of "t2".
func iterLog(t *testing.T, n int) *Store {
	t.Helper()
	db := openTestStore(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []*audit.Event
	for i := range n {
		evs = append(evs, &audit.Event{ID: fmt.Sprintf("e%d", i), Time: base.Add(time.Duration(i) * time.Second),
			TenantID: "t1", Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice},
			DeviceID: fmt.Sprintf("d-%d", i%3), Details: []byte(`{"i":` + fmt.Sprint(i) + `}`)})
	}
	for i := range 5 {
		evs = append(evs, &audit.Event{ID: fmt.Sprintf("x%d", i), Time: base, TenantID: "t2",
			Kind: audit.KindDeviceAlert, Actor: audit.Actor{Type: audit.ActorDevice}, DeviceID: "d-0"})
	}
	if err := db.AppendAudit(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	return db
}

// drain reads it to the end and returns the Seqs read.
func drain(t *testing.T, it audit.EventIterator) ([]uint64, error) {
	t.Helper()
	var seqs []uint64
	for {
		ev, ok, err := it.Next()
		if err != nil || !ok {
			return seqs, err
		}
		seqs = append(seqs, ev.Seq)
	}
}

// stoppedWithin reports whether the iterator's goroutine has returned (or never ran) within
// d; d = 0 asks whether it has returned already.
func stoppedWithin(it audit.EventIterator, d time.Duration) bool {
	ei := it.(*eventIterator)
	if ei.stopped == nil {
		return true
	}
	if d == 0 {
		select {
		case <-ei.stopped:
			return true
		default:
			return false
		}
	}
	select {
	case <-ei.stopped:
		return true
	case <-time.After(d):
		return false
	}
}

// The iterator yields the matching events of the tenant, in Seq order, across page
// boundaries and pages where nothing matches, and its goroutine ends with the log.
func TestEventIteratorPages(t *testing.T) {
	const n = 3*auditPage + 17
	db := iterLog(t, n)
	cases := []struct {
		name   string
		filter audit.Filter
		want   func(seq uint64) bool
	}{
		{"All", audit.Filter{}, func(uint64) bool { return true }},
		{"Device", audit.Filter{DeviceID: "d-1"}, func(s uint64) bool { return (s-1)%3 == 1 }},
		{"LastPageOnly", audit.Filter{From: time.Date(2025, 1, 1, 0, 0, n-5, 0, time.UTC)}, func(s uint64) bool { return s > n-5 }},
		{"Nothing", audit.Filter{DeviceID: "none"}, func(uint64) bool { return false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			it, err := db.AuditReader().AuditEvents(t.Context(), "t1", tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			got, err := drain(t, it)
			if err != nil {
				t.Fatal(err)
			}
			var want []uint64
			for s := uint64(1); s <= n; s++ {
				if tc.want(s) {
					want = append(want, s)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("got %d events %v, want %d", len(got), got, len(want))
			}
			if !stoppedWithin(it, 5*time.Second) {
				t.Fatal("reading goroutine still running after the last page")
			}
			if _, ok, err := it.Next(); ok || err != nil {
				t.Fatalf("Next after the end = %v, %v", ok, err)
			}
		})
	}
}

// Close stops the reading goroutine mid-log, before it starts, and twice; Next then fails.
func TestEventIteratorClose(t *testing.T) {
	db := iterLog(t, 4*auditPage)
	t.Run("MidLog", func(t *testing.T) {
		it, err := db.AuditReader().AuditEvents(t.Context(), "t1", audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, err := it.Next(); !ok || err != nil {
			t.Fatalf("Next = %v, %v", ok, err)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if !stoppedWithin(it, 0) {
			t.Fatal("Close returned before the goroutine did")
		}
		if err := it.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, ok, err := it.Next(); ok || err == nil {
			t.Fatalf("Next after Close = %v, %v; want an error", ok, err)
		}
	})
	t.Run("BeforeNext", func(t *testing.T) {
		it, err := db.AuditReader().AuditEvents(t.Context(), "t1", audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		if it.(*eventIterator).stopped != nil {
			t.Fatal("Close started a goroutine")
		}
	})
}

// A caller that abandons the iterator without Close does not leak its goroutine once ctx is
// done, and Next reports the context's error.
func TestEventIteratorContextDone(t *testing.T) {
	db := iterLog(t, 4*auditPage)
	ctx, cancel := context.WithCancel(t.Context())
	it, err := db.AuditReader().AuditEvents(ctx, "t1", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := it.Next(); !ok || err != nil {
		t.Fatalf("Next = %v, %v", ok, err)
	}
	cancel()
	if !stoppedWithin(it, 5*time.Second) {
		t.Fatal("goroutine still running after ctx was cancelled")
	}
	if _, err := drain(t, it); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v, want context.Canceled", err)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
}

// A record that does not decode ends the iteration with an error naming it, after the
// events before it.
func TestEventIteratorCorruptRecord(t *testing.T) {
	db := iterLog(t, 2*auditPage)
	const bad = auditPage + 10
	err := db.KV().Update(t.Context(), func(tx kv.Tx) error {
		return tx.Put(bAudit, seqKey("t1", bad), []byte(`{"id":`))
	})
	if err != nil {
		t.Fatal(err)
	}
	it, err := db.AuditReader().AuditEvents(t.Context(), "t1", audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	seqs, err := drain(t, it)
	if err == nil {
		t.Fatal("no error for a corrupt record")
	}
	if len(seqs) != auditPage {
		t.Fatalf("read %d events before the error, want the %d of the first page", len(seqs), auditPage)
	}
	if _, _, again := it.Next(); again == nil {
		t.Fatal("error not sticky")
	}
}

// openTestStore returns the store core over a fresh bbolt file, closed when t ends.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	b, err := bolt.OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The iterator's filtering while scanning (literal needles on the stored bytes, then
// audit.Filter.Match on the decoded event) yields exactly the events Filter.Match selects
// from the whole log, for IDs JSON escapes or that occur elsewhere in records (keys, other
// fields, Details), across pages where nothing matches.
func TestEventIteratorFilterIsMatch(t *testing.T) {
	db := openTestStore(t)
	ids := []string{"d-1", "d-10", `a"b`, `<dev>&`, "dév", "hash", "kind", "DEV\u2028X", "", "line\nbreak", `back\slash`}
	kinds := []audit.Kind{audit.KindDeviceAlert, audit.KindCommandQueued, audit.KindCommandDelivered}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 2*auditPage + 50
	var evs []*audit.Event
	for i := range n {
		e := &audit.Event{ID: fmt.Sprintf("e%d", i), Time: base.Add(time.Duration(i) * time.Second), TenantID: "t1",
			Kind: kinds[i%len(kinds)], Actor: audit.Actor{Type: audit.ActorDevice, ID: ids[(i/2)%len(ids)]},
			DeviceID: ids[i%len(ids)], ProfileID: ids[(i/3)%len(ids)], Details: []byte(`{"about":"d-1"}`)}
		if i >= auditPage+10 && i < 2*auditPage+10 { // a page of which no device filter selects anything
			e.DeviceID = "elsewhere"
		}
		evs = append(evs, e)
	}
	if err := db.AppendAudit(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	var all []audit.Event
	if err := db.AuditEvents(t.Context(), "t1", 0, func(e *audit.Event) (bool, error) {
		all = append(all, *e)
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	var filters []audit.Filter
	for _, id := range ids[:len(ids)-1] {
		filters = append(filters, audit.Filter{DeviceID: id}, audit.Filter{ActorID: id}, audit.Filter{ProfileID: id},
			audit.Filter{DeviceID: id, Kinds: kinds[1:], From: base.Add(100 * time.Second)})
	}
	filters = append(filters, audit.Filter{Kinds: kinds[:1]}, audit.Filter{Kinds: kinds[1:]}, audit.Filter{To: base.Add(time.Minute)})
	for _, f := range filters {
		var want []audit.Event
		for i := range all {
			if f.Match(&all[i]) {
				want = append(want, all[i])
			}
		}
		it, err := db.AuditReader().AuditEvents(t.Context(), "t1", f)
		if err != nil {
			t.Fatal(err)
		}
		var got []audit.Event
		for {
			e, ok, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, e)
		}
		it.Close()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("filter %+v: %d events, Filter.Match selects %d", f, len(got), len(want))
		}
	}
}
