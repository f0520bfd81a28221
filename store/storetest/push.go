package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// testPushStates checks store.PushStates: channel changes that never lose a connection to
// an older report, wake-ups that keep the latest, and connections that end with their
// replica's lease.
func testPushStates(t *testing.T, open opener) {
	t.Run("Channels", func(t *testing.T) { testPushChannels(t, open(t)) })
	t.Run("Leases", func(t *testing.T) { testPushLeases(t, open(t)) })
	t.Run("Wakes", func(t *testing.T) { testPushWakes(t, open(t)) })
	t.Run("Concurrent", func(t *testing.T) { testPushConcurrent(t, open(t)) })
	t.Run("WNSDevices", func(t *testing.T) { testWNSDevices(t, open(t)) })
}

// testWNSDevices: ListWNSDevices lists the tenant's enrolled devices holding a WNS channel
// URI, following every way a device's channel or state changes.
func testWNSDevices(t *testing.T, s store.Store) {
	ctx := context.Background()
	withChannel := func(d store.Device) store.Device {
		d.WNS = &store.WNSChannel{PFN: "pfn", ChannelURI: "https://db5.notify.windows.com/?token=" + d.ID, ExpiresAt: t0.AddDate(0, 1, 0)}
		return d
	}
	noChannel := device("t1", "b", "0B")
	noChannel.WNS = &store.WNSChannel{PFN: "pfn"}
	for _, d := range []store.Device{withChannel(device("t1", "a", "0A")), noChannel, device("t1", "c", "0C"),
		withChannel(device("t1", "d", "0D")), withChannel(device("t2", "e", "0E")), withChannel(device("t1", "f", "0F"))} {
		_, err := s.RegisterDevice(ctx, d)
		must(t, "RegisterDevice", err)
	}
	must(t, "UpdateDevice", s.UpdateDevice(ctx, "d", func(d *store.Device) error { d.State = store.DeviceRetired; return nil }))
	must(t, "UpdateDevice", s.UpdateDevice(ctx, "f", func(d *store.Device) error { d.WNS.ChannelURI = ""; return nil }))
	// A channel read in a check-in.
	must(t, "Checkin", s.Checkin(ctx, "c", func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		return tx.PutDevice(withChannel(d))
	}))
	wantWNS(t, s, "t1", "a", "c")
	wantWNS(t, s, "t2", "e")
	wantWNS(t, s, "t3")
}

func wantWNS(t *testing.T, s store.Store, tenantID string, want ...string) {
	t.Helper()
	list, err := s.ListWNSDevices(context.Background(), tenantID)
	must(t, "ListWNSDevices", err)
	var ids []string
	for _, d := range list {
		if d.TenantID != tenantID || d.WNS == nil || d.WNS.ChannelURI == "" {
			t.Fatalf("ListWNSDevices(%s) listed %+v", tenantID, d)
		}
		ids = append(ids, d.ID)
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) {
		t.Fatalf("ListWNSDevices(%s) = %v, want %v", tenantID, ids, want)
	}
}

func pushState(t *testing.T, s store.Store, id string) store.PushState {
	t.Helper()
	got, err := s.PushStates(context.Background(), []string{id})
	if err != nil || len(got) != 1 || got[0].DeviceID != id {
		t.Fatalf("PushStates(%s) = %+v, %v", id, got, err)
	}
	return got[0]
}

func recordPush(t *testing.T, s store.Store, chans []store.PushChannelChange, wakes []store.PushWake) {
	t.Helper()
	if err := s.RecordPush(context.Background(), chans, wakes); err != nil {
		t.Fatalf("RecordPush: %v", err)
	}
}

func connected(id, replica string, since time.Time) store.PushChannelChange {
	return store.PushChannelChange{DeviceID: id, TenantID: "t1", Replica: replica, Connected: true, Since: since}
}

func disconnected(id, replica string, since, at time.Time) store.PushChannelChange {
	return store.PushChannelChange{DeviceID: id, TenantID: "t1", Replica: replica, Since: since, At: at}
}

func testPushChannels(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, r := range []string{"ra", "rb"} {
		if err := s.RenewReplica(ctx, r, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if got := pushState(t, s, "d1"); got != (store.PushState{DeviceID: "d1"}) {
		t.Fatalf("nothing recorded: %+v", got)
	}
	t1, t2 := now.Add(-time.Minute), now.Add(-time.Second)
	recordPush(t, s, []store.PushChannelChange{connected("d1", "ra", t1)}, nil)
	if got := pushState(t, s, "d1"); !got.Connected || got.Replica != "ra" || !got.ConnectedSince.Equal(t1) || got.TenantID != "t1" {
		t.Fatalf("connected on ra: %+v", got)
	}
	// The device reconnects on rb; ra's report of the old channel's end comes after, and a
	// late report of the old connection too: neither takes the channel from rb.
	recordPush(t, s, []store.PushChannelChange{connected("d1", "rb", t2)}, nil)
	recordPush(t, s, []store.PushChannelChange{disconnected("d1", "ra", t1, now), connected("d1", "ra", t1)}, nil)
	if got := pushState(t, s, "d1"); !got.Connected || got.Replica != "rb" || !got.ConnectedSince.Equal(t2) {
		t.Fatalf("reconnected on rb, then ra's reports of the old channel: %+v", got)
	}
	recordPush(t, s, []store.PushChannelChange{disconnected("d1", "rb", t2, now)}, nil)
	got := pushState(t, s, "d1")
	if got.Connected || got.Replica != "rb" || !got.DisconnectedAt.Equal(now) || !got.ConnectedSince.Equal(t2) {
		t.Fatalf("disconnected from rb: %+v", got)
	}
	// After an end, any connection counts again, even one older than the last.
	recordPush(t, s, []store.PushChannelChange{connected("d1", "ra", t1)}, nil)
	if got := pushState(t, s, "d1"); !got.Connected || got.Replica != "ra" || !got.DisconnectedAt.IsZero() {
		t.Fatalf("connected again on ra: %+v", got)
	}
	// Many devices in one call, read back in the order asked.
	var chans []store.PushChannelChange
	var ids []string
	for i := range 300 {
		id := fmt.Sprintf("m%03d", 299-i)
		ids = append(ids, id)
		chans = append(chans, connected(id, "rb", t2))
	}
	recordPush(t, s, chans, nil)
	states, err := s.PushStates(ctx, append(ids, "nobody"))
	if err != nil || len(states) != 301 {
		t.Fatalf("PushStates of 301: %d, %v", len(states), err)
	}
	for i, st := range states[:300] {
		if st.DeviceID != ids[i] || !st.Connected || st.Replica != "rb" {
			t.Fatalf("state %d: %+v", i, st)
		}
	}
	if states[300] != (store.PushState{DeviceID: "nobody"}) {
		t.Fatalf("device without records: %+v", states[300])
	}
	if err := s.RecordPush(ctx, []store.PushChannelChange{connected("", "ra", t1)}, nil); err == nil {
		t.Fatal("RecordPush accepted an empty device ID")
	}
}

func testPushLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	since := now.Add(-time.Minute)
	recordPush(t, s, []store.PushChannelChange{connected("d1", "ra", since), connected("d2", "rb", since), connected("d3", "rc", since)}, nil)
	if got := pushState(t, s, "d1"); got.Connected || !got.DisconnectedAt.IsZero() || got.Replica != "ra" {
		t.Fatalf("replica without a lease: %+v", got)
	}
	lapsed := now.Add(-time.Second)
	for r, until := range map[string]time.Time{"ra": now.Add(time.Hour), "rb": lapsed, "rc": now.Add(time.Hour)} {
		if err := s.RenewReplica(ctx, r, until); err != nil {
			t.Fatal(err)
		}
	}
	if got := pushState(t, s, "d1"); !got.Connected {
		t.Fatalf("replica with a current lease: %+v", got)
	}
	if got := pushState(t, s, "d2"); got.Connected || !got.DisconnectedAt.Equal(lapsed) || got.Replica != "rb" {
		t.Fatalf("replica whose lease ran out: %+v, want disconnected at %v", got, lapsed)
	}
	if err := s.DropReplica(ctx, "rc"); err != nil {
		t.Fatal(err)
	}
	if got := pushState(t, s, "d3"); got.Connected || got.DisconnectedAt.IsZero() || got.DisconnectedAt.After(time.Now()) {
		t.Fatalf("replica that shut down: %+v", got)
	}
	// A renewal forgets leases that ran out more than a week before it.
	if err := s.RenewReplica(ctx, "ra", now.Add(8*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := pushState(t, s, "d2"); got.Connected || !got.DisconnectedAt.IsZero() {
		t.Fatalf("replica whose lease was forgotten: %+v", got)
	}
	if err := s.RenewReplica(ctx, "", now); err == nil {
		t.Fatal("RenewReplica accepted an empty replica")
	}
}

func testPushWakes(t *testing.T, s store.Store) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	w := func(at time.Time, result, detail string) store.PushWake {
		return store.PushWake{DeviceID: "d1", TenantID: "t1", Replica: "ra", At: at, Reason: "policy", Channel: "wns", Result: result, Detail: detail}
	}
	recordPush(t, s, nil, []store.PushWake{w(now, "delivered", "accepted")})
	recordPush(t, s, nil, []store.PushWake{w(now.Add(-time.Second), "failed", "older")})
	got := pushState(t, s, "d1")
	if want := w(now, "delivered", "accepted"); got.LastWake != want || got.Connected || got.TenantID != "t1" {
		t.Fatalf("last wake-up %+v, want %+v", got, want)
	}
	long := strings.Repeat("x", store.MaxPushDetail+50)
	recordPush(t, s, nil, []store.PushWake{w(now.Add(time.Second), "failed", long)})
	if got := pushState(t, s, "d1").LastWake; got.Result != "failed" || got.Detail != long[:store.MaxPushDetail] {
		t.Fatalf("newer wake-up: %+v", got)
	}
}

// testPushConcurrent: a device moves from one replica to the other while the first
// reports the old channel's end; whatever the order, the device is connected on the
// second.
func testPushConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, r := range []string{"ra", "rb"} {
		if err := s.RenewReplica(ctx, r, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 20 {
		id := fmt.Sprintf("c%02d", i)
		t1, t2 := now.Add(-time.Minute), now.Add(-time.Second)
		recordPush(t, s, []store.PushChannelChange{connected(id, "ra", t1)}, nil)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, c := range []store.PushChannelChange{disconnected(id, "ra", t1, now), connected(id, "rb", t2)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- s.RecordPush(ctx, []store.PushChannelChange{c}, nil)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if got := pushState(t, s, id); !got.Connected || got.Replica != "rb" {
			t.Fatalf("round %d: %+v, want connected on rb", i, got)
		}
	}
}
