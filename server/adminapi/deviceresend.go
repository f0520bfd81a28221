package adminapi

import (
	"errors"
	"net/http"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// errNothingFailed aborts a device resend when no setting of the device is in error.
var errNothingFailed = errors.New("no setting of the device is in error")

// resendDeviceFailed marks one device for its settings in error to be sent again: its next
// check-in resolves its policy again and re-sends what failed (the device form of a
// profile's resendToFailed). 409 when no setting of the device is in error.
func (s *API) resendDeviceFailed(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	p := requestPrincipal(r)
	var failed []string
	err := s.cfg.Store.Checkin(r.Context(), d.ID, func(tx store.DeviceTx) error {
		failed = nil
		states, err := tx.SettingStates()
		if err != nil {
			return err
		}
		for _, st := range states {
			if st.State == store.SettingError {
				failed = append(failed, st.LocURI)
			}
		}
		if len(failed) == 0 {
			return errNothingFailed
		}
		cur, err := tx.Device()
		if err != nil {
			return err
		}
		cur.PolicyDirty = true
		if err := tx.PutDevice(cur); err != nil {
			return err
		}
		return tx.Audit(s.adminEvent(p, cur.TenantID, "resendFailed", audit.Subject{Type: audit.SubjectDevice, ID: cur.ID}, cur.ID,
			nil, map[string]any{"settings": failed, "policyDirty": true}))
	})
	switch {
	case errors.Is(err, errNothingFailed):
		writeError(w, http.StatusConflict, "conflict", "no setting of the device is in error")
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "notFound", "no such device")
	case err != nil:
		s.log.Error("marking a device's failed settings failed", "device", d.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the device could not be marked; nothing was changed")
	default:
		writeJSON(w, http.StatusOK, wire.ResendFailed{DeviceID: d.ID, Settings: failed})
	}
}
