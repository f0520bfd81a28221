package adminapi

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Paged device lists. GET /tenants/{tid}/devices with any of the parameters below answers
// one page from the store's device index (store.DeviceIndex), never reading every device:
//
//	top            page size, 1 to 500 (default 50)
//	skipToken      the nextSkipToken of the previous page
//	search         case-insensitive prefix of the device name or of the user's UPN
//	canReset       DestructiveOnly, DestructiveAndNonDestructive or "" (not reported), as
//	               the device list shows it (the tenant's PIN reset availability applied)
//	enrollmentState enrolled, unenrolled or retired
//	osVersion      prefix of the OS version (10.0.26100); osEdition an edition (SKU) number
//	seenSince, notSeenSince  RFC 3339 times: last check-in at or after / before (or never),
//	               to the minute
//
// The answer is {"value":[...],"nextSkipToken":"..."}, ordered by device name (by the
// matched name or UPN when searching); nextSkipToken is absent at the end. A page may hold
// fewer than top devices and still have a nextSkipToken: one request reads at most
// store.MaxDeviceScan index entries, so a rare filter costs a few pages, not a scan of the
// tenant. Without any of these parameters the route answers every device, as before.

// devicePageParams are the query parameters that ask for a page.
var devicePageParams = []string{"top", "skipToken", "search", "enrollmentState", "osVersion", "osEdition", "seenSince", "notSeenSince"}

// wantsDevicePage reports whether the request asks for a page.
func wantsDevicePage(q url.Values) bool {
	for _, p := range devicePageParams {
		if _, ok := q[p]; ok {
			return true
		}
	}
	return false
}

// deviceQuery reads the page parameters.
func deviceQuery(q url.Values, t store.Tenant, p Principal) (store.DeviceQuery, error) {
	dq := store.DeviceQuery{TenantID: t.ID, Search: strings.TrimSpace(q.Get("search")), OSVersion: strings.TrimSpace(q.Get("osVersion")),
		After: q.Get("skipToken")}
	if len(p.ScopeTags) > 0 {
		dq.Visible = p.SeesTags
	}
	var err error
	if v := q.Get("top"); v != "" {
		if dq.Limit, err = strconv.Atoi(v); err != nil || dq.Limit < 1 || dq.Limit > store.MaxDevicePage {
			return dq, validationError("top must be 1 to " + strconv.Itoa(store.MaxDevicePage))
		}
	}
	if v := q.Get("osEdition"); v != "" {
		if dq.OSEdition, err = strconv.Atoi(v); err != nil || dq.OSEdition < 0 {
			return dq, validationError("osEdition must be an edition (SKU) number")
		}
	}
	switch st := strings.ToLower(q.Get("enrollmentState")); st {
	case "", store.DeviceEnrolled, store.DeviceUnenrolled, store.DeviceRetired:
		dq.State = st
	default:
		return dq, validationError("enrollmentState " + quote(st) + " is not enrolled, unenrolled or retired")
	}
	for name, dst := range map[string]*time.Time{"seenSince": &dq.SeenSince, "notSeenSince": &dq.NotSeenSince} {
		if v := q.Get(name); v != "" {
			if *dst, err = time.Parse(time.RFC3339, v); err != nil {
				return dq, validationError(name + " must be an RFC 3339 time")
			}
		}
	}
	if len(dq.Search) > 256 || len(dq.OSVersion) > 64 {
		return dq, validationError("search or osVersion too long")
	}
	return dq, nil
}

// reportedCanReset maps the CanReset the device list shows (effectiveCanReset: what the
// device reported, made DestructiveOnly where the tenant cannot do PIN reset) onto the
// reported values that show as it.
func reportedCanReset(shown string, t store.Tenant) []string {
	available := pinreset.Availability(t.GovCloud, t.PinResetServiceConsentAt != nil, t.PinResetClientConsentAt != nil) == pinreset.AvailabilityAvailable
	switch {
	case shown == "" || available:
		return []string{shown}
	case shown == CanResetDestructiveOnly:
		return []string{CanResetDestructiveOnly, CanResetDestructiveAndNonDestructive}
	}
	return []string{} // DestructiveAndNonDestructive cannot show in this tenant
}

// listDevicePage answers one page (see above).
func (s *API) listDevicePage(w http.ResponseWriter, r *http.Request, t store.Tenant) {
	p, _ := PrincipalFrom(r.Context())
	dq, err := deviceQuery(r.URL.Query(), t, p)
	if err == nil {
		var shown string
		var filter bool
		if shown, filter, err = canResetFilter(r); filter {
			dq.CanReset = reportedCanReset(shown, t)
		}
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidFilter", err.Error())
		return
	}
	out := wire.DevicePage{Value: []wire.Device{}}
	if dq.CanReset != nil && len(dq.CanReset) == 0 {
		writeJSON(w, http.StatusOK, out)
		return
	}
	page, err := s.cfg.Store.QueryDevices(r.Context(), dq)
	if errors.Is(err, store.ErrInvalidCursor) {
		writeError(w, http.StatusUnprocessableEntity, "invalidFilter", "skipToken is not one of this listing's")
		return
	}
	if err != nil {
		s.log.Error("listing a page of devices failed", "tenant", t.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing devices failed")
		return
	}
	for _, d := range page.Devices {
		out.Value = append(out.Value, deviceView(d, &t))
	}
	out.NextSkipToken = page.Next
	writeJSON(w, http.StatusOK, out)
}
