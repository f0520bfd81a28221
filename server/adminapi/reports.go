package adminapi

import (
	"errors"
	"net/http"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

func settingViews(list []store.SettingState) []wire.SettingState {
	out := make([]wire.SettingState, 0, len(list))
	for _, s := range list {
		out = append(out, wire.SettingState{LocURI: s.LocURI, Format: s.Format, Value: s.Value, State: s.State, Removing: s.Removing && s.State != store.SettingRemoved, ErrorCode: s.ErrorCode,
			ErrorDetail: s.ErrorDetail, Sources: nonNil(s.Sources), LastChanged: s.LastChanged})
	}
	return out
}

// resendToFailed marks every device with a setting of the profile in error as dirty: its next
// check-in resolves again and re-sends what failed.
func (h *policyAPI) resendToFailed(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		failed, err := h.failedDevices(r, prof)
		if err != nil {
			h.writeFailed(w, "profile report", err)
			return
		}
		marked := []string{}
		p := requestPrincipal(r)
		for _, id := range failed {
			// Each device is marked in its own write, with its own audit event in the same
			// transaction: what is recorded is exactly what was marked, even if a later
			// device fails.
			err := h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
				dev, err := tx.UpdateDevice(id, func(dev *store.Device) error {
					dev.PolicyDirty = true
					return nil
				})
				if err != nil {
					return err
				}
				return tx.Audit(h.s.adminEvent(p, prof.TenantID, "resendToFailed", audit.Subject{Type: audit.SubjectProfile, ID: prof.ID}, dev.ID,
					nil, map[string]any{"deviceId": dev.ID, "policyDirty": true}))
			})
			if errors.Is(err, store.ErrNotFound) {
				continue // the device was deleted since the report
			}
			if err != nil {
				h.writeFailed(w, "device", err)
				return
			}
			marked = append(marked, id)
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": marked})
	}
}

func (h *policyAPI) deviceSettingStates(w http.ResponseWriter, r *http.Request) {
	d, ok := h.s.deviceInTenant(w, r)
	if !ok {
		return
	}
	list, err := h.s.cfg.Store.SettingStates(r.Context(), d.ID)
	if err != nil {
		h.writeFailed(w, "device", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": settingViews(list)})
}

func (h *policyAPI) deviceProfiles(w http.ResponseWriter, r *http.Request) {
	d, ok := h.s.deviceInTenant(w, r)
	if !ok {
		return
	}
	rep, err := policy.DeviceReport(r.Context(), h.s.cfg.Store, d.ID)
	if err != nil {
		h.writeFailed(w, "device", err)
		return
	}
	writeJSON(w, http.StatusOK, wire.DeviceProfiles{DeviceID: rep.DeviceID, Profiles: nonNil(rep.Profiles), Counts: rep.Counts, Settings: settingViews(rep.Settings)})
}
