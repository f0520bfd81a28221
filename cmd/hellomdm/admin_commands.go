package main

func init() {
	adminCommands["command queue"] = adminCommand{
		usage: "command queue --tenant TID --device DID --verb Replace --uri LOCURI [--format bool] [--data VALUE]",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("command queue")
			tid := fs.String("tenant", "", "tenant ID or domain")
			did := fs.String("device", "", "device ID or name")
			verb := fs.String("verb", "", "Get, Add, Replace, Delete or Exec")
			uri := fs.String("uri", "", "OMA-DM LocURI")
			format := fs.String("format", "", "Meta Format (bool, int, chr, b64, xml, node, null)")
			data := fs.String("data", "", "value")
			if err := parseCommand(fs, args, "tenant", "device", "verb", "uri"); err != nil {
				return err
			}
			body := map[string]string{"verb": *verb, "locUri": *uri, "format": *format, "data": *data}
			return c.call("POST", tenantPath(*tid, "devices", *did, "commands"), body, "id", "verb", "locUri", "state")
		},
	}
	adminCommands["command list"] = adminCommand{
		usage: "command list --tenant TID --device DID",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("command list")
			tid := fs.String("tenant", "", "tenant ID or domain")
			did := fs.String("device", "", "device ID or name")
			if err := parseCommand(fs, args, "tenant", "device"); err != nil {
				return err
			}
			return c.call("GET", tenantPath(*tid, "devices", *did, "commands"), nil, "id", "verb", "locUri", "state", "statusText", "attempts", "resentAs")
		},
	}
	adminCommands["command resend"] = adminCommand{
		usage: "command resend --tenant TID --device DID --command ID   (send an unknown Exec again)",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("command resend")
			tid := fs.String("tenant", "", "tenant ID or domain")
			did := fs.String("device", "", "device ID or name")
			id := fs.String("command", "", "ID of the command in state unknown")
			if err := parseCommand(fs, args, "tenant", "device", "command"); err != nil {
				return err
			}
			return c.call("POST", tenantPath(*tid, "devices", *did, "commands", *id, "resend"), nil, "id", "verb", "locUri", "state")
		},
	}
}
