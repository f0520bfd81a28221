package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

func testAudit(t *testing.T, open opener) {
	cases := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"AppendSealsInOrder", auditLogAppendSealsInOrder},
		{"AllOrNothing", auditLogAllOrNothing},
		{"ConcurrentAppendsStayLinear", auditLogConcurrentAppendsStayLinear},
		{"StreamAfterSeq", auditLogStreamAfterSeq},
		{"NoAnchorWithoutRetention", auditLogNoAnchorWithoutRetention},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

func auditLogAppendSealsInOrder(t *testing.T, s store.Store) {
	a1, b1, a2 := event("ta", t0, "x"), event("tb", t0, "x"), event("ta", t0.Add(time.Nanosecond), "y")
	must(t, "AppendAudit", s.AppendAudit(t.Context(), a1, b1, a2))
	got := auditEvents(t, s, "ta", 0)
	verifyChain(t, audit.Anchor{}, got)
	if len(got) != 2 || got[0].ID != a1.ID || got[1].ID != a2.ID {
		t.Fatalf("ta events = %+v", got)
	}
	callerEvent(t, s, a1, got[0])
	callerEvent(t, s, a2, got[1])
	if string(got[0].Details) != `{"note":"<a & b>"}` {
		t.Fatalf("Details stored as %s", got[0].Details)
	}
	if !got[1].Time.Equal(t0) {
		t.Fatalf("Time stored as %v, want %v (microsecond precision)", got[1].Time, t0)
	}
	gotB := auditEvents(t, s, "tb", 0)
	verifyChain(t, audit.Anchor{}, gotB)
	if len(gotB) != 1 || gotB[0].ID != b1.ID {
		t.Fatalf("tb events = %+v", gotB)
	}
	callerEvent(t, s, b1, gotB[0])
}

func auditLogAllOrNothing(t *testing.T, s store.Store) {
	bad := event("ta", t0, "x")
	bad.Kind = "no.such.kind"
	good := event("ta", t0, "x")
	if err := s.AppendAudit(t.Context(), good, bad); err == nil {
		t.Fatal("AppendAudit accepted an unknown kind")
	}
	if evs := auditEvents(t, s, "ta", 0); len(evs) != 0 {
		t.Fatalf("%d events stored by a refused append", len(evs))
	}
	if good.Seq != 0 {
		t.Fatalf("event of a refused append sealed with Seq %d", good.Seq)
	}
}

func auditLogConcurrentAppendsStayLinear(t *testing.T, s store.Store) {
	const writers, perWriter = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				tn := []string{"ta", "tb"}[(w+i)%2]
				if err := s.AppendAudit(t.Context(), event(tn, t0, name("w", w)), event(tn, t0, name("w", w))); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendAudit: %v", err)
	}
	for _, tn := range []string{"ta", "tb"} {
		evs := auditEvents(t, s, tn, 0)
		if len(evs) != writers*perWriter {
			t.Fatalf("%s: %d events, want %d", tn, len(evs), writers*perWriter)
		}
		verifyChain(t, audit.Anchor{}, evs)
	}
}

func auditLogStreamAfterSeq(t *testing.T, s store.Store) {
	const n = 600 // more than one page of a paging backend
	batch := make([]*audit.Event, 0, 100)
	for i := range n {
		batch = append(batch, event("ta", t0.Add(time.Duration(i)*time.Second), name("d", i)))
		if len(batch) == cap(batch) {
			must(t, "AppendAudit", s.AppendAudit(t.Context(), batch...))
			batch = batch[:0]
		}
	}
	must(t, "AppendAudit other tenant", s.AppendAudit(t.Context(), event("tb", t0, "z")))
	all := auditEvents(t, s, "ta", 0)
	if len(all) != n {
		t.Fatalf("%d events, want %d", len(all), n)
	}
	verifyChain(t, audit.Anchor{}, all)
	tail := auditEvents(t, s, "ta", 595)
	if len(tail) != 5 || tail[0].Seq != 596 || tail[4].Seq != 600 {
		t.Fatalf("events after 595: %d starting at %d", len(tail), tail[0].Seq)
	}
	if evs := auditEvents(t, s, "ta", n); len(evs) != 0 {
		t.Fatalf("%d events after the head", len(evs))
	}
	var seen int
	err := s.AuditEvents(t.Context(), "ta", 10, func(e *audit.Event) (bool, error) {
		seen++
		return seen < 3, nil
	})
	must(t, "AuditEvents", err)
	if seen != 3 {
		t.Fatalf("fn called %d times after returning false at 3", seen)
	}
	err = s.AuditEvents(t.Context(), "ta", 0, func(e *audit.Event) (bool, error) {
		return true, fmt.Errorf("at %d: %w", e.Seq, errBoom)
	})
	mustErr(t, "AuditEvents", err, errBoom)
}

func auditLogNoAnchorWithoutRetention(t *testing.T, s store.Store) {
	must(t, "AppendAudit", s.AppendAudit(t.Context(), event("ta", t0, "x")))
	a, err := s.AuditAnchor(t.Context(), "ta")
	must(t, "AuditAnchor", err)
	if !a.IsZero() {
		t.Fatalf("anchor %+v without retention", a)
	}
}

// testAuditRetention appends old events then new ones, drops what is older than the cut
// through audit.Log.Retain (the store's audit.Retainer), and checks the anchor, the recorded
// audit.retention event and that the rest still verifies through AuditReader.
func testAuditRetention(t *testing.T, open opener) {
	cut := t0.Add(24 * time.Hour)
	later := cut.Add(365 * 24 * time.Hour)
	cases := []struct {
		name     string
		old, new int
		mustDrop bool // whether some events must go (segments hold at most 1,000 events)
	}{
		{"Empty", 0, 0, false},
		{"FewEvents", 10, 5, false},
		{"AllOld", 2500, 0, true},
		{"OldThenNew", 2100, 400, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			appendAged(t, s, tc.old, tc.new, cut)
			log, err := audit.New(s, audit.WithClock(func() time.Time { return later }))
			must(t, "audit.New", err)
			system := audit.Actor{Type: audit.ActorSystem, ID: "retention"}
			anchor, err := log.Retain(t.Context(), s, "ta", cut, system)
			must(t, "Retain", err)
			dropped := int(anchor.Seq) // the log started at Seq 1
			if tc.mustDrop && dropped == 0 {
				t.Fatal("dropped nothing")
			}
			if dropped > tc.old {
				t.Fatalf("dropped %d events, only %d were old", dropped, tc.old)
			}
			stored, err := s.AuditAnchor(t.Context(), "ta")
			must(t, "AuditAnchor", err)
			if stored != anchor {
				t.Fatalf("AuditAnchor %+v, Retain returned %+v", stored, anchor)
			}
			rest := auditEvents(t, s, "ta", 0)
			recorded := 0
			if dropped > 0 {
				recorded = 1
				if rest[0].Seq != anchor.Seq+1 || rest[0].PrevHash != anchor.Hash {
					t.Fatalf("first kept event Seq %d PrevHash %q, anchor %+v", rest[0].Seq, rest[0].PrevHash, anchor)
				}
				last := rest[len(rest)-1]
				d, err := audit.ParseRetention(&last)
				must(t, "ParseRetention of the newest event", err)
				if d.Dropped != uint64(dropped) || d.UpTo != anchor || !d.Before.Equal(cut) || last.Actor != system {
					t.Fatalf("retention event %+v details %+v; dropped %d anchor %+v", last, d, dropped, anchor)
				}
			}
			if len(rest) != tc.old+tc.new-dropped+recorded {
				t.Fatalf("%d events left, want %d", len(rest), tc.old+tc.new-dropped+recorded)
			}
			verifyChain(t, anchor, rest)
			rep, err := audit.VerifyTenant(t.Context(), s.AuditReader(), "ta")
			must(t, "VerifyTenant", err)
			if rep.Checked != uint64(len(rest)) || rep.Start != anchor {
				t.Fatalf("VerifyTenant checked %d from %+v; want %d from %+v", rep.Checked, rep.Start, len(rest), anchor)
			}
			if got := auditPages(t, s, "ta", audit.Filter{}, 100, 300); len(got) != len(rest) || len(got) > 0 && got[len(got)-1].Seq != anchor.Seq+1 {
				t.Fatalf("pages newest first read %d events, want %d down to seq %d", len(got), len(rest), anchor.Seq+1)
			}
			anchor2, err := log.Retain(t.Context(), s, "ta", cut, system)
			must(t, "Retain again", err)
			if anchor2 != anchor || len(auditEvents(t, s, "ta", 0)) != len(rest) {
				t.Fatalf("second Retain moved the anchor to %+v (was %+v) or recorded a drop of nothing", anchor2, anchor)
			}
		})
	}
}

// appendAged appends to tenant ta's chain old events before cut, then new events after it,
// in batches of 250.
func appendAged(t *testing.T, s store.Store, old, new int, cut time.Time) {
	t.Helper()
	var batch []*audit.Event
	flush := func() {
		if len(batch) > 0 {
			must(t, "AppendAudit", s.AppendAudit(t.Context(), batch...))
			batch = batch[:0]
		}
	}
	for i := range old + new {
		tm := t0.Add(time.Duration(i) * time.Second)
		if i >= old {
			tm = cut.Add(time.Duration(i) * time.Second)
		}
		batch = append(batch, event("ta", tm, "x"))
		if len(batch) == 250 {
			flush()
		}
	}
	flush()
}

// testAuditReader checks the audit.Reader view: filters narrow, order is by Seq, other
// tenants never show, and audit.Export streams through it.
// readAuditEvents reads the tenant's events that filter matches through the store's
// AuditReader, checking each is the tenant's, matches and comes after the one before, and
// returns how many there were.
func readAuditEvents(t *testing.T, s store.Store, tenant string, filter audit.Filter) int {
	t.Helper()
	it, err := s.AuditReader().AuditEvents(t.Context(), tenant, filter)
	must(t, "AuditReader().AuditEvents", err)
	defer it.Close()
	var n int
	var prev uint64
	for {
		e, ok, err := it.Next()
		must(t, "Next", err)
		if !ok {
			return n
		}
		if e.TenantID != tenant || e.Seq <= prev || !filter.Match(&e) {
			t.Fatalf("iterator yielded %+v after seq %d", e, prev)
		}
		prev = e.Seq
		n++
	}
}

func testAuditReader(t *testing.T, open opener) {
	s := open(t)
	var evs []*audit.Event
	for i := range 300 {
		e := event("ta", t0.Add(time.Duration(i)*time.Second), name("d", i%3))
		e.DeviceID = name("d", i%3)
		if i%2 == 1 {
			e.Kind = audit.KindCommandQueued
		}
		evs = append(evs, e)
	}
	must(t, "AppendAudit", s.AppendAudit(t.Context(), evs...))
	must(t, "AppendAudit other tenant", s.AppendAudit(t.Context(), event("tb", t0, "d-000")))
	cases := []struct {
		name   string
		filter audit.Filter
		want   int
	}{
		{"All", audit.Filter{}, 300},
		{"Kind", audit.Filter{Kinds: []audit.Kind{audit.KindCommandQueued}}, 150},
		{"Device", audit.Filter{DeviceID: "d-001"}, 100},
		{"FromInclusiveToExclusive", audit.Filter{From: t0.Add(10 * time.Second), To: t0.Add(20 * time.Second)}, 10},
		{"Combined", audit.Filter{DeviceID: "d-000", Kinds: []audit.Kind{audit.KindDeviceAlert}}, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if n := readAuditEvents(t, s, "ta", tc.filter); n != tc.want {
				t.Fatalf("%d events, want %d", n, tc.want)
			}
		})
	}
	t.Run("Export", func(t *testing.T) {
		var buf strings.Builder
		exp, err := audit.NewExporter(&buf, audit.FormatNDJSON)
		must(t, "NewExporter", err)
		n, err := audit.Export(t.Context(), s.AuditReader(), "ta", audit.Filter{DeviceID: "d-002"}, exp)
		must(t, "Export", err)
		if n != 100 || strings.Count(buf.String(), "\n") != 100 {
			t.Fatalf("exported %d events in %d lines, want 100", n, strings.Count(buf.String(), "\n"))
		}
	})
	t.Run("PagesNewestFirst", func(t *testing.T) {
		for _, tc := range cases {
			for _, size := range []struct{ limit, budget int }{{7, 1000}, {50, 256}, {1000, 1}} {
				got := auditPages(t, s, "ta", tc.filter, size.limit, size.budget)
				if len(got) != tc.want {
					t.Fatalf("%s, pages of %d within %d: %d events, want %d", tc.name, size.limit, size.budget, len(got), tc.want)
				}
				for i, e := range got {
					if e.TenantID != "ta" || !tc.filter.Match(&e) || i > 0 && e.Seq >= got[i-1].Seq {
						t.Fatalf("%s: page event %d is %+v", tc.name, i, e)
					}
				}
			}
		}
		p, err := s.AuditReader().(audit.PageReader).AuditPage(t.Context(), "ta", audit.Filter{}, 0, 3, 1000)
		must(t, "AuditPage", err)
		if len(p.Events) != 3 || p.Events[0].Seq != 300 || p.Next != 298 {
			t.Fatalf("newest page: %d events from seq %d, next %d; want 3 from 300, next 298", len(p.Events), p.Events[0].Seq, p.Next)
		}
		if p, err := s.AuditReader().(audit.PageReader).AuditPage(t.Context(), "nobody", audit.Filter{}, 0, 3, 1000); err != nil || len(p.Events) != 0 || p.Next != 0 {
			t.Fatalf("a tenant without events: %+v, %v", p, err)
		}
	})
	t.Run("BadFilter", func(t *testing.T) {
		if _, err := s.AuditReader().AuditEvents(t.Context(), "ta", audit.Filter{Kinds: []audit.Kind{"no.such"}}); !errors.Is(err, audit.ErrBadFilter) {
			t.Fatalf("unknown kind: got %v, want ErrBadFilter", err)
		}
	})
}

func testTokens(t *testing.T, open opener) {
	s := open(t)
	tok := store.AdminToken{ID: "tok1", Hash: "ab12", Name: "bootstrap", Role: store.RoleAdmin, CreatedAt: t0}
	must(t, "CreateToken", s.CreateToken(t.Context(), tok))
	mustErr(t, "CreateToken same hash", s.CreateToken(t.Context(), store.AdminToken{ID: "tok2", Hash: "ab12"}), store.ErrExists)
	mustErr(t, "CreateToken same ID", s.CreateToken(t.Context(), store.AdminToken{ID: "tok1", Hash: "cd34"}), store.ErrExists)
	must(t, "CreateToken", s.CreateToken(t.Context(), store.AdminToken{ID: "tok3", Hash: "ef56", Role: store.RoleReader, TenantID: "t1"}))
	got, err := s.TokenByHash(t.Context(), "ab12")
	must(t, "TokenByHash", err)
	if got.ID != "tok1" || got.Role != store.RoleAdmin || got.Name != "bootstrap" {
		t.Fatalf("TokenByHash = %+v", got)
	}
	_, err = s.TokenByHash(t.Context(), "cd34")
	mustErr(t, "TokenByHash of a refused token", err, store.ErrNotFound)
	list, err := s.ListTokens(t.Context())
	must(t, "ListTokens", err)
	if len(list) != 2 {
		t.Fatalf("ListTokens: %d tokens, want 2", len(list))
	}

	// ExpiresAt is kept.
	exp := t0.Add(24 * time.Hour)
	must(t, "CreateToken", s.CreateToken(t.Context(), store.AdminToken{ID: "tok4", Hash: "0a0b", Role: store.RoleReader, ExpiresAt: exp}))
	if got, err := s.TokenByHash(t.Context(), "0a0b"); err != nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("TokenByHash of an expiring token = %+v, %v; want ExpiresAt %v", got, err, exp)
	}

	// DeleteToken revokes: the hash no longer authenticates; its audit events commit with it
	// in a Write, and a Write failing after it leaves the token in place.
	boom := errors.New("boom")
	err = s.Write(t.Context(), func(w store.Writer) error {
		if _, err := w.DeleteToken("tok3"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write with DeleteToken failing after it = %v, want boom", err)
	}
	if _, err := s.TokenByHash(t.Context(), "ef56"); err != nil {
		t.Fatalf("a failed DeleteToken removed the token: %v", err)
	}
	var deleted store.AdminToken
	must(t, "Write DeleteToken", s.Write(t.Context(), func(w store.Writer) error {
		var err error
		if deleted, err = w.DeleteToken("tok3"); err != nil {
			return err
		}
		return w.Audit(event("t1", t0, "tok3"))
	}))
	if deleted.ID != "tok3" || deleted.TenantID != "t1" {
		t.Fatalf("DeleteToken = %+v", deleted)
	}
	_, err = s.TokenByHash(t.Context(), "ef56")
	mustErr(t, "TokenByHash of a deleted token", err, store.ErrNotFound)
	_, err = s.DeleteToken(t.Context(), "tok3")
	mustErr(t, "DeleteToken again", err, store.ErrNotFound)
	var n int
	must(t, "AuditEvents", s.AuditEvents(t.Context(), "t1", 0, func(e *audit.Event) (bool, error) { n++; return true, nil }))
	if n != 1 {
		t.Fatalf("%d audit events after one DeleteToken, want 1", n)
	}
	// The hash of a deleted token can be used again by a new token.
	must(t, "CreateToken reusing a deleted hash", s.CreateToken(t.Context(), store.AdminToken{ID: "tok5", Hash: "ef56", Role: store.RoleReader}))
}

func testConfig(t *testing.T, open opener) {
	s := open(t)
	_, err := s.GetConfig(t.Context(), "missing")
	mustErr(t, "GetConfig", err, store.ErrNotFound)
	must(t, "PutConfig", s.PutConfig(t.Context(), "k", []byte("v1")))
	must(t, "PutConfig", s.PutConfig(t.Context(), "k", []byte("v2")))
	if v, err := s.GetConfig(t.Context(), "k"); err != nil || string(v) != "v2" {
		t.Fatalf("GetConfig = %q, %v", v, err)
	}
	must(t, "PutConfig empty", s.PutConfig(t.Context(), "empty", []byte{}))
	if v, err := s.GetConfig(t.Context(), "empty"); err != nil || len(v) != 0 {
		t.Fatalf("GetConfig empty = %q, %v", v, err)
	}
	if v, err := s.PutConfigIfAbsent(t.Context(), "k", []byte("other")); err != nil || string(v) != "v2" {
		t.Fatalf("PutConfigIfAbsent over an existing key = %q, %v; want v2", v, err)
	}
	var wg sync.WaitGroup
	values := make([]string, 8)
	errs := make([]error, 8)
	for i := range values {
		wg.Go(func() {
			v, err := s.PutConfigIfAbsent(t.Context(), "key", []byte(name("v", i)))
			values[i], errs[i] = string(v), err
		})
	}
	wg.Wait()
	must(t, "PutConfigIfAbsent", errors.Join(errs...))
	stored, err := s.GetConfig(t.Context(), "key")
	must(t, "GetConfig", err)
	for i, v := range values {
		if v != string(stored) {
			t.Fatalf("PutConfigIfAbsent %d returned %q, stored is %q", i, v, stored)
		}
	}
}

// auditPages reads the tenant's whole log matching f newest first through
// audit.PageReader, a page of limit within budget at a time.
func auditPages(t *testing.T, s store.Store, tenant string, f audit.Filter, limit, budget int) []audit.Event {
	t.Helper()
	pr, ok := s.AuditReader().(audit.PageReader)
	if !ok {
		t.Fatal("the store's audit reader is not an audit.PageReader")
	}
	var out []audit.Event
	before := uint64(0)
	for range 100000 {
		p, err := pr.AuditPage(t.Context(), tenant, f, before, limit, budget)
		must(t, "AuditPage", err)
		if len(p.Events) > limit || p.Next != 0 && before != 0 && p.Next >= before {
			t.Fatalf("AuditPage(before %d, %d) gave %d events, next %d", before, limit, len(p.Events), p.Next)
		}
		out = append(out, p.Events...)
		if p.Next == 0 {
			return out
		}
		before = p.Next
	}
	t.Fatal("AuditPage never reached the start of the log")
	return nil
}
