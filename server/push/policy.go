package push

import (
	"context"
	"errors"
	"hash/fnv"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
)

// snapshot is a tenant's compiled policy as last resolved here.
type snapshot struct{ s *policy.Snapshot }

// snapshotOf returns the tenant's snapshot, loading it when the hub has none yet.
func (h *Hub) snapshotOf(ctx context.Context, tenantID string) (*policy.Snapshot, error) {
	h.mu.Lock()
	cur := h.snaps[tenantID]
	h.mu.Unlock()
	if cur != nil {
		return cur.s, nil
	}
	h.loadMu.Lock()
	defer h.loadMu.Unlock()
	h.mu.Lock()
	cur = h.snaps[tenantID]
	h.mu.Unlock()
	if cur != nil {
		return cur.s, nil
	}
	s, err := h.loadSnapshot(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.snaps[tenantID] == nil {
		h.snaps[tenantID] = &snapshot{s}
	}
	h.mu.Unlock()
	return s, nil
}

func (h *Hub) loadSnapshot(ctx context.Context, tenantID string) (*policy.Snapshot, error) {
	ps, err := h.o.Source.PolicySnapshot(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return policy.NewSnapshot(ps, h.o.Catalog), nil
}

// digestNow resolves a connecting device's policy on the tenant's snapshot; 0 when the
// snapshot cannot be read (the device is then woken by the tenant's next change whatever it
// changes).
func (h *Hub) digestNow(tenantID string, info policy.DeviceInfo) uint64 {
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	defer cancel()
	s, err := h.snapshotOf(ctx, tenantID)
	if err != nil {
		h.log.Warn("reading the tenant's policy for a connecting device", "tenant", tenantID, "err", err)
		return 0
	}
	return digest(policy.Resolve(s, h.o.Catalog, info))
}

// digest condenses a resolved policy into 64 bits (FNV-1a over every field in order), never
// 0; two resolutions with the same digest are taken as the same desired state.
func digest(r policy.Result) uint64 {
	f := fnv.New64a()
	w := func(ss ...string) {
		for _, s := range ss {
			_, _ = io.WriteString(f, s)
			_, _ = f.Write([]byte{0})
		}
	}
	w(r.Profiles...)
	w("\x01")
	for _, d := range r.Desired {
		w(d.LocURI, d.Format, d.Value)
		w(d.Sources...)
	}
	w("\x02")
	for _, c := range r.Conflicts {
		w(c.LocURI)
		for _, v := range c.Values {
			w(v.ProfileID, v.Format, v.Value)
		}
	}
	w("\x03")
	for _, n := range r.NotApplicable {
		w(n.LocURI, n.Reason)
		w(n.Sources...)
	}
	return f.Sum64() | 1
}

// resolveTenant handles a policy change of the tenant: it reads the tenant's snapshot once,
// re-resolves each device of the tenant connected here and queues a paced wake-up for those
// whose desired state changed; origin (the replica whose write made the change) also wakes
// the tenant's devices with a WNS channel.
func (h *Hub) resolveTenant(tenantID string, origin bool) {
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	s, err := h.loadSnapshot(ctx, tenantID)
	if err != nil {
		h.m.failed(ChannelBuiltin, "policy_read")
		h.log.Warn("reading the changed policy; its devices get it at their next poll", "tenant", tenantID, "err", err)
		return
	}
	h.mu.Lock()
	var prev *policy.Snapshot
	if cur := h.snaps[tenantID]; cur != nil {
		if cur.s.Version() > s.Version() {
			h.mu.Unlock()
			return // an older read than what was handled already
		}
		prev = cur.s
	}
	h.snaps[tenantID] = &snapshot{s}
	type dev struct {
		e    *entry
		info policy.DeviceInfo
	}
	devs := make([]dev, 0, len(h.tenants[tenantID]))
	for _, e := range h.tenants[tenantID] {
		devs = append(devs, dev{e, e.info})
	}
	h.mu.Unlock()
	var wake []string
	for _, d := range devs {
		dg := digest(policy.Resolve(s, h.o.Catalog, d.info))
		h.mu.Lock()
		changed := d.e.digest != dg
		d.e.digest = dg
		h.mu.Unlock()
		if changed {
			wake = append(wake, d.info.ID)
		}
	}
	slices.Sort(wake)
	for _, id := range wake {
		h.pace.add(paced{tenant: tenantID, device: id, reason: ReasonPolicy})
	}
	h.log.Debug("policy change resolved", "tenant", tenantID, "version", s.Version(), "connected", len(devs), "woken", len(wake))
	if origin {
		h.wnsFanout(ctx, tenantID, prev, s)
	}
}

// wnsFanout queues WNS wake-ups for the tenant's devices that are not connected here, hold a
// WNS channel (when the sender can tell) and resolve differently on next than on prev (every
// one of them when prev is unknown). It reads only the devices holding a WNS channel when the
// Source can list them (WNSDeviceLister: the store's index), not the tenant's devices.
func (h *Hub) wnsFanout(ctx context.Context, tenantID string, prev, next *policy.Snapshot) {
	s := h.wnsSender()
	if s == nil {
		return
	}
	list := h.o.Source.ListDevices
	if l, ok := h.o.Source.(WNSDeviceLister); ok {
		list = l.ListWNSDevices
	}
	devs, err := list(ctx, tenantID)
	if err != nil {
		h.m.failed(ChannelWNS, "policy_read")
		h.log.Warn("listing the tenant's devices for WNS wake-ups", "tenant", tenantID, "err", err)
		return
	}
	checker, _ := s.(WNSChannelChecker)
	for _, d := range devs {
		if d.State != store.DeviceEnrolled || (checker != nil && !checker.HasWNSChannel(d)) || h.connectedHere(d.ID) {
			continue
		}
		info := policy.DeviceInfo{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, OSVersion: d.OSVersion, OSEdition: d.OSEdition}
		if prev != nil && digest(policy.Resolve(prev, h.o.Catalog, info)) == digest(policy.Resolve(next, h.o.Catalog, info)) {
			continue
		}
		h.pace.add(paced{tenant: tenantID, device: d.ID, reason: ReasonPolicy, wns: true})
	}
}

func (h *Hub) connectedHere(deviceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.devices[deviceID]
	return e != nil && e.conn != nil
}

// deliverPaced sends one paced wake-up.
func (h *Hub) deliverPaced(p paced) {
	if !p.wns {
		h.deliverLocal(p.tenant, p.device, p.reason)
		return
	}
	if s := h.wnsSender(); s != nil {
		h.wnsSem <- struct{}{}
		h.wg.Add(1)
		go func() {
			defer func() { <-h.wnsSem; h.wg.Done() }()
			h.wakeWNS(s, p.tenant, p.device, p.reason)
		}()
	}
}

// wakeWNS sends one WNS wake-up and records its result.
func (h *Hub) wakeWNS(s WNSSender, tenantID, deviceID string, reason Reason) {
	ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
	defer cancel()
	err := s.Wake(ctx, tenantID, deviceID)
	if errors.Is(err, ErrNoChannel) {
		return
	}
	now := h.o.Now()
	result, detail := ResultDelivered, "accepted"
	if err != nil {
		result, detail = ResultFailed, err.Error()
		h.m.failed(ChannelWNS, "send")
		h.log.Warn("WNS wake-up failed", "tenant", tenantID, "device", deviceID, "err", err)
	} else {
		h.m.sent(ChannelWNS)
	}
	h.recordWake(tenantID, deviceID, now, reason, ChannelWNS, result, detail)
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.devices[deviceID]
	if e == nil {
		e = &entry{tenant: tenantID}
		h.devices[deviceID] = e
	}
	e.lastWake, e.lastReason, e.lastResult, e.lastChannel = now, reason, result, ChannelWNS
	if err == nil {
		e.woke(now)
	}
}

// policyQueue holds the tenants whose policy changed, each once, for the policy worker.
type policyQueue struct {
	mu      sync.Mutex
	pending map[string]bool // tenant → origin
	order   []string
	signal  chan struct{}
}

func newPolicyQueue() *policyQueue {
	return &policyQueue{pending: map[string]bool{}, signal: make(chan struct{}, 1)}
}

// add queues the tenant (origin sticks: a change made here is handled as made here).
func (q *policyQueue) add(tenantID string, origin bool) {
	q.mu.Lock()
	if prev, ok := q.pending[tenantID]; ok {
		q.pending[tenantID] = prev || origin
	} else {
		q.pending[tenantID] = origin
		q.order = append(q.order, tenantID)
	}
	q.mu.Unlock()
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

// run handles queued tenants one at a time until ctx is done: changes that arrive while a
// tenant is being handled are handled once more after it, together.
func (q *policyQueue) run(ctx context.Context, handle func(tenantID string, origin bool)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.signal:
		}
		for {
			q.mu.Lock()
			if len(q.order) == 0 {
				q.mu.Unlock()
				break
			}
			t := q.order[0]
			q.order = q.order[1:]
			origin := q.pending[t]
			delete(q.pending, t)
			q.mu.Unlock()
			handle(t, origin)
		}
	}
}

// message is what replicas tell each other: "w <origin> <tenant> <device> <reason>",
// "p <origin> <tenant>", "d <origin> <tenant> <device>" (drop the device's channel) or
// "a <origin> <device>" (a setting of the device was applied at origin),
// space-separated (IDs never hold spaces: the store refuses them).
type message struct {
	kind           byte
	origin, tenant string
	device         string
	reason         Reason
}

const (
	msgWake    = 'w'
	msgPolicy  = 'p'
	msgDrop    = 'd'
	msgApplied = 'a' // "a <origin> <device>": a setting of the device was applied there
)

func (m message) encode() string {
	switch m.kind {
	case msgPolicy:
		return "p " + m.origin + " " + m.tenant
	case msgDrop:
		return "d " + m.origin + " " + m.tenant + " " + m.device
	case msgApplied:
		return "a " + m.origin + " " + m.device
	}
	return "w " + m.origin + " " + m.tenant + " " + m.device + " " + string(m.reason)
}

var errMessage = errors.New("push: malformed message")

func decodeMessage(s string) (message, error) {
	f := splitFields(s)
	switch {
	case len(f) == 3 && f[0] == "p":
		return message{kind: msgPolicy, origin: f[1], tenant: f[2]}, nil
	case len(f) == 3 && f[0] == "a":
		return message{kind: msgApplied, origin: f[1], device: f[2]}, nil
	case len(f) == 4 && f[0] == "d":
		return message{kind: msgDrop, origin: f[1], tenant: f[2], device: f[3]}, nil
	case len(f) == 5 && f[0] == "w" && Reason(f[4]).Valid():
		return message{kind: msgWake, origin: f[1], tenant: f[2], device: f[3], reason: Reason(f[4])}, nil
	}
	return message{}, errMessage
}

// splitFields splits on single spaces; an empty field makes the message malformed.
func splitFields(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if i == start {
				return nil
			}
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
