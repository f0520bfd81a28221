package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// Policy administration: groups, profiles (Intune JSON), assignments and deployment status.
func init() {
	adminCommands["group create"] = adminCommand{
		usage: "group create --tenant TID --name NAME [--description D]",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("group create")
			tid := fs.String("tenant", "", "tenant ID or domain")
			name := fs.String("name", "", "display name")
			desc := fs.String("description", "", "description")
			if err := parseCommand(fs, args, "tenant", "name"); err != nil {
				return err
			}
			return c.call("POST", tenantPath(*tid, "groups"), map[string]string{"displayName": *name, "description": *desc}, groupColumns()...)
		},
	}
	adminCommands["group list"] = adminCommand{
		usage: "group list --tenant TID",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("group list")
			tid := fs.String("tenant", "", "tenant ID or domain")
			if err := parseCommand(fs, args, "tenant"); err != nil {
				return err
			}
			return c.call("GET", tenantPath(*tid, "groups"), nil, groupColumns()...)
		},
	}
	adminCommands["group members"] = adminCommand{
		usage: "group members --tenant TID --group GID",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("group members")
			tid := fs.String("tenant", "", "tenant ID or domain")
			gid := fs.String("group", "", "group ID or name")
			if err := parseCommand(fs, args, "tenant", "group"); err != nil {
				return err
			}
			var out map[string]any
			if err := c.do("GET", tenantPath(*tid, "groups", *gid, "members"), nil, &out); err != nil {
				return err
			}
			rows, _ := out["value"].([]any)
			for _, r := range rows {
				if m, ok := r.(map[string]any); ok {
					kind, _ := m["kind"].(string)
					id, _ := m["id"].(string)
					m["name"] = c.nameOf(kind, *tid, id)
				}
			}
			return c.print(out, "kind", "id", "name")
		},
	}
	adminCommands["group add-member"] = adminCommand{
		usage: "group add-member --tenant TID --group GID --id MEMBER   (a user ID or UPN, a device ID or name, a group ID or name)",
		run:   func(c *adminClient, args []string) error { return c.groupMember(args, "POST") },
	}
	adminCommands["group remove-member"] = adminCommand{
		usage: "group remove-member --tenant TID --group GID --id MEMBER   (a user ID or UPN, a device ID or name, a group ID or name)",
		run:   func(c *adminClient, args []string) error { return c.groupMember(args, "DELETE") },
	}
	adminCommands["group delete"] = adminCommand{
		usage: "group delete --tenant TID --group GID",
		run: func(c *adminClient, args []string) error {
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
			if err := c.do("DELETE", tenantPath(tenant, "groups", group), nil, nil); err != nil {
				return err
			}
			return c.done("deleted group "+given(group, *gid), group)
		},
	}
	adminCommands["profile import"] = adminCommand{
		usage: "profile import --tenant TID FILE.json   (an Intune settings catalog or custom OMA-URI export)",
		run: func(c *adminClient, args []string) error {
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
			route, err := routeOf(doc)
			if err != nil {
				return fmt.Errorf("%s: %w", fs.Arg(0), err)
			}
			var out map[string]any
			if err := c.do("POST", tenantPath(*tid, route), json.RawMessage(raw), &out); err != nil {
				return err
			}
			if ws, ok := out["warnings"].([]any); ok {
				var list []string
				for _, w := range ws {
					list = append(list, fmt.Sprint(w))
				}
				c.warn("profile "+fs.Arg(0), list)
			}
			return c.print(profileRow(out, route), profileColumns()...)
		},
	}
	adminCommands["profile list"] = adminCommand{
		usage: "profile list --tenant TID",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("profile list")
			tid := fs.String("tenant", "", "tenant ID or domain")
			if err := parseCommand(fs, args, "tenant"); err != nil {
				return err
			}
			rows := []map[string]any{}
			for _, route := range []string{"configurationPolicies", "deviceConfigurations"} {
				var out struct {
					Value []map[string]any `json:"value"`
				}
				if err := c.do("GET", tenantPath(*tid, route), nil, &out); err != nil {
					return err
				}
				for _, p := range out.Value {
					rows = append(rows, profileRow(p, route))
				}
			}
			return c.print(map[string]any{"value": rows}, profileColumns()...)
		},
	}
	adminCommands["profile assign"] = adminCommand{
		usage: "profile assign --tenant TID --profile PID [--group GID]... [--exclude-group GID]... [--all-devices] [--all-users]   (replaces the assignments)",
		run: func(c *adminClient, args []string) error {
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
			tenant, profile, err := c.resolveIn("profile", *tid, *pid)
			if err != nil {
				return err
			}
			route, err := c.profileRoute(tenant, profile)
			if err != nil {
				return err
			}
			// Group names in the body become IDs (admin_names.go), as names in paths do.
			if include, err = c.resolveList("group", *tid, include); err != nil {
				return err
			}
			if exclude, err = c.resolveList("group", *tid, exclude); err != nil {
				return err
			}
			items := []map[string]any{}
			add := func(typ, gid string) {
				t := map[string]any{"@odata.type": typ}
				if gid != "" {
					t["groupId"] = gid
				}
				items = append(items, map[string]any{"target": t})
			}
			for _, g := range include {
				add(targetGroup, g)
			}
			for _, g := range exclude {
				add(targetExclusion, g)
			}
			if *allDevices {
				add(targetAllDevices, "")
			}
			if *allUsers {
				add(targetAllUsers, "")
			}
			var out map[string]any
			if err := c.do("POST", tenantPath(tenant, route, profile, "assign"), map[string]any{"assignments": items}, &out); err != nil {
				return err
			}
			c.warnAnswer(out)
			switch c.output {
			case "json":
				return c.print(out)
			case "id": // assignments have no IDs of their own: the profile's
				return c.printIDs(profile)
			}
			rows := []map[string]any{}
			list, _ := out["value"].([]any)
			for _, a := range list {
				m, _ := a.(map[string]any)
				t, _ := m["target"].(map[string]any)
				rows = append(rows, t)
			}
			return c.print(map[string]any{"value": rows}, "@odata.type", "groupId")
		},
	}
	adminCommands["profile status"] = adminCommand{
		usage: "profile status --tenant TID --profile PID",
		run: func(c *adminClient, args []string) error {
			path, pid, _, err := c.profileCommand("profile status", args)
			var ae *apiError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound && path != "" {
				// A deleted profile is on neither route, but its report goes on while devices
				// remove its settings; the server answers it on either route.
				path = tenantPath(tenantOfPath(path), "configurationPolicies", pid)
			} else if err != nil {
				return err
			}
			tid := tenantOfPath(path)
			var out struct {
				ProfileID string         `json:"profileId"`
				Deleted   bool           `json:"deleted,omitempty"`
				Counts    map[string]int `json:"counts"`
				Devices   []struct {
					DeviceID       string           `json:"deviceId"`
					Settings       []map[string]any `json:"settings"`
					CanReset       string           `json:"canReset,omitempty"`
					CanResetReason string           `json:"canResetReason,omitempty"`
				} `json:"devices"`
			}
			if err := c.do("GET", path+"/deviceStatuses", nil, &out); err != nil {
				return err
			}
			switch c.output {
			case "json":
				return c.print(out)
			case "id": // the devices the report covers
				var ids []string
				for _, d := range out.Devices {
					ids = append(ids, d.DeviceID)
				}
				return c.printIDs(ids...)
			}
			deleted := ""
			if out.Deleted {
				deleted = " (deleted; devices remove its settings at their next check-in)"
			}
			var states []string
			for s := range out.Counts {
				states = append(states, s)
			}
			sort.Strings(states)
			var parts []string
			for _, s := range states {
				parts = append(parts, fmt.Sprintf("%s %d", s, out.Counts[s]))
			}
			fmt.Fprintf(c.stdout, "profile %s%s: %s\n\n", out.ProfileID, deleted, strings.Join(parts, ", "))
			tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DEVICE\tDEVICENAME\tLOCURI\tSTATE\tERROR")
			for _, d := range out.Devices {
				name := c.nameOf("device", tid, d.DeviceID)
				for _, s := range d.Settings {
					state := cell(s["state"])
					if s["removing"] == true {
						state += " (removal)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.DeviceID, name, cell(s["locUri"]), state, cell(s["errorDetail"]))
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			// EnablePinRecovery's state is what the device answered; whether non-destructive
			// reset works there is the device's CanReset.
			first := true
			for _, d := range out.Devices {
				if d.CanReset != "DestructiveOnly" {
					continue
				}
				if first {
					fmt.Fprintln(c.stdout)
					first = false
				}
				fmt.Fprintf(c.stdout, "%s: non-destructive PIN reset unavailable (CanReset DestructiveOnly) %s\n", d.DeviceID, strings.TrimPrefix(d.CanResetReason, "PIN reset not supported "))
			}
			return nil
		},
	}
	adminCommands["profile delete"] = adminCommand{
		usage: "profile delete --tenant TID --profile PID   (devices remove its settings at their next check-in; profile status follows the removal)",
		run: func(c *adminClient, args []string) error {
			path, pid, asGiven, err := c.profileCommand("profile delete", args)
			if err != nil {
				return err
			}
			if err := c.do("DELETE", path, nil, nil); err != nil {
				return err
			}
			return c.done("deleted profile "+given(pid, asGiven), pid)
		},
	}
	adminCommands["device settings"] = adminCommand{
		usage: "device settings --tenant TID --device DID",
		noIDs: "setting states have none (leave out -q; -o json for scripts)",
		run: func(c *adminClient, args []string) error {
			fs := commandFlags("device settings")
			tid := fs.String("tenant", "", "tenant ID or domain")
			did := fs.String("device", "", "device ID or name")
			if err := parseCommand(fs, args, "tenant", "device"); err != nil {
				return err
			}
			var out map[string]any
			if err := c.do("GET", tenantPath(*tid, "devices", *did, "settingStates"), nil, &out); err != nil {
				return err
			}
			if c.output == "table" {
				// Conflicts name the profiles that disagree: show each source profile's name.
				rows, _ := out["value"].([]any)
				for _, r := range rows {
					m, _ := r.(map[string]any)
					srcs, _ := m["sources"].([]any)
					for i, src := range srcs {
						if id, ok := src.(string); ok {
							srcs[i] = c.withName("profile", *tid, id)
						}
					}
				}
			}
			return c.print(out, "locUri", "value", "state", "errorDetail", "sources", "lastChanged")
		},
	}
}

func (c *adminClient) groupMember(args []string, method string) error {
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
	if method == "POST" {
		if err := c.do("POST", tenantPath(tenant, "groups", group, "members"), map[string]string{"id": member}, nil); err != nil {
			return err
		}
		return c.done("added "+given(member, *id)+" to group "+given(group, *gid), member)
	}
	if err := c.do("DELETE", tenantPath(tenant, "groups", group, "members", member), nil, nil); err != nil {
		return err
	}
	return c.done("removed "+given(member, *id)+" from group "+given(group, *gid), member)
}

// profileCommand parses the flags of a command on one profile (--tenant TID --profile PID)
// and finds the profile: it returns the profile's path, /tenants/TID/ROUTE/PID, and PID
// (IDs, whether names or IDs were given), and --profile as given.
func (c *adminClient) profileCommand(name string, args []string) (path, pid, asGiven string, err error) {
	fs := commandFlags(name)
	tid := fs.String("tenant", "", "tenant ID or domain")
	p := fs.String("profile", "", "profile ID or name")
	if err := parseCommand(fs, args, "tenant", "profile"); err != nil {
		return "", "", "", err
	}
	tenant, profile, err := c.resolveIn("profile", *tid, *p)
	if err != nil {
		return "", "", "", err
	}
	route, err := c.profileRoute(tenant, profile)
	if err != nil {
		return tenantPath(tenant), profile, *p, err // the tenant's path, for a caller that goes on
	}
	return tenantPath(tenant, route, profile), profile, *p, nil
}

// profileRoute finds which of the two profile routes holds a profile.
func (c *adminClient) profileRoute(tid, pid string) (string, error) {
	var last error
	for _, route := range []string{"configurationPolicies", "deviceConfigurations"} {
		err := c.do("GET", tenantPath(tid, route, pid), nil, nil)
		if err == nil {
			return route, nil
		}
		if ae, ok := err.(*apiError); !ok || ae.Status != 404 {
			return "", err
		}
		last = err
	}
	return "", last
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

func profileColumns() []string {
	return []string{"id", "name", "kind", "version", "roleScopeTagIds", "lastModifiedDateTime"}
}

// profileRow flattens a profile's Intune JSON for the table.
func profileRow(p map[string]any, route string) map[string]any {
	name := p["name"]
	if route == "deviceConfigurations" {
		name = p["displayName"]
	}
	kind := "settingsCatalog"
	if route == "deviceConfigurations" {
		kind = "customOMAURI"
	}
	return map[string]any{"id": p["id"], "name": name, "kind": kind, "version": p["version"],
		"roleScopeTagIds": p["roleScopeTagIds"], "lastModifiedDateTime": p["lastModifiedDateTime"], "profile": p}
}

// warn prints what the server accepted with a warning (e.g. a setting that names another
// tenant), one line each on stderr, so that -o json output stays parseable.
func (c *adminClient) warn(what string, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(c.stderr, "warning: %s: %s\n", what, w)
	}
}
