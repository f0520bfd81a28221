package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/store"
)

// Reason says why a device is woken; it travels to the device in the wake event.
type Reason string

// Reasons.
const (
	ReasonCommand Reason = "command" // an admin queued a command for the device
	ReasonPolicy  Reason = "policy"  // a policy change altered the device's desired state
	ReasonSync    Reason = "sync"    // an admin asked the device to sync now
)

// Valid reports whether r is one of the reasons above.
func (r Reason) Valid() bool { return r == ReasonCommand || r == ReasonPolicy || r == ReasonSync }

// Channel kinds (Status.Channel and the metrics' channel label).
const (
	ChannelBuiltin = "builtin" // hellomdm's own channel (Serve)
	ChannelWNS     = "wns"     // Windows Push Notification Services
)

// WNSSender wakes a device through WNS. The assembly sets it (SetWNS) before serving;
// server/push/wns implements it.
type WNSSender interface {
	// Wake sends one wake-up (a wns/raw notification) to the device's WNS channel. An error
	// wrapping ErrNoChannel means the device has no usable channel (none reported, expired,
	// dropped after 404/410): nothing is counted as failed. The hub does not retry: a sender
	// retries inside Wake as WNS asks it to.
	Wake(ctx context.Context, tenantID, deviceID string) error
}

// WNSChannelChecker is an optional interface of a WNSSender: a pure check, with no I/O, that
// a device record holds a usable WNS channel. The hub asks it before calling Wake when it
// fans a policy change out to a tenant's devices.
type WNSChannelChecker interface {
	HasWNSChannel(d store.Device) bool
}

// ErrNoChannel is what a WNSSender returns (wrapped or not) for a device without a usable
// WNS channel.
var ErrNoChannel = errors.New("push: the device has no WNS channel")

// Notifier carries small messages between the replicas sharing a database (the PostgreSQL
// store's LISTEN/NOTIFY; kv.Notifier has the same shape and documents it).
type Notifier interface {
	Notify(ctx context.Context, channel, payload string) error
	Listen(ctx context.Context, channel string, connected func(), fn func(payload string))
}

// Source is what the hub reads from the store: the device records it routes to and the
// policy it resolves.
type Source interface {
	Device(ctx context.Context, id string) (store.Device, error)
	ListDevices(ctx context.Context, tenantID string) ([]store.Device, error)
	PolicySnapshot(ctx context.Context, tenantID string) (store.PolicySnapshot, error)
}

// WNSDeviceLister is an optional interface of a Source (the store has it): the tenant's
// enrolled devices holding a WNS channel URI, read through an index. The WNS fan-out of a
// policy change uses it instead of listing every device of the tenant.
type WNSDeviceLister interface {
	ListWNSDevices(ctx context.Context, tenantID string) ([]store.Device, error)
}

// Defaults of Options.
const (
	DefaultHeartbeat = 25 * time.Second
	// DefaultWakeRate is about the two-message sessions per second one replica serves on a
	// 2-vCPU machine (BENCHMARKS.md): waking faster only queues sessions in the server, and
	// slower holds back devices it could serve (at 1,000/s the 10,000th device of a change
	// was woken after 10 s whatever the server's capacity).
	DefaultWakeRate = 2000
	// NotifyChannel is the database channel the replicas' hubs talk on.
	NotifyChannel = "hellomdm_push"
)

// Options configure a Hub.
type Options struct {
	Source  Source
	Catalog *csp.Catalog // the catalog policy resolution runs with (csp.Default when nil)
	// Notifier reaches the other replicas; nil: this process is the only one (bbolt).
	Notifier Notifier
	// Heartbeat is the period of the channel's ping events (DefaultHeartbeat when 0).
	Heartbeat time.Duration
	// WakeRate bounds the wake-ups a policy change sends per second on this replica
	// (DefaultWakeRate when 0): a change that alters 10,000 devices wakes them over 5 s at
	// the default, 20 every 10 ms. A single device's wake-up (a command, Sync now) is never held back.
	WakeRate int
	// States records the devices' channels and wake-ups for every replica to report
	// (Statuses), and this replica's lease; nil keeps them in this process only.
	States StateStore
	// StateFlush is how often the recorded changes are written (DefaultStateFlush when 0);
	// Lease how long this replica's channels count as held after it last renewed its lease
	// (DefaultLease when 0).
	StateFlush, Lease time.Duration
	// Registerer receives the push metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Now        func() time.Time
}

// Hub is one replica's registry of connected devices and its router of wake-ups. Its methods
// are safe for concurrent use.
type Hub struct {
	o       Options
	replica string // random, names this process in the messages it sends
	log     *slog.Logger
	m       *metrics
	wns     atomic.Pointer[wnsBox]

	mu      sync.Mutex
	devices map[string]*entry            // device ID → its entry (connected, or woken, here)
	tenants map[string]map[string]*entry // tenant ID → its connected devices' entries
	snaps   map[string]*snapshot         // tenant ID → the latest snapshot resolved here
	closed  bool
	started bool // Start ran: Close writes the states and ends the lease
	// appliedSent: when this replica last told the others of a device's applied setting.
	appliedSent map[string]time.Time
	rec         *recorder

	loadMu sync.Mutex    // one snapshot load at a time (a burst of connections loads it once)
	wnsSem chan struct{} // bounds the WNS wake-ups in flight
	pace   *pacer
	policy *policyQueue
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type wnsBox struct{ s WNSSender }

// New builds a hub; Start runs its background work.
func New(o Options) *Hub {
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.WakeRate <= 0 {
		o.WakeRate = DefaultWakeRate
	}
	if o.StateFlush <= 0 {
		o.StateFlush = DefaultStateFlush
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Catalog == nil {
		o.Catalog = csp.Default()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	h := &Hub{o: o, replica: hex.EncodeToString(id[:]), log: o.Logger.With("component", "push"), m: newMetrics(o.Registerer),
		devices: map[string]*entry{}, tenants: map[string]map[string]*entry{}, snaps: map[string]*snapshot{},
		appliedSent: map[string]time.Time{}, rec: newRecorder(), ctx: ctx, cancel: cancel}
	h.pace = newPacer(o.WakeRate)
	h.wnsSem = make(chan struct{}, 16)
	h.policy = newPolicyQueue()
	return h
}

// SetWNS sets the sender of WNS wake-ups (nil: none). Call it before Start.
func (h *Hub) SetWNS(s WNSSender) {
	if s == nil {
		h.wns.Store(nil)
		return
	}
	h.wns.Store(&wnsBox{s})
}

func (h *Hub) wnsSender() WNSSender {
	if b := h.wns.Load(); b != nil {
		return b.s
	}
	return nil
}

// Replica is the random name of this hub in the messages between replicas.
func (h *Hub) Replica() string { return h.replica }

// Heartbeat is the period of the channel's ping events.
func (h *Hub) Heartbeat() time.Duration { return h.o.Heartbeat }

// Start runs the pacer, the policy worker and, with a Notifier, the listener of the other
// replicas' messages, until Close. A second Start, or one after Close, does nothing.
func (h *Hub) Start() {
	// Under mu, so that Close (which waits for them) sees every goroutine counted or Start
	// sees the hub closed: a Start that comes after Close starts nothing.
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || h.started {
		return
	}
	h.started = true
	h.log.Info("push hub started", "replica", h.replica, "lease", h.o.Lease, "stored", h.o.States != nil)
	h.wg.Add(2)
	go func() { defer h.wg.Done(); h.pace.run(h.ctx, h.deliverPaced) }()
	go func() { defer h.wg.Done(); h.policy.run(h.ctx, h.resolveTenant) }()
	if h.o.States != nil {
		h.wg.Add(1)
		go func() { defer h.wg.Done(); h.runStates() }()
	}
	if h.o.Notifier != nil {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.o.Notifier.Listen(h.ctx, NotifyChannel, h.listening, h.receive)
		}()
	}
}

// listening runs each time the listener (re)connected: policy changes may have been missed
// while it was not listening, so every tenant with devices connected here is re-resolved
// (waking only those whose desired state differs from what they were last woken for).
func (h *Hub) listening() {
	h.mu.Lock()
	tenants := make([]string, 0, len(h.tenants))
	for t := range h.tenants {
		tenants = append(tenants, t)
	}
	h.mu.Unlock()
	for _, t := range tenants {
		h.policy.add(t, false)
	}
}

// Close ends every channel held here and stops the background work. Channels end with
// their connections; their devices reconnect (to another replica, or to this one when it
// serves again).
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	started := h.started
	now := h.o.Now()
	var held []store.PushChannelChange
	for id, e := range h.devices {
		if e.conn != nil {
			e.conn.close()
			held = append(held, store.PushChannelChange{DeviceID: id, TenantID: e.tenant, Replica: h.replica, Since: e.connectedAt, At: now})
		}
	}
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	if started {
		h.closeStates(held)
	}
}

// Outcome says how far Wake got.
type Outcome string

// Outcomes of Wake.
const (
	Delivered    Outcome = "delivered"    // put on the device's channel held here
	Forwarded    Outcome = "forwarded"    // the other replicas and/or WNS were asked
	NotConnected Outcome = "notConnected" // no channel here, no other replica, no WNS sender
)

// Wake wakes one device now: on the built-in channel when it is connected here; otherwise
// the other replicas are told (the one holding it delivers) and, from this replica only, the
// device's WNS channel is used when the assembly set a sender. It does not wait for WNS.
func (h *Hub) Wake(ctx context.Context, tenantID, deviceID string, reason Reason) Outcome {
	if h.deliverLocal(tenantID, deviceID, reason) {
		return Delivered
	}
	s := h.wnsSender()
	if h.o.Notifier == nil && s == nil {
		return NotConnected
	}
	h.publish(ctx, message{kind: msgWake, origin: h.replica, tenant: tenantID, device: deviceID, reason: reason})
	if s != nil {
		go h.wakeWNS(s, tenantID, deviceID, reason)
	}
	return Forwarded
}

// Drop ends the device's channel, here and on the other replicas (the device was retired:
// its reconnection is refused).
func (h *Hub) Drop(ctx context.Context, tenantID, deviceID string) {
	h.dropLocal(tenantID, deviceID)
	h.publish(ctx, message{kind: msgDrop, origin: h.replica, tenant: tenantID, device: deviceID})
}

// dropLocal ends the device's channel if this replica holds it for that tenant.
func (h *Hub) dropLocal(tenantID, deviceID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e := h.devices[deviceID]; e != nil && e.conn != nil && e.tenant == tenantID {
		e.conn.close()
	}
}

// PolicyChanged is the store's report (store.PolicyObserver) that a committed write bumped
// the tenant's policy version: this replica re-resolves its connected devices of the tenant,
// the other replicas are told to do the same, and this one wakes the tenant's WNS devices.
func (h *Hub) PolicyChanged(tenantID string) {
	h.policy.add(tenantID, true)
	if h.o.Notifier != nil {
		// The store calls this on the writer's goroutine: the database round trip goes on
		// without it.
		go h.publish(h.ctx, message{kind: msgPolicy, origin: h.replica, tenant: tenantID})
	}
}

// publish sends m to the other replicas, if there are any.
func (h *Hub) publish(ctx context.Context, m message) {
	if h.o.Notifier == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.o.Notifier.Notify(ctx, NotifyChannel, m.encode()); err != nil {
		h.m.failed(ChannelBuiltin, "notify")
		h.log.Warn("telling the other replicas failed; their devices get the change at their next poll", "kind", m.kind, "tenant", m.tenant, "err", err)
	}
}

// receive handles another replica's message.
func (h *Hub) receive(payload string) {
	m, err := decodeMessage(payload)
	if err != nil {
		h.log.Warn("ignoring a malformed push message", "err", err)
		return
	}
	if m.origin == h.replica {
		return // handled when it was sent
	}
	switch m.kind {
	case msgWake:
		h.deliverLocal(m.tenant, m.device, m.reason)
	case msgPolicy:
		h.policy.add(m.tenant, false)
	case msgDrop:
		h.dropLocal(m.tenant, m.device)
	case msgApplied:
		h.observeApplied(m.device)
	}
}
