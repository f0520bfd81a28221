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
}
