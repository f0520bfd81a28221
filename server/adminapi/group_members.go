package adminapi

import (
	"errors"
	"net/http"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// A group's direct members (GET /tenants/{tid}/groups/{gid}/members) by kind then ID. With
// top (1 to 1000) an answer is a page read from the skip token on through the store's
// member keys (store.Memberships.MembersPage): it reads top + 1 members, however large the
// group, and carries a nextSkipToken when more follow. Without top it holds every member,
// read a page at a time. search and startsWith are refused: members are listed by ID, the
// console names one page of them. With id (repeated, at most 100 IDs) and nothing else
// the answer lists which of those IDs are direct members: the console's member picker
// leaves them out without reading the member list. GET .../groups/{gid} carries the member count.

// memberPageSize is the page the store reads when an answer holds every member.
const memberPageSize = 1000

// maxMemberIDs bounds the IDs one membership check names.
const maxMemberIDs = 100

func (h *policyAPI) listMembers(w http.ResponseWriter, r *http.Request) {
	values := r.URL.Query()
	if ids, ok := values["id"]; ok {
		h.membersAmong(w, r, ids, len(values))
		return
	}
	q, err := parseListQuery(values, false)
	if err == nil && (q.Search != "" || q.StartsWith != "") {
		err = &QueryError{"search", errors.New("members are not searched (top and skipToken are known)")}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	g, ok := h.groupOf(w, r)
	if !ok {
		return
	}
	limit := q.Top
	if limit == 0 {
		limit = memberPageSize
	}
	var members []store.Member
	after, next := q.After, ""
	for {
		page, err := h.s.cfg.Store.MembersPage(r.Context(), g.TenantID, g.ID, after, limit)
		if err != nil {
			h.writeFailed(w, "member", err)
			return
		}
		members = append(members, page.Members...)
		if q.Top > 0 || page.Next == "" {
			next = page.Next
			break
		}
		after = page.Next
	}
	writePage(w, memberViews(members), next)
}

// membersAmong answers which of ids (?id=…&id=…, at most maxMemberIDs) are direct members
// of the group, as members, whatever their kind: one lookup of their member keys.
func (h *policyAPI) membersAmong(w http.ResponseWriter, r *http.Request, ids []string, params int) {
	if params != 1 || len(ids) > maxMemberIDs {
		writeError(w, http.StatusBadRequest, "invalidParameter", (&QueryError{"id", errors.New("at most 100 IDs, and no other parameter")}).Error())
		return
	}
	g, ok := h.groupOf(w, r)
	if !ok {
		return
	}
	var candidates []store.Member
	for _, id := range ids {
		if store.CheckID("member id", id) == nil {
			candidates = append(candidates, store.Member{Kind: store.MemberUser, ID: id}, store.Member{Kind: store.MemberDevice, ID: id}, store.Member{Kind: store.MemberGroup, ID: id})
		}
	}
	found, err := h.s.cfg.Store.MembersAmong(r.Context(), g.TenantID, g.ID, candidates)
	if err != nil {
		h.writeFailed(w, "member", err)
		return
	}
	var out []store.Member
	for i, f := range found {
		if f {
			out = append(out, candidates[i])
		}
	}
	writePage(w, memberViews(out), "")
}

// directMember finds the direct member of g with ID id, whatever its kind: one lookup of
// its three possible member keys.
func (h *policyAPI) directMember(r *http.Request, g store.Group, id string) (store.Member, bool, error) {
	if store.CheckID("member id", id) != nil {
		return store.Member{}, false, nil
	}
	candidates := []store.Member{{Kind: store.MemberUser, ID: id}, {Kind: store.MemberDevice, ID: id}, {Kind: store.MemberGroup, ID: id}}
	found, err := h.s.cfg.Store.MembersAmong(r.Context(), g.TenantID, g.ID, candidates)
	if err != nil {
		return store.Member{}, false, err
	}
	for i, f := range found {
		if f {
			return candidates[i], true, nil
		}
	}
	return store.Member{}, false, nil
}

// memberViews is ms as the API shows them.
func memberViews(ms []store.Member) []wire.Member {
	out := make([]wire.Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, wire.Member(m))
	}
	return out
}
