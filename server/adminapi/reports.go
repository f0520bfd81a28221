package adminapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

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

func (h *policyAPI) profileStatuses(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		vars := mux.Vars(r)
		if _, err := h.s.cfg.Store.Profile(r.Context(), vars["tid"], vars["pid"]); errors.Is(err, store.ErrNotFound) {
			h.deletedProfileStatuses(w, r)
			return
		}
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		rep, err := policy.ProfileReport(r.Context(), h.s.cfg.Store, prof.TenantID, prof.ID)
		if err != nil {
			h.writeFailed(w, "profile report", err)
			return
		}
		out := wire.ProfileStatus{ProfileID: rep.ProfileID, Counts: rep.Counts, Devices: []wire.DeviceSettingStatus{}}
		var tenant *store.Tenant
		for _, d := range rep.Devices {
			v := wire.DeviceSettingStatus{DeviceID: d.DeviceID, Settings: settingViews(d.Settings)}
			if slices.ContainsFunc(d.Settings, func(s store.SettingState) bool { return strings.HasSuffix(s.LocURI, "/Policies/EnablePinRecovery") }) {
				if dev, err := h.s.cfg.Store.Device(r.Context(), d.DeviceID); err == nil {
					if tenant == nil {
						tenant = h.s.tenantOfDevice(r.Context(), dev)
					}
					v.CanReset, v.CanResetReason = effectiveCanReset(dev, tenant)
				}
			}
			out.Devices = append(out.Devices, v)
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// deletedProfileStatuses reports a deleted profile's removal: devices delete its settings at
// their next check-in (Delete, confirmed by the device's Status), so the profile's report
// goes on while any setting state still names it, with deleted set. Each setting is removed
// (the device confirmed, or nothing had been written), pending with removing set (the Delete
// is on its way, or the device has not checked in since the deletion), or error (the device
// refused to delete the node). A setting that another existing profile still sets is not
// being removed and is left out. The profile's scope tags went with it, so only tokens
// without scope tags (which see every profile of the tenant) get this report; 404 for the
// others, and once no setting state names the profile.
func (h *policyAPI) deletedProfileStatuses(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	p, _ := PrincipalFrom(r.Context())
	if !p.SeesTenant(vars["tid"]) || len(p.ScopeTags) > 0 {
		writeError(w, http.StatusNotFound, "notFound", "no such profile")
		return
	}
	profs, err := h.s.cfg.Store.ListProfiles(r.Context(), vars["tid"])
	if err != nil {
		h.writeFailed(w, "profile report", err)
		return
	}
	live := map[string]bool{}
	for _, prof := range profs {
		live[prof.ID] = true
	}
	rep, err := policy.ProfileReport(r.Context(), h.s.cfg.Store, vars["tid"], vars["pid"])
	if err != nil {
		h.writeFailed(w, "profile report", err)
		return
	}
	out := wire.ProfileStatus{ProfileID: vars["pid"], Deleted: true, Counts: map[string]int{}, Devices: []wire.DeviceSettingStatus{}}
	for _, st := range policy.States() {
		out.Counts[st] = 0
	}
	for _, d := range rep.Devices {
		var kept []store.SettingState
		for _, s := range d.Settings {
			if slices.ContainsFunc(s.Sources, func(id string) bool { return live[id] }) {
				continue
			}
			switch {
			case s.State == store.SettingRemoved:
			case s.State == store.SettingError && s.Removing:
			default:
				s.State, s.Removing, s.ErrorCode, s.ErrorDetail = store.SettingPending, true, 0, ""
			}
			out.Counts[s.State]++
			kept = append(kept, s)
		}
		if len(kept) > 0 {
			out.Devices = append(out.Devices, wire.DeviceSettingStatus{DeviceID: d.DeviceID, Settings: settingViews(kept)})
		}
	}
	if len(out.Devices) == 0 {
		writeError(w, http.StatusNotFound, "notFound", "no such profile")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// resendToFailed marks every device with a setting of the profile in error as dirty: its next
// check-in resolves again and re-sends what failed.
func (h *policyAPI) resendToFailed(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		rep, err := policy.ProfileReport(r.Context(), h.s.cfg.Store, prof.TenantID, prof.ID)
		if err != nil {
			h.writeFailed(w, "profile report", err)
			return
		}
		marked := []string{}
		p := requestPrincipal(r)
		for _, d := range rep.Devices {
			if !slices.ContainsFunc(d.Settings, func(s store.SettingState) bool { return s.State == store.SettingError }) {
				continue
			}
			// Each device is marked in its own write, with its own audit event in the same
			// transaction: what is recorded is exactly what was marked, even if a later
			// device fails.
			err := h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
				dev, err := tx.UpdateDevice(d.DeviceID, func(dev *store.Device) error {
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
			marked = append(marked, d.DeviceID)
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
