package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"

	"github.com/hellomdm/hellomdm/internal/apply"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Policy administration: profiles (Intune JSON) and their assignments.

func runProfileImport(c *adminClient, args []string) error {
	fs := commandFlags("profile import")
	tid := fs.String("tenant", "", "tenant ID or domain")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"give exactly one FILE.json"}
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: not JSON: %w", fs.Arg(0), err)
	}
	route, err := apply.RouteOf(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	p, err := c.api.CreateProfile(c.ctx, tenant, adminclient.ProfileRoute(route), raw)
	if err := c.wrote(err); err != nil {
		return err
	}
	c.warn("profile "+fs.Arg(0), p.Warnings)
	row, err := profileRow(p, route)
	if err != nil {
		return err
	}
	return c.print(row, profileColumns()...)
}

func runProfileList(c *adminClient, args []string) error {
	fs := commandFlags("profile list")
	tid := fs.String("tenant", "", "tenant ID or domain")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	rows := []map[string]any{}
	for _, route := range adminclient.ProfileRoutes {
		ps, err := c.api.Profiles(c.ctx, tenant, route)
		if err := c.read(err); err != nil {
			return err
		}
		for _, p := range ps {
			row, err := profileRow(p, string(route))
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
	}
	return c.print(map[string]any{"value": rows}, profileColumns()...)
}

func runProfileAssign(c *adminClient, args []string) error {
	fs := commandFlags("profile assign")
	tid := fs.String("tenant", "", "tenant ID or domain")
	pid := fs.String("profile", "", "profile ID or name")
	var include, exclude repeatedString
	fs.Var(&include, "group", "include this group, by ID or name (repeatable)")
	fs.Var(&exclude, "exclude-group", "exclude this group, by ID or name (repeatable)")
	allDevices := fs.Bool("all-devices", false, "target all devices")
	allUsers := fs.Bool("all-users", false, "target all users")
	if err := parseCommand(fs, args, "tenant", "profile"); err != nil {
		return err
	}
	tenant, profile, route, _, err := c.findProfile(*tid, *pid)
	if err != nil {
		return err
	}
	// Group names become IDs (admin_names.go).
	if include, err = c.resolveList("group", *tid, include); err != nil {
		return err
	}
	if exclude, err = c.resolveList("group", *tid, exclude); err != nil {
		return err
	}
	items := []wire.Assignment{}
	add := func(typ, gid string) {
		items = append(items, wire.Assignment{Target: wire.AssignmentTarget{Type: typ, GroupID: gid}})
	}
	for _, g := range include {
		add(wire.TargetGroup, g)
	}
	for _, g := range exclude {
		add(wire.TargetExclusion, g)
	}
	if *allDevices {
		add(wire.TargetAllDevices, "")
	}
	if *allUsers {
		add(wire.TargetAllUsers, "")
	}
	out, err := c.api.AssignProfile(c.ctx, tenant, route, profile, items)
	if err := c.wrote(err); err != nil {
		return err
	}
	c.warnAnswer(out.Warnings)
	switch c.output {
	case "json":
		return c.print(out)
	case "id": // assignments have no IDs of their own: the profile's
		return c.printIDs(profile)
	}
	rows := []wire.AssignmentTarget{}
	for _, a := range out.Value {
		rows = append(rows, a.Target)
	}
	return printList(c, rows, "@odata.type", "groupId")
}

func runProfileDelete(c *adminClient, args []string) error {
	tenant, pid, route, asGiven, err := c.profileCommand("profile delete", args)
	if err != nil {
		return err
	}
	if err := c.wrote(c.api.DeleteProfile(c.ctx, tenant, route, pid)); err != nil {
		return err
	}
	return c.done("deleted profile "+given(pid, asGiven), pid)
}

// profileCommand parses the flags of a command on one profile (--tenant TID --profile PID)
// and finds the profile: the IDs of its tenant and of the profile, whether names or IDs were
// given, its route, and --profile as given. When the profile is on neither route the
// tenant and profile IDs come with the error, for a caller that goes on.
func (c *adminClient) profileCommand(name string, args []string) (tenant, pid string, route adminclient.ProfileRoute, asGiven string, err error) {
	fs := commandFlags(name)
	tid := fs.String("tenant", "", "tenant ID or domain")
	p := fs.String("profile", "", "profile ID or name")
	if err := parseCommand(fs, args, "tenant", "profile"); err != nil {
		return "", "", "", "", err
	}
	tenant, pid, route, _, err = c.findProfile(*tid, *p)
	return tenant, pid, route, *p, err
}

// findProfile resolves a tenant and a profile (IDs or names) and finds which of the two
// routes holds the profile, with its document.
func (c *adminClient) findProfile(tid, p string) (tenant, pid string, route adminclient.ProfileRoute, doc adminclient.Profile, err error) {
	if tenant, pid, err = c.resolveIn("profile", tid, p); err != nil {
		return "", "", "", doc, err
	}
	// A value that is neither an ID nor a name goes to the server on each route, and on
	// the caller's next request (profile status), each refusal with its note.
	notes := c.notes
	for _, route = range adminclient.ProfileRoutes {
		c.notes = notes
		doc, err = c.api.Profile(c.ctx, tenant, route, pid)
		if err = c.read(err); err == nil {
			return tenant, pid, route, doc, nil
		}
		if !adminclient.IsStatus(err, http.StatusNotFound) {
			return "", "", "", doc, err
		}
	}
	c.notes = notes
	return tenant, pid, "", doc, err
}

func profileColumns() []string {
	return []string{"id", "name", "kind", "version", "roleScopeTagIds", "lastModifiedDateTime"}
}

// profileRow flattens a profile's Intune JSON for the table.
func profileRow(prof adminclient.Profile, route string) (map[string]any, error) {
	var p map[string]any
	if err := json.Unmarshal(prof.Raw, &p); err != nil {
		return nil, fmt.Errorf("decoding a profile: %w", err)
	}
	name := p["name"]
	kind := "settingsCatalog"
	if route == string(adminclient.CustomOMAURI) {
		name, kind = p["displayName"], "customOMAURI"
	}
	return map[string]any{"id": p["id"], "name": name, "kind": kind, "version": p["version"],
		"roleScopeTagIds": p["roleScopeTagIds"], "lastModifiedDateTime": p["lastModifiedDateTime"], "profile": p}, nil
}

// warn prints what the server accepted with a warning (e.g. a setting that names another
// tenant), one line each on stderr, so that -o json output stays parseable.
func (c *adminClient) warn(what string, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "warning: %s: %s\n", what, w)
	}
}
