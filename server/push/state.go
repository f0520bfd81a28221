package push

import (
	"context"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// StateStore is where the hub records what it knows of each device's push channel, so that
// every replica reports it and it outlives the process (store.PushStates; docs/push.md,
// "Visibility").
type StateStore interface {
	RecordPush(ctx context.Context, channels []store.PushChannelChange, wakes []store.PushWake) error
	PushStates(ctx context.Context, ids []string) ([]store.PushState, error)
	RenewReplica(ctx context.Context, replica string, until time.Time) error
	DropReplica(ctx context.Context, replica string) error
}

// Defaults of the state options.
const (
	// DefaultStateFlush is how often the hub writes the channel changes and wake-ups of the
	// last period, in one transaction.
	DefaultStateFlush = time.Second
	// DefaultLease is how long a replica's channels count as held after its last lease
	// renewal; it renews every third of it.
	DefaultLease = 30 * time.Second
)

// maxPendingStates bounds the changes kept for the next write while the store fails.
const maxPendingStates = 100_000

// recorder collects the channel changes and wake-ups between two writes: channel changes
// in order, and one wake-up per device, the latest.
type recorder struct {
	mu    sync.Mutex
	chans []store.PushChannelChange
	wakes map[string]store.PushWake
}

func newRecorder() *recorder { return &recorder{wakes: map[string]store.PushWake{}} }

func (r *recorder) channel(c store.PushChannelChange) {
	r.mu.Lock()
	if len(r.chans) < maxPendingStates {
		r.chans = append(r.chans, c)
	}
	r.mu.Unlock()
}

func (r *recorder) wake(w store.PushWake) {
	r.mu.Lock()
	if cur, ok := r.wakes[w.DeviceID]; (!ok && len(r.wakes) < maxPendingStates) || (ok && !cur.At.After(w.At)) {
		r.wakes[w.DeviceID] = w
	}
	r.mu.Unlock()
}

// take empties the recorder.
func (r *recorder) take() ([]store.PushChannelChange, []store.PushWake) {
	r.mu.Lock()
	defer r.mu.Unlock()
	chans := r.chans
	wakes := make([]store.PushWake, 0, len(r.wakes))
	for _, w := range r.wakes {
		wakes = append(wakes, w)
	}
	r.chans, r.wakes = nil, map[string]store.PushWake{}
	return chans, wakes
}

// restore puts back what a failed write took, before what arrived since.
func (r *recorder) restore(chans []store.PushChannelChange, wakes []store.PushWake) {
	r.mu.Lock()
	if len(chans)+len(r.chans) <= maxPendingStates {
		r.chans = append(chans, r.chans...)
	}
	r.mu.Unlock()
	for _, w := range wakes {
		r.wake(w)
	}
}

// lastWake returns the device's wake-up not yet written, if any.
func (r *recorder) lastWake(deviceID string) (store.PushWake, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.wakes[deviceID]
	return w, ok
}

// runStates writes the recorded states every StateFlush and renews the replica's lease
// every third of Lease, until the hub closes.
func (h *Hub) runStates() {
	flush := time.NewTicker(h.o.StateFlush)
	defer flush.Stop()
	renew := time.NewTicker(h.o.Lease / 3)
	defer renew.Stop()
	h.renewLease()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-flush.C:
			h.flushStates(h.ctx)
		case <-renew.C:
			h.renewLease()
		}
	}
}

func (h *Hub) renewLease() {
	ctx, cancel := context.WithTimeout(h.ctx, h.o.Lease/3)
	defer cancel()
	if err := h.o.States.RenewReplica(ctx, h.replica, h.o.Now().Add(h.o.Lease)); err != nil {
		h.m.failed(ChannelBuiltin, "lease")
		h.log.Warn("renewing this replica's lease; its channels read as disconnected once it runs out", "err", err)
	}
}

// flushStates writes what was recorded since the last write, in one transaction.
func (h *Hub) flushStates(ctx context.Context) {
	chans, wakes := h.rec.take()
	if len(chans) == 0 && len(wakes) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := h.o.States.RecordPush(ctx, chans, wakes); err != nil {
		h.m.failed(ChannelBuiltin, "state")
		h.log.Warn("recording push states; retrying with the next write", "channels", len(chans), "wakes", len(wakes), "err", err)
		h.rec.restore(chans, wakes)
	}
}

// closeStates records the end of the channels held here, writes what is left and ends the
// lease: the other replicas stop reporting this one's channels at once.
func (h *Hub) closeStates(held []store.PushChannelChange) {
	if h.o.States == nil {
		return
	}
	for _, c := range held {
		h.rec.channel(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h.flushStates(ctx)
	if err := h.o.States.DropReplica(ctx, h.replica); err != nil {
		h.log.Warn("ending this replica's lease; its channels read as disconnected once it runs out", "err", err)
	}
}

// recordWake queues a wake-up for the next write (nothing without a StateStore).
func (h *Hub) recordWake(tenantID, deviceID string, at time.Time, reason Reason, channel, result, detail string) {
	if h.o.States == nil {
		return
	}
	h.rec.wake(store.PushWake{DeviceID: deviceID, TenantID: tenantID, Replica: h.replica, At: at, Reason: string(reason),
		Channel: channel, Result: result, Detail: detail})
}

// recordChannel queues a channel change for the next write (nothing without a StateStore).
func (h *Hub) recordChannel(tenantID, deviceID string, connected bool, since, at time.Time) {
	if h.o.States == nil {
		return
	}
	h.rec.channel(store.PushChannelChange{DeviceID: deviceID, TenantID: tenantID, Replica: h.replica, Connected: connected, Since: since, At: at})
}

// Statuses reports the devices' push channels as the store knows them, wherever they are
// held, completed by what this replica has not written yet. Without a StateStore it is
// Status of each.
func (h *Hub) Statuses(ctx context.Context, ids []string) ([]Status, error) {
	out := make([]Status, len(ids))
	if h.o.States == nil {
		for i, id := range ids {
			out[i] = h.Status(id)
		}
		return out, nil
	}
	states, err := h.o.States.PushStates(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, st := range states {
		s := Status{Connected: st.Connected, ConnectedSince: st.ConnectedSince, DisconnectedAt: st.DisconnectedAt, Replica: st.Replica}
		if s.Connected {
			s.Channel = ChannelBuiltin
		}
		w := st.LastWake
		if pw, ok := h.rec.lastWake(ids[i]); ok && !pw.At.Before(w.At) {
			w = pw
		}
		s.setWake(w)
		if local := h.Status(ids[i]); local.Connected && (!s.Connected || !s.ConnectedSince.After(local.ConnectedSince)) {
			s.Channel, s.Connected, s.ConnectedSince, s.DisconnectedAt, s.Replica = ChannelBuiltin, true, local.ConnectedSince, time.Time{}, h.replica
		}
		out[i] = s
	}
	return out, nil
}

func (s *Status) setWake(w store.PushWake) {
	if w.At.IsZero() {
		return
	}
	s.LastWakeAt, s.LastWakeReason, s.LastWakeResult, s.LastWakeVia = w.At, Reason(w.Reason), w.Result, w.Channel
	s.LastWakeDetail, s.LastWakeReplica = w.Detail, w.Replica
}
