package adminapi

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Pusher wakes devices and reports their push channel (the server's push hub, server/push,
// behind an adapter in the assembly). Reasons are "command", "policy" and "sync".
type Pusher interface {
	// WakeDevice wakes the device now and says how far the wake-up went (WakeOutcome*).
	WakeDevice(ctx context.Context, tenantID, deviceID, reason string) string
	// PushStatuses are the devices' push channels, in the order of ids, wherever they are
	// held (every replica reports to the store).
	PushStatuses(ctx context.Context, ids []string) ([]wire.PushStatus, error)
	// DropDevice ends the device's push channel wherever it is held (the device was retired).
	DropDevice(ctx context.Context, tenantID, deviceID string)
}

// What WakeDevice did.
const (
	// WakeDelivered: the wake-up was written on the device's channel, held by this replica.
	WakeDelivered = "delivered"
	// WakeForwarded: the device is not connected here; the other replicas and, when
	// configured, WNS were asked to wake it.
	WakeForwarded = "forwarded"
	// WakeNotConnected: the device holds no channel anywhere the server could reach (one
	// process, not connected, no WNS): it syncs at its next scheduled poll.
	WakeNotConnected = "notConnected"
)

// pushRoutes adds "Sync now" (Intune's syncDevice action).
func (s *API) pushRoutes(api *mux.Router) {
	api.HandleFunc("/tenants/{tid}/devices/{did}/syncDevice", s.syncDevice).Methods(http.MethodPost)
}

// syncDevice asks the device to start a session now (operator or admin). The request is
// recorded as an admin.write "sync" event of the device before the wake-up goes out; a
// retired or unenrolled device is refused with 409.
func (s *API) syncDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	if d.State != store.DeviceEnrolled {
		writeError(w, http.StatusConflict, "conflict", "the device is "+d.State+": it does not sync")
		return
	}
	if s.cfg.Push == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "push is not available on this server")
		return
	}
	p, _ := PrincipalFrom(r.Context())
	err := s.cfg.Store.Write(r.Context(), func(wr store.Writer) error {
		return wr.Audit(s.adminEvent(p, d.TenantID, "sync", audit.Subject{Type: audit.SubjectDevice, ID: d.ID}, d.ID, nil, map[string]string{"request": "syncDevice"}))
	})
	if err != nil {
		s.log.Error("recording a sync request failed", "device", d.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the sync request could not be recorded; nothing was sent")
		return
	}
	outcome := s.cfg.Push.WakeDevice(r.Context(), d.TenantID, d.ID, "sync")
	res := wire.SyncResult{Wake: outcome}
	if ps := s.pushStatuses(r.Context(), []string{d.ID}); ps != nil {
		res.Push = *ps[0]
	}
	writeJSON(w, http.StatusAccepted, res)
}

// wake wakes a device after a change that concerns it was committed (a queued command).
func (s *API) wake(ctx context.Context, d store.Device, reason string) {
	if s.cfg.Push != nil {
		s.cfg.Push.WakeDevice(ctx, d.TenantID, d.ID, reason)
	}
}

// pushStatuses are the devices' push channels for their views, in the order of ids; nil
// without a Pusher, or when they cannot be read (the views then leave push out: logged).
func (s *API) pushStatuses(ctx context.Context, ids []string) []*wire.PushStatus {
	if s.cfg.Push == nil || len(ids) == 0 {
		return nil
	}
	ps, err := s.cfg.Push.PushStatuses(ctx, ids)
	if err != nil || len(ps) != len(ids) {
		s.log.Warn("reading push states for device views", "devices", len(ids), "err", err)
		return nil
	}
	out := make([]*wire.PushStatus, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}
