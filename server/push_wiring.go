package server

import (
	"context"

	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/server/push"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Defaults of the push options (serve's --push-heartbeat and --push-wake-rate).
const (
	DefaultPushHeartbeat = push.DefaultHeartbeat
	DefaultPushWakeRate  = push.DefaultWakeRate
	DefaultPushLease     = push.DefaultLease
)

// newPushHub builds the push hub over the store: wake-ups cross replicas through the
// backend's notifications when it has them (PostgreSQL), the store reports policy changes
// to it, and the metrics tell it when a woken device applied a setting.
func newPushHub(st store.Store, o Options, m *Metrics) *push.Hub {
	h := push.New(push.Options{Source: st, States: st, Notifier: notifierOf(st), Heartbeat: o.PushHeartbeat, WakeRate: o.PushWakeRate,
		Lease: o.PushLease, Registerer: m.reg, Logger: o.Logger, Now: o.Now})
	if po, ok := st.(store.PolicyObservable); ok {
		po.SetPolicyObserver(h)
	}
	m.setApplied(h.Applied)
	return h
}

// notifierOf returns the store backend's notifications between processes, or nil when it
// has none (bbolt: one process).
func notifierOf(st store.Store) push.Notifier {
	b, ok := st.(interface{ KV() kv.Backend })
	if !ok {
		return nil
	}
	if n, ok := b.KV().(kv.Notifier); ok {
		return n
	}
	return nil
}

// pushAdmin is the push hub as the admin API sees it (adminapi.Pusher).
type pushAdmin struct{ h *push.Hub }

func (p pushAdmin) WakeDevice(ctx context.Context, tenantID, deviceID, reason string) string {
	switch p.h.Wake(ctx, tenantID, deviceID, push.Reason(reason)) {
	case push.Delivered:
		return adminapi.WakeDelivered
	case push.Forwarded:
		return adminapi.WakeForwarded
	}
	return adminapi.WakeNotConnected
}

func (p pushAdmin) DropDevice(ctx context.Context, tenantID, deviceID string) {
	p.h.Drop(ctx, tenantID, deviceID)
}

func (p pushAdmin) PushStatuses(ctx context.Context, ids []string) ([]wire.PushStatus, error) {
	sts, err := p.h.Statuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]wire.PushStatus, len(sts))
	for i, s := range sts {
		out[i] = wire.PushStatus{Channel: s.Channel, Connected: s.Connected, ConnectedSince: s.ConnectedSince, DisconnectedAt: s.DisconnectedAt,
			Replica: s.Replica, LastWakeAt: s.LastWakeAt, LastWakeReason: string(s.LastWakeReason), LastWakeResult: s.LastWakeResult,
			LastWakeChannel: s.LastWakeVia, LastWakeDetail: s.LastWakeDetail, LastWakeReplica: s.LastWakeReplica}
	}
	return out, nil
}
