package push

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/policy/model"
	"github.com/hellomdm/hellomdm/store"
)

const recoveryURI = "./Device/Vendor/MSFT/PassportForWork/t1/Policies/EnablePinRecovery"

// fakeSource serves devices and one tenant's policy, which a test changes.
type fakeSource struct {
	mu      sync.Mutex
	devices map[string]store.Device
	snap    model.PolicySnapshot
}

func (f *fakeSource) Device(_ context.Context, id string) (store.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[id]
	if !ok {
		return d, store.ErrNotFound
	}
	return d, nil
}

func (f *fakeSource) ListDevices(_ context.Context, tenantID string) ([]store.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Device
	for _, d := range f.devices {
		if d.TenantID == tenantID {
			out = append(out, d)
		}
	}
	return out, nil
}

func (f *fakeSource) PolicySnapshot(_ context.Context, tenantID string) (store.PolicySnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.TenantID = tenantID
	return s, nil
}

// assign makes the tenant's policy: one profile setting EnablePinRecovery to value, assigned
// to group g1, whose members are the given devices.
func (f *fakeSource) assign(value string, members ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap.Version++
	f.snap.Groups = []model.Group{{TenantID: "t1", ID: "g1"}}
	var ms []model.Member
	for _, m := range members {
		ms = append(ms, model.Member{Kind: model.MemberDevice, ID: m})
	}
	f.snap.Members = map[string][]model.Member{"g1": ms}
	f.snap.Profiles = []model.Profile{{TenantID: "t1", ID: "p1", Kind: model.ProfileCustom, Settings: []model.ProfileSetting{{LocURI: recoveryURI, Format: "bool", Value: value}}}}
	f.snap.Assignments = map[string][]model.Assignment{"p1": {{Target: model.TargetGroup, GroupID: "g1"}}}
}

func newSource(ids ...string) *fakeSource {
	f := &fakeSource{devices: map[string]store.Device{}}
	for _, id := range ids {
		f.devices[id] = store.Device{ID: id, TenantID: "t1", State: store.DeviceEnrolled}
	}
	return f
}

func newHub(t *testing.T, src Source, o Options) *Hub {
	t.Helper()
	o.Source = src
	h := New(o)
	h.Start()
	t.Cleanup(h.Close)
	return h
}

// stream is a test client of Serve: it connects device d and reads its events.
type stream struct {
	events chan string
	cancel context.CancelFunc
}

func openStream(t *testing.T, h *Hub, d store.Device) *stream {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = h.Serve(w, r, d) }))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Fatalf("content type %q", ct)
	}
	s := &stream{events: make(chan string, 16), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				s.events <- ev + " " + strings.TrimPrefix(line, "data: ")
			}
		}
		close(s.events)
	}()
	t.Cleanup(cancel)
	if e := s.next(t); !strings.HasPrefix(e, "hello ") {
		t.Fatalf("first event %q, want hello", e)
	}
	return s
}

func (s *stream) next(t *testing.T) string {
	t.Helper()
	select {
	case e, ok := <-s.events:
		if !ok {
			return "closed"
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}
	return ""
}

// none checks that nothing arrives for a while (a wake-up that must not be sent).
func (s *stream) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("unexpected event %q", e)
	case <-time.After(d):
	}
}

func waitConnected(t *testing.T, h *Hub, n int) {
	t.Helper()
	for i := 0; h.Connected() != n; i++ {
		if i > 500 {
			t.Fatalf("%d channels connected, want %d", h.Connected(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWakeDeliversOnTheChannel(t *testing.T) {
	src := newSource("d1")
	h := newHub(t, src, Options{})
	s := openStream(t, h, src.devices["d1"])
	if got := h.Wake(context.Background(), "t1", "d1", ReasonSync); got != Delivered {
		t.Fatalf("Wake = %s", got)
	}
	if e := s.next(t); e != `wake {"reason":"sync"}` {
		t.Fatalf("event %q", e)
	}
	st := h.Status("d1")
	if !st.Connected || st.Channel != ChannelBuiltin || st.LastWakeReason != ReasonSync || st.LastWakeResult != ResultDelivered || st.ConnectedSince.IsZero() {
		t.Fatalf("status %+v", st)
	}
	// A device that is not connected, on a hub with no other replica and no WNS.
	if got := h.Wake(context.Background(), "t1", "d2", ReasonSync); got != NotConnected {
		t.Fatalf("Wake of an unconnected device = %s", got)
	}
}

// A wake-up naming another tenant than the connected device's never reaches it.
func TestWakeWrongTenant(t *testing.T) {
	src := newSource("d1")
	h := newHub(t, src, Options{})
	s := openStream(t, h, src.devices["d1"])
	h.Wake(context.Background(), "t2", "d1", ReasonCommand)
	s.none(t, 200*time.Millisecond)
	if st := h.Status("d1"); !st.LastWakeAt.IsZero() {
		t.Fatalf("a wrong-tenant wake-up was recorded: %+v", st)
	}
}

// A second connection of the same device ends the first; the second gets the wake-ups.
func TestReconnectReplaces(t *testing.T) {
	src := newSource("d1")
	h := newHub(t, src, Options{})
	first := openStream(t, h, src.devices["d1"])
	second := openStream(t, h, src.devices["d1"])
	if e := first.next(t); e != "closed" {
		t.Fatalf("the replaced channel got %q, want it closed", e)
	}
	waitConnected(t, h, 1)
	h.Wake(context.Background(), "t1", "d1", ReasonCommand)
	if e := second.next(t); e != `wake {"reason":"command"}` {
		t.Fatalf("event %q", e)
	}
	second.cancel()
	waitConnected(t, h, 0)
	if st := h.Status("d1"); st.Connected {
		t.Fatalf("status after disconnect %+v", st)
	}
}

// A policy change wakes exactly the connected devices whose resolved policy changed.
func TestPolicyChangeWakesChangedDevices(t *testing.T) {
	src := newSource("d1", "d2", "d3")
	src.assign("true", "d1")
	h := newHub(t, src, Options{})
	streams := map[string]*stream{}
	for _, id := range []string{"d1", "d2", "d3"} {
		streams[id] = openStream(t, h, src.devices[id])
	}
	// d2 joins the group: only d2's policy changes.
	src.assign("true", "d1", "d2")
	h.PolicyChanged("t1")
	if e := streams["d2"].next(t); e != `wake {"reason":"policy"}` {
		t.Fatalf("d2 got %q", e)
	}
	streams["d1"].none(t, 200*time.Millisecond)
	streams["d3"].none(t, 0)
	// The value changes: d1 and d2 change, d3 does not.
	src.assign("false", "d1", "d2")
	h.PolicyChanged("t1")
	for _, id := range []string{"d1", "d2"} {
		if e := streams[id].next(t); e != `wake {"reason":"policy"}` {
			t.Fatalf("%s got %q", id, e)
		}
	}
	streams["d3"].none(t, 200*time.Millisecond)
	// A bump that changes nothing any device resolves to wakes nobody.
	src.assign("false", "d1", "d2")
	h.PolicyChanged("t1")
	for _, id := range []string{"d1", "d2", "d3"} {
		streams[id].none(t, 100*time.Millisecond)
	}
}

// Paced wake-ups go out at no more than the rate: 30 at 100/s take at least 0.25 s.
func TestPacer(t *testing.T) {
	p := newPacer(100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go p.run(ctx, func(w paced) {
		mu.Lock()
		got = append(got, w.device)
		if len(got) == 30 {
			close(done)
		}
		mu.Unlock()
	})
	start := time.Now()
	var want []string
	for i := range 30 {
		id := string(rune('a'+i/26)) + string(rune('a'+i%26))
		want = append(want, id)
		p.add(paced{device: id})
	}
	<-done
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("30 wake-ups at 100/s went out in %v", el)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v", got)
	}
}

// fakeNotifier is a database shared by hubs: every notification reaches every listener.
type fakeNotifier struct {
	mu  sync.Mutex
	fns []func(string)
}

func (n *fakeNotifier) Notify(_ context.Context, _, payload string) error {
	n.mu.Lock()
	fns := slices.Clone(n.fns)
	n.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
	return nil
}

func (n *fakeNotifier) Listen(ctx context.Context, _ string, connected func(), fn func(string)) {
	n.mu.Lock()
	n.fns = append(n.fns, fn)
	n.mu.Unlock()
	connected()
	<-ctx.Done()
}

func (n *fakeNotifier) listeners() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.fns)
}

type fakeWNS struct {
	mu    sync.Mutex
	woken []string
	err   error
}

func (f *fakeWNS) Wake(_ context.Context, tenantID, deviceID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.woken = append(f.woken, tenantID+"/"+deviceID)
	return f.err
}

func (f *fakeWNS) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.woken)
}

// Two replicas: a wake-up made on B reaches the device connected to A, and WNS is asked once,
// by B only.
func TestWakeAcrossReplicas(t *testing.T) {
	src := newSource("d1")
	bus := &fakeNotifier{}
	a := newHub(t, src, Options{Notifier: bus})
	wnsA, wnsB := &fakeWNS{err: ErrNoChannel}, &fakeWNS{err: ErrNoChannel}
	a.SetWNS(wnsA)
	b := New(Options{Source: src, Notifier: bus})
	b.SetWNS(wnsB)
	b.Start()
	t.Cleanup(b.Close)
	s := openStream(t, a, src.devices["d1"])
	for i := 0; bus.listeners() < 2; i++ {
		if i > 100 {
			t.Fatal("listeners not registered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := b.Wake(context.Background(), "t1", "d1", ReasonSync); got != Forwarded {
		t.Fatalf("Wake on B = %s", got)
	}
	if e := s.next(t); e != `wake {"reason":"sync"}` {
		t.Fatalf("event %q", e)
	}
	for i := 0; len(wnsB.calls()) == 0; i++ {
		if i > 100 {
			t.Fatal("B never asked WNS")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := wnsA.calls(); len(got) != 0 {
		t.Fatalf("A asked WNS too: %v", got)
	}
	// A policy change committed on B wakes A's device whose policy changed.
	src.assign("true", "d1")
	b.PolicyChanged("t1")
	if e := s.next(t); e != `wake {"reason":"policy"}` {
		t.Fatalf("event %q", e)
	}
	// A drop made on B (the device was retired there) ends A's channel.
	b.Drop(context.Background(), "t1", "d1")
	if e := s.next(t); e != "closed" {
		t.Fatalf("after a drop on B, A's channel got %q", e)
	}
	waitConnected(t, a, 0)
}

// A failed WNS wake-up is recorded as failed; a device without a channel records nothing.
func TestWNSResults(t *testing.T) {
	src := newSource("d1", "d2")
	h := newHub(t, src, Options{})
	w := &fakeWNS{err: errors.New("503 from WNS")}
	h.SetWNS(w)
	if got := h.Wake(context.Background(), "t1", "d1", ReasonCommand); got != Forwarded {
		t.Fatalf("Wake = %s", got)
	}
	for i := 0; h.Status("d1").LastWakeResult == ""; i++ {
		if i > 200 {
			t.Fatal("no result recorded")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := h.Status("d1"); st.LastWakeResult != ResultFailed || st.LastWakeVia != ChannelWNS || st.Connected {
		t.Fatalf("status %+v", st)
	}
}

func TestMessageCodec(t *testing.T) {
	for _, m := range []message{
		{kind: msgWake, origin: "r1", tenant: "t1", device: "d1", reason: ReasonPolicy},
		{kind: msgPolicy, origin: "r1", tenant: "t1"},
		{kind: msgDrop, origin: "r1", tenant: "t1", device: "d1"},
		{kind: msgApplied, origin: "r1", device: "d1"},
	} {
		got, err := decodeMessage(m.encode())
		if err != nil || got != m {
			t.Fatalf("%q → %+v, %v", m.encode(), got, err)
		}
	}
	for _, bad := range []string{"", "w", "w r t d", "w r t d nap", "p r", "p r t extra", "d r t", "d r t d x", "w  t d sync", "x r t", "p r t ", " p r t", "a r", "a r d x", "a  d"} {
		if _, err := decodeMessage(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add("w r1 t1 d1 sync")
	f.Add("p r1 t1")
	f.Add("d r1 t1 d1")
	f.Add("a r1 d1")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := decodeMessage(s)
		if err != nil {
			return
		}
		if m.encode() != s {
			t.Fatalf("%q decoded to %+v, which encodes as %q", s, m, m.encode())
		}
	})
}

// Close may come while Start runs (a server shut down as it starts serving): every
// goroutine Start begins is counted before Close waits for them, or Start sees the hub
// closed and begins none. Run with -race: Start's WaitGroup Add raced Close's Wait before.
// A Start after Close starts nothing, and Close then is still done.
func TestStartWhileClosing(t *testing.T) {
	for i := range 50 {
		bus := &fakeNotifier{}
		h := New(Options{Source: newSource("d1"), Notifier: bus})
		started := make(chan struct{})
		go func() { defer close(started); h.Start() }()
		if i%2 == 1 {
			runtime.Gosched()
		}
		h.Close()
		<-started
		h.mu.Lock()
		ran := h.started
		h.mu.Unlock()
		if !ran {
			continue
		}
		// Started before Close: Close waited for the listener, which had registered.
		if n := bus.listeners(); n != 1 {
			t.Fatalf("round %d: hub started and closed with %d listeners registered, want 1", i, n)
		}
	}
	h := New(Options{Source: newSource("d1"), Notifier: &fakeNotifier{}})
	h.Close()
	h.Start()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.started {
		t.Fatal("a Start after Close started the hub")
	}
}
