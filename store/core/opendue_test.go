package core

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// waitsPastNow is the reference for the open set's entries: whether a command, by the
// fields a check-in decides by, cannot be due at now (a sent command under a live claim, a
// command to retry before its NextAttemptAt).
func waitsPastNow(c *store.Command, now time.Time) bool {
	switch c.State {
	case store.CommandSent:
		return now.Before(c.ClaimUntil)
	case store.CommandRetry:
		return now.Before(c.NextAttemptAt)
	}
	return false
}

// fuzzTime is a time from fuzzed seconds and nanoseconds within years 1 to 9999 (what a
// command record holds: encoding/json refuses other years), in UTC or another zone.
func fuzzTime(sec int64, ns uint32, zone bool) time.Time {
	const lo, hi = -62135596800, 253402300799 // 0001-01-01, 9999-12-31T23:59:59 UTC
	span := uint64(hi - lo + 1)
	t := time.Unix(lo+int64(uint64(sec)%span), int64(ns%1e9)).UTC()
	if zone {
		t = t.In(time.FixedZone("Z", -7*3600))
	}
	return t
}

// FuzzOpenEntry: the open set's entry of a command says it waits past now exactly when the
// command's own fields do, and its first 8 bytes stay the CreatedAt that QueueStats reads.
func FuzzOpenEntry(f *testing.F) {
	base := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC).Unix()
	f.Add(uint8(1), base+30, uint32(0), int64(0), uint32(0), base, uint32(0), false)
	f.Add(uint8(1), base, uint32(1), int64(0), uint32(0), base, uint32(1), true)
	f.Add(uint8(2), int64(0), uint32(0), base+60, uint32(999999999), base+60, uint32(999999998), false)
	f.Add(uint8(2), base, uint32(5), int64(-62135596800), uint32(0), int64(-62135596800), uint32(0), true)
	f.Add(uint8(0), base+30, uint32(0), base+30, uint32(0), base, uint32(0), false)
	f.Add(uint8(1), int64(253402300799), uint32(999999999), int64(0), uint32(0), int64(253402300799), uint32(999999998), true)
	states := []store.CommandState{store.CommandQueued, store.CommandSent, store.CommandRetry, store.CommandAccepted}
	f.Fuzz(func(t *testing.T, state uint8, claimSec int64, claimNs uint32, nextSec int64, nextNs uint32, nowSec int64, nowNs uint32, zone bool) {
		c := store.Command{State: states[int(state)%len(states)], CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}
		if claimSec != 0 {
			c.ClaimUntil = fuzzTime(claimSec, claimNs, zone)
		}
		if nextSec != 0 {
			c.NextAttemptAt = fuzzTime(nextSec, nextNs, !zone)
		}
		now := fuzzTime(nowSec, nowNs, false)
		v := openEntry(&c)
		if got, want := openWaits(v, now), waitsPastNow(&c, now); got != want {
			t.Fatalf("openWaits(%x, %v) = %v, want %v for %+v", v, now, got, want, c)
		}
		if len(v) < 8 || int64(binary.BigEndian.Uint64(v)) != c.CreatedAt.UnixNano() {
			t.Fatalf("entry %x does not start with CreatedAt", v)
		}
	})
}

// TestOpenDueEntriesWrittenBefore: open set entries of earlier releases (nil, or the
// CreatedAt alone) say nothing of a wait, so OpenDue reads those commands as Open does.
func TestOpenDueEntriesWrittenBefore(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", State: store.DeviceEnrolled, CertSerial: "AA"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var cmds []store.Command
	for _, id := range []string{"nil", "created", "current"} {
		cmds = append(cmds, store.Command{ID: id, DeviceID: "d1", Payload: store.Payload{Verb: "Get", Items: []store.Item{{Target: "./DevDetail/SwV"}}}})
	}
	if err := s.Enqueue(ctx, cmds...); err != nil {
		t.Fatal(err)
	}
	err := s.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		for _, id := range []string{"nil", "created", "current"} {
			c, err := tx.Command(id)
			if err != nil {
				return err
			}
			c.State, c.ClaimUntil = store.CommandSent, now.Add(time.Hour)
			if err := tx.PutCommand(c); err != nil {
				return err
			}
		}
		w := tx.(*deviceTx).w
		if err := w.Put(bOpen, seqKey("d1", 1), nil); err != nil {
			return err
		}
		return w.Put(bOpen, seqKey("d1", 2), binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Checkin(ctx, "d1", func(tx store.DeviceTx) error {
		open, err := tx.OpenDue(now, nil)
		if err != nil {
			return err
		}
		var ids []string
		for _, c := range open {
			ids = append(ids, c.ID)
		}
		if want := []string{"nil", "created"}; !slices.Equal(ids, want) {
			t.Errorf("OpenDue = %v, want %v (the current entry waits, the earlier ones cannot say)", ids, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := s.QueueStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if qs.Open != 3 {
		t.Errorf("QueueStats.Open = %d, want 3", qs.Open)
	}
}
