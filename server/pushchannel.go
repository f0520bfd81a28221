package server

import (
	"errors"
	"net/http"
	"strings"

	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/server/push"
	"github.com/hellomdm/hellomdm/store"
)

// PushPath is the built-in push channel (server/push): a GET that the device's agent holds
// open to receive wake-ups. It sits next to the management endpoint, so the agent finds it
// relative to the ADDR it was given at enrollment.
const PushPath = "/ManagementServer/Push"

// pushChannel serves GET PushPath. The device is identified exactly as at the management
// endpoint: by the client certificate our CA issued, which must be the enrolled device's
// current one (a revoked, replaced, retired or unenrolled device is refused). An optional
// tenant query parameter is what the agent believes its tenant is: it is never used to
// identify the device, and a value other than the device's tenant is refused, so a
// misconfigured agent learns it at once. A refusal changes nothing and registers nothing.
func (s *Server) pushChannel(w http.ResponseWriter, r *http.Request) {
	id, err := s.identifyDevice(r)
	if err != nil {
		s.log.Warn("push channel refused", "reason", err, "addr", s.sourceAddr(r))
		adminapi.WriteError(w, http.StatusUnauthorized, "unauthorized", "a client certificate issued at enrollment is required")
		return
	}
	d, err := s.cfg.Store.Device(r.Context(), id.DeviceID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.refusePush(w, r, id, "", http.StatusForbidden, "device is not enrolled")
		return
	case err != nil:
		w.Header().Set("Retry-After", "30")
		adminapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the store is unavailable; retry later")
		return
	}
	var reason string
	switch {
	case d.State != store.DeviceEnrolled:
		reason = "device is " + d.State
	case !strings.EqualFold(d.CertSerial, id.Serial):
		reason = "certificate is not the device's current certificate (revoked or replaced)"
	case r.URL.Query().Has("tenant") && !strings.EqualFold(r.URL.Query().Get("tenant"), d.TenantID):
		reason = "the device belongs to another tenant than the one asked for"
	}
	if reason != "" {
		s.refusePush(w, r, id, d.TenantID, http.StatusForbidden, reason)
		return
	}
	if err := s.push.Serve(w, r, d); errors.Is(err, push.ErrShuttingDown) {
		w.Header().Set("Retry-After", "5")
		adminapi.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the server is shutting down; connect again")
	} else if err != nil {
		s.log.Debug("push channel ended", "device", d.ID, "err", err)
	}
}

// refusePush answers a refused channel and records the refusal in the device's tenant log.
func (s *Server) refusePush(w http.ResponseWriter, r *http.Request, id deviceIdentity, tenantID string, status int, reason string) {
	s.log.Warn("push channel refused", "device", id.DeviceID, "tenant", tenantID, "reason", reason, "addr", s.sourceAddr(r))
	s.auditRefusal(r, id.DeviceID, id.Serial, reason)
	adminapi.WriteError(w, status, "refused", reason)
}
