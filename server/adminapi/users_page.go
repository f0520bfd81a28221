package adminapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

// Searching and paging the user and group lists (GET /tenants/{tid}/users and .../groups),
// for people who look for a user or group by name: the web console's member picker and
// lists.
//
//	search     case-insensitive text the userPrincipalName or displayName (groups: the
//	           displayName) contains; at most 256 printable characters
//	startsWith case-insensitive start of the userPrincipalName (groups: the displayName),
//	           the same characters; a page of users then reads the UPN index from the first
//	           UPN with that start and no further than top + 1 users, however many the
//	           tenant holds (the console's member picker)
//	hasAdminRole (users only) true: only the users holding an admin role (the console's
//	           Admin roles page), read through the store's index of them
//	           (store.Users.ListRoleHoldersPage), not the tenant's other users; false: only
//	           the users holding none, read as a search is
//	top        the page size, 1 to 1000; absent: every match in one answer, as before paging
//	skipToken  the answer's nextSkipToken: the page after the previous one
//
// A paged answer is {"value":[...],"nextSkipToken":"..."}, nextSkipToken only when more
// may follow. Users come in userPrincipalName order and a page of users reads the store's UPN
// index from the skip token on (store.Users.ListUsersPage), at most maxUserScan users per
// request, so a page costs what it reads, whatever the tenant's size: a search that few
// users match answers a page with fewer users (even none) and a nextSkipToken to search on.
// Scope tags are applied while reading. Groups come in displayName order (case-insensitive,
// then ID) and page the same way through the store's group name index
// (store.Groups.ListGroupsPage), at most maxGroupScan groups per request: an Entra tenant
// holds thousands of groups (dynamic groups per department and site), and a page never
// reads them all. Without top the answer holds every match, read a page at a time.

// listQuery is a parsed search/top/skipToken request.
type listQuery struct {
	Search       string // lower-cased
	StartsWith   string // lower-cased
	HasAdminRole string // "", "true" or "false" (users only)
	Top          int    // 0: everything
	After        string // decoded skip token
}

// maxTop bounds a page; maxUserScan the users and maxGroupScan the groups one request
// reads.
const (
	maxTop       = 1000
	maxUserScan  = 2000
	maxGroupScan = 2000
)

// parseListQuery reads search, startsWith, top, skipToken and, for users, hasAdminRole,
// refusing any other parameter and repeated ones (400 invalidParameter, as the audit export
// does).
func parseListQuery(q url.Values, users bool) (listQuery, error) {
	var out listQuery
	known := "search, startsWith, top and skipToken are known"
	if users {
		known = "search, startsWith, hasAdminRole, top and skipToken are known"
	}
	for name, vals := range q {
		switch name {
		case "search", "startsWith", "top", "skipToken":
		case "hasAdminRole":
			if users {
				break
			}
			fallthrough
		default:
			return listQuery{}, &QueryError{name, errors.New("unknown parameter (" + known + ")")}
		}
		if len(vals) > 1 {
			return listQuery{}, &QueryError{name, errors.New("given more than once")}
		}
		v := strings.TrimSpace(vals[0])
		switch name {
		case "search", "startsWith":
			if len(v) > 256 || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
				return listQuery{}, &QueryError{name, errors.New("at most 256 printable characters")}
			}
			if name == "search" {
				out.Search = strings.ToLower(v)
			} else {
				out.StartsWith = strings.ToLower(v)
			}
		case "hasAdminRole":
			if v != "true" && v != "false" {
				return listQuery{}, &QueryError{name, errors.New("true or false")}
			}
			out.HasAdminRole = v
		case "top":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxTop {
				return listQuery{}, &QueryError{name, errors.New("a page size from 1 to 1000")}
			}
			out.Top = n
		case "skipToken":
			b, err := base64.RawURLEncoding.DecodeString(v)
			if err != nil || len(b) == 0 || len(b) > 2048 || !utf8.Valid(b) {
				return listQuery{}, &QueryError{name, errors.New("not a skip token of this list")}
			}
			out.After = string(b)
		}
	}
	if out.After != "" && out.Top == 0 {
		return listQuery{}, &QueryError{"skipToken", errors.New("needs top")}
	}
	return out, nil
}

// keepsRole reports whether u passes the query's hasAdminRole.
func (q listQuery) keepsRole(u store.User) bool {
	return q.HasAdminRole == "" || (u.AdminRole != "") == (q.HasAdminRole == "true")
}

// matches reports whether the first text starts with the query's startsWith and any of the
// texts contains its search (case-insensitive).
func (q listQuery) matches(texts ...string) bool {
	if q.StartsWith != "" && !strings.HasPrefix(strings.ToLower(texts[0]), q.StartsWith) {
		return false
	}
	if q.Search == "" {
		return true
	}
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), q.Search) {
			return true
		}
	}
	return false
}

func skipToken(after string) string { return base64.RawURLEncoding.EncodeToString([]byte(after)) }

// writePage answers a list: {"value":[...]} and, when more follow, the token of the next page.
func writePage[T any](w http.ResponseWriter, out []T, next string) {
	resp := map[string]any{"value": out}
	if next != "" {
		resp["nextSkipToken"] = skipToken(next)
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *API) listUsers(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.Query(), true)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	t, ok := s.tenantOf(w, r)
	if !ok {
		return
	}
	p, _ := PrincipalFrom(r.Context())
	keep := func(u store.User) bool {
		return p.SeesTags(u.ScopeTags) && q.matches(u.UPN, u.DisplayName) && q.keepsRole(u)
	}
	// The role holders are read through their index: the tenant's other users are not.
	list := s.cfg.Store.ListUsersPage
	if q.HasAdminRole == "true" {
		list = s.cfg.Store.ListRoleHoldersPage
	}
	var users []store.User
	next := ""
	switch {
	case q.Top > 0:
		after, budget := q.After, maxUserScan
		if from, ok := beforePrefix(q.StartsWith); ok {
			// The users with that start follow one another in the UPN index from from on: a
			// page needs top of them and one more to tell whether more follow.
			after, budget = max(after, from), q.Top+1
		}
		users, next, err = list(r.Context(), t.ID, after, q.Top, budget, keep)
		if q.StartsWith != "" && next > q.StartsWith && !strings.HasPrefix(next, q.StartsWith) {
			next = "" // read past the users with that start: none follows
		}
	case q.HasAdminRole == "true":
		users, err = allPages(r, t.ID, list, keep)
	default:
		users, err = s.cfg.Store.ListUsers(r.Context(), t.ID)
		users = slices.DeleteFunc(users, func(u store.User) bool { return !keep(u) })
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing users failed")
		return
	}
	out := make([]wire.User, 0, len(users))
	for _, u := range users {
		out = append(out, userView(u))
	}
	if q.Top == 0 && q.HasAdminRole != "true" {
		slices.SortFunc(out, func(a, b wire.User) int { return strings.Compare(a.UserPrincipalName, b.UserPrincipalName) })
	}
	writePage(w, out, next)
}

// allPages reads every page of list: the unpaged answer of a list read through an index.
func allPages(r *http.Request, tenantID string, list func(context.Context, string, string, int, int, func(store.User) bool) ([]store.User, string, error), keep func(store.User) bool) ([]store.User, error) {
	var out []store.User
	after := ""
	for {
		page, next, err := list(r.Context(), tenantID, after, maxTop, maxUserScan, keep)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

func (h *policyAPI) listGroups(w http.ResponseWriter, r *http.Request) {
	q, err := parseListQuery(r.URL.Query(), false)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalidParameter", err.Error())
		return
	}
	t, ok := h.s.tenantOf(w, r)
	if !ok {
		return
	}
	keep := func(g store.Group) bool { return q.matches(g.DisplayName) }
	var groups []store.Group
	next := ""
	if q.Top > 0 {
		after, budget := q.After, maxGroupScan
		if from, ok := beforePrefix(q.StartsWith); ok {
			// The groups with that start follow one another in the name index from from on.
			after, budget = max(after, from), q.Top+1
		}
		groups, next, err = h.s.cfg.Store.ListGroupsPage(r.Context(), t.ID, after, q.Top, budget, keep)
		if q.StartsWith != "" && next > q.StartsWith && !strings.HasPrefix(next, q.StartsWith) {
			next = "" // read past the groups with that start: none follows
		}
	} else {
		groups, err = h.allGroups(r, t.ID, keep)
	}
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "listing groups failed")
		return
	}
	out := make([]wire.Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, groupView(g))
	}
	writePage(w, out, next)
}

// allGroups reads every page of the group name index: the unpaged group list.
func (h *policyAPI) allGroups(r *http.Request, tenantID string, keep func(store.Group) bool) ([]store.Group, error) {
	var out []store.Group
	after := ""
	for {
		page, next, err := h.s.cfg.Store.ListGroupsPage(r.Context(), tenantID, after, maxTop, maxGroupScan, keep)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// beforePrefix returns the greatest string the store's UPN index sorts before every UPN
// starting with p and after every other UPN that sorts before those, as the after of
// Users.ListUsersPage: p with its last byte one less, followed by the highest code point
// (no UPN holds U+10FFFF). ok is false when p is empty or that cannot be said (its last byte
// is not printable ASCII, or the string would not stay as it is when lower-cased as the
// index does): the caller then reads from its skip token as any search does.
func beforePrefix(p string) (string, bool) {
	if p == "" {
		return "", false
	}
	c := p[len(p)-1]
	if c <= 0x20 || c >= 0x80 {
		return "", false
	}
	from := p[:len(p)-1] + string(rune(c-1)) + strings.Repeat("\U0010FFFF", 4)
	return from, strings.ToLower(from) == from
}
