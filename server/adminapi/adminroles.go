package adminapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Admin roles of identity provider users. A user holding one signs in to the web console
// (server/console) and acts there as an admin token of that role would: inside the user's
// tenant, limited to the role's scope tags. Granting and revoking take the admin role; an
// admin limited by scope tags grants no tag it does not hold (as with tokens). Changes
// apply from the user's next console request: the console reads the role again each time.

// putAdminRole grants (or changes) a user's admin role.
func (s *API) putAdminRole(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "grant admin roles")
	if !ok {
		return
	}
	u, ok := s.userInTenant(w, r)
	if !ok {
		return
	}
	var req wire.AdminRoleRequest
	if !decodeAdminBody(w, r, &req) {
		return
	}
	role := strings.ToLower(strings.TrimSpace(req.Role))
	if role != store.RoleAdmin && role != store.RoleOperator && role != store.RoleReader {
		writeError(w, http.StatusUnprocessableEntity, "invalidRole", "role "+quote(req.Role)+" is not admin, operator or reader")
		return
	}
	tags, err := normalizeScopeTags(req.RoleScopeTagIDs)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalidRole", err.Error())
		return
	}
	if len(p.ScopeTags) > 0 {
		if len(tags) == 0 {
			tags = slices.Clone(p.ScopeTags)
		}
		for _, tag := range tags {
			if !slices.ContainsFunc(p.ScopeTags, func(own string) bool { return strings.EqualFold(canonicalTag(own), canonicalTag(tag)) }) {
				s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "you cannot grant role scope tag "+tag)
				return
			}
		}
	}
	s.writeAdminRole(w, r, p, u, "grantAdminRole", role, tags)
}

// deleteAdminRole revokes a user's admin role (signing the user out of the console).
func (s *API) deleteAdminRole(w http.ResponseWriter, r *http.Request) {
	p, ok := s.requireAdmin(w, r, false, "revoke admin roles")
	if !ok {
		return
	}
	u, ok := s.userInTenant(w, r)
	if !ok {
		return
	}
	if len(p.ScopeTags) > 0 && !tagsWithin(u.AdminScopeTags, p.ScopeTags) {
		s.refuseAdmin(w, r, &p, http.StatusForbidden, "forbidden", "the user's admin role reaches beyond your scope tags")
		return
	}
	s.writeAdminRole(w, r, p, u, "revokeAdminRole", "", nil)
}

// tagsWithin reports whether every tag of have is one of own (no tags: everything, never
// within a limited own).
func tagsWithin(have, own []string) bool {
	if len(have) == 0 {
		return false
	}
	for _, t := range have {
		if !slices.ContainsFunc(own, func(o string) bool { return strings.EqualFold(canonicalTag(o), canonicalTag(t)) }) {
			return false
		}
	}
	return true
}

func (s *API) writeAdminRole(w http.ResponseWriter, r *http.Request, p Principal, u store.User, action, role string, tags []string) {
	var view wire.User
	err := s.cfg.Store.Write(r.Context(), func(tx store.Writer) error {
		stored, err := tx.UpdateUser(u.TenantID, u.ID, func(x *store.User) error {
			x.AdminRole, x.AdminScopeTags = role, tags
			return nil
		})
		if err != nil {
			return err
		}
		view = userView(stored)
		return tx.Audit(s.adminEvent(p, u.TenantID, action, audit.Subject{Type: audit.SubjectUser, ID: u.ID}, "",
			map[string]any{"adminRole": u.AdminRole, "adminRoleScopeTagIds": nonNil(u.AdminScopeTags)},
			map[string]any{"adminRole": role, "adminRoleScopeTagIds": nonNil(tags)}))
	})
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "notFound", "no such user")
		return
	}
	if err != nil {
		s.log.Error("writing admin role failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the admin role could not be written")
		return
	}
	writeJSON(w, http.StatusOK, view)
}
