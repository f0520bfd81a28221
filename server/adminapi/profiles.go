package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"io"
	"net/http"
	"slices"
	"strings"

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
			writeJSON(w, http.StatusUnprocessableEntity, wire.ErrorBody{Error: wire.Error{Code: "invalidProfile", Message: ve.Error(),
				Target: ve.Setting, Suggestion: ve.Suggestion}})
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
		switch r.URL.Query().Get("dryRun") {
		case "", "false":
		case "true":
			// Validated as an import, nothing written (no ID, no audit event: nothing changed).
			prof.TenantID = t.ID
			writeJSON(w, http.StatusOK, withWarnings(profileJSON(prof), h.parser.TenantWarnings(prof.Settings, t.ID)))
			return
		default:
			writeError(w, http.StatusBadRequest, "badRequest", "dryRun must be true or false")
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
