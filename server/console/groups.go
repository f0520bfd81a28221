package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Groups (Entra ID's Groups, as Intune assigns to them): the list with search and paging,
// creating a group, a group's page with its direct members by name, adding users and groups
// found by searching their names or UPNs (nesting, with the API's cycle check), removing
// members and deleting the group. A member is never typed as an ID: the search lists the
// users, groups and devices that match, each with an Add button that posts its ID.

func init() {
	Register(&Section{Title: "Groups", Path: "/groups", Order: 40},
		Route{Method: http.MethodGet, Path: "/groups", Handle: groupsPage},
		Route{Method: http.MethodPost, Path: "/groups", Handle: groupsCreate},
		Route{Method: http.MethodGet, Path: "/groups/{gid}", Handle: groupPage},
		Route{Method: http.MethodPost, Path: "/groups/{gid}/delete", Handle: groupDelete},
		Route{Method: http.MethodPost, Path: "/groups/{gid}/members", Handle: groupAddMember},
		Route{Method: http.MethodPost, Path: "/groups/{gid}/members/{mid}/remove", Handle: groupRemoveMember},
	)
}

// listPageSize is how many rows a list page shows; pickerSize how many matches a member
// search lists.
const (
	listPageSize = 50
	pickerSize   = 20
)

// groupsData is the group list.
type groupsData struct {
	Search string
	Groups []wire.Group
	// Next is the address of the next page ("" on the last); First that of the first page
	// when this is a later one.
	Next, First string
	// Name and Description are the create form's values shown again with FormError.
	Name, Description, FormError string
}

func groupsPage(c *Ctx) error { return c.groupsList(http.StatusOK, groupsData{}) }

// groupsList renders the list page around d (the create form's state).
func (c *Ctx) groupsList(status int, d groupsData) error {
	q := c.R.URL.Query()
	d.Search = strings.TrimSpace(q.Get("search"))
	skip := q.Get("skip")
	page, err := c.API.SearchGroups(c.R.Context(), c.Tenant, adminclient.ListQuery{Search: d.Search, Top: listPageSize, SkipToken: skip})
	if err != nil {
		return err
	}
	d.Groups = page.Value
	d.Next, d.First = pageLinks(c.Path("/groups"), url.Values{"search": {d.Search}}, skip, page.NextSkipToken)
	return c.RenderStatus(status, "groups.html", d)
}

// pageLinks builds a list's next-page and first-page addresses from its query.
func pageLinks(base string, q url.Values, skip, next string) (nextURL, firstURL string) {
	for k, v := range q {
		if len(v) == 0 || v[0] == "" {
			delete(q, k)
		}
	}
	if skip != "" {
		firstURL = base
		if len(q) > 0 {
			firstURL += "?" + q.Encode()
		}
	}
	if next != "" {
		q.Set("skip", next)
		nextURL = base + "?" + q.Encode()
	}
	return nextURL, firstURL
}

func groupsCreate(c *Ctx) error {
	name, desc := strings.TrimSpace(c.R.PostFormValue("name")), strings.TrimSpace(c.R.PostFormValue("description"))
	g, err := c.API.CreateGroup(c.R.Context(), c.Tenant, wire.GroupRequest{DisplayName: name, Description: desc})
	if msg, ok := formError(err); ok {
		return c.groupsList(http.StatusUnprocessableEntity, groupsData{Name: name, Description: desc, FormError: msg})
	}
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/groups", g.ID), "Group "+g.DisplayName+" created.")
}

// formError is the message of an API refusal of a form's values (400, 409, 422), shown
// beside the form instead of the error page.
func formError(err error) (string, bool) {
	ae, ok := errors.AsType[*adminclient.Error](err)
	if !ok {
		return "", false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
		return ae.Message, true
	}
	return "", false
}

// memberRow is a direct member of a group, by name.
type memberRow struct {
	Kind, ID, Name, Detail, Href string
}

// pickRow is a search match the member picker offers.
type pickRow struct {
	Kind, ID, Name, Detail string
}

// groupData is a group's page.
type groupData struct {
	Group   wire.Group
	Members []memberRow // the shown page of the direct members
	// Total counts the direct members (the group's count, kept by the store); NextMembers
	// and FirstMembers address the next and the first page of members.
	Total                     int
	NextMembers, FirstMembers string
	// Find is the member search; Matches what it found that is not a member yet.
	Find       string
	Searched   bool
	Matches    []pickRow
	MoreExists bool
	FormError  string
}

func groupPage(c *Ctx) error { return c.groupView(http.StatusOK, "") }

// groupView renders a group's page (with formError beside the member picker). It reads the
// group with its member count, one page of members from the skip token and, for the
// picker, whether its matches are members: never the whole member list, so a group of
// every user of the tenant costs what a small one does.
func (c *Ctx) groupView(status int, formErr string) error {
	ctx, gid := c.R.Context(), c.Var("gid")
	g, err := c.API.Group(ctx, c.Tenant, gid)
	if err != nil {
		return err
	}
	q := c.R.URL.Query()
	skip := q.Get("skip")
	page, err := c.API.MemberPage(ctx, c.Tenant, gid, adminclient.ListQuery{Top: listPageSize, SkipToken: skip})
	if err != nil {
		return err
	}
	d := groupData{Group: g, FormError: formErr, Find: strings.TrimSpace(q.Get("find"))}
	if g.MemberCount != nil {
		d.Total = *g.MemberCount
	}
	// Names are looked up for the shown page of members only.
	for _, m := range page.Value {
		row, err := c.memberRow(m)
		if err != nil {
			return err
		}
		d.Members = append(d.Members, row)
	}
	d.NextMembers, d.FirstMembers = pageLinks(c.Path("/groups", g.ID), url.Values{}, skip, page.NextSkipToken)
	if d.Find != "" && c.CanWrite() {
		d.Searched = true
		if d.Matches, d.MoreExists, err = c.findMembers(g.ID, d.Find); err != nil {
			return err
		}
	}
	return c.RenderStatus(status, "groups_group.html", d)
}

// memberRow names a member: a user by UPN and display name, a group or device by its name.
// A member the signed-in person may not see (another scope tag) shows by its ID.
func (c *Ctx) memberRow(m wire.Member) (memberRow, error) {
	ctx := c.R.Context()
	row := memberRow{Kind: m.Kind, ID: m.ID, Name: m.ID}
	var err error
	switch m.Kind {
	case "user":
		var u wire.User
		if u, err = c.API.User(ctx, c.Tenant, m.ID); err == nil {
			row.Name, row.Detail, row.Href = u.UserPrincipalName, u.DisplayName, c.Path("/users", u.ID)
		}
	case "group":
		var g wire.Group
		if g, err = c.API.Group(ctx, c.Tenant, m.ID); err == nil {
			row.Name, row.Detail, row.Href = g.DisplayName, g.Description, c.Path("/groups", g.ID)
		}
	case "device":
		var d wire.Device
		if d, err = c.API.Device(ctx, c.Tenant, m.ID); err == nil {
			row.Name, row.Detail = d.DeviceName, d.UserPrincipalName
			if hasRoute(http.MethodGet, "/devices/{did}") {
				row.Href = c.Path("/devices", d.ID)
			}
		}
	}
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusNotFound {
		row.Detail, err = "not visible to you", nil
	}
	return row, err
}

// findMembers searches users, groups (display name) and devices (a prefix of the device
// name or its user's UPN, the device list's search) for the picker, leaving out what already
// is a member (or the group itself). Users are found by the start of their UPN, which reads
// only the users that match from the UPN index (startsWith); only when none has that start
// does it search UPNs and display names for the text, which reads at most the API's scan
// budget of users (maxUserScan). Groups likewise: by the start of their display name in the
// group name index, else the text within names, at most maxGroupScan groups. So the
// picker's cost is bounded by its page size, plus those budgets when the text starts no UPN
// or name, and never grows with the tenant.
func (c *Ctx) findMembers(groupID, find string) ([]pickRow, bool, error) {
	ctx := c.R.Context()
	q := adminclient.ListQuery{Search: find, Top: pickerSize}
	users, err := c.API.SearchUsers(ctx, c.Tenant, adminclient.ListQuery{StartsWith: find, Top: pickerSize})
	if err == nil && len(users.Value) == 0 && users.NextSkipToken == "" {
		users, err = c.API.SearchUsers(ctx, c.Tenant, q)
	}
	if err != nil {
		return nil, false, err
	}
	groups, err := c.API.SearchGroups(ctx, c.Tenant, adminclient.ListQuery{StartsWith: find, Top: pickerSize})
	if err == nil && len(groups.Value) == 0 && groups.NextSkipToken == "" {
		groups, err = c.API.SearchGroups(ctx, c.Tenant, q)
	}
	if err != nil {
		return nil, false, err
	}
	devices, err := c.API.DevicePage(ctx, c.Tenant, adminclient.DevicePageQuery{Search: find, Top: pickerSize})
	if err != nil {
		return nil, false, err
	}
	// The matches that already are members (one check of at most 3 × pickerSize IDs), and
	// the group itself, are left out.
	ids := []string{}
	for _, u := range users.Value {
		ids = append(ids, u.ID)
	}
	for _, g := range groups.Value {
		ids = append(ids, g.ID)
	}
	for _, d := range devices.Value {
		ids = append(ids, d.ID)
	}
	members, err := c.API.MembersAmong(ctx, c.Tenant, groupID, ids)
	if err != nil {
		return nil, false, err
	}
	member := map[string]bool{groupID: true}
	for _, m := range members {
		member[m.ID] = true
	}
	var out []pickRow
	for _, u := range users.Value {
		if !member[u.ID] {
			out = append(out, pickRow{Kind: "user", ID: u.ID, Name: u.UserPrincipalName, Detail: u.DisplayName})
		}
	}
	for _, g := range groups.Value {
		if !member[g.ID] {
			out = append(out, pickRow{Kind: "group", ID: g.ID, Name: g.DisplayName, Detail: g.Description})
		}
	}
	for _, d := range devices.Value {
		if !member[d.ID] {
			out = append(out, pickRow{Kind: "device", ID: d.ID, Name: d.DeviceName, Detail: d.UserPrincipalName})
		}
	}
	return out, users.NextSkipToken != "" || groups.NextSkipToken != "" || devices.NextSkipToken != "", nil
}

func groupAddMember(c *Ctx) error {
	id := c.R.PostFormValue("member")
	err := c.API.AddMember(c.R.Context(), c.Tenant, c.Var("gid"), id)
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && (ae.Status == http.StatusConflict || ae.Status == http.StatusUnprocessableEntity || ae.Status == http.StatusNotFound && id != "") {
		if _, gerr := c.API.Group(c.R.Context(), c.Tenant, c.Var("gid")); gerr != nil {
			return gerr
		}
		return c.groupView(http.StatusUnprocessableEntity, ae.Message)
	}
	if err != nil {
		return err
	}
	name := c.R.PostFormValue("name")
	return c.Redirect(c.Path("/groups", c.Var("gid")), "Added "+name+".")
}

func groupRemoveMember(c *Ctx) error {
	if err := c.API.RemoveMember(c.R.Context(), c.Tenant, c.Var("gid"), c.Var("mid")); err != nil {
		return err
	}
	return c.Redirect(c.Path("/groups", c.Var("gid")), "Removed "+c.R.PostFormValue("name")+".")
}

func groupDelete(c *Ctx) error {
	err := c.API.DeleteGroup(c.R.Context(), c.Tenant, c.Var("gid"))
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusConflict {
		return c.groupView(http.StatusConflict, ae.Message)
	}
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/groups"), "Group deleted.")
}

// hasRoute reports whether a page is registered, so a link is drawn only to a page that
// exists.
func hasRoute(method, path string) bool {
	for _, reg := range registry {
		for _, rt := range reg.routes {
			if rt.Method == method && rt.Path == path {
				return true
			}
		}
	}
	return false
}
