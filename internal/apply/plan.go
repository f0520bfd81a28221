// Package apply is policy as code for the admin API: it reads Group, Profile and
// Assignment documents (YAML, multi-document, or JSON), reads what a tenant holds through the
// admin API client, plans the difference (objects matched by display name) and applies it.
// `hellomdm admin apply` is its command.
//
//	kind: Group       name, description, members: [UPN | device ID | group name]
//	kind: Profile     name, file: intune-export.json | spec: {inline Intune JSON}
//	kind: Assignment  profile: NAME, include: [group], exclude: [group], allDevices, allUsers
//
// In a directory, *.yaml and *.yml files are documents; a *.json file is a document only when
// it has a top-level "kind" (other JSON files are Intune exports that Profile documents name).
// Load reads the documents, Read the tenant, Plan (a pure function) compares them and
// Execute applies a plan.
//
// It sits outside package policy: policy is the server's engine over policy/model, and
// the planner works on the admin API's shapes from the client's side; it imports the
// API client and no server, store or policy package.
package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Plan actions.
const (
	Create    = "create"
	Update    = "update"
	Delete    = "delete"
	Unchanged = "unchanged"
	Unmanaged = "unmanaged"
)

// Desired is what the documents ask for.
type Desired struct {
	Groups      []DesiredGroup
	Profiles    []DesiredProfile
	Assignments []DesiredAssignment
}

type DesiredGroup struct {
	Name, Description string
	Members           []string // UPN, device ID or group name, as written
}

type DesiredProfile struct {
	Name  string
	Route string          // configurationPolicies or deviceConfigurations
	JSON  json.RawMessage // the Intune JSON, its name set to Name
}

type DesiredAssignment struct {
	Profile              string
	Include, Exclude     []string
	AllDevices, AllUsers bool
}

// Current is what the tenant holds (from the API).
type Current struct {
	Groups   []CurrentGroup
	Profiles []CurrentProfile
	Users    map[string]string // lower-case UPN → user ID
	Devices  map[string]bool   // device IDs
	// DeviceNames are the devices' names by ID, shown beside IDs in the plan.
	DeviceNames map[string]string
}

type CurrentGroup struct {
	ID, Name string
	Members  []MemberRef // kind user/device by ID, kind group by ID
}

type CurrentProfile struct {
	ID, Name, Route string
	JSON            json.RawMessage
	Assignments     []Target
}

// MemberRef is a member as the plan sees it: users and devices by ID, groups by name.
type MemberRef struct {
	Kind string `json:"kind"` // user, device, group
	Key  string `json:"key"`
	Text string `json:"-"` // as written in the document (for the plan's details)
}

// Target is one assignment target; groups by name in the plan.
type Target struct {
	Type  string `json:"@odata.type"`
	Group string `json:"group,omitempty"` // name (plan) or ID (API), depending on the side
}

// Change is one line of the plan, with what applying it needs.
type Change struct {
	Kind    string   `json:"kind"` // Group, Profile, Assignment
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Details []string `json:"details,omitempty"`
	ID      string   `json:"id,omitempty"` // the existing object

	Description string          `json:"-"`
	AddMembers  []MemberRef     `json:"-"`
	DelMembers  []MemberRef     `json:"-"`
	Route       string          `json:"-"`
	JSON        json.RawMessage `json:"-"`
	Targets     []Target        `json:"-"`
}

// Plan compares documents with the tenant. Groups come first, then profiles, then
// assignments; objects of the tenant not in the documents are "delete" with prune and
// "unmanaged" without.
func Plan(want Desired, have Current, prune bool) ([]Change, error) {
	var plan []Change
	wantGroups := map[string]bool{}
	for _, g := range want.Groups {
		wantGroups[strings.ToLower(g.Name)] = true
	}
	p := &planner{have: have, groupName: map[string]string{}, byName: map[string]CurrentGroup{}, wantGroups: wantGroups}
	for _, g := range have.Groups {
		p.groupName[g.ID] = g.Name
		if _, dup := p.byName[strings.ToLower(g.Name)]; dup {
			return nil, fmt.Errorf("the tenant has two groups named %q; rename one", g.Name)
		}
		p.byName[strings.ToLower(g.Name)] = g
	}
	groups, err := p.groups(want.Groups)
	if err != nil {
		return nil, err
	}
	profiles, err := p.profiles(want.Profiles)
	if err != nil {
		return nil, err
	}
	assignments, err := p.assignments(want.Assignments)
	if err != nil {
		return nil, err
	}
	plan = append(append(append(plan, groups...), profiles...), assignments...)
	return append(plan, p.extras(prune)...), nil
}

// planner holds what Plan knows of the tenant and the documents.
type planner struct {
	have       Current
	groupName  map[string]string       // current group ID → name
	byName     map[string]CurrentGroup // lower-case name → current group
	wantGroups map[string]bool         // lower-case names of the documents' groups
	curProfile map[string]CurrentProfile
	wantProf   map[string]bool
}

// knownGroup reports whether a group of that name is in the documents or the tenant.
func (p *planner) knownGroup(name string) bool {
	return p.wantGroups[strings.ToLower(name)] || p.byName[strings.ToLower(name)].ID != ""
}

// groups plans the documents' groups and their members.
func (p *planner) groups(want []DesiredGroup) ([]Change, error) {
	var plan []Change
	seen := map[string]bool{}
	for _, g := range want {
		key := strings.ToLower(g.Name)
		if seen[key] {
			return nil, fmt.Errorf("group %q is defined twice", g.Name)
		}
		seen[key] = true
		var wantRefs []MemberRef
		for _, m := range g.Members {
			ref, err := resolveMemberRef(m, p.have, p.knownGroup)
			if err != nil {
				return nil, fmt.Errorf("group %q: %w", g.Name, err)
			}
			if !slices.ContainsFunc(wantRefs, func(r MemberRef) bool { return sameRef(r, ref) }) {
				wantRefs = append(wantRefs, ref)
			}
		}
		cur, exists := p.byName[key]
		c := Change{Kind: "Group", Name: g.Name, ID: cur.ID, Description: g.Description}
		p.memberChanges(&c, cur, wantRefs)
		switch {
		case !exists:
			c.Action = Create
		case len(c.Details) > 0:
			c.Action = Update
		default:
			c.Action = Unchanged
		}
		plan = append(plan, c)
	}
	return plan, nil
}

// memberChanges sets the members to add to and remove from group cur.
func (p *planner) memberChanges(c *Change, cur CurrentGroup, wantRefs []MemberRef) {
	var curRefs []MemberRef
	for _, m := range cur.Members {
		if m.Kind == "group" {
			m.Key = p.groupName[m.Key]
		}
		m.Text = m.Key
		// Members the documents no longer name show the name beside the ID (drift).
		if n := memberName(m, p.have); n != "" {
			m.Text = m.Key + " (" + n + ")"
		}
		curRefs = append(curRefs, m)
	}
	for _, r := range wantRefs {
		if !slices.ContainsFunc(curRefs, func(c MemberRef) bool { return sameRef(c, r) }) {
			c.AddMembers = append(c.AddMembers, r)
			c.Details = append(c.Details, "+ member "+r.Text)
		}
	}
	for _, r := range curRefs {
		if !slices.ContainsFunc(wantRefs, func(w MemberRef) bool { return sameRef(w, r) }) {
			c.DelMembers = append(c.DelMembers, r)
			c.Details = append(c.Details, "- member "+r.Kind+" "+r.Text)
		}
	}
}

// profiles plans the documents' profiles.
func (p *planner) profiles(want []DesiredProfile) ([]Change, error) {
	p.curProfile, p.wantProf = map[string]CurrentProfile{}, map[string]bool{}
	for _, cp := range p.have.Profiles {
		key := strings.ToLower(cp.Name)
		if _, dup := p.curProfile[key]; dup {
			return nil, fmt.Errorf("the tenant has two profiles named %q; rename or delete one", cp.Name)
		}
		p.curProfile[key] = cp
	}
	var plan []Change
	for _, d := range want {
		key := strings.ToLower(d.Name)
		if p.wantProf[key] {
			return nil, fmt.Errorf("profile %q is defined twice", d.Name)
		}
		p.wantProf[key] = true
		cur, exists := p.curProfile[key]
		c := Change{Kind: "Profile", Name: d.Name, ID: cur.ID, Route: d.Route, JSON: d.JSON}
		switch {
		case !exists:
			c.Action = Create
		case cur.Route != d.Route:
			return nil, fmt.Errorf("profile %q exists as %s but the document is a %s profile; delete it first", d.Name, cur.Route, d.Route)
		default:
			same, err := sameProfileJSON(d.JSON, cur.JSON)
			if err != nil {
				return nil, fmt.Errorf("profile %q: %w", d.Name, err)
			}
			c.Action = Unchanged
			if !same {
				c.Action, c.Details = Update, []string{"Intune JSON differs"}
			}
		}
		plan = append(plan, c)
	}
	return plan, nil
}

// assignments plans the documents' assignments (after profiles).
func (p *planner) assignments(want []DesiredAssignment) ([]Change, error) {
	var plan []Change
	assigned := map[string]bool{}
	for _, a := range want {
		key := strings.ToLower(a.Profile)
		if !p.wantProf[key] && p.curProfile[key].ID == "" {
			return nil, fmt.Errorf("assignment of unknown profile %q", a.Profile)
		}
		if assigned[key] {
			return nil, fmt.Errorf("profile %q has two Assignment documents", a.Profile)
		}
		assigned[key] = true
		targets, err := assignTargets(a, p.knownGroup)
		if err != nil {
			return nil, err
		}
		cur, exists := p.curProfile[key]
		var curTargets []Target
		for _, t := range cur.Assignments {
			if t.Group != "" {
				t.Group = p.groupName[t.Group]
			}
			curTargets = append(curTargets, t)
		}
		c := Change{Kind: "Assignment", Name: a.Profile, ID: cur.ID, Targets: targets}
		for _, t := range targets {
			if !slices.ContainsFunc(curTargets, func(x Target) bool { return sameTarget(x, t) }) {
				c.Details = append(c.Details, "+ "+targetText(t))
			}
		}
		for _, t := range curTargets {
			if !slices.ContainsFunc(targets, func(x Target) bool { return sameTarget(x, t) }) {
				c.Details = append(c.Details, "- "+targetText(t))
			}
		}
		switch {
		case !exists || len(cur.Assignments) == 0 && len(targets) > 0:
			c.Action = Create
		case len(c.Details) > 0:
			c.Action = Update
		default:
			c.Action = Unchanged
		}
		plan = append(plan, c)
	}
	return plan, nil
}

// extras plans the tenant's objects that are not in the documents: "delete" with prune,
// "unmanaged" without; profiles first (deleting one frees the groups it targets).
func (p *planner) extras(prune bool) []Change {
	act := Unmanaged
	if prune {
		act = Delete
	}
	var plan []Change
	var extraProfiles []CurrentProfile
	for _, cp := range p.have.Profiles {
		if !p.wantProf[strings.ToLower(cp.Name)] {
			extraProfiles = append(extraProfiles, cp)
		}
	}
	sort.Slice(extraProfiles, func(i, j int) bool { return extraProfiles[i].Name < extraProfiles[j].Name })
	for _, cp := range extraProfiles {
		plan = append(plan, Change{Kind: "Profile", Name: cp.Name, ID: cp.ID, Route: cp.Route, Action: act})
	}
	var extraGroups []CurrentGroup
	for _, g := range p.have.Groups {
		if !p.wantGroups[strings.ToLower(g.Name)] {
			extraGroups = append(extraGroups, g)
		}
	}
	sort.Slice(extraGroups, func(i, j int) bool { return extraGroups[i].Name < extraGroups[j].Name })
	for _, g := range extraGroups {
		plan = append(plan, Change{Kind: "Group", Name: g.Name, ID: g.ID, Action: act})
	}
	return plan
}

// resolveMemberRef reads a member as written: a group name (of the documents or the tenant),
// a UPN of the tenant, or a device ID of the tenant.
func resolveMemberRef(m string, have Current, knownGroup func(string) bool) (MemberRef, error) {
	m = strings.TrimSpace(m)
	switch {
	case m == "":
		return MemberRef{}, errors.New("an empty member")
	case knownGroup(m):
		return MemberRef{Kind: "group", Key: m, Text: m}, nil
	case strings.Contains(m, "@"):
		if id, ok := have.Users[strings.ToLower(m)]; ok {
			return MemberRef{Kind: "user", Key: id, Text: m}, nil
		}
		return MemberRef{}, fmt.Errorf("member %q: no such user in the tenant", m)
	case have.Devices[m]:
		return MemberRef{Kind: "device", Key: m, Text: m}, nil
	}
	return MemberRef{}, fmt.Errorf("member %q is not a group, a user's UPN or a device ID of the tenant", m)
}

func sameRef(a, b MemberRef) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == "group" {
		return strings.EqualFold(a.Key, b.Key)
	}
	return a.Key == b.Key
}

func assignTargets(a DesiredAssignment, knownGroup func(string) bool) ([]Target, error) {
	var out []Target
	add := func(typ, group string) error {
		if group != "" && !knownGroup(group) {
			return fmt.Errorf("assignment of %q: no group named %q", a.Profile, group)
		}
		t := Target{Type: typ, Group: group}
		if !slices.ContainsFunc(out, func(x Target) bool { return sameTarget(x, t) }) {
			out = append(out, t)
		}
		return nil
	}
	for _, g := range a.Include {
		if err := add(wire.TargetGroup, g); err != nil {
			return nil, err
		}
	}
	for _, g := range a.Exclude {
		if err := add(wire.TargetExclusion, g); err != nil {
			return nil, err
		}
	}
	if a.AllDevices {
		_ = add(wire.TargetAllDevices, "")
	}
	if a.AllUsers {
		_ = add(wire.TargetAllUsers, "")
	}
	return out, nil
}

func sameTarget(a, b Target) bool {
	return a.Type == b.Type && strings.EqualFold(a.Group, b.Group)
}

func targetText(t Target) string {
	switch t.Type {
	case wire.TargetGroup:
		return "include " + t.Group
	case wire.TargetExclusion:
		return "exclude " + t.Group
	case wire.TargetAllDevices:
		return "all devices"
	case wire.TargetAllUsers:
		return "all users"
	}
	return t.Type
}

// serverOwned are the properties the server sets on a profile; they never make a difference.
// memberName is the UPN of a user member or the name of a device member, or "".
func memberName(m MemberRef, have Current) string {
	switch m.Kind {
	case "user":
		for upn, id := range have.Users {
			if id == m.Key {
				return upn
			}
		}
	case "device":
		return have.DeviceNames[m.Key]
	}
	return ""
}
