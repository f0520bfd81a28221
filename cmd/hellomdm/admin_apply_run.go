package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

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
	ts, err := c.api.Tenants(c.ctx)
	if err := c.read(err); err != nil {
		return "", err
	}
	if len(ts) != 1 {
		return "", usageError{fmt.Sprintf("the token sees %d tenants: give --tenant", len(ts))}
	}
	return ts[0].ID, nil
}

// currentPolicy reads the tenant's groups, members, profiles, assignments, users and devices.
func (c *adminClient) currentPolicy(tid string) (currentState, error) {
	have := currentState{Users: map[string]string{}, Devices: map[string]bool{}, DeviceNames: map[string]string{}}
	groups, err := c.api.Groups(c.ctx, tid)
	if err := c.read(err); err != nil {
		return have, err
	}
	for _, g := range groups {
		members, err := c.api.Members(c.ctx, tid, g.ID)
		if err := c.read(err); err != nil {
			return have, err
		}
		cg := currentGroup{ID: g.ID, Name: g.DisplayName}
		for _, m := range members {
			cg.Members = append(cg.Members, memberRef{Kind: m.Kind, Key: m.ID})
		}
		have.Groups = append(have.Groups, cg)
	}
	if have.Profiles, err = c.currentProfiles(tid); err != nil {
		return have, err
	}
	users, err := c.api.Users(c.ctx, tid)
	if err := c.read(err); err != nil {
		return have, err
	}
	for _, u := range users {
		have.Users[strings.ToLower(u.UserPrincipalName)] = u.ID
	}
	devices, err := c.api.Devices(c.ctx, tid, adminclient.DeviceFilter{})
	if err := c.read(err); err != nil {
		return have, err
	}
	for _, d := range devices {
		have.Devices[d.ID] = true
		have.DeviceNames[d.ID] = d.DeviceName
	}
	return have, nil
}

// currentProfiles reads the tenant's profiles on both routes with their assignments.
func (c *adminClient) currentProfiles(tid string) ([]currentProfile, error) {
	var out []currentProfile
	for _, route := range adminclient.ProfileRoutes {
		list, err := c.api.Profiles(c.ctx, tid, route)
		if err := c.read(err); err != nil {
			return nil, err
		}
		for _, prof := range list {
			as, err := c.api.ProfileAssignments(c.ctx, tid, route, prof.ID)
			if err := c.read(err); err != nil {
				return nil, err
			}
			p := currentProfile{ID: prof.ID, Name: prof.Name, Route: string(route), JSON: prof.Raw}
			if route == adminclient.CustomOMAURI {
				p.Name = prof.DisplayName
			}
			for _, a := range as {
				p.Assignments = append(p.Assignments, assignTarget{Type: a.Target.Type, Group: a.Target.GroupID})
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// planRun applies one plan: the IDs of the groups and profiles by lower-case name, known
// or created so far.
type planRun struct {
	c          *adminClient
	tid        string
	plan       []change
	groupIDs   map[string]string
	profileIDs map[string]string
}

// executePlan applies a plan in dependency order: groups, profiles, members, assignments,
// then deletions (profiles before the groups they may target).
func (c *adminClient) executePlan(tid string, plan []change) error {
	r := &planRun{c: c, tid: tid, plan: plan, groupIDs: map[string]string{}, profileIDs: map[string]string{}}
	for _, ch := range plan {
		if ch.Kind == "Group" && ch.ID != "" {
			r.groupIDs[strings.ToLower(ch.Name)] = ch.ID
		}
	}
	for _, step := range []func() error{r.createGroups, r.writeProfiles, r.syncMembers, r.assign, r.deletions} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (r *planRun) createGroups() error {
	for i := range r.plan {
		ch := &r.plan[i]
		if ch.Kind != "Group" || ch.Action != actCreate {
			continue
		}
		g, err := r.c.api.CreateGroup(r.c.ctx, r.tid, adminclient.GroupRequest{DisplayName: ch.Name, Description: ch.Description})
		if err := r.c.wrote(err); err != nil {
			return fmt.Errorf("creating group %q: %w", ch.Name, err)
		}
		ch.ID, r.groupIDs[strings.ToLower(ch.Name)] = g.ID, g.ID
	}
	return nil
}

func (r *planRun) writeProfiles() error {
	for i := range r.plan {
		ch := &r.plan[i]
		if ch.Kind != "Profile" {
			continue
		}
		if ch.ID != "" {
			r.profileIDs[strings.ToLower(ch.Name)] = ch.ID
		}
		var out adminclient.Profile
		var err error
		switch ch.Action {
		case actCreate:
			out, err = r.c.api.CreateProfile(r.c.ctx, r.tid, adminclient.ProfileRoute(ch.Route), ch.JSON)
			if err := r.c.wrote(err); err != nil {
				return fmt.Errorf("creating profile %q: %w", ch.Name, err)
			}
			ch.ID, r.profileIDs[strings.ToLower(ch.Name)] = out.ID, out.ID
		case actUpdate:
			out, err = r.c.api.ReplaceProfile(r.c.ctx, r.tid, adminclient.ProfileRoute(ch.Route), ch.ID, ch.JSON)
			if err := r.c.wrote(err); err != nil {
				return fmt.Errorf("updating profile %q: %w", ch.Name, err)
			}
		}
		r.c.warn(fmt.Sprintf("profile %q", ch.Name), out.Warnings)
	}
	return nil
}

// memberID is the ID of a member: users and devices have theirs, groups are by name.
func (r *planRun) memberID(m memberRef) string {
	if m.Kind == "group" {
		return r.groupIDs[strings.ToLower(m.Key)]
	}
	return m.Key
}

func (r *planRun) syncMembers() error {
	for _, ch := range r.plan {
		if ch.Kind != "Group" || ch.Action == actDelete || ch.Action == actUnmanaged {
			continue
		}
		for _, m := range ch.AddMembers {
			if err := r.c.wrote(r.c.api.AddMember(r.c.ctx, r.tid, ch.ID, r.memberID(m))); err != nil {
				return fmt.Errorf("adding %s to group %q: %w", m.Text, ch.Name, err)
			}
		}
		for _, m := range ch.DelMembers {
			if err := r.c.wrote(r.c.api.RemoveMember(r.c.ctx, r.tid, ch.ID, r.memberID(m))); err != nil {
				return fmt.Errorf("removing %s from group %q: %w", m.Text, ch.Name, err)
			}
		}
	}
	return nil
}

func (r *planRun) assign() error {
	routes := map[string]string{}
	for _, ch := range r.plan {
		if ch.Kind == "Profile" {
			routes[strings.ToLower(ch.Name)] = ch.Route
		}
	}
	for _, ch := range r.plan {
		if ch.Kind != "Assignment" || ch.Action == actUnchanged {
			continue
		}
		pid := r.profileIDs[strings.ToLower(ch.Name)]
		route := routes[strings.ToLower(ch.Name)]
		if pid == "" || route == "" {
			return fmt.Errorf("assigning %q: the profile is not in the documents", ch.Name)
		}
		items := []adminclient.Assignment{}
		for _, t := range ch.Targets {
			target := adminclient.AssignmentTarget{Type: t.Type}
			if t.Group != "" {
				target.GroupID = r.groupIDs[strings.ToLower(t.Group)]
			}
			items = append(items, adminclient.Assignment{Target: target})
		}
		_, err := r.c.api.AssignProfile(r.c.ctx, r.tid, adminclient.ProfileRoute(route), pid, items)
		if err := r.c.wrote(err); err != nil {
			return fmt.Errorf("assigning %q: %w", ch.Name, err)
		}
	}
	return nil
}

func (r *planRun) deletions() error {
	for _, kind := range []string{"Profile", "Group"} {
		for _, ch := range r.plan {
			if ch.Kind != kind || ch.Action != actDelete {
				continue
			}
			var err error
			if kind == "Profile" {
				err = r.c.api.DeleteProfile(r.c.ctx, r.tid, adminclient.ProfileRoute(ch.Route), ch.ID)
			} else {
				err = r.c.api.DeleteGroup(r.c.ctx, r.tid, ch.ID)
			}
			if err := r.c.wrote(err); err != nil {
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
