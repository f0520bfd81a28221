package adminapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// A profile's deployment report (GET .../{pid}/deviceStatuses) reads the store's profile
// status index (store.PolicyReads.QueryProfileStatus, ProfileStatusCounts): its counts are
// kept with every setting state write and its rows are listed by device ID then LocURI from
// a skip token, so no request reads the tenant's other setting states. Parameters:
//
//	state      only the rows in this state (the counts stay those of every state)
//	top        one page of at most top rows (1 to store.MaxProfileStatusPage), with
//	           nextSkipToken when more follow; without top, every row
//	skipToken  the nextSkipToken of the previous page
//
// A page ends after top rows, so one device's settings may continue on the next page, which
// then lists the device again with the rest.

// statusQuery is a parsed deviceStatuses request.
type statusQuery struct {
	state, after string
	top          int // 0: every row
}

func parseStatusQuery(r *http.Request) (statusQuery, error) {
	v := r.URL.Query()
	q := statusQuery{state: v.Get("state"), after: v.Get("skipToken")}
	if q.state != "" && !slices.Contains(policy.States(), q.state) {
		return q, errors.New("state is not one of " + strings.Join(policy.States(), ", "))
	}
	if s := v.Get("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxProfileStatusPage {
			return q, errors.New("top is not a number from 1 to " + strconv.Itoa(store.MaxProfileStatusPage))
		}
		q.top = n
	}
	if q.after != "" && q.top == 0 {
		return q, errors.New("skipToken needs top")
	}
	return q, nil
}

// statusPages calls fn for each page of the profile's rows the request asks for (one with
// top, else all of them), and returns the skip token of the next.
func (h *policyAPI) statusPages(r *http.Request, sq store.ProfileStatusQuery, top int, fn func(store.ProfileStatusPage) error) (string, error) {
	sq.Limit = store.MaxProfileStatusPage
	if top > 0 {
		sq.Limit = top
	}
	for {
		page, err := h.s.cfg.Store.QueryProfileStatus(r.Context(), sq)
		if err != nil {
			return "", err
		}
		if err := fn(page); err != nil {
			return "", err
		}
		if top > 0 || page.Next == "" {
			return page.Next, nil
		}
		sq.After = page.Next
	}
}

// addStatusRow appends s to the last device of out when it is the row's device, else to a
// new one.
func addStatusRow(out *wire.ProfileStatus, row store.ProfileStatusRow, s store.SettingState) *wire.DeviceSettingStatus {
	if n := len(out.Devices); n > 0 && out.Devices[n-1].DeviceID == row.DeviceID {
		d := &out.Devices[n-1]
		d.Settings = append(d.Settings, settingViews([]store.SettingState{s})...)
		return d
	}
	out.Devices = append(out.Devices, wire.DeviceSettingStatus{DeviceID: row.DeviceID, DeviceName: row.DeviceName, UserPrincipalName: row.UPN,
		Settings: settingViews([]store.SettingState{s})})
	return &out.Devices[len(out.Devices)-1]
}

func isPinRecovery(locURI string) bool {
	return strings.HasSuffix(locURI, "/Policies/EnablePinRecovery")
}

func (h *policyAPI) profileStatuses(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, err := parseStatusQuery(r)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalidFilter", err.Error())
			return
		}
		vars := mux.Vars(r)
		if _, err := h.s.cfg.Store.Profile(r.Context(), vars["tid"], vars["pid"]); errors.Is(err, store.ErrNotFound) {
			h.deletedProfileStatuses(w, r, q)
			return
		}
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		counts, err := h.s.cfg.Store.ProfileStatusCounts(r.Context(), prof.TenantID, prof.ID)
		if err != nil {
			h.writeFailed(w, "profile report", err)
			return
		}
		out := wire.ProfileStatus{ProfileID: prof.ID, Counts: counts, Devices: []wire.DeviceSettingStatus{}}
		// CanReset is shown beside a PIN recovery setting: the page then reads its devices.
		pin := slices.ContainsFunc(prof.Settings, func(s store.ProfileSetting) bool { return isPinRecovery(s.LocURI) })
		var tenant *store.Tenant
		sq := store.ProfileStatusQuery{TenantID: prof.TenantID, ProfileID: prof.ID, State: q.state, After: q.after, Devices: pin}
		out.NextSkipToken, err = h.statusPages(r, sq, q.top, func(page store.ProfileStatusPage) error {
			for _, row := range page.Rows {
				v := addStatusRow(&out, row, row.SettingState)
				dev, ok := page.Devices[row.DeviceID]
				if !ok || !isPinRecovery(row.LocURI) {
					continue
				}
				if tenant == nil {
					tenant = h.s.tenantOfDevice(r.Context(), dev)
				}
				v.CanReset, v.CanResetReason = effectiveCanReset(dev, tenant)
			}
			return nil
		})
		if err != nil {
			h.statusFailed(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (h *policyAPI) statusFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrInvalidCursor) {
		writeError(w, http.StatusUnprocessableEntity, "invalidFilter", "skipToken is not one of this listing's")
		return
	}
	h.writeFailed(w, "profile report", err)
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
//
// The states shown are not the stored ones, so the counts (and the state filter) are worked
// out row by row: the counts read every row of the profile (from the index, never the
// tenant's other states), which a deleted profile's report does while its devices remove it.
func (h *policyAPI) deletedProfileStatuses(w http.ResponseWriter, r *http.Request, q statusQuery) {
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
	out := wire.ProfileStatus{ProfileID: vars["pid"], Deleted: true, Counts: map[string]int{}, Devices: []wire.DeviceSettingStatus{}}
	for _, st := range policy.States() {
		out.Counts[st] = 0
	}
	sq := store.ProfileStatusQuery{TenantID: vars["tid"], ProfileID: vars["pid"]}
	rows := 0
	_, err = h.statusPages(r, sq, 0, func(page store.ProfileStatusPage) error {
		for _, row := range page.Rows {
			if s, ok := removal(row.SettingState, live); ok {
				out.Counts[s.State]++
				rows++
			}
		}
		return nil
	})
	if err == nil && rows > 0 {
		sq.After = q.after
		out.NextSkipToken, err = h.statusPages(r, sq, q.top, func(page store.ProfileStatusPage) error {
			for _, row := range page.Rows {
				if s, ok := removal(row.SettingState, live); ok && (q.state == "" || s.State == q.state) {
					addStatusRow(&out, row, s)
				}
			}
			return nil
		})
	}
	if err != nil {
		h.statusFailed(w, err)
		return
	}
	if rows == 0 {
		writeError(w, http.StatusNotFound, "notFound", "no such profile")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// removal is how a deleted profile's report shows s: ok false when an existing profile
// still sets it.
func removal(s store.SettingState, live map[string]bool) (store.SettingState, bool) {
	if slices.ContainsFunc(s.Sources, func(id string) bool { return live[id] }) {
		return s, false
	}
	switch {
	case s.State == store.SettingRemoved:
	case s.State == store.SettingError && s.Removing:
	default:
		s.State, s.Removing, s.ErrorCode, s.ErrorDetail = store.SettingPending, true, 0, ""
	}
	return s, true
}

// failedDevices lists the devices with a setting of the profile in error, from the index's
// error rows.
func (h *policyAPI) failedDevices(r *http.Request, prof store.Profile) ([]string, error) {
	var ids []string
	sq := store.ProfileStatusQuery{TenantID: prof.TenantID, ProfileID: prof.ID, State: store.SettingError}
	_, err := h.statusPages(r, sq, 0, func(page store.ProfileStatusPage) error {
		for _, row := range page.Rows {
			if n := len(ids); n == 0 || ids[n-1] != row.DeviceID {
				ids = append(ids, row.DeviceID)
			}
		}
		return nil
	})
	return ids, err
}
