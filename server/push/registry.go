package push

import (
	"errors"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
)

// entry is what the hub keeps of a device connected here or woken from here: about 200
// bytes, with the connection's own state (conn) while it is connected.
type entry struct {
	tenant string
	info   policy.DeviceInfo
	digest uint64 // of the device's resolved policy when last resolved here (0: never)
	conn   *conn  // nil while not connected here

	connectedAt time.Time
	lastWake    time.Time
	lastReason  Reason
	lastResult  string
	lastChannel string
	wokeAt      time.Time // the last wake-up not yet followed by an applied setting (latency)
}

// conn is one held channel.
type conn struct {
	wake    chan Reason   // capacity 1: wake-ups arriving before the last was written coalesce
	done    chan struct{} // closed when the hub ends the channel (replaced, closing)
	closeMu sync.Once
}

func (c *conn) close() { c.closeMu.Do(func() { close(c.done) }) }

// Results of a wake-up (Status.LastResult).
const (
	ResultDelivered = "delivered"  // written on the built-in channel, or accepted by WNS
	ResultCoalesced = "coalesced"  // joined a wake-up not yet written on the channel
	ResultNoChannel = "no channel" // WNS: the device has no usable channel
	ResultFailed    = "failed"     // see the log
)

// errClosed is returned by connect once the hub is closing.
var errClosed = errors.New("push: the server is shutting down")

// connect registers d's channel, ending an older one of the same device.
func (h *Hub) connect(d store.Device) (*conn, error) {
	info := policy.DeviceInfo{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, OSVersion: d.OSVersion, OSEdition: d.OSEdition}
	digest := h.digestNow(d.TenantID, info)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed
	}
	c := &conn{wake: make(chan Reason, 1), done: make(chan struct{})}
	e := h.devices[d.ID]
	if e == nil {
		e = &entry{}
		h.devices[d.ID] = e
	}
	if e.conn != nil {
		e.conn.close()
		h.m.replaced.Inc()
	} else {
		h.m.connected.Inc()
	}
	if e.tenant != "" && e.tenant != d.TenantID {
		delete(h.tenants[e.tenant], d.ID)
	}
	e.tenant, e.info, e.conn, e.connectedAt = d.TenantID, info, c, h.o.Now()
	h.recordChannel(d.TenantID, d.ID, true, e.connectedAt, time.Time{})
	if digest != 0 {
		e.digest = digest
	}
	ts := h.tenants[d.TenantID]
	if ts == nil {
		ts = map[string]*entry{}
		h.tenants[d.TenantID] = ts
	}
	ts[d.ID] = e
	return c, nil
}

// disconnect forgets c, unless a newer connection of the device replaced it.
func (h *Hub) disconnect(deviceID string, c *conn) {
	c.close()
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.devices[deviceID]
	if e == nil || e.conn != c {
		return
	}
	e.conn = nil
	h.m.connected.Dec()
	h.recordChannel(e.tenant, deviceID, false, e.connectedAt, h.o.Now())
	if ts := h.tenants[e.tenant]; ts != nil {
		delete(ts, deviceID)
		if len(ts) == 0 {
			delete(h.tenants, e.tenant)
		}
	}
	if e.wokeAt.IsZero() {
		delete(h.devices, deviceID) // nothing left to report or measure
	}
}

// deliverLocal puts a wake-up on the device's channel when it is connected here and belongs
// to tenantID, and reports whether it was (a wake-up naming another tenant never reaches
// the device, and is counted as failed).
func (h *Hub) deliverLocal(tenantID, deviceID string, reason Reason) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.devices[deviceID]
	if e == nil || e.conn == nil {
		return false
	}
	if e.tenant != tenantID {
		h.m.failed(ChannelBuiltin, "wrong_tenant")
		h.log.Warn("a wake-up named another tenant than the device's; not delivered", "device", deviceID, "tenant", tenantID)
		return true
	}
	now := h.o.Now()
	e.lastWake, e.lastReason, e.lastChannel = now, reason, ChannelBuiltin
	e.woke(now)
	select {
	case e.conn.wake <- reason:
		e.lastResult = ResultDelivered
	default:
		e.lastResult = ResultCoalesced
	}
	h.m.sent(ChannelBuiltin)
	h.recordWake(tenantID, deviceID, now, reason, ChannelBuiltin, e.lastResult, "")
	return true
}

// written records that a wake-up went out on the channel (or failed to).
func (h *Hub) written(deviceID string, c *conn, err error) {
	if err == nil {
		return
	}
	h.m.failed(ChannelBuiltin, "write")
	h.mu.Lock()
	if e := h.devices[deviceID]; e != nil && e.conn == c {
		e.lastResult = ResultFailed
		h.recordWake(e.tenant, deviceID, e.lastWake, e.lastReason, ChannelBuiltin, ResultFailed, err.Error())
	}
	h.mu.Unlock()
}

// wakeStale bounds the wake-to-applied latency: a wake-up that nothing was applied after
// within it (a Sync now with nothing to change) is not matched with a later setting.
const wakeStale = 5 * time.Minute

// woke starts the latency of a wake-up sent at now, unless an earlier one still runs.
func (e *entry) woke(now time.Time) {
	if e.wokeAt.IsZero() || now.Sub(e.wokeAt) > wakeStale {
		e.wokeAt = now
	}
}

// Applied is told that a setting of the device was recorded succeeded: the time since the
// device's last wake-up from this replica, if one is outstanding, is the wake-to-applied
// latency. Only the first applied setting after a wake-up counts. When this replica sent
// no wake-up, the other replicas are told (the session may follow a wake-up one of them
// sent), at most once per device every appliedEvery.
func (h *Hub) Applied(deviceID string) {
	if h.observeApplied(deviceID) || h.o.Notifier == nil {
		return
	}
	now := h.o.Now()
	h.mu.Lock()
	if t, ok := h.appliedSent[deviceID]; ok && now.Sub(t) < appliedEvery {
		h.mu.Unlock()
		return
	}
	if len(h.appliedSent) >= 4096 {
		for id, t := range h.appliedSent {
			if now.Sub(t) >= appliedEvery {
				delete(h.appliedSent, id)
			}
		}
	}
	h.appliedSent[deviceID] = now
	h.mu.Unlock()
	go h.publish(h.ctx, message{kind: msgApplied, origin: h.replica, device: deviceID})
}

// appliedEvery is how often a replica tells the others of one device's applied settings.
const appliedEvery = 10 * time.Second

// observeApplied records the latency of the device's outstanding wake-up from this
// replica, if there is one, and reports whether there was.
func (h *Hub) observeApplied(deviceID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.devices[deviceID]
	if e == nil || e.wokeAt.IsZero() {
		return false
	}
	if d := h.o.Now().Sub(e.wokeAt); d <= wakeStale {
		h.m.latency.Observe(d.Seconds())
	}
	e.wokeAt = time.Time{}
	if e.conn == nil {
		delete(h.devices, deviceID)
	}
	return true
}

// Status is a device's push channel: as this replica knows it (Hub.Status), or as every
// replica reported it to the store (Hub.Statuses).
type Status struct {
	Channel        string    `json:"channel,omitempty"` // ChannelBuiltin while connected
	Connected      bool      `json:"connected"`
	ConnectedSince time.Time `json:"connectedSince,omitzero"`
	// DisconnectedAt is when the last channel ended (its replica said so, or its replica's
	// lease ran out); zero while connected.
	DisconnectedAt time.Time `json:"disconnectedAt,omitzero"`
	// Replica names the replica holding the channel (Hub.Replica), or the last one that held
	// it.
	Replica         string    `json:"replica,omitempty"`
	LastWakeAt      time.Time `json:"lastWakeAt,omitzero"`
	LastWakeReason  Reason    `json:"lastWakeReason,omitempty"`
	LastWakeResult  string    `json:"lastWakeResult,omitempty"`
	LastWakeVia     string    `json:"lastWakeChannel,omitempty"`
	LastWakeDetail  string    `json:"lastWakeDetail,omitempty"`  // what WNS answered, or the write's error
	LastWakeReplica string    `json:"lastWakeReplica,omitempty"` // the replica that sent it
}

// Status reports the device's push channel as this replica knows it.
func (h *Hub) Status(deviceID string) Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s Status
	e := h.devices[deviceID]
	if e == nil {
		return s
	}
	if e.conn != nil {
		s.Channel, s.Connected, s.ConnectedSince, s.Replica = ChannelBuiltin, true, e.connectedAt, h.replica
	}
	s.LastWakeAt, s.LastWakeReason, s.LastWakeResult, s.LastWakeVia = e.lastWake, e.lastReason, e.lastResult, e.lastChannel
	if !e.lastWake.IsZero() {
		s.LastWakeReplica = h.replica
	}
	return s
}

// Connected counts the channels held here.
func (h *Hub) Connected() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ts := range h.tenants {
		n += len(ts)
	}
	return n
}
