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
	if e.wokeAt.IsZero() {
		e.wokeAt = now
	}
	select {
	case e.conn.wake <- reason:
		e.lastResult = ResultDelivered
	default:
		e.lastResult = ResultCoalesced
	}
	h.m.sent(ChannelBuiltin)
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
	}
	h.mu.Unlock()
}

// Applied is told that a setting of the device was recorded succeeded: the time since the
// device's last wake-up from this replica, if one is outstanding, is the wake-to-applied
// latency. Only the first applied setting after a wake-up counts.
func (h *Hub) Applied(deviceID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := h.devices[deviceID]
	if e == nil || e.wokeAt.IsZero() {
		return
	}
	h.m.latency.Observe(h.o.Now().Sub(e.wokeAt).Seconds())
	e.wokeAt = time.Time{}
	if e.conn == nil {
		delete(h.devices, deviceID)
	}
}

// Status is what this replica knows of a device's push channel.
type Status struct {
	Channel        string    `json:"channel,omitempty"` // ChannelBuiltin while connected here
	Connected      bool      `json:"connected"`
	ConnectedSince time.Time `json:"connectedSince,omitzero"`
	LastWakeAt     time.Time `json:"lastWakeAt,omitzero"`
	LastWakeReason Reason    `json:"lastWakeReason,omitempty"`
	LastWakeResult string    `json:"lastWakeResult,omitempty"`
	LastWakeVia    string    `json:"lastWakeChannel,omitempty"`
	// Replica names the replica that answers (Hub.Replica): with several replicas, a device
	// connected to another one reads as not connected here.
	Replica string `json:"replica"`
}

// Status reports the device's push channel as this replica sees it.
func (h *Hub) Status(deviceID string) Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := Status{Replica: h.replica}
	e := h.devices[deviceID]
	if e == nil {
		return s
	}
	if e.conn != nil {
		s.Channel, s.Connected, s.ConnectedSince = ChannelBuiltin, true, e.connectedAt
	}
	s.LastWakeAt, s.LastWakeReason, s.LastWakeResult, s.LastWakeVia = e.lastWake, e.lastReason, e.lastResult, e.lastChannel
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
