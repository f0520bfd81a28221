package adminapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// The policy admin API: groups and their members, configuration profiles in Intune's two JSON
// shapes, their assignments, and deployment reports. Who may do what (adminAuth already
// refuses every non-GET to a reader with 403 and keeps tenant-bound tokens in their tenant):
//
//	route                                                  reader  operator  admin
//	GET  groups, members, profiles, assignments, reports    yes     yes       yes
//	POST/DELETE groups and members                          -       yes       yes
//	POST/PATCH/PUT/DELETE profiles                          -       yes       yes
//	POST profiles/{id}/assign, resendToFailed               -       yes       yes
//
// Operators run day-to-day policy as in Intune's "Policy and Profile Manager" role; identities,
// credentials and device lifecycle stay with admins. Scope tags: a profile carries
// roleScopeTagIds (["0"], Intune's Default, when imported without); a token with scope tags
// sees only profiles carrying one of its tags (others answer 404) and may only give a profile
// tags it holds itself (403 otherwise). Groups are directory objects, as in Entra ID, and are
// not filtered by scope tags.

// Route segments of the two profile kinds (Microsoft Graph beta deviceManagement).
const (
	routeSettingsCatalog = "configurationPolicies" // deviceManagementConfigurationPolicy
	routeCustom          = "deviceConfigurations"  // windows10CustomConfiguration
)

// policyAPI serves the policy routes; parser validates profiles against the CSP catalog.
type policyAPI struct {
	s      *API
	parser *policy.Parser
	cat    *csp.Catalog // the settings the picker searches (configurationSettings)
}

func (s *API) policyRoutes(api *mux.Router) {
	cat := csp.Default()
	h := &policyAPI{s: s, parser: policy.NewParser(cat), cat: cat}
	api.HandleFunc("/tenants/{tid}/groups", h.createGroup).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/groups", h.listGroups).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/groups/{gid}", h.getGroup).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/groups/{gid}", h.deleteGroup).Methods(http.MethodDelete)
	api.HandleFunc("/tenants/{tid}/groups/{gid}/members", h.addMember).Methods(http.MethodPost)
	api.HandleFunc("/tenants/{tid}/groups/{gid}/members", h.listMembers).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/groups/{gid}/members/{mid}", h.removeMember).Methods(http.MethodDelete)
	for _, k := range []profileKind{{routeSettingsCatalog, store.ProfileSettingsCatalog}, {routeCustom, store.ProfileCustom}} {
		base := "/tenants/{tid}/" + k.route
		api.HandleFunc(base, h.createProfile(k)).Methods(http.MethodPost)
		api.HandleFunc(base, h.listProfiles(k)).Methods(http.MethodGet)
		api.HandleFunc(base+"/{pid}", h.getProfile(k)).Methods(http.MethodGet)
		api.HandleFunc(base+"/{pid}", h.updateProfile(k)).Methods(http.MethodPatch, http.MethodPut)
		api.HandleFunc(base+"/{pid}", h.deleteProfile(k)).Methods(http.MethodDelete)
		api.HandleFunc(base+"/{pid}/assign", h.assignProfile(k)).Methods(http.MethodPost)
		api.HandleFunc(base+"/{pid}/assignments", h.listAssignments(k)).Methods(http.MethodGet)
		api.HandleFunc(base+"/{pid}/deviceStatuses", h.profileStatuses(k)).Methods(http.MethodGet)
		api.HandleFunc(base+"/{pid}/resendToFailed", h.resendToFailed(k)).Methods(http.MethodPost)
	}
	api.HandleFunc("/tenants/{tid}/devices/{did}/settingStates", h.deviceSettingStates).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/devices/{did}/profiles", h.deviceProfiles).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/configurationSettings", h.searchSettings).Methods(http.MethodGet)
	api.HandleFunc("/tenants/{tid}/configurationCategories", h.settingCategories).Methods(http.MethodGet)
	h.gpoRoutes(api)
}

func groupView(g store.Group) wire.Group {
	return wire.Group{ID: g.ID, DisplayName: g.DisplayName, Description: g.Description, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

func (h *policyAPI) createGroup(w http.ResponseWriter, r *http.Request) {
	t, ok := h.s.tenantOf(w, r)
	if !ok {
		return
	}
	var req wire.GroupRequest
	if !decodeAdminBody(w, r, &req) {
		return
	}
	name, err := checkDisplayName(req.DisplayName)
	if err == nil && (len(req.Description) > 1024 || strings.ContainsFunc(req.Description, isControlNotSpace)) {
		err = validationError("description must be at most 1024 printable characters")
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidGroup", err.Error())
		return
	}
	// The first group in the name index from the name on is the one with that name, if any:
	// one group is read, however many the tenant has.
	lower := strings.ToLower(name)
	first, _, err := h.s.cfg.Store.ListGroupsPage(r.Context(), t.ID, lower, 1, 1, nil)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing groups failed")
		return
	}
	if len(first) == 1 && strings.ToLower(first[0].DisplayName) == lower {
		writeError(w, http.StatusConflict, "conflict", "a group named "+quote(name)+" already exists in this tenant")
		return
	}
	now := h.s.cfg.Now().UTC()
	g := store.Group{TenantID: t.ID, ID: uuid.NewString(), DisplayName: name, Description: strings.TrimSpace(req.Description), CreatedAt: now, UpdatedAt: now}
	var view wire.Group
	err = h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		stored, err := tx.CreateGroup(g)
		if err != nil {
			return err
		}
		view = groupView(stored)
		return tx.Audit(h.s.adminEvent(requestPrincipal(r), t.ID, "create", audit.Subject{Type: audit.SubjectGroup, ID: stored.ID}, "", nil, view))
	})
	if err != nil {
		h.writeFailed(w, "group", err)
		return
	}
	writeJSON(w, http.StatusCreated, view)
}

// groupOf loads the route's group, or answers 404.
func (h *policyAPI) groupOf(w http.ResponseWriter, r *http.Request) (store.Group, bool) {
	vars := mux.Vars(r)
	g, err := h.s.cfg.Store.Group(r.Context(), vars["tid"], vars["gid"])
	return g, lookedUp(w, "group", err, strings.EqualFold(g.TenantID, vars["tid"]))
}

func (h *policyAPI) getGroup(w http.ResponseWriter, r *http.Request) {
	g, ok := h.groupOf(w, r)
	if !ok {
		return
	}
	page, err := h.s.cfg.Store.MembersPage(r.Context(), g.TenantID, g.ID, "", 1)
	if err != nil {
		h.writeFailed(w, "group", err)
		return
	}
	view := groupView(g)
	view.MemberCount = &page.Count
	writeJSON(w, http.StatusOK, view)
}

func (h *policyAPI) deleteGroup(w http.ResponseWriter, r *http.Request) {
	g, ok := h.groupOf(w, r)
	if !ok {
		return
	}
	members, err := h.s.cfg.Store.Members(r.Context(), g.TenantID, g.ID)
	if err != nil {
		h.writeFailed(w, "group", err)
		return
	}
	before := map[string]any{"group": groupView(g), "members": memberViews(members)}
	err = h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		if err := tx.DeleteGroup(g.TenantID, g.ID); err != nil {
			return err
		}
		return tx.Audit(h.s.adminEvent(requestPrincipal(r), g.TenantID, "delete", audit.Subject{Type: audit.SubjectGroup, ID: g.ID}, "", before, nil))
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, http.StatusConflict, "conflict", "the group is the target of a profile assignment; change the assignment first")
			return
		}
		h.writeFailed(w, "group", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// resolveMember finds what an ID names in the tenant: a group, a device or a user (by ID or
// UPN). ok is false when nothing does.
func (h *policyAPI) resolveMember(r *http.Request, tenantID, id string) (store.Member, bool, error) {
	ctx := r.Context()
	if _, err := h.s.cfg.Store.Group(ctx, tenantID, id); err == nil {
		return store.Member{Kind: store.MemberGroup, ID: id}, true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Member{}, false, err
	}
	if d, err := h.s.cfg.Store.Device(ctx, id); err == nil {
		if strings.EqualFold(d.TenantID, tenantID) {
			return store.Member{Kind: store.MemberDevice, ID: d.ID}, true, nil
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Member{}, false, err
	}
	if u, err := h.s.cfg.Store.User(ctx, tenantID, id); err == nil {
		return store.Member{Kind: store.MemberUser, ID: u.ID}, true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Member{}, false, err
	}
	if strings.Contains(id, "@") {
		if u, err := h.s.cfg.Store.UserByUPN(ctx, tenantID, id); err == nil {
			return store.Member{Kind: store.MemberUser, ID: u.ID}, true, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return store.Member{}, false, err
		}
	}
	return store.Member{}, false, nil
}

func (h *policyAPI) addMember(w http.ResponseWriter, r *http.Request) {
	g, ok := h.groupOf(w, r)
	if !ok {
		return
	}
	var req wire.MemberRequest
	if !decodeAdminBody(w, r, &req) {
		return
	}
	id := strings.TrimSpace(req.ID)
	if id == "" || len(id) > 256 || strings.ContainsFunc(id, isControl) {
		writeError(w, http.StatusUnprocessableEntity, "invalidMember", "id must name a user, device or group of the tenant")
		return
	}
	m, found, err := h.resolveMember(r, g.TenantID, id)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "member lookup failed")
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "notFound", "no user, device or group "+quote(id)+" in this tenant")
		return
	}
	if m.Kind == store.MemberGroup && m.ID == g.ID {
		writeError(w, http.StatusConflict, "conflict", "a group cannot contain itself")
		return
	}
	err = h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		if err := tx.AddMembers(g.TenantID, g.ID, m); err != nil {
			return err
		}
		return tx.Audit(h.s.adminEvent(requestPrincipal(r), g.TenantID, "addMember", audit.Subject{Type: audit.SubjectGroup, ID: g.ID}, deviceOf(m), nil, wire.Member(m)))
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			writeError(w, http.StatusConflict, "conflict", "group "+m.ID+" already contains this group: adding it would make a cycle")
			return
		}
		h.writeFailed(w, "member", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *policyAPI) removeMember(w http.ResponseWriter, r *http.Request) {
	g, ok := h.groupOf(w, r)
	if !ok {
		return
	}
	id := mux.Vars(r)["mid"]
	m, found, err := h.directMember(r, g, id)
	if err != nil {
		h.writeFailed(w, "member", err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "notFound", quote(id)+" is not a direct member of this group")
		return
	}
	err = h.s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		if err := tx.RemoveMember(g.TenantID, g.ID, m); err != nil {
			return err
		}
		return tx.Audit(h.s.adminEvent(requestPrincipal(r), g.TenantID, "removeMember", audit.Subject{Type: audit.SubjectGroup, ID: g.ID}, deviceOf(m), wire.Member(m), nil))
	})
	if err != nil {
		h.writeFailed(w, "member", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// deviceOf is the DeviceID an audit event about a member names (devices only).
func deviceOf(m store.Member) string {
	if m.Kind == store.MemberDevice {
		return m.ID
	}
	return ""
}

// writeFailed maps a failed policy store call: 404 for a vanished object, 503 otherwise.
func (h *policyAPI) writeFailed(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "notFound", "no such "+what)
		return
	}
	h.s.log.Error("policy store call failed", "object", what, "err", err)
	writeError(w, http.StatusServiceUnavailable, "unavailable", "the "+what+" could not be read or stored")
}

func isControlNotSpace(r rune) bool { return isControl(r) && r != '\n' && r != '\t' }
