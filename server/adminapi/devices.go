package adminapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Where the agent reports which PIN resets a device can do: hellomdm's HelloStatus node
// (csp/table.go), the device-scoped form and the unscoped ./Vendor form that MS-MDM
// 2.2.7.x also accepts for device-scoped CSPs. Values are those of dsregcmd /status, User
// State, CanReset (Learn "pin-reset"; docs/protocol.md D.3).
const (
	CanResetDestructiveOnly              = "DestructiveOnly"
	CanResetDestructiveAndNonDestructive = "DestructiveAndNonDestructive"
)

// deviceCanReset is what the agent last reported at the CanReset node ("" if nothing yet).
func deviceCanReset(d store.Device) string { return d.ReportedCanReset() }

// reportedNode is what the agent last reported at ./Vendor/MSFT/hellomdm/<rel>, in the
// device-scoped or the unscoped form (a Get answer or package 1's Replace).
func reportedNode(d store.Device, rel string) string {
	if v, ok := d.Nodes["./Device/Vendor/MSFT/hellomdm/"+rel]; ok {
		return v
	}
	return d.Nodes["./Vendor/MSFT/hellomdm/"+rel]
}

// Refusals the server words itself because it learns their facts before the device does.
// They are the device's support matrix rows (device/hello support.go) with the same text, so
// the device list and `device status` say the same thing once the device has checked in.
const (
	rowGovCloud          = "government-cloud"
	rowRecoveryDisabled  = "recovery-policy-disabled"
	rowTenantNotOnboard  = "tenant-not-onboarded"
	rowProtectorMissing  = "protector-missing"
	reasonGovCloud       = "PIN reset not supported (" + rowGovCloud + "): the PIN reset service is not available in Azure Government; use destructive PIN reset"
	reasonNotOnboarded   = "PIN reset not supported (" + rowTenantNotOnboard + "): the tenant has not consented to the PIN reset service and client applications; grant admin consent to both PIN reset applications, or use destructive PIN reset"
	canResetReasonPrefix = "PIN reset not supported ("
)

// reasonRow is the support matrix row named in a CanResetReason.
func reasonRow(reason string) string {
	rest, ok := strings.CutPrefix(reason, canResetReasonPrefix)
	if !ok {
		return ""
	}
	row, _, _ := strings.Cut(rest, ")")
	return row
}

// effectiveCanReset is the device's reported CanReset and reason corrected by the tenant t
// (nil: not known). The matrix evaluates government-cloud before recovery-policy-disabled,
// tenant-not-onboarded and protector-missing, and tenant-not-onboarded before
// protector-missing: a later row the device reported gives way to an earlier one the server
// knows applies.
func effectiveCanReset(d store.Device, t *store.Tenant) (string, string) {
	cr := deviceCanReset(d)
	reason := ""
	if cr == CanResetDestructiveOnly {
		reason = reportedNode(d, "HelloStatus/CanResetReason")
	}
	if t == nil || (cr != CanResetDestructiveOnly && cr != CanResetDestructiveAndNonDestructive) {
		return cr, reason
	}
	row := reasonRow(reason)
	switch pinreset.Availability(t.GovCloud, t.PinResetServiceConsentAt != nil, t.PinResetClientConsentAt != nil) {
	case pinreset.AvailabilityGovernmentCloud:
		if cr == CanResetDestructiveAndNonDestructive || row == rowRecoveryDisabled || row == rowTenantNotOnboard || row == rowProtectorMissing {
			return CanResetDestructiveOnly, reasonGovCloud
		}
	case pinreset.AvailabilityConsentRequired:
		if cr == CanResetDestructiveAndNonDestructive || row == rowProtectorMissing {
			return CanResetDestructiveOnly, reasonNotOnboarded
		}
	}
	return cr, reason
}

// deviceView shows d; t, when known, corrects its CanReset (effectiveCanReset).
func deviceView(d store.Device, t *store.Tenant) wire.Device {
	canReset, reason := effectiveCanReset(d, t)
	return wire.Device{ID: d.ID, DeviceName: d.DeviceName, UserPrincipalName: d.UPN, UserID: d.UserID, OSVersion: d.OSVersion,
		EnrollmentType: d.EnrollmentType, EnrollmentState: d.State, CanReset: canReset, CanResetReason: reason,
		JoinType: reportedNode(d, "DeviceState/JoinType"), TrustType: reportedNode(d, "DeviceState/TrustType"),
		AccountType: reportedNode(d, "DeviceState/AccountType"), CertSerial: d.CertSerial,
		CertNotAfter: d.CertNotAfter, LastSeenAt: d.LastSeenAt, EnrolledAt: d.EnrolledAt, RoleScopeTagIDs: nonNil(d.ScopeTags),
		WNS: deviceWNSView(d, time.Now())}
}

// canResetFilter reads ?canReset=: absent means no filter; "" selects devices that have not
// reported; otherwise one of the two dsregcmd values (case-insensitive).
func canResetFilter(r *http.Request) (value string, filter bool, err error) {
	vals, ok := r.URL.Query()["canReset"]
	if !ok {
		return "", false, nil
	}
	if len(vals) != 1 {
		return "", false, validationError("give canReset once")
	}
	for _, v := range []string{"", CanResetDestructiveOnly, CanResetDestructiveAndNonDestructive} {
		if strings.EqualFold(vals[0], v) {
			return v, true, nil
		}
	}
	return "", false, validationError("canReset " + quote(vals[0]) + " is not DestructiveOnly, DestructiveAndNonDestructive or empty")
}

func (s *API) listDevices(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	if wantsDevicePage(r.URL.Query()) {
		s.listDevicePage(w, r, t)
		return
	}
	want, filter, err := canResetFilter(r)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidFilter", err.Error())
		return
	}
	p, _ := PrincipalFrom(r.Context())
	devices, err := s.cfg.Store.ListDevices(r.Context(), t.ID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing devices failed")
		return
	}
	out := make([]wire.Device, 0, len(devices))
	for _, d := range devices {
		if !strings.EqualFold(d.TenantID, t.ID) || !p.SeesTags(d.ScopeTags) {
			continue
		}
		v := deviceView(d, &t)
		if filter && v.CanReset != want {
			continue
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b wire.Device) int { return strings.Compare(a.ID, b.ID) })
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	if ps := s.pushStatuses(r.Context(), ids); ps != nil {
		for i := range out {
			out[i].Push = ps[i]
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *API) getDevice(w http.ResponseWriter, r *http.Request) {
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	v := deviceView(d, s.tenantOfDevice(r.Context(), d))
	if ps := s.pushStatuses(r.Context(), []string{d.ID}); ps != nil {
		v.Push = ps[0]
	}
	writeJSON(w, http.StatusOK, v)
}

// tenantOfDevice loads d's tenant for its view; nil (the view shows what the device
// reported) when it cannot be read.
func (s *API) tenantOfDevice(ctx context.Context, d store.Device) *store.Tenant {
	t, err := s.cfg.Store.Tenant(ctx, strings.ToLower(d.TenantID))
	if err != nil {
		s.log.Warn("loading the tenant of a device for its view", "device", d.ID, "err", err)
		return nil
	}
	return &t
}

// errAlreadyRetired aborts a retire transaction on a device that is already retired.
var errAlreadyRetired = errors.New("device is already retired")

// retireDevice marks a device retired. From then on the session engine refuses its check-ins
// and the PIN reset service refuses it; it can come back only by enrolling again.
func (s *API) retireDevice(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "retire devices")
	if !ok {
		return
	}
	d, ok := s.deviceInTenant(w, r)
	if !ok {
		return
	}
	after, err := s.retire(r.Context(), p, d.ID)
	switch {
	case errors.Is(err, errAlreadyRetired):
		writeError(w, http.StatusConflict, "conflict", "the device is already retired")
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "notFound", "no such device")
	case err != nil:
		s.log.Error("retiring device failed", "device", d.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the device could not be retired; nothing was changed")
	default:
		writeJSON(w, http.StatusOK, deviceView(after, s.tenantOfDevice(r.Context(), after)))
	}
}

// retire marks a device retired in one transaction with its admin.write and retired audit
// events; errAlreadyRetired when it already was.
func (s *API) retire(ctx context.Context, p Principal, id string) (store.Device, error) {
	var after store.Device
	err := s.cfg.Store.Checkin(ctx, id, func(tx store.DeviceTx) error {
		cur, err := tx.Device()
		if err != nil {
			return err
		}
		if cur.State == store.DeviceRetired {
			return errAlreadyRetired
		}
		before := deviceView(cur, nil)
		now := s.cfg.Now().UTC()
		cur.State, cur.UpdatedAt = store.DeviceRetired, now
		if err := tx.PutDevice(cur); err != nil {
			return err
		}
		after = cur
		view := deviceView(cur, nil)
		return tx.Audit(
			s.adminEvent(p, cur.TenantID, "retire", audit.Subject{Type: audit.SubjectDevice, ID: cur.ID}, cur.ID, before, view),
			&audit.Event{ID: eventid.New(), Time: now, TenantID: cur.TenantID, Kind: audit.KindRetired,
				Actor:   audit.Actor{Type: audit.ActorAdmin, ID: p.Name, TokenID: p.TokenID, Role: p.Role, SourceAddr: p.Addr},
				Subject: audit.Subject{Type: audit.SubjectDevice, ID: cur.ID}, DeviceID: cur.ID, Action: "retire",
				Details: mustJSON(map[string]any{"previousState": before.EnrollmentState, "certSerial": cur.CertSerial})},
		)
	})
	if err == nil && s.cfg.Push != nil {
		// Its push channel ends now, on whichever replica holds it: the device is refused from
		// here on, and the view must not show a retired device as connected.
		s.cfg.Push.DropDevice(ctx, after.TenantID, after.ID)
	}
	return after, err
}
