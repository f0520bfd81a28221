package adminapi

import (
	"cmp"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

func (s *API) overview(w http.ResponseWriter, r *http.Request) {
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	since := s.cfg.Now().Add(-time.Hour).UTC().Truncate(time.Minute)
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, v); err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalidFilter", "since must be an RFC 3339 time")
			return
		}
	}
	p, _ := PrincipalFrom(r.Context())
	var visible func([]string) bool
	if len(p.ScopeTags) > 0 {
		visible = p.SeesTags
	}
	counts, err := s.cfg.Store.CountDevices(r.Context(), t.ID, since, visible)
	if err != nil {
		s.log.Error("counting devices failed", "tenant", t.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "counting devices failed")
		return
	}
	out := wire.Overview{TenantID: t.ID, DevicesByState: counts.ByState, CanReset: shownCanReset(counts.ByCanReset, t),
		CheckedInSince: since.UTC(), CheckedIn: counts.SeenSince, ProfilesInTrouble: []wire.ProfileTrouble{}}
	if out.ProfilesInTrouble, err = s.profilesInTrouble(r, t, p); err != nil {
		s.log.Error("counting setting troubles failed", "tenant", t.ID, "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "counting setting troubles failed")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// shownCanReset folds the reported counts into what the device list shows: where the tenant
// cannot do PIN reset, DestructiveAndNonDestructive shows as DestructiveOnly.
func shownCanReset(reported map[string]int, t store.Tenant) map[string]int {
	out := map[string]int{"": 0, CanResetDestructiveOnly: 0, CanResetDestructiveAndNonDestructive: 0}
	available := pinreset.Availability(t.GovCloud, t.PinResetServiceConsentAt != nil, t.PinResetClientConsentAt != nil) == pinreset.AvailabilityAvailable
	for v, n := range reported {
		if v == CanResetDestructiveAndNonDestructive && !available {
			v = CanResetDestructiveOnly
		}
		out[v] += n
	}
	return out
}

func (s *API) profilesInTrouble(r *http.Request, t store.Tenant, p Principal) ([]wire.ProfileTrouble, error) {
	troubles, err := s.cfg.Store.SettingTroubles(r.Context(), t.ID)
	if err != nil || len(troubles) == 0 {
		return []wire.ProfileTrouble{}, err
	}
	// The profiles in trouble are read one by one, not the tenant's every profile; a profile
	// deleted while its devices still report its settings is left out, as before.
	out := []wire.ProfileTrouble{}
	for id, tr := range troubles {
		prof, err := s.cfg.Store.Profile(r.Context(), t.ID, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !seesProfile(p, prof) {
			continue
		}
		out = append(out, wire.ProfileTrouble{ID: prof.ID, Name: prof.Name, Route: kindFor(prof.Kind).route, Error: tr.Error, Conflict: tr.Conflict})
	}
	slices.SortFunc(out, func(a, b wire.ProfileTrouble) int {
		if a.Error != b.Error {
			return b.Error - a.Error
		}
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}
