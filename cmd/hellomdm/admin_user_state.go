package main

import adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"

func init() {
	for _, verb := range []string{"disable", "enable"} {
		enabled := verb == "enable"
		adminCommands["user "+verb] = adminCommand{
			usage: "user " + verb + " --tenant TID --user UID",
			run: func(c *adminClient, args []string) error {
				fs := commandFlags("user " + verb)
				tid := fs.String("tenant", "", "tenant ID or domain")
				uid := fs.String("user", "", "user ID or user principal name")
				if err := parseCommand(fs, args, "tenant", "user"); err != nil {
					return err
				}
				tenant, user, err := c.resolveIn("user", *tid, *uid)
				if err != nil {
					return err
				}
				u, err := c.api.UpdateUser(c.ctx, tenant, user, adminclient.UserPatch{AccountEnabled: &enabled})
				if err := c.wrote(err); err != nil {
					return err
				}
				return c.print(u, userColumns()...)
			},
		}
	}
	adminCommands["user delete"] = adminCommand{
		usage: "user delete --tenant TID --user UID   (removes its TOTP enrolment and group memberships; retire its devices separately)",
		run: func(c *adminClient, args []string) error {
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
		},
	}
}
