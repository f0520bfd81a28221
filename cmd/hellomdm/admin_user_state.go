package main

func init() {
	for _, verb := range []string{"disable", "enable"} {
		enabled := verb == "enable"
		adminCommands["user "+verb] = adminCommand{
			usage: "user " + verb + " --tenant TID --user UID",
			run: func(c *adminClient, args []string) error {
				fs := commandFlags("user " + verb)
				tid := fs.String("tenant", "", "tenant ID")
				uid := fs.String("user", "", "user ID")
				if err := parseCommand(fs, args, "tenant", "user"); err != nil {
					return err
				}
				return c.call("PATCH", tenantPath(*tid, "users", *uid), map[string]any{"accountEnabled": enabled}, userColumns()...)
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
			if err := c.do("DELETE", tenantPath(*tid, "users", *uid), nil, nil); err != nil {
				return err
			}
			return c.done("deleted user " + *uid)
		},
	}
}
