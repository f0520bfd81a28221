package adminapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

func assignmentViews(as []store.Assignment) []wire.Assignment {
	out := make([]wire.Assignment, 0, len(as))
	for _, a := range as {
		out = append(out, wire.Assignment{Target: wire.AssignmentTarget{Type: a.Target, GroupID: a.GroupID}})
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
		var out []wire.Assignment
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
