package main

import (
	"fmt"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Policy administration: groups and their members.

func runGroupAddMember(c *adminClient, args []string) error { return c.groupMember(args, true) }

func runGroupRemoveMember(c *adminClient, args []string) error { return c.groupMember(args, false) }

func runGroupCreate(c *adminClient, args []string) error {
	fs := commandFlags("group create")
	tid := fs.String("tenant", "", "tenant ID or domain")
	name := fs.String("name", "", "display name")
	desc := fs.String("description", "", "description")
	if err := parseCommand(fs, args, "tenant", "name"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	g, err := c.api.CreateGroup(c.ctx, tenant, wire.GroupRequest{DisplayName: *name, Description: *desc})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.print(g, groupColumns()...)
}

func runGroupList(c *adminClient, args []string) error {
	return listInTenant(c, args, "group list", c.api.Groups, groupColumns()...)
}

func runGroupMembers(c *adminClient, args []string) error {
	fs := commandFlags("group members")
	tid := fs.String("tenant", "", "tenant ID or domain")
	gid := fs.String("group", "", "group ID or name")
	if err := parseCommand(fs, args, "tenant", "group"); err != nil {
		return err
	}
	tenant, group, err := c.resolveIn("group", *tid, *gid)
	if err != nil {
		return err
	}
	ms, err := c.api.Members(c.ctx, tenant, group)
	if err := c.read(err); err != nil {
		return err
	}
	rows := []map[string]any{}
	for _, m := range ms {
		rows = append(rows, map[string]any{"kind": m.Kind, "id": m.ID, "name": c.nameOf(m.Kind, *tid, m.ID)})
	}
	return c.print(map[string]any{"value": rows}, "kind", "id", "name")
}

func runGroupDelete(c *adminClient, args []string) error {
	fs := commandFlags("group delete")
	tid := fs.String("tenant", "", "tenant ID or domain")
	gid := fs.String("group", "", "group ID or name")
	if err := parseCommand(fs, args, "tenant", "group"); err != nil {
		return err
	}
	tenant, group, err := c.resolveIn("group", *tid, *gid)
	if err != nil {
		return err
	}
	if err := c.wrote(c.api.DeleteGroup(c.ctx, tenant, group)); err != nil {
		return err
	}
	return c.done("deleted group "+given(group, *gid), group)
}

// groupMember adds (add) or removes a member of a group.
func (c *adminClient) groupMember(args []string, add bool) error {
	fs := commandFlags("group member")
	tid := fs.String("tenant", "", "tenant ID or domain")
	gid := fs.String("group", "", "group ID or name")
	id := fs.String("id", "", "member: a user ID or UPN, a device ID or name, or a group ID or name")
	if err := parseCommand(fs, args, "tenant", "group", "id"); err != nil {
		return err
	}
	tenant, group, err := c.resolveIn("group", *tid, *gid)
	if err != nil {
		return err
	}
	member, err := c.resolveMember(tenant, *id)
	if err != nil {
		return err
	}
	if add {
		if err := c.wrote(c.api.AddMember(c.ctx, tenant, group, member)); err != nil {
			return err
		}
		return c.done("added "+given(member, *id)+" to group "+given(group, *gid), member)
	}
	if err := c.wrote(c.api.RemoveMember(c.ctx, tenant, group, member)); err != nil {
		return err
	}
	return c.done("removed "+given(member, *id)+" from group "+given(group, *gid), member)
}

// done reports a change without an answer body: msg, or under -q the IDs of the objects
// changed.
func (c *adminClient) done(msg string, ids ...string) error {
	switch c.output {
	case "json":
		return c.print(map[string]any{"ok": true, "message": msg})
	case "id":
		return c.printIDs(ids...)
	}
	_, err := fmt.Fprintln(c.stdout, msg)
	return err
}

func groupColumns() []string { return []string{"id", "displayName", "description", "createdAt"} }
