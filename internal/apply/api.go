package apply

import (
	"context"
	"fmt"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Read reads the tenant's groups, members, profiles, assignments, users and devices.
func Read(ctx context.Context, api *adminclient.Client, tid string) (Current, error) {
	have := Current{Users: map[string]string{}, Devices: map[string]bool{}, DeviceNames: map[string]string{}}
	groups, err := api.Groups(ctx, tid)
	if err != nil {
		return have, err
	}
	for _, g := range groups {
		members, err := api.Members(ctx, tid, g.ID)
		if err != nil {
			return have, err
		}
		cg := CurrentGroup{ID: g.ID, Name: g.DisplayName}
		for _, m := range members {
			cg.Members = append(cg.Members, MemberRef{Kind: m.Kind, Key: m.ID})
		}
		have.Groups = append(have.Groups, cg)
	}
	if have.Profiles, err = readProfiles(ctx, api, tid); err != nil {
		return have, err
	}
	users, err := api.Users(ctx, tid)
	if err != nil {
		return have, err
	}
	for _, u := range users {
		have.Users[strings.ToLower(u.UserPrincipalName)] = u.ID
	}
	devices, err := api.Devices(ctx, tid, adminclient.DeviceFilter{})
	if err != nil {
		return have, err
	}
	for _, d := range devices {
		have.Devices[d.ID] = true
		have.DeviceNames[d.ID] = d.DeviceName
	}
	return have, nil
}

// readProfiles reads the tenant's profiles on both routes with their assignments.
func readProfiles(ctx context.Context, api *adminclient.Client, tid string) ([]CurrentProfile, error) {
	var out []CurrentProfile
	for _, route := range adminclient.ProfileRoutes {
		list, err := api.Profiles(ctx, tid, route)
		if err != nil {
			return nil, err
		}
		for _, prof := range list {
			as, err := api.ProfileAssignments(ctx, tid, route, prof.ID)
			if err != nil {
				return nil, err
			}
			p := CurrentProfile{ID: prof.ID, Name: prof.Name, Route: string(route), JSON: prof.Raw}
			if route == adminclient.CustomOMAURI {
				p.Name = prof.DisplayName
			}
			for _, a := range as {
				p.Assignments = append(p.Assignments, Target{Type: a.Target.Type, Group: a.Target.GroupID})
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// planRun applies one plan: the IDs of the groups and profiles by lower-case name, known
// or created so far.
type planRun struct {
	ctx        context.Context
	api        *adminclient.Client
	warn       func(what string, warnings []string)
	tid        string
	plan       []Change
	groupIDs   map[string]string
	profileIDs map[string]string
}

// Execute applies a plan to tenant tid in dependency order: groups, profiles, members,
// assignments, then deletions (profiles before the groups they may target). It fills in
// the IDs of the objects it creates; warn, when not nil, gets what the server accepted with
// a warning.
func Execute(ctx context.Context, api *adminclient.Client, tid string, plan []Change, warn func(what string, warnings []string)) error {
	if warn == nil {
		warn = func(string, []string) {}
	}
	r := &planRun{ctx: ctx, api: api, warn: warn, tid: tid, plan: plan, groupIDs: map[string]string{}, profileIDs: map[string]string{}}
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
		if ch.Kind != "Group" || ch.Action != Create {
			continue
		}
		g, err := r.api.CreateGroup(r.ctx, r.tid, wire.GroupRequest{DisplayName: ch.Name, Description: ch.Description})
		if err := err; err != nil {
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
		case Create:
			out, err = r.api.CreateProfile(r.ctx, r.tid, adminclient.ProfileRoute(ch.Route), ch.JSON)
			if err := err; err != nil {
				return fmt.Errorf("creating profile %q: %w", ch.Name, err)
			}
			ch.ID, r.profileIDs[strings.ToLower(ch.Name)] = out.ID, out.ID
		case Update:
			out, err = r.api.ReplaceProfile(r.ctx, r.tid, adminclient.ProfileRoute(ch.Route), ch.ID, ch.JSON)
			if err := err; err != nil {
				return fmt.Errorf("updating profile %q: %w", ch.Name, err)
			}
		}
		r.warn(fmt.Sprintf("profile %q", ch.Name), out.Warnings)
	}
	return nil
}

// memberID is the ID of a member: users and devices have theirs, groups are by name.
func (r *planRun) memberID(m MemberRef) string {
	if m.Kind == "group" {
		return r.groupIDs[strings.ToLower(m.Key)]
	}
	return m.Key
}

func (r *planRun) syncMembers() error {
	for _, ch := range r.plan {
		if ch.Kind != "Group" || ch.Action == Delete || ch.Action == Unmanaged {
			continue
		}
		for _, m := range ch.AddMembers {
			if err := r.api.AddMember(r.ctx, r.tid, ch.ID, r.memberID(m)); err != nil {
				return fmt.Errorf("adding %s to group %q: %w", m.Text, ch.Name, err)
			}
		}
		for _, m := range ch.DelMembers {
			if err := r.api.RemoveMember(r.ctx, r.tid, ch.ID, r.memberID(m)); err != nil {
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
		if ch.Kind != "Assignment" || ch.Action == Unchanged {
			continue
		}
		pid := r.profileIDs[strings.ToLower(ch.Name)]
		route := routes[strings.ToLower(ch.Name)]
		if pid == "" || route == "" {
			return fmt.Errorf("assigning %q: the profile is not in the documents", ch.Name)
		}
		items := []wire.Assignment{}
		for _, t := range ch.Targets {
			target := wire.AssignmentTarget{Type: t.Type}
			if t.Group != "" {
				target.GroupID = r.groupIDs[strings.ToLower(t.Group)]
			}
			items = append(items, wire.Assignment{Target: target})
		}
		_, err := r.api.AssignProfile(r.ctx, r.tid, adminclient.ProfileRoute(route), pid, items)
		if err := err; err != nil {
			return fmt.Errorf("assigning %q: %w", ch.Name, err)
		}
	}
	return nil
}

func (r *planRun) deletions() error {
	for _, kind := range []string{"Profile", "Group"} {
		for _, ch := range r.plan {
			if ch.Kind != kind || ch.Action != Delete {
				continue
			}
			var err error
			if kind == "Profile" {
				err = r.api.DeleteProfile(r.ctx, r.tid, adminclient.ProfileRoute(ch.Route), ch.ID)
			} else {
				err = r.api.DeleteGroup(r.ctx, r.tid, ch.ID)
			}
			if err := err; err != nil {
				return fmt.Errorf("deleting %s %q: %w", strings.ToLower(kind), ch.Name, err)
			}
		}
	}
	return nil
}
