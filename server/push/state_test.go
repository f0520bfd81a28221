package push

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
	"github.com/hellomdm/hellomdm/store/core"
)

func openStates(t *testing.T) *core.Store {
	t.Helper()
	b, err := bolt.OpenKV(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := core.New(context.Background(), b, core.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func statusOn(t *testing.T, h *Hub, id string) Status {
	t.Helper()
	sts, err := h.Statuses(context.Background(), []string{id})
	if err != nil || len(sts) != 1 {
		t.Fatalf("Statuses: %v, %v", sts, err)
	}
	return sts[0]
}

func waitStatus(t *testing.T, h *Hub, id, what string, ok func(Status) bool) Status {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		st := statusOn(t, h, id)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s: %+v", what, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// crash stops a hub as a killed process stops: no more lease renewals or state writes, and
// no record of its channels' end.
func crash(h *Hub) {
	h.cancel()
	h.wg.Wait()
}

// The device view on replica B shows the channel held on A, and A's wake-up; when A dies
// without a word its channel stops reading connected when A's lease runs out; when a
// replica shuts down cleanly, at once.
func TestStatusesAcrossReplicas(t *testing.T) {
	src := newSource("d1", "d2")
	st := openStates(t)
	bus := &fakeNotifier{}
	o := Options{States: st, Notifier: bus, StateFlush: 10 * time.Millisecond, Lease: 300 * time.Millisecond}
	a, b, c := New(o), newHub(t, src, o), New(o)
	a.o.Source, c.o.Source = src, src
	a.Start()
	c.Start()
	t.Cleanup(a.Close)
	t.Cleanup(c.Close)
	openStream(t, a, src.devices["d1"])
	got := waitStatus(t, b, "d1", "B to show A's channel", func(s Status) bool { return s.Connected })
	if got.Replica != a.Replica() || got.Channel != ChannelBuiltin || got.ConnectedSince.IsZero() {
		t.Fatalf("B shows %+v, want the channel on A (%s)", got, a.Replica())
	}
	for bus.listeners() < 3 {
		time.Sleep(10 * time.Millisecond)
	}
	if out := b.Wake(context.Background(), "t1", "d1", ReasonSync); out != Forwarded {
		t.Fatalf("Wake on B = %s", out)
	}
	got = waitStatus(t, b, "d1", "A's wake-up on B", func(s Status) bool { return !s.LastWakeAt.IsZero() })
	if got.LastWakeReason != ReasonSync || got.LastWakeResult != ResultDelivered || got.LastWakeVia != ChannelBuiltin || got.LastWakeReplica != a.Replica() {
		t.Fatalf("B shows the wake-up %+v", got)
	}

	openStream(t, c, src.devices["d2"])
	waitStatus(t, b, "d2", "B to show C's channel", func(s Status) bool { return s.Connected })
	c.Close()
	if got := statusOn(t, b, "d2"); got.Connected || got.DisconnectedAt.IsZero() || got.Replica != c.Replica() {
		t.Fatalf("after C shut down, B shows %+v", got)
	}

	crashed := time.Now()
	crash(a)
	got = waitStatus(t, b, "d1", "A's channel to end with its lease", func(s Status) bool { return !s.Connected })
	if got.DisconnectedAt.IsZero() || got.DisconnectedAt.After(crashed.Add(o.Lease)) || got.Replica != a.Replica() {
		t.Fatalf("after A died, B shows %+v, want ended by %v", got, crashed.Add(o.Lease))
	}
	if got.LastWakeReason != ReasonSync {
		t.Fatalf("the last wake-up was forgotten: %+v", got)
	}
}

// The wake-to-applied latency is measured by the replica that sent the wake-up, whichever
// replica recorded the applied setting; a wake-up nothing followed is not matched with a
// setting applied much later.
func TestAppliedAcrossReplicas(t *testing.T) {
	src := newSource("d1")
	bus := &fakeNotifier{}
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	reg := prometheus.NewRegistry()
	a := newHub(t, src, Options{Notifier: bus, Registerer: reg, Now: clock})
	b := newHub(t, src, Options{Notifier: bus, Now: clock})
	for bus.listeners() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	s := openStream(t, a, src.devices["d1"])
	a.Wake(context.Background(), "t1", "d1", ReasonSync)
	s.next(t)
	advance(2 * time.Second)
	b.Applied("d1")
	waitFor(t, "A to count the latency", func() bool { c, _ := latency(t, reg); return c == 1 })
	if _, sum := latency(t, reg); sum != 2 {
		t.Fatalf("latency sum %v s, want 2", sum)
	}
	// A Sync now that applies nothing, then a setting applied ten minutes later: not a
	// wake-to-applied latency.
	a.Wake(context.Background(), "t1", "d1", ReasonSync)
	s.next(t)
	advance(10 * time.Minute)
	a.Applied("d1")
	b.Applied("d1")
	time.Sleep(50 * time.Millisecond)
	if c, _ := latency(t, reg); c != 1 {
		t.Fatalf("%d latencies, want 1: a stale wake-up was matched", c)
	}
}

func latency(t *testing.T, reg *prometheus.Registry) (uint64, float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "hellomdm_push_wake_to_applied_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleCount(), h.GetSampleSum()
		}
	}
	t.Fatal("no latency histogram")
	return 0, 0
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// wnsSource lists the devices holding a WNS channel through an index (WNSDeviceLister) and
// counts the listings of every device of a tenant.
type wnsSource struct {
	*fakeSource
	wns       []string
	listedAll atomic.Int32
}

func (s *wnsSource) ListDevices(ctx context.Context, tenantID string) ([]store.Device, error) {
	s.listedAll.Add(1)
	return s.fakeSource.ListDevices(ctx, tenantID)
}

func (s *wnsSource) ListWNSDevices(ctx context.Context, tenantID string) ([]store.Device, error) {
	var out []store.Device
	for _, id := range s.wns {
		d, err := s.Device(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// The WNS fan-out of a policy change reads the devices holding a WNS channel, not the
// tenant's devices.
func TestWNSFanoutReadsChannelDevicesOnly(t *testing.T) {
	src := &wnsSource{fakeSource: newSource("d1", "d2", "d3"), wns: []string{"d2"}}
	h := newHub(t, src, Options{})
	w := &fakeWNS{}
	h.SetWNS(w)
	src.assign("true", "d1", "d2", "d3")
	h.PolicyChanged("t1")
	waitFor(t, "the WNS wake-up", func() bool { return len(w.calls()) > 0 })
	time.Sleep(50 * time.Millisecond)
	if got := w.calls(); len(got) != 1 || got[0] != "t1/d2" {
		t.Fatalf("WNS woke %v, want t1/d2", got)
	}
	if n := src.listedAll.Load(); n != 0 {
		t.Fatalf("the tenant's devices were listed %d times", n)
	}
}
