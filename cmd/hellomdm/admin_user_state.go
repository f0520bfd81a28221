package main

import (
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

func runUserDisable(c *adminClient, args []string) error {
	return c.setUserEnabled("user disable", args, false)
}

func runUserEnable(c *adminClient, args []string) error {
	return c.setUserEnabled("user enable", args, true)
}

// setUserEnabled is user disable and user enable: Graph's accountEnabled.
func (c *adminClient) setUserEnabled(name string, args []string, enabled bool) error {
	tenant, user, err := c.parseInTenant(name, "user", args)
	if err != nil {
		return err
	}
	u, err := c.api.UpdateUser(c.ctx, tenant, user, wire.UserPatch{AccountEnabled: &enabled})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(u, userColumns()...)
}

func runUserDelete(c *adminClient, args []string) error {
	fs := commandFlags("user delete")
	tid := fs.String("tenant", "", "tenant ID or domain")
	uid := fs.String("user", "", "user ID or user principal name")
	if err := parseCommand(fs, args, "tenant", "user"); err != nil {
		return err
	}
	tenant, user, err := c.resolveIn("user", *tid, *uid)
	if err != nil {
		return err
	}
	if err := c.wrote(c.api.DeleteUser(c.ctx, tenant, user)); err != nil {
		return err
	}
	return c.done("deleted user "+given(user, *uid), user)
}

// runUserRole grants a user an admin role for the web console.
func runUserRole(c *adminClient, args []string) error {
	fs := commandFlags("user role")
	tid := fs.String("tenant", "", "tenant ID or domain")
	uid := fs.String("user", "", "user ID or user principal name")
	role := fs.String("role", "", "admin, operator or reader")
	var tags repeatedString
	fs.Var(&tags, "scope-tag", "role scope tag the role is limited to (repeatable; none: the whole tenant)")
	if err := parseCommand(fs, args, "tenant", "user", "role"); err != nil {
		return err
	}
	tenant, user, err := c.resolveIn("user", *tid, *uid)
	if err != nil {
		return err
	}
	u, err := c.api.SetAdminRole(c.ctx, tenant, user, wire.AdminRoleRequest{Role: *role, RoleScopeTagIDs: []string(tags)})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(u, userRoleColumns()...)
}

// runUserRevokeRole takes a user's admin role away; open console sessions end.
func runUserRevokeRole(c *adminClient, args []string) error {
	tenant, user, err := c.parseInTenant("user revoke-role", "user", args)
	if err != nil {
		return err
	}
	u, err := c.api.RevokeAdminRole(c.ctx, tenant, user)
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(u, userRoleColumns()...)
}

func userRoleColumns() []string {
	return []string{"id", "userPrincipalName", "adminRole", "adminRoleScopeTagIds"}
}
