package main

import "net/url"

func init() {
	adminCommands["command queue"] = adminCommand{
		usage: "command queue --tenant TID --device DID --verb Replace --uri LOCURI [--format bool] [--data VALUE]",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("command queue")
			tid := fs.String("tenant", "", "tenant ID")
			did := fs.String("device", "", "device ID")
			verb := fs.String("verb", "", "Get, Add, Replace, Delete or Exec")
			uri := fs.String("uri", "", "OMA-DM LocURI")
			format := fs.String("format", "", "Meta Format (bool, int, chr, b64, xml, node, null)")
			data := fs.String("data", "", "value")
			if err := parseCommand(fs, args, "tenant", "device", "verb", "uri"); err != nil {
				return err
			}
			var out map[string]any
			body := map[string]string{"verb": *verb, "locUri": *uri, "format": *format, "data": *data}
			if err := c.do("POST", "/tenants/"+url.PathEscape(*tid)+"/devices/"+url.PathEscape(*did)+"/commands", body, &out); err != nil {
				return err
			}
			return c.print(out, "id", "verb", "locUri", "state")
		},
	}
	adminCommands["command list"] = adminCommand{
		usage: "command list --tenant TID --device DID",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("command list")
			tid := fs.String("tenant", "", "tenant ID")
			did := fs.String("device", "", "device ID")
			if err := parseCommand(fs, args, "tenant", "device"); err != nil {
				return err
			}
			var out map[string]any
			if err := c.do("GET", "/tenants/"+url.PathEscape(*tid)+"/devices/"+url.PathEscape(*did)+"/commands", nil, &out); err != nil {
				return err
			}
			return c.print(out, "id", "verb", "locUri", "state", "statusText", "attempts")
		},
	}
}
