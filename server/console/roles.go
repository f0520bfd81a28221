package console

import (
	"net/http"
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
	// CanGrant: granting takes the admin role, as in the API.
	CanGrant bool
	Form     roleForm
	Error    string
}

type roleForm struct{ UPN, Role, Tags string }

func rolesPage(c *Ctx) error {
	return showRoles(c, http.StatusOK, roleForm{Role: "reader"}, "")
}

func showRoles(c *Ctx, status int, f roleForm, msg string) error {
	users, err := c.API.Users(c.R.Context(), c.Tenant)
	if err != nil {
		return err
	}
	d := rolesData{CanGrant: c.Principal.Role == "admin", Form: f, Error: msg}
	for _, u := range users {
		if u.AdminRole != "" {
			d.Holders = append(d.Holders, u)
		}
	}
	slices.SortFunc(d.Holders, func(a, b wire.User) int { return strings.Compare(a.UserPrincipalName, b.UserPrincipalName) })
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
