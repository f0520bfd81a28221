package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogRecord(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	st := newMemStore()
	l, err := New(st, WithClock(clock.Now), WithRand(seededRand(4)))
	if err != nil {
		t.Fatal(err)
	}
	e := sampleEvent(0, "t1", time.Time{})
	e.ID, e.Seq, e.Hash = "caller-id", 99, "junk"
	if err := l.Record(ctx, e); err != nil {
		t.Fatalf("Record: %v", err)
	}
	got := st.events["t1"][0]
	if _, ts, err := ParseUUIDv7(got.ID); err != nil || !ts.Equal(clock.Now().Truncate(time.Millisecond)) {
		t.Errorf("ID %q: %v %v", got.ID, ts, err)
	}
	if !got.Time.Equal(clock.Now().Truncate(time.Microsecond)) || got.Time.Location() != time.UTC {
		t.Errorf("Time = %v", got.Time)
	}
	if got.Seq != 1 || got.PrevHash != "" || got.Hash != ComputeHash(&got) {
		t.Errorf("sealed wrong: %+v", got)
	}

	bad := sampleEvent(1, "t1", time.Time{})
	bad.Kind = "pinreset.done"
	if err := l.Record(ctx, bad); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("bad kind = %v", err)
	}
	if _, err := New(nil); !errors.Is(err, ErrNilStore) {
		t.Errorf("New(nil) = %v", err)
	}
}

// TestLogConcurrentWriters checks chains stay linear when many goroutines
// record into two tenants at once.
func TestLogConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	l, err := New(st, WithRand(seededRand(5)))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := l.Record(ctx, sampleEvent(i, fmt.Sprintf("t%d", g%2), time.Time{})); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, tenant := range []string{"t0", "t1"} {
		rep, err := VerifyTenant(ctx, st, tenant)
		if err != nil || rep.Checked != 200 {
			t.Errorf("%s: %+v, %v", tenant, rep, err)
		}
	}
}

func TestExportFiltered(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	st := newMemStore()
	l, _ := New(st, WithClock(clock.Now), WithRand(seededRand(6)))
	for i := 0; i < 40; i++ {
		if err := l.Record(ctx, sampleEvent(i, "t1", time.Time{})); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	var buf bytes.Buffer
	x, _ := NewExporter(&buf, FormatNDJSON)
	n, err := Export(ctx, st, "t1", Filter{DeviceID: "dev-1", Kinds: Kinds()[:8]}, x)
	if err != nil {
		t.Fatal(err)
	}
	// dev-1 is i%4==1; kind index i%21 < 8.
	want := 0
	for i := 0; i < 40; i++ {
		if i%4 == 1 && i%len(Kinds()) < 8 {
			want++
		}
	}
	if n != uint64(want) || strings.Count(buf.String(), "\n") != want {
		t.Fatalf("exported %d (%d lines), want %d", n, strings.Count(buf.String(), "\n"), want)
	}
	if _, err := Export(ctx, st, "t1", Filter{Kinds: []Kind{"x"}}, x); !errors.Is(err, ErrBadFilter) {
		t.Errorf("bad filter = %v", err)
	}
}

func ExampleLog_Record() {
	ctx := context.Background()
	st := newMemStore() // a store backend in production
	fixed := func() time.Time { return time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC) }
	l, err := New(st, WithClock(fixed), WithRand(bytes.NewReader(make([]byte, 64)))) // deterministic for the example
	if err != nil {
		panic(err)
	}
	details, _ := Details(map[string]any{"after": map[string]bool{"EnablePinRecovery": true}})
	err = l.Record(ctx, Event{
		TenantID:  "contoso",
		Kind:      KindAdminWrite,
		Actor:     Actor{Type: ActorAdmin, ID: "alice@contoso.com", Role: "owner"},
		Subject:   Subject{Type: SubjectProfile, ID: "pin-recovery"},
		ProfileID: "pin-recovery",
		Action:    "update",
		Details:   details,
	})
	if err != nil {
		panic(err)
	}
	x, _ := NewExporter(os.Stdout, FormatNDJSON)
	if _, err := Export(ctx, st, "contoso", Filter{Kinds: []Kind{KindAdminWrite}}, x); err != nil {
		panic(err)
	}
	rep, err := VerifyTenant(ctx, st, "contoso")
	fmt.Println("verified:", rep.Checked, err)
	// Output:
	// {"id":"019593e1-be80-7000-8000-000000000000","seq":1,"time":"2025-03-14T09:00:00Z","tenant":"contoso","kind":"admin.write","actor_type":"admin","actor_id":"alice@contoso.com","actor_token":"","actor_role":"owner","actor_addr":"","subject_type":"profile","subject_id":"pin-recovery","device":"","profile":"pin-recovery","action":"update","details":{"after":{"EnablePinRecovery":true}},"prev_hash":"","hash":"c4127c7e39ba29e778fcb24b89efc13400e39dd983b39357947c18bcfdbd90cf"}
	// verified: 1 <nil>
}
