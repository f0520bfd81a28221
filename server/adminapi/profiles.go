package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
)

// profileKind ties a route segment to the Intune shape it takes.
type profileKind struct {
	route string // configurationPolicies or deviceConfigurations
	kind  string // store.ProfileSettingsCatalog or store.ProfileCustom
}

// Intune @odata.type of each shape (Microsoft Graph beta).
const (
	odataSettingsCatalog = "#microsoft.graph.deviceManagementConfigurationPolicy"
	odataCustom          = "#microsoft.graph.windows10CustomConfiguration"
)

func (k profileKind) odataType() string {
	if k.kind == store.ProfileCustom {
		return odataCustom
	}
	return odataSettingsCatalog
}

func kindFor(kind string) profileKind {
	if kind == store.ProfileCustom {
		return profileKind{routeCustom, store.ProfileCustom}
	}
	return profileKind{routeSettingsCatalog, store.ProfileSettingsCatalog}
}

// serverFields are the properties the server owns in a profile's JSON: stripped from what an
// admin sends (a Graph GET response posted back keeps working) and set on the way out.
var serverFields = []string{"id", "version", "createdDateTime", "lastModifiedDateTime", "settingCount", "@odata.context", "warnings"}

// peekKind tells which Intune shape a document is, from @odata.type or, for Graph GET
// responses without it, from settings vs omaSettings; "" when neither.
func peekKind(raw []byte) string {
	var h struct {
		Type        string          `json:"@odata.type"`
		Settings    json.RawMessage `json:"settings"`
		OMASettings json.RawMessage `json:"omaSettings"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return ""
	}
	switch {
	case strings.EqualFold(h.Type, odataSettingsCatalog):
		return store.ProfileSettingsCatalog
	case strings.EqualFold(h.Type, odataCustom):
		return store.ProfileCustom
	case h.Type == "" && h.Settings != nil && h.OMASettings == nil:
		return store.ProfileSettingsCatalog
	case h.Type == "" && h.OMASettings != nil && h.Settings == nil:
		return store.ProfileCustom
	}
	return ""
}

// stripServerFields removes serverFields from a JSON object (the rest is kept as sent when
// none is present).
func stripServerFields(raw []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	found := false
	for _, f := range serverFields {
		if _, ok := m[f]; ok {
			delete(m, f)
			found = true
		}
	}
	if !found {
		return raw, nil
	}
	return json.Marshal(m)
}

// mergePatch applies a JSON merge patch (RFC 7386) at the top level of a profile: present
// properties replace the stored ones, null removes them.
func mergePatch(stored, patch []byte) ([]byte, error) {
	var base, p map[string]json.RawMessage
	if err := json.Unmarshal(stored, &base); err != nil {
		return nil, fmt.Errorf("decoding the stored profile: %w", err)
	}
	if err := json.Unmarshal(patch, &p); err != nil {
		return nil, err
	}
	if base == nil {
		base = map[string]json.RawMessage{}
	}
	for k, v := range p {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(base, k)
			continue
		}
		base[k] = v
	}
	return json.Marshal(base)
}

// profileJSON is a profile as Graph shows it: the imported Intune JSON with id, version,
// roleScopeTagIds and timestamps set by the server.
func profileJSON(p store.Profile) json.RawMessage {
	m := map[string]any{}
	var stored map[string]json.RawMessage
	if json.Unmarshal(p.Raw, &stored) == nil {
		for k, v := range stored {
			m[k] = v
		}
	}
	k := kindFor(p.Kind)
	if _, ok := m["@odata.type"]; !ok {
		m["@odata.type"] = k.odataType()
	}
	m["id"], m["version"], m["roleScopeTagIds"] = p.ID, p.Version, nonNil(p.ScopeTags)
	m["createdDateTime"], m["lastModifiedDateTime"] = p.CreatedAt, p.UpdatedAt
	if p.Kind == store.ProfileSettingsCatalog {
		m["settingCount"] = len(p.Settings)
	}
	return mustJSON(m)
}

// scopeTagsOf treats Intune's Default tag ("0") and the name "Default" as one.
func scopeTagsOf(tags []string) []string {
	out := slices.Clone(tags)
	for _, t := range tags {
		switch {
		case t == policy.DefaultScopeTag:
			out = append(out, "Default")
		case strings.EqualFold(t, "Default"):
			out = append(out, policy.DefaultScopeTag)
		}
	}
	return out
}

// seesProfile reports whether a token sees a profile: the tenant, then the scope tags.
func seesProfile(p Principal, prof store.Profile) bool {
	return p.SeesTenant(prof.TenantID) && p.SeesTags(scopeTagsOf(prof.ScopeTags))
}

// tagsAllowed reports whether a token may give a profile these tags: a token with scope tags
// only its own.
func tagsAllowed(p Principal, tags []string) (string, bool) {
	if len(p.ScopeTags) == 0 {
		return "", true
	}
	mine := scopeTagsOf(p.ScopeTags)
	for _, t := range tags {
		if !slices.ContainsFunc(mine, func(m string) bool { return strings.EqualFold(m, t) }) {
			return t, false
		}
	}
	return "", true
}

// readProfileBody reads a profile document of at most policy.MaxProfileBytes; on failure it
// has answered 400 or 413.
func readProfileBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, policy.MaxProfileBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "tooLarge", fmt.Sprintf("a profile is at most %d bytes", policy.MaxProfileBytes))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "badRequest", "reading the body: "+err.Error())
		return nil, false
	case !json.Valid(raw) || !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")):
		writeError(w, http.StatusBadRequest, "badRequest", "the body must be one JSON object (an Intune profile export)")
		return nil, false
	}
	return raw, true
}

// parseFor validates a document for a route: the shape must be the route's (422 naming the
// right route otherwise), every setting valid (422 with the catalog's suggestion), and the
// token allowed to give its scope tags (403).
func (h *policyAPI) parseFor(w http.ResponseWriter, r *http.Request, k profileKind, raw []byte) (store.Profile, bool) {
	if got := peekKind(raw); got != "" && got != k.kind {
		right := kindFor(got)
		writeError(w, http.StatusUnprocessableEntity, "wrongRoute", fmt.Sprintf("this is a %s profile (%s): send it to /api/v1/tenants/%s/%s",
			right.kind, right.odataType(), mux.Vars(r)["tid"], right.route))
		return store.Profile{}, false
	}
	prof, err := h.parser.ParseTenantProfile(raw, mux.Vars(r)["tid"])
	if err != nil {
		var ve *policy.ValidationError
		if errors.As(err, &ve) {
			writeError(w, http.StatusUnprocessableEntity, "invalidProfile", ve.Error())
		} else {
			writeError(w, http.StatusUnprocessableEntity, "invalidProfile", err.Error())
		}
		return store.Profile{}, false
	}
	if prof.Kind != k.kind {
		writeError(w, http.StatusUnprocessableEntity, "wrongRoute", "send this profile to /api/v1/tenants/{tid}/"+kindFor(prof.Kind).route)
		return store.Profile{}, false
	}
	if prof.Raw, err = stripServerFields(prof.Raw); err != nil {
		writeError(w, http.StatusBadRequest, "badRequest", "the body must be one JSON object")
		return store.Profile{}, false
	}
	p, _ := PrincipalFrom(r.Context())
	if tag, ok := tagsAllowed(p, prof.ScopeTags); !ok {
		h.s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "scope tag "+quote(tag)+" is not one of this token's scope tags")
		return store.Profile{}, false
	}
	return prof, true
}

func (h *policyAPI) createProfile(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.s.tenantOf(w, r)
		if !ok {
			return
		}
		raw, ok := readProfileBody(w, r)
		if !ok {
			return
		}
		prof, ok := h.parseFor(w, r, k, raw)
		if !ok {
			return
		}
		now := h.s.cfg.Now().UTC()
		prof.TenantID, prof.ID, prof.Version, prof.CreatedAt, prof.UpdatedAt = t.ID, uuid.NewString(), 1, now, now
		var out json.RawMessage
		err := h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
			stored, err := tx.CreateProfile(prof)
			if err != nil {
				return err
			}
			out = profileJSON(stored)
			return tx.Audit(h.s.adminEvent(requestPrincipal(r), t.ID, "create", audit.Subject{Type: audit.SubjectProfile, ID: stored.ID}, "", nil, out))
		})
		if err != nil {
			h.writeFailed(w, "profile", err)
			return
		}
		writeJSON(w, http.StatusCreated, withWarnings(out, h.parser.TenantWarnings(prof.Settings, t.ID)))
	}
}

func (h *policyAPI) listProfiles(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, ok := h.s.tenantOf(w, r)
		if !ok {
			return
		}
		profs, err := h.s.cfg.Store.ListProfiles(r.Context(), t.ID)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "unavailable", "listing profiles failed")
			return
		}
		p, _ := PrincipalFrom(r.Context())
		out := []json.RawMessage{}
		for _, prof := range profs {
			if prof.Kind == k.kind && seesProfile(p, prof) {
				out = append(out, profileJSON(prof))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": out})
	}
}

// profileOf loads the route's profile: of this tenant and kind, visible to the token; 404
// otherwise.
func (h *policyAPI) profileOf(w http.ResponseWriter, r *http.Request, k profileKind) (store.Profile, bool) {
	vars := mux.Vars(r)
	prof, err := h.s.cfg.Store.Profile(r.Context(), vars["tid"], vars["pid"])
	p, _ := PrincipalFrom(r.Context())
	return prof, lookedUp(w, "profile", err, prof.Kind == k.kind && strings.EqualFold(prof.TenantID, vars["tid"]) && seesProfile(p, prof))
}

func (h *policyAPI) getProfile(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if prof, ok := h.profileOf(w, r, k); ok {
			writeJSON(w, http.StatusOK, profileJSON(prof))
		}
	}
}

// updateProfile replaces (PUT) or merge-patches (PATCH) a profile's Intune JSON; the result
// is validated like an import and the version goes up by one.
func (h *policyAPI) updateProfile(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		raw, ok := readProfileBody(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodPatch {
			merged, err := mergePatch(before.Raw, raw)
			if err != nil {
				writeError(w, http.StatusBadRequest, "badRequest", "invalid merge patch: "+err.Error())
				return
			}
			raw = merged
		}
		next, ok := h.parseFor(w, r, k, raw)
		if !ok {
			return
		}
		var out json.RawMessage
		err := h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
			after, err := tx.UpdateProfile(before.TenantID, before.ID, func(p *store.Profile) error {
				p.Name, p.Description, p.ScopeTags, p.Raw, p.Settings = next.Name, next.Description, next.ScopeTags, next.Raw, next.Settings
				return nil
			})
			if err != nil {
				return err
			}
			out = profileJSON(after)
			return tx.Audit(h.s.adminEvent(requestPrincipal(r), after.TenantID, "update", audit.Subject{Type: audit.SubjectProfile, ID: after.ID}, "", profileJSON(before), out))
		})
		if err != nil {
			h.writeFailed(w, "profile", err)
			return
		}
		writeJSON(w, http.StatusOK, withWarnings(out, h.parser.TenantWarnings(next.Settings, before.TenantID)))
	}
}

// withWarnings adds "warnings" (what the write accepted but will not do what it seems to,
// see policy.Parser.TenantWarnings) to a profile's JSON answer; the stored profile and its
// audit event do not carry them.
func withWarnings(profile json.RawMessage, warnings []string) json.RawMessage {
	if len(warnings) == 0 {
		return profile
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(profile, &m) != nil {
		return profile
	}
	m["warnings"] = mustJSON(warnings)
	return mustJSON(m)
}

// deleteProfile removes a profile and its assignments; devices delete its settings at their
// next check-in (the policy engine sends Delete for settings no longer assigned).
func (h *policyAPI) deleteProfile(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		as, ok := h.assignmentsOf(w, r, prof)
		if !ok {
			return
		}
		before := map[string]any{"profile": profileJSON(prof), "assignments": assignmentViews(as)}
		err := h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
			if err := tx.DeleteProfile(prof.TenantID, prof.ID); err != nil {
				return err
			}
			return tx.Audit(h.s.adminEvent(requestPrincipal(r), prof.TenantID, "delete", audit.Subject{Type: audit.SubjectProfile, ID: prof.ID}, "", before, nil))
		})
		if err != nil {
			h.writeFailed(w, "profile", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// AssignmentTarget is Intune's deviceAndAppManagementAssignmentTarget.
type AssignmentTarget struct {
	Type    string `json:"@odata.type"`
	GroupID string `json:"groupId,omitempty"`
}

// AssignmentView is one assignment as Graph shows it.
type AssignmentView struct {
	Target AssignmentTarget `json:"target"`
}

func assignmentViews(as []store.Assignment) []AssignmentView {
	out := make([]AssignmentView, 0, len(as))
	for _, a := range as {
		out = append(out, AssignmentView{Target: AssignmentTarget{Type: a.Target, GroupID: a.GroupID}})
	}
	return out
}

// assignmentsOf reads a profile's assignments (none for a profile deleted meanwhile); on
// failure it has answered.
func (h *policyAPI) assignmentsOf(w http.ResponseWriter, r *http.Request, prof store.Profile) ([]store.Assignment, bool) {
	as, err := h.s.cfg.Store.Assignments(r.Context(), prof.TenantID, prof.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.writeFailed(w, "profile", err)
		return nil, false
	}
	return as, true
}

// assignProfile replaces a profile's assignments with Intune's assign body.
func (h *policyAPI) assignProfile(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "tooLarge", "the request body is larger than 64 KiB")
			return
		}
		if err != nil || !json.Valid(raw) {
			writeError(w, http.StatusBadRequest, "badRequest", "the body must be one JSON object {\"assignments\":[...]}")
			return
		}
		as, err := policy.ParseAssignments(raw)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "invalidAssignment", err.Error())
			return
		}
		for _, a := range as {
			if a.GroupID == "" {
				continue
			}
			if _, err := h.s.cfg.Store.Group(r.Context(), prof.TenantID, a.GroupID); errors.Is(err, store.ErrNotFound) {
				writeError(w, http.StatusUnprocessableEntity, "invalidAssignment", "groupId "+quote(a.GroupID)+" is not a group of this tenant")
				return
			} else if err != nil {
				writeError(w, http.StatusServiceUnavailable, "unavailable", "group lookup failed")
				return
			}
		}
		before, ok := h.assignmentsOf(w, r, prof)
		if !ok {
			return
		}
		var out []AssignmentView
		err = h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
			stored, err := tx.SetAssignments(prof.TenantID, prof.ID, as)
			if err != nil {
				return err
			}
			out = assignmentViews(stored)
			return tx.Audit(h.s.adminEvent(requestPrincipal(r), prof.TenantID, "assign", audit.Subject{Type: audit.SubjectAssignment, ID: prof.ID}, "", assignmentViews(before), out))
		})
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				writeError(w, http.StatusUnprocessableEntity, "invalidAssignment", "a group of the assignment no longer exists: "+err.Error())
				return
			}
			h.writeFailed(w, "profile", err)
			return
		}
		resp := map[string]any{"value": out}
		if len(as) > 0 && slices.ContainsFunc(prof.Settings, func(s store.ProfileSetting) bool {
			return strings.HasSuffix(s.LocURI, "/Policies/EnablePinRecovery")
		}) {
			if t, err := h.s.cfg.Store.Tenant(r.Context(), prof.TenantID); err == nil && t.GovCloud {
				resp["warnings"] = []string{govCloudWarning}
			}
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

func (h *policyAPI) listAssignments(k profileKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		prof, ok := h.profileOf(w, r, k)
		if !ok {
			return
		}
		as, ok := h.assignmentsOf(w, r, prof)
		if !ok {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"value": assignmentViews(as)})
	}
}

// SettingStateView is where one node of one device stands, as the API shows it.
type SettingStateView struct {
	LocURI string `json:"locUri"`
	Format string `json:"format"`
	Value  string `json:"value"`
	State  string `json:"state"` // pending, succeeded, error, conflict, notApplicable, removed
	// Removing is set while the setting is being removed from the device (its profile was
	// deleted or unassigned): pending means the removal is on its way, error that the device
	// refused it.
	Removing    bool      `json:"removing,omitempty"`
	ErrorCode   int       `json:"errorCode"`
	ErrorDetail string    `json:"errorDetail,omitempty"`
	Sources     []string  `json:"sources"` // profile IDs
	LastChanged time.Time `json:"lastChanged"`
}

func settingViews(list []store.SettingState) []SettingStateView {
	out := make([]SettingStateView, 0, len(list))
	for _, s := range list {
		out = append(out, SettingStateView{LocURI: s.LocURI, Format: s.Format, Value: s.Value, State: s.State, Removing: s.Removing && s.State != store.SettingRemoved, ErrorCode: s.ErrorCode,
			ErrorDetail: s.ErrorDetail, Sources: nonNil(s.Sources), LastChanged: s.LastChanged})
	}
	return out
}

// ProfileStatusView is a profile's deployment report (policy.ProfileReport).
type ProfileStatusView struct {
	ProfileID string `json:"profileId"`
	// Deleted is set when the profile was deleted and devices are removing its settings.
	Deleted bool                `json:"deleted,omitempty"`
	Counts  map[string]int      `json:"counts"`
	Devices []DeviceSettingView `json:"devices"`
}

// DeviceSettingView is one device's settings in a profile report.
type DeviceSettingView struct {
	DeviceID string             `json:"deviceId"`
	Settings []SettingStateView `json:"settings"`
	// CanReset and CanResetReason are the device's (DeviceView) when the profile sets
	// PassportForWork EnablePinRecovery: the setting's state is what the device answered
	// (the CSP exists on every edition, Home included), while these say whether
	// non-destructive reset is available there and, if not, which support matrix row
	// refuses it (for example home-destructive-only).
	CanReset       string `json:"canReset,omitempty"`
	CanResetReason string `json:"canResetReason,omitempty"`
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
		out := ProfileStatusView{ProfileID: rep.ProfileID, Counts: rep.Counts, Devices: []DeviceSettingView{}}
		var tenant *store.Tenant
		for _, d := range rep.Devices {
			v := DeviceSettingView{DeviceID: d.DeviceID, Settings: settingViews(d.Settings)}
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
	out := ProfileStatusView{ProfileID: vars["pid"], Deleted: true, Counts: map[string]int{}, Devices: []DeviceSettingView{}}
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
			out.Devices = append(out.Devices, DeviceSettingView{DeviceID: d.DeviceID, Settings: settingViews(kept)})
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

// DeviceProfilesView is one device's policy (policy.DeviceReport).
type DeviceProfilesView struct {
	DeviceID string             `json:"deviceId"`
	Profiles []string           `json:"profiles"`
	Counts   map[string]int     `json:"counts"`
	Settings []SettingStateView `json:"settings"`
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
	writeJSON(w, http.StatusOK, DeviceProfilesView{DeviceID: rep.DeviceID, Profiles: nonNil(rep.Profiles), Counts: rep.Counts, Settings: settingViews(rep.Settings)})
}
