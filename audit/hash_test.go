package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestVerifyIntactChain(t *testing.T) {
	chain := sealedChain(t, 20)
	rep, err := Verify(context.Background(), NewSliceIterator(chain))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK() || rep.Checked != 20 || rep.Head != chain[19].Head() || rep.TenantID != "tenant-a" {
		t.Fatalf("report = %+v", rep)
	}
	if chain[0].PrevHash != "" || chain[0].Seq != 1 {
		t.Fatalf("first event seq %d prev %q", chain[0].Seq, chain[0].PrevHash)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func([]Event) []Event
		wantSeq  uint64
		wantPos  uint64
		wantWhy  Reason
		wantGood uint64
	}{
		{"altered actor", func(c []Event) []Event { c[6].Actor.ID = "mallory"; return c }, 7, 7, ReasonHashMismatch, 6},
		{"altered details", func(c []Event) []Event { c[0].Details = []byte(`{"status":500}`); return c }, 1, 1, ReasonHashMismatch, 0},
		{"altered time", func(c []Event) []Event { c[19].Time = c[19].Time.Add(time.Microsecond); return c }, 20, 20, ReasonHashMismatch, 19},
		{"altered kind", func(c []Event) []Event { c[10].Kind = KindPINResetSucceeded; return c }, 11, 11, ReasonHashMismatch, 10},
		{"altered hash", func(c []Event) []Event { c[3].Hash = strings.Repeat("0", 64); return c }, 4, 4, ReasonHashMismatch, 3},
		{"altered and rehashed", func(c []Event) []Event {
			c[8].Action = "delete"
			c[8].Hash = ComputeHash(&c[8])
			return c
		}, 10, 10, ReasonPrevHashMismatch, 9},
		{"removed middle", func(c []Event) []Event { return append(c[:5:5], c[6:]...) }, 7, 6, ReasonSeqGap, 5},
		{"removed first", func(c []Event) []Event { return c[1:] }, 2, 1, ReasonSeqGap, 0},
		{"removed and renumbered", func(c []Event) []Event {
			out := append(c[:5:5], c[6:]...)
			for i := 5; i < len(out); i++ {
				out[i].Seq--
			}
			return out
		}, 6, 6, ReasonPrevHashMismatch, 5},
		{"swapped", func(c []Event) []Event { c[12], c[13] = c[13], c[12]; return c }, 14, 13, ReasonReordered, 12},
		{"duplicated", func(c []Event) []Event { return append(c[:4:4], append([]Event{c[3]}, c[4:]...)...) }, 4, 5, ReasonReordered, 4},
		{"other tenant", func(c []Event) []Event { c[2].TenantID = "tenant-b"; return c }, 3, 3, ReasonTenantMismatch, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := tt.tamper(sealedChain(t, 20))
			rep, err := Verify(context.Background(), NewSliceIterator(chain))
			var ce *ChainError
			if !errors.As(err, &ce) || !errors.Is(err, ErrChainBroken) {
				t.Fatalf("Verify error = %v, want *ChainError", err)
			}
			b := rep.Broken
			if b == nil || b.Seq != tt.wantSeq || b.Position != tt.wantPos || b.Reason != tt.wantWhy {
				t.Fatalf("broken = %+v, want seq %d pos %d %q", b, tt.wantSeq, tt.wantPos, tt.wantWhy)
			}
			if b.EventID != chain[b.Position-1].ID {
				t.Errorf("event id %q, want %q", b.EventID, chain[b.Position-1].ID)
			}
			if rep.Checked != tt.wantGood {
				t.Errorf("checked = %d, want %d", rep.Checked, tt.wantGood)
			}
		})
	}
}

type errIter struct{}

func (e *errIter) Next() (Event, bool, error) { return Event{}, false, errors.New("disk on fire") }

func TestVerifyIteratorErrorAndContext(t *testing.T) {
	if _, err := Verify(context.Background(), &errIter{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("iterator error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Verify(ctx, NewSliceIterator(sealedChain(t, 3))); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled = %v", err)
	}
}

func TestRetentionAnchor(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	st := newMemStore()
	l, err := New(st, WithClock(clock.Now), WithRand(seededRand(1)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 35; i++ {
		if err := l.Record(ctx, sampleEvent(i, "t1", time.Time{})); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
		clock.Advance(time.Minute)
	}
	cutoff := clock.Now().Add(-10 * time.Minute) // events 0..24 older; segments 1-10, 11-20 whole
	anchor, err := l.Retain(ctx, st, "t1", cutoff, Actor{Type: ActorSystem, ID: "retention"})
	if err != nil {
		t.Fatalf("Retain: %v", err)
	}
	if anchor.Seq != 20 {
		t.Fatalf("anchor seq = %d, want 20", anchor.Seq)
	}
	stored := st.events["t1"]
	last := stored[len(stored)-1]
	d, err := ParseRetention(&last)
	if err != nil || d.Dropped != 20 || d.UpTo != anchor || !d.Before.Equal(cutoff) {
		t.Fatalf("retention event %+v, details %+v, %v", last, d, err)
	}

	t.Run("verifies from anchor", func(t *testing.T) {
		rep, err := VerifyTenant(ctx, st, "t1")
		if err != nil || rep.Checked != 16 || rep.Start != anchor {
			t.Fatalf("VerifyTenant = %+v, %v", rep, err)
		}
	})
	t.Run("genesis verify fails", func(t *testing.T) {
		_, err := Verify(ctx, NewSliceIterator(stored))
		if !errors.Is(err, ErrChainBroken) {
			t.Fatalf("Verify without anchor = %v", err)
		}
	})
	t.Run("altered anchor", func(t *testing.T) {
		bad := anchor
		bad.Hash = strings.Repeat("a", 64)
		rep, err := VerifyFrom(ctx, bad, NewSliceIterator(stored))
		if !errors.Is(err, ErrChainBroken) || rep.Broken.Reason != ReasonPrevHashMismatch || rep.Broken.Seq != 21 {
			t.Fatalf("VerifyFrom(bad) = %+v, %v", rep.Broken, err)
		}
	})
	t.Run("unrecorded drop", func(t *testing.T) {
		// Someone drops events 21..30 and moves the anchor without recording it.
		rest := stored[10:]
		moved := stored[9].Head()
		rep, err := VerifyFrom(ctx, moved, NewSliceIterator(rest))
		if !errors.Is(err, ErrChainBroken) || rep.Broken.Reason != ReasonAnchorUnrecorded || rep.Broken.Seq != 30 {
			t.Fatalf("VerifyFrom(moved) = %+v, %v", rep.Broken, err)
		}
	})
	t.Run("store returns another tenant", func(t *testing.T) {
		rep, err := verify(ctx, anchor, "t2", NewSliceIterator(stored))
		if !errors.Is(err, ErrChainBroken) || rep.Broken.Reason != ReasonTenantMismatch || rep.Broken.Position != 1 {
			t.Fatalf("verify(t2) = %+v, %v", rep.Broken, err)
		}
	})
	t.Run("nothing to drop", func(t *testing.T) {
		a, err := l.Retain(ctx, st, "t1", cutoff, Actor{Type: ActorSystem})
		if err != nil || a != anchor {
			t.Fatalf("second Retain = %+v, %v", a, err)
		}
	})
}

func TestSealValidation(t *testing.T) {
	good := func() Event { return sampleEvent(1, "t", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) }
	tests := []struct {
		name   string
		mutate func(*Event)
		prev   *Event
		want   error
	}{
		{"no id", func(e *Event) { e.ID = "" }, nil, ErrMissingField},
		{"no tenant", func(e *Event) { e.TenantID = "" }, nil, ErrMissingField},
		{"no kind", func(e *Event) { e.Kind = "" }, nil, ErrMissingField},
		{"unknown kind", func(e *Event) { e.Kind = "admin.wrote" }, nil, ErrUnknownKind},
		{"no actor type", func(e *Event) { e.Actor.Type = "" }, nil, ErrMissingField},
		{"no time", func(e *Event) { e.Time = time.Time{} }, nil, ErrMissingField},
		{"time too late", func(e *Event) { e.Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC) }, nil, ErrTimeOutOfRange},
		{"details array", func(e *Event) { e.Details = []byte(`[1]`) }, nil, ErrBadDetails},
		{"details string", func(e *Event) { e.Details = []byte(`"x"`) }, nil, ErrBadDetails},
		{"details broken", func(e *Event) { e.Details = []byte(`{"a":`) }, nil, ErrBadDetails},
		{"details too large", func(e *Event) { e.Details = []byte(`{"a":"` + strings.Repeat("x", MaxDetailsSize) + `"}`) }, nil, ErrTooLarge},
		{"field too large", func(e *Event) { e.Action = strings.Repeat("x", MaxFieldSize+1) }, nil, ErrTooLarge},
		{"other tenant prev", func(e *Event) {}, &Event{TenantID: "u", Seq: 1, Hash: "ab"}, ErrTenantMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good()
			tt.mutate(&e)
			before := e
			err := Seal(tt.prev, &e)
			var ee *EventError
			if !errors.Is(err, tt.want) || !errors.As(err, &ee) {
				t.Fatalf("Seal = %v, want %v", err, tt.want)
			}
			if e.Hash != "" || e.Seq != before.Seq {
				t.Errorf("event changed on error: %+v", e)
			}
		})
	}
}

func TestSealCanonicalises(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	e := sampleEvent(0, "t", time.Date(2025, 6, 1, 12, 0, 0, 123456789, loc))
	e.Details = []byte(" { \"b\" : [1, 2],\n \"a\": \"x y\" } ")
	if err := Seal(nil, &e); err != nil {
		t.Fatal(err)
	}
	if got, want := string(e.Details), `{"b":[1,2],"a":"x y"}`; got != want {
		t.Errorf("details = %s, want %s", got, want)
	}
	if want := time.Date(2025, 6, 1, 11, 0, 0, 123456000, time.UTC); e.Time != want {
		t.Errorf("time = %v, want %v", e.Time, want)
	}
	n := sampleEvent(0, "t", e.Time)
	n.Details = []byte("null")
	if err := Seal(nil, &n); err != nil || n.Details != nil {
		t.Errorf("null details = %q, %v", n.Details, err)
	}
}

// TestHashUnambiguous checks that moving bytes across a field boundary
// changes the hash (the reason for length prefixes).
func TestHashUnambiguous(t *testing.T) {
	a := sampleEvent(0, "t", time.Unix(1, 0))
	b := a
	a.Actor.ID, a.Actor.TokenID = "ab", "c"
	b.Actor.ID, b.Actor.TokenID = "a", "bc"
	if ComputeHash(&a) == ComputeHash(&b) {
		t.Fatal("shifted field boundary gives the same hash")
	}
}

// TestCanonicalGolden pins the hash encoding so other implementations (the
// PostgreSQL backend) can check theirs against testdata/canonical_v1.golden.
func TestCanonicalGolden(t *testing.T) {
	e := Event{
		ID:       "0195ee3e-9a5c-7b2d-8f00-0123456789ab",
		Seq:      2,
		Time:     time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC),
		TenantID: "contoso",
		Kind:     KindPINResetSucceeded,
		Actor:    Actor{Type: ActorUser, ID: "alice@contoso.com", TokenID: "tok-7", Role: "user", SourceAddr: "198.51.100.4"},
		Subject:  Subject{Type: SubjectDevice, ID: "6F9619FF8B86D011B42D00C04FC964FF"},
		DeviceID: "6F9619FF8B86D011B42D00C04FC964FF",
		Action:   "reset",
		Details:  []byte(`{"protector":"v1","é":"ü"}`),
		PrevHash: "d2a84f4b8b650937ec8f73cd8be2c74add5a911ba64df27458ed8229da804a26",
	}
	got := fmt.Sprintf("encoding %s\nhash %s\n", hex.EncodeToString(AppendCanonical(nil, &e)), ComputeHash(&e))
	path := filepath.Join("testdata", "canonical_v1.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update): %v", err)
	}
	if got != string(want) {
		t.Errorf("canonical encoding changed:\n got %s\nwant %s", got, want)
	}
}
