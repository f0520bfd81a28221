package main

import (
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

func runCommandQueue(c *adminClient, args []string) error {
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
	tenant, device, err := c.resolveIn("device", *tid, *did)
	if err != nil {
		return err
	}
	cmd, err := c.api.QueueCommand(c.ctx, tenant, device, wire.CommandRequest{Verb: *verb, LocURI: *uri, Format: *format, Data: *data})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(cmd, "id", "verb", "locUri", "state")
}

func runCommandList(c *adminClient, args []string) error {
	tenant, device, err := c.parseInTenant("command list", "device", args)
	if err != nil {
		return err
	}
	list, err := c.api.Commands(c.ctx, tenant, device)
	if err := c.read(err); err != nil {
		return err
	}
	return printList(c, list, "id", "verb", "locUri", "state", "statusText", "attempts", "resentAs")
}

func runCommandResend(c *adminClient, args []string) error {
	fs := commandFlags("command resend")
	tid := fs.String("tenant", "", "tenant ID or domain")
	did := fs.String("device", "", "device ID or name")
	id := fs.String("command", "", "ID of the command in state unknown")
	if err := parseCommand(fs, args, "tenant", "device", "command"); err != nil {
		return err
	}
	tenant, device, err := c.resolveIn("device", *tid, *did)
	if err != nil {
		return err
	}
	cmd, err := c.api.ResendCommand(c.ctx, tenant, device, *id)
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(cmd, "id", "verb", "locUri", "state")
}
