package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

func init() {
	adminCommands["apply"] = adminCommand{
		usage: "apply -f DIR_OR_FILE [--tenant TID] [--dry-run] [--prune]   (Group, Profile, Assignment documents)",
		run:   runApply,
		noIDs: "its output is a plan of changes (-o json has it, with the IDs of the objects that existed)",
	}
}

func runApply(c *adminClient, args []string) error {
	fs := commandFlags("apply")
	file := fs.String("f", "", "a policy document file, or a directory of *.yaml, *.yml, *.json")
	tid := fs.String("tenant", "", "tenant ID or domain (default: the only tenant the token sees)")
	dry := fs.Bool("dry-run", false, "print the plan and change nothing")
	prune := fs.Bool("prune", false, "delete groups and profiles that are not in the documents")
	if err := parseCommand(fs, args, "f"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	want, err := loadDocuments(*file)
	if err != nil {
		return err
	}
	tenant, err := c.defaultTenant(*tid)
	if err != nil {
		return err
	}
	have, err := c.currentPolicy(tenant)
	if err != nil {
		return err
	}
	plan, err := planApply(want, have, *prune)
	if err != nil {
		return err
	}
	if !*dry {
		if err := c.executePlan(tenant, plan); err != nil {
			return err
		}
	}
	return c.printPlan(plan, *dry)
}

// defaultTenant returns the given tenant, or the only one the token sees.
func (c *adminClient) defaultTenant(tid string) (string, error) {
	if tid != "" {
		return c.resolve("tenant", "", tid)
	}
	var out struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if err := c.do("GET", "/tenants", nil, &out); err != nil {
		return "", err
	}
	if len(out.Value) != 1 {
		return "", usageError{fmt.Sprintf("the token sees %d tenants: give --tenant", len(out.Value))}
	}
	return out.Value[0].ID, nil
}

// currentPolicy reads the tenant's groups, members, profiles, assignments, users and devices.
func (c *adminClient) currentPolicy(tid string) (currentState, error) {
	have := currentState{Users: map[string]string{}, Devices: map[string]bool{}}
	var groups struct {
		Value []struct{ ID, DisplayName string } `json:"value"`
	}
	if err := c.do("GET", tenantPath(tid, "groups"), nil, &groups); err != nil {
		return have, err
	}
	for _, g := range groups.Value {
		var raw struct {
			Value []struct{ Kind, ID string } `json:"value"`
		}
		if err := c.do("GET", tenantPath(tid, "groups", g.ID, "members"), nil, &raw); err != nil {
			return have, err
		}
		cg := currentGroup{ID: g.ID, Name: g.DisplayName}
		for _, m := range raw.Value {
			cg.Members = append(cg.Members, memberRef{Kind: m.Kind, Key: m.ID})
		}
		have.Groups = append(have.Groups, cg)
	}
	for _, route := range []string{"configurationPolicies", "deviceConfigurations"} {
		var list struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := c.do("GET", tenantPath(tid, route), nil, &list); err != nil {
			return have, err
		}
		for _, raw := range list.Value {
			var head struct{ ID, Name, DisplayName string }
			if err := json.Unmarshal(raw, &head); err != nil {
				return have, fmt.Errorf("decoding a profile: %w", err)
			}
			name := head.Name
			if route == "deviceConfigurations" {
				name = head.DisplayName
			}
			var as struct {
				Value []struct {
					Target struct {
						Type    string `json:"@odata.type"`
						GroupID string `json:"groupId"`
					} `json:"target"`
				} `json:"value"`
			}
			if err := c.do("GET", tenantPath(tid, route, head.ID, "assignments"), nil, &as); err != nil {
				return have, err
			}
			p := currentProfile{ID: head.ID, Name: name, Route: route, JSON: raw}
			for _, a := range as.Value {
				p.Assignments = append(p.Assignments, assignTarget{Type: a.Target.Type, Group: a.Target.GroupID})
			}
			have.Profiles = append(have.Profiles, p)
		}
	}
	var users struct {
		Value []struct {
			ID  string `json:"id"`
			UPN string `json:"userPrincipalName"`
		} `json:"value"`
	}
	if err := c.do("GET", tenantPath(tid, "users"), nil, &users); err != nil {
		return have, err
	}
	for _, u := range users.Value {
		have.Users[strings.ToLower(u.UPN)] = u.ID
	}
	var devices struct {
		Value []struct{ ID, DeviceName string } `json:"value"`
	}
	if err := c.do("GET", tenantPath(tid, "devices"), nil, &devices); err != nil {
		return have, err
	}
	have.DeviceNames = map[string]string{}
	for _, d := range devices.Value {
		have.Devices[d.ID] = true
		have.DeviceNames[d.ID] = d.DeviceName
	}
	return have, nil
}

// executePlan applies a plan in dependency order: groups, profiles, members, assignments,
// then deletions (profiles before the groups they may target).
func (c *adminClient) executePlan(tid string, plan []change) error {
	groupIDs := map[string]string{}
	for _, ch := range plan {
		if ch.Kind == "Group" && ch.ID != "" {
			groupIDs[strings.ToLower(ch.Name)] = ch.ID
		}
	}
	profileIDs := map[string]string{}
	for i := range plan {
		ch := &plan[i]
		if ch.Kind != "Group" || ch.Action != actCreate {
			continue
		}
		var out struct{ ID string }
		body := map[string]string{"displayName": ch.Name}
		if ch.Description != "" {
			body["description"] = ch.Description
		}
		if err := c.do("POST", tenantPath(tid, "groups"), body, &out); err != nil {
			return fmt.Errorf("creating group %q: %w", ch.Name, err)
		}
		ch.ID, groupIDs[strings.ToLower(ch.Name)] = out.ID, out.ID
	}
	for i := range plan {
		ch := &plan[i]
		if ch.Kind != "Profile" {
			continue
		}
		if ch.ID != "" {
			profileIDs[strings.ToLower(ch.Name)] = ch.ID
		}
		var out struct {
			ID       string
			Warnings []string `json:"warnings"`
		}
		switch ch.Action {
		case actCreate:
			if err := c.do("POST", tenantPath(tid, ch.Route), ch.JSON, &out); err != nil {
				return fmt.Errorf("creating profile %q: %w", ch.Name, err)
			}
			ch.ID, profileIDs[strings.ToLower(ch.Name)] = out.ID, out.ID
		case actUpdate:
			if err := c.do("PUT", tenantPath(tid, ch.Route, ch.ID), ch.JSON, &out); err != nil {
				return fmt.Errorf("updating profile %q: %w", ch.Name, err)
			}
		}
		c.warn(fmt.Sprintf("profile %q", ch.Name), out.Warnings)
	}
	memberID := func(m memberRef) string {
		if m.Kind == "group" {
			return groupIDs[strings.ToLower(m.Key)]
		}
		return m.Key
	}
	for _, ch := range plan {
		if ch.Kind != "Group" || ch.Action == actDelete || ch.Action == actUnmanaged {
			continue
		}
		for _, m := range ch.AddMembers {
			if err := c.do("POST", tenantPath(tid, "groups", ch.ID, "members"), map[string]string{"id": memberID(m)}, nil); err != nil {
				return fmt.Errorf("adding %s to group %q: %w", m.Text, ch.Name, err)
			}
		}
		for _, m := range ch.DelMembers {
			if err := c.do("DELETE", tenantPath(tid, "groups", ch.ID, "members", memberID(m)), nil, nil); err != nil {
				return fmt.Errorf("removing %s from group %q: %w", m.Text, ch.Name, err)
			}
		}
	}
	routes := map[string]string{}
	for _, ch := range plan {
		if ch.Kind == "Profile" {
			routes[strings.ToLower(ch.Name)] = ch.Route
		}
	}
	for _, ch := range plan {
		if ch.Kind != "Assignment" || ch.Action == actUnchanged {
			continue
		}
		pid := profileIDs[strings.ToLower(ch.Name)]
		route := routes[strings.ToLower(ch.Name)]
		if pid == "" || route == "" {
			return fmt.Errorf("assigning %q: the profile is not in the documents", ch.Name)
		}
		items := []map[string]any{}
		for _, t := range ch.Targets {
			target := map[string]any{"@odata.type": t.Type}
			if t.Group != "" {
				target["groupId"] = groupIDs[strings.ToLower(t.Group)]
			}
			items = append(items, map[string]any{"target": target})
		}
		if err := c.do("POST", tenantPath(tid, route, pid, "assign"), map[string]any{"assignments": items}, nil); err != nil {
			return fmt.Errorf("assigning %q: %w", ch.Name, err)
		}
	}
	for _, kind := range []string{"Profile", "Group"} {
		for _, ch := range plan {
			if ch.Kind != kind || ch.Action != actDelete {
				continue
			}
			path := tenantPath(tid, "groups", ch.ID)
			if kind == "Profile" {
				path = tenantPath(tid, ch.Route, ch.ID)
			}
			if err := c.do("DELETE", path, nil, nil); err != nil {
				return fmt.Errorf("deleting %s %q: %w", strings.ToLower(kind), ch.Name, err)
			}
		}
	}
	return nil
}

// printPlan shows the plan as a table (ACTION KIND NAME DETAILS) or JSON.
func (c *adminClient) printPlan(plan []change, dry bool) error {
	if c.output == "json" {
		return c.print(map[string]any{"dryRun": dry, "value": plan})
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tKIND\tNAME\tDETAILS")
	counts := map[string]int{}
	for _, ch := range plan {
		counts[ch.Action]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ch.Action, ch.Kind, ch.Name, strings.Join(ch.Details, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	summary := fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged, %d unmanaged",
		counts[actCreate], counts[actUpdate], counts[actDelete], counts[actUnchanged], counts[actUnmanaged])
	if dry {
		_, err := fmt.Fprintf(c.stdout, "dry run: %s; nothing was changed\n", summary)
		return err
	}
	_, err := fmt.Fprintf(c.stdout, "applied: %s\n", summary)
	return err
}
