package console

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// The Admin roles page (Intune's Tenant administration > Roles): which identity provider
// users may sign in to this console, with which role and scope tags; an admin grants and
// revokes them here (the API's PUT and DELETE .../users/{uid}/adminRole).
func init() {
	Register(&Section{Title: "Admin roles", Path: "/roles", Order: 80},
		Route{Method: http.MethodGet, Path: "/roles", Handle: rolesPage},
		Route{Method: http.MethodPost, Path: "/roles", Handle: rolesGrant},
		Route{Method: http.MethodPost, Path: "/roles/{uid}/revoke", Handle: rolesRevoke},
	)
}

type rolesData struct {
	Holders []wire.User
	// Next and First link the next and first pages of holders (empty: none).
	Next, First string
	// CanGrant: granting takes the admin role, as in the API.
	CanGrant bool
	Form     roleForm
	Error    string
}

type roleForm struct{ UPN, Role, Tags string }

func rolesPage(c *Ctx) error {
	return showRoles(c, http.StatusOK, roleForm{Role: "reader"}, "")
}

// showRoles shows a page of the role holders in UPN order, read through the API's
// hasAdminRole filter (the store's index of the holders), never the tenant's whole user list.
func showRoles(c *Ctx, status int, f roleForm, msg string) error {
	skip := c.R.URL.Query().Get("skip")
	page, err := c.API.AdminRoleHolders(c.R.Context(), c.Tenant, adminclient.ListQuery{Top: listPageSize, SkipToken: skip})
	if err != nil {
		return err
	}
	d := rolesData{Holders: page.Value, CanGrant: c.Principal.Role == "admin", Form: f, Error: msg}
	d.Next, d.First = pageLinks(c.Path("/roles"), url.Values{}, skip, page.NextSkipToken)
	return c.RenderStatus(status, "roles.html", d)
}

func rolesGrant(c *Ctx) error {
	f := roleForm{UPN: strings.TrimSpace(c.R.PostFormValue("upn")), Role: c.R.PostFormValue("role"), Tags: c.R.PostFormValue("scopeTags")}
	// The user is looked up by its UPN in the UPN index (a page of the users with that
	// start), not by reading every user of the tenant.
	var users []wire.User
	if f.UPN != "" {
		page, err := c.API.SearchUsers(c.R.Context(), c.Tenant, adminclient.ListQuery{StartsWith: f.UPN, Top: 20})
		if err != nil {
			return err
		}
		users = page.Value
	}
	i := slices.IndexFunc(users, func(u wire.User) bool { return strings.EqualFold(u.UserPrincipalName, f.UPN) })
	if i < 0 {
		return showRoles(c, http.StatusUnprocessableEntity, f, "There is no user "+f.UPN+" in this tenant.")
	}
	var tags []string
	for _, t := range strings.FieldsFunc(f.Tags, func(r rune) bool { return r == ',' || r == ' ' }) {
		tags = append(tags, t)
	}
	u, err := c.API.SetAdminRole(c.R.Context(), c.Tenant, users[i].ID, wire.AdminRoleRequest{Role: f.Role, RoleScopeTagIDs: tags})
	if ae, ok := err.(*adminclient.Error); ok && ae.Status == http.StatusUnprocessableEntity {
		return showRoles(c, http.StatusUnprocessableEntity, f, ae.Message)
	}
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/roles"), u.UserPrincipalName+" is now "+u.AdminRole+" in this console.")
}

func rolesRevoke(c *Ctx) error {
	u, err := c.API.RevokeAdminRole(c.R.Context(), c.Tenant, c.Var("uid"))
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/roles"), u.UserPrincipalName+" holds no admin role any more; their console sessions have ended.")
}
