package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Declarative policy: `hellomdm admin apply -f DIR_OR_FILE` reads Group, Profile and
// Assignment documents (YAML, multi-document, or JSON), compares them with the tenant
// (objects matched by display name) and applies the difference through the admin API.
//
//	kind: Group       name, description, members: [UPN | device ID | group name]
//	kind: Profile     name, file: intune-export.json | spec: {inline Intune JSON}
//	kind: Assignment  profile: NAME, include: [group], exclude: [group], allDevices, allUsers
//
// In a directory, *.yaml and *.yml files are documents; a *.json file is a document only when
// it has a top-level "kind" (other JSON files are Intune exports that Profile documents name).
// The plan is computed by planApply, a pure function; the command only fetches and posts.

// Plan actions.
const (
	actCreate    = "create"
	actUpdate    = "update"
	actDelete    = "delete"
	actUnchanged = "unchanged"
	actUnmanaged = "unmanaged"
)

// Intune assignment target types (Microsoft Graph deviceAndAppManagementAssignmentTarget).
const (
	targetGroup      = "#microsoft.graph.groupAssignmentTarget"
	targetExclusion  = "#microsoft.graph.exclusionGroupAssignmentTarget"
	targetAllDevices = "#microsoft.graph.allDevicesAssignmentTarget"
	targetAllUsers   = "#microsoft.graph.allLicensedUsersAssignmentTarget"

	odataCatalog = "#microsoft.graph.deviceManagementConfigurationPolicy"
	odataCustom  = "#microsoft.graph.windows10CustomConfiguration"
)

// applyDoc is one document of a policy set.
type applyDoc struct {
	Kind        string   `yaml:"kind" json:"kind"`
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description" json:"description"`
	Members     []string `yaml:"members" json:"members"`
	File        string   `yaml:"file" json:"file"`
	Spec        any      `yaml:"spec" json:"spec"`
	Profile     string   `yaml:"profile" json:"profile"`
	Include     []string `yaml:"include" json:"include"`
	Exclude     []string `yaml:"exclude" json:"exclude"`
	AllDevices  bool     `yaml:"allDevices" json:"allDevices"`
	AllUsers    bool     `yaml:"allUsers" json:"allUsers"`

	// line and fileLine are where the document and its file: value start (1-based; 0 when
	// unknown), for messages that point at the document.
	line, fileLine int
}

// desiredState is what the documents ask for.
type desiredState struct {
	Groups      []desiredGroup
	Profiles    []desiredProfile
	Assignments []desiredAssignment
}

type desiredGroup struct {
	Name, Description string
	Members           []string // UPN, device ID or group name, as written
}

type desiredProfile struct {
	Name  string
	Route string          // configurationPolicies or deviceConfigurations
	JSON  json.RawMessage // the Intune JSON, its name set to Name
}

type desiredAssignment struct {
	Profile              string
	Include, Exclude     []string
	AllDevices, AllUsers bool
}

// currentState is what the tenant holds (from the API).
type currentState struct {
	Groups   []currentGroup
	Profiles []currentProfile
	Users    map[string]string // lower-case UPN → user ID
	Devices  map[string]bool   // device IDs
	// DeviceNames are the devices' names by ID, shown beside IDs in the plan.
	DeviceNames map[string]string
}

type currentGroup struct {
	ID, Name string
	Members  []memberRef // kind user/device by ID, kind group by ID
}

type currentProfile struct {
	ID, Name, Route string
	JSON            json.RawMessage
	Assignments     []assignTarget
}

// memberRef is a member as the plan sees it: users and devices by ID, groups by name.
type memberRef struct {
	Kind string `json:"kind"` // user, device, group
	Key  string `json:"key"`
	Text string `json:"-"` // as written in the document (for the plan's details)
}

// assignTarget is one assignment target; groups by name in the plan.
type assignTarget struct {
	Type  string `json:"@odata.type"`
	Group string `json:"group,omitempty"` // name (plan) or ID (API), depending on the side
}

// change is one line of the plan, with what applying it needs.
type change struct {
	Kind    string   `json:"kind"` // Group, Profile, Assignment
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Details []string `json:"details,omitempty"`
	ID      string   `json:"id,omitempty"` // the existing object

	Description string          `json:"-"`
	AddMembers  []memberRef     `json:"-"`
	DelMembers  []memberRef     `json:"-"`
	Route       string          `json:"-"`
	JSON        json.RawMessage `json:"-"`
	Targets     []assignTarget  `json:"-"`
}

// planApply compares documents with the tenant. Groups come first, then profiles, then
// assignments; objects of the tenant not in the documents are "delete" with prune and
// "unmanaged" without.
func planApply(want desiredState, have currentState, prune bool) ([]change, error) {
	var plan []change
	wantGroups := map[string]bool{}
	for _, g := range want.Groups {
		wantGroups[strings.ToLower(g.Name)] = true
	}
	groupName := map[string]string{} // current ID → name
	byName := map[string]currentGroup{}
	for _, g := range have.Groups {
		groupName[g.ID] = g.Name
		if _, dup := byName[strings.ToLower(g.Name)]; dup {
			return nil, fmt.Errorf("the tenant has two groups named %q; rename one", g.Name)
		}
		byName[strings.ToLower(g.Name)] = g
	}
	knownGroup := func(name string) bool {
		return wantGroups[strings.ToLower(name)] || byName[strings.ToLower(name)].ID != ""
	}

	seen := map[string]bool{}
	for _, g := range want.Groups {
		key := strings.ToLower(g.Name)
		if seen[key] {
			return nil, fmt.Errorf("group %q is defined twice", g.Name)
		}
		seen[key] = true
		var wantRefs []memberRef
		for _, m := range g.Members {
			ref, err := resolveMemberRef(m, have, knownGroup)
			if err != nil {
				return nil, fmt.Errorf("group %q: %w", g.Name, err)
			}
			if !slices.ContainsFunc(wantRefs, func(r memberRef) bool { return sameRef(r, ref) }) {
				wantRefs = append(wantRefs, ref)
			}
		}
		cur, exists := byName[key]
		c := change{Kind: "Group", Name: g.Name, ID: cur.ID, Description: g.Description}
		var curRefs []memberRef
		for _, m := range cur.Members {
			if m.Kind == "group" {
				m.Key = groupName[m.Key]
			}
			m.Text = m.Key
			// Members the documents no longer name show the name beside the ID (drift).
			if n := memberName(m, have); n != "" {
				m.Text = m.Key + " (" + n + ")"
			}
			curRefs = append(curRefs, m)
		}
		for _, r := range wantRefs {
			if !slices.ContainsFunc(curRefs, func(c memberRef) bool { return sameRef(c, r) }) {
				c.AddMembers = append(c.AddMembers, r)
				c.Details = append(c.Details, "+ member "+r.Text)
			}
		}
		for _, r := range curRefs {
			if !slices.ContainsFunc(wantRefs, func(w memberRef) bool { return sameRef(w, r) }) {
				c.DelMembers = append(c.DelMembers, r)
				c.Details = append(c.Details, "- member "+r.Kind+" "+r.Text)
			}
		}
		switch {
		case !exists:
			c.Action = actCreate
		case len(c.Details) > 0:
			c.Action = actUpdate
		default:
			c.Action = actUnchanged
		}
		plan = append(plan, c)
	}

	curProfiles := map[string]currentProfile{}
	for _, p := range have.Profiles {
		key := strings.ToLower(p.Name)
		if _, dup := curProfiles[key]; dup {
			return nil, fmt.Errorf("the tenant has two profiles named %q; rename or delete one", p.Name)
		}
		curProfiles[key] = p
	}
	wantProfiles := map[string]bool{}
	for _, p := range want.Profiles {
		key := strings.ToLower(p.Name)
		if wantProfiles[key] {
			return nil, fmt.Errorf("profile %q is defined twice", p.Name)
		}
		wantProfiles[key] = true
		cur, exists := curProfiles[key]
		c := change{Kind: "Profile", Name: p.Name, ID: cur.ID, Route: p.Route, JSON: p.JSON}
		switch {
		case !exists:
			c.Action = actCreate
		case cur.Route != p.Route:
			return nil, fmt.Errorf("profile %q exists as %s but the document is a %s profile; delete it first", p.Name, cur.Route, p.Route)
		default:
			same, err := sameProfileJSON(p.JSON, cur.JSON)
			if err != nil {
				return nil, fmt.Errorf("profile %q: %w", p.Name, err)
			}
			c.Action = actUnchanged
			if !same {
				c.Action, c.Details = actUpdate, []string{"Intune JSON differs"}
			}
		}
		plan = append(plan, c)
	}

	assigned := map[string]bool{}
	for _, a := range want.Assignments {
		key := strings.ToLower(a.Profile)
		if !wantProfiles[key] && curProfiles[key].ID == "" {
			return nil, fmt.Errorf("assignment of unknown profile %q", a.Profile)
		}
		if assigned[key] {
			return nil, fmt.Errorf("profile %q has two Assignment documents", a.Profile)
		}
		assigned[key] = true
		targets, err := assignTargets(a, knownGroup)
		if err != nil {
			return nil, err
		}
		cur, exists := curProfiles[key]
		var curTargets []assignTarget
		for _, t := range cur.Assignments {
			if t.Group != "" {
				t.Group = groupName[t.Group]
			}
			curTargets = append(curTargets, t)
		}
		c := change{Kind: "Assignment", Name: a.Profile, ID: cur.ID, Targets: targets}
		for _, t := range targets {
			if !slices.ContainsFunc(curTargets, func(x assignTarget) bool { return sameTarget(x, t) }) {
				c.Details = append(c.Details, "+ "+targetText(t))
			}
		}
		for _, t := range curTargets {
			if !slices.ContainsFunc(targets, func(x assignTarget) bool { return sameTarget(x, t) }) {
				c.Details = append(c.Details, "- "+targetText(t))
			}
		}
		switch {
		case !exists || len(cur.Assignments) == 0 && len(targets) > 0:
			c.Action = actCreate
		case len(c.Details) > 0:
			c.Action = actUpdate
		default:
			c.Action = actUnchanged
		}
		plan = append(plan, c)
	}

	// Objects not in the documents: profiles first (deleting one frees the groups it targets).
	extra := func(kind, name, id, route string) {
		act := actUnmanaged
		if prune {
			act = actDelete
		}
		plan = append(plan, change{Kind: kind, Name: name, ID: id, Route: route, Action: act})
	}
	var extraProfiles []currentProfile
	for _, p := range have.Profiles {
		if !wantProfiles[strings.ToLower(p.Name)] {
			extraProfiles = append(extraProfiles, p)
		}
	}
	sort.Slice(extraProfiles, func(i, j int) bool { return extraProfiles[i].Name < extraProfiles[j].Name })
	for _, p := range extraProfiles {
		extra("Profile", p.Name, p.ID, p.Route)
	}
	var extraGroups []currentGroup
	for _, g := range have.Groups {
		if !wantGroups[strings.ToLower(g.Name)] {
			extraGroups = append(extraGroups, g)
		}
	}
	sort.Slice(extraGroups, func(i, j int) bool { return extraGroups[i].Name < extraGroups[j].Name })
	for _, g := range extraGroups {
		extra("Group", g.Name, g.ID, "")
	}
	return plan, nil
}

// resolveMemberRef reads a member as written: a group name (of the documents or the tenant),
// a UPN of the tenant, or a device ID of the tenant.
func resolveMemberRef(m string, have currentState, knownGroup func(string) bool) (memberRef, error) {
	m = strings.TrimSpace(m)
	switch {
	case m == "":
		return memberRef{}, errors.New("an empty member")
	case knownGroup(m):
		return memberRef{Kind: "group", Key: m, Text: m}, nil
	case strings.Contains(m, "@"):
		if id, ok := have.Users[strings.ToLower(m)]; ok {
			return memberRef{Kind: "user", Key: id, Text: m}, nil
		}
		return memberRef{}, fmt.Errorf("member %q: no such user in the tenant", m)
	case have.Devices[m]:
		return memberRef{Kind: "device", Key: m, Text: m}, nil
	}
	return memberRef{}, fmt.Errorf("member %q is not a group, a user's UPN or a device ID of the tenant", m)
}

func sameRef(a, b memberRef) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == "group" {
		return strings.EqualFold(a.Key, b.Key)
	}
	return a.Key == b.Key
}

func assignTargets(a desiredAssignment, knownGroup func(string) bool) ([]assignTarget, error) {
	var out []assignTarget
	add := func(typ, group string) error {
		if group != "" && !knownGroup(group) {
			return fmt.Errorf("assignment of %q: no group named %q", a.Profile, group)
		}
		t := assignTarget{Type: typ, Group: group}
		if !slices.ContainsFunc(out, func(x assignTarget) bool { return sameTarget(x, t) }) {
			out = append(out, t)
		}
		return nil
	}
	for _, g := range a.Include {
		if err := add(targetGroup, g); err != nil {
			return nil, err
		}
	}
	for _, g := range a.Exclude {
		if err := add(targetExclusion, g); err != nil {
			return nil, err
		}
	}
	if a.AllDevices {
		_ = add(targetAllDevices, "")
	}
	if a.AllUsers {
		_ = add(targetAllUsers, "")
	}
	return out, nil
}

func sameTarget(a, b assignTarget) bool {
	return a.Type == b.Type && strings.EqualFold(a.Group, b.Group)
}

func targetText(t assignTarget) string {
	switch t.Type {
	case targetGroup:
		return "include " + t.Group
	case targetExclusion:
		return "exclude " + t.Group
	case targetAllDevices:
		return "all devices"
	case targetAllUsers:
		return "all users"
	}
	return t.Type
}

// serverOwned are the properties the server sets on a profile; they never make a difference.
var serverOwned = []string{"id", "version", "createdDateTime", "lastModifiedDateTime", "settingCount", "@odata.context"}

// sameProfileJSON compares two Intune documents semantically: key order, whitespace and
// server-owned properties do not count, and no roleScopeTagIds means ["0"] (Default).
func sameProfileJSON(a, b []byte) (bool, error) {
	na, err := normalizeProfile(a)
	if err != nil {
		return false, err
	}
	nb, err := normalizeProfile(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(na, nb), nil
}

func normalizeProfile(raw []byte) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decoding profile JSON: %w", err)
	}
	for _, k := range serverOwned {
		delete(m, k)
	}
	if tags, ok := m["roleScopeTagIds"].([]any); !ok || len(tags) == 0 {
		m["roleScopeTagIds"] = []any{"0"}
	}
	return m, nil
}

// routeOf tells the API route of an Intune document from its @odata.type (or, without one,
// settings vs omaSettings).
func routeOf(doc map[string]any) (string, error) {
	typ, _ := doc["@odata.type"].(string)
	_, hasSettings := doc["settings"]
	_, hasOMA := doc["omaSettings"]
	switch {
	case strings.EqualFold(typ, odataCatalog), typ == "" && hasSettings && !hasOMA:
		return "configurationPolicies", nil
	case strings.EqualFold(typ, odataCustom), typ == "" && hasOMA && !hasSettings:
		return "deviceConfigurations", nil
	case typ != "":
		return "", fmt.Errorf("@odata.type %s is neither a settings catalog policy (%s) nor a custom OMA-URI profile (%s)", typ, odataCatalog, odataCustom)
	}
	return "", errors.New("not an Intune profile export: no @odata.type, settings or omaSettings")
}

// profileDocument reads an Intune export, names it and tells its route.
func profileDocument(raw []byte, name string) (desiredProfile, error) {
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return desiredProfile{}, fmt.Errorf("decoding Intune JSON: %w", err)
	}
	route, err := routeOf(doc)
	if err != nil {
		return desiredProfile{}, err
	}
	if name != "" {
		if route == "configurationPolicies" {
			doc["name"] = name
		} else {
			doc["displayName"] = name
		}
	} else if route == "configurationPolicies" {
		name, _ = doc["name"].(string)
	} else {
		name, _ = doc["displayName"].(string)
	}
	if strings.TrimSpace(name) == "" {
		return desiredProfile{}, errors.New("the profile has no name")
	}
	for _, k := range serverOwned {
		delete(doc, k)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return desiredProfile{}, err
	}
	return desiredProfile{Name: name, Route: route, JSON: out}, nil
}

// loadDocuments reads a file or a directory of policy documents into the desired state.
//
// A Profile's file: is resolved relative to the document that names it and must stay inside
// the root: the directory given to -f, or the directory of the file given to -f. Paths that
// leave it (../x, an absolute path elsewhere, or a symlink that points outside) are refused
// before anything is read, and the file is then read through an os.Root on that directory,
// so a symlink swapped in after the check cannot escape either.
func loadDocuments(path string) (desiredState, error) {
	info, err := os.Stat(path)
	if err != nil {
		return desiredState{}, err
	}
	files := []string{path}
	rootDir := filepath.Dir(path)
	if info.IsDir() {
		rootDir = path
		files = nil
		entries, err := os.ReadDir(path)
		if err != nil {
			return desiredState{}, err
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".yaml", ".yml", ".json":
				if !e.IsDir() {
					files = append(files, filepath.Join(path, e.Name()))
				}
			}
		}
	}
	root, err := newDocRoot(rootDir)
	if err != nil {
		return desiredState{}, err
	}
	defer root.Close()
	var want desiredState
	for _, f := range files {
		docs, err := readDocs(f, info.IsDir())
		if err != nil {
			return desiredState{}, err
		}
		for i, d := range docs {
			if err := addDocument(&want, d, f, root); err != nil {
				// file:line: document N: ..., the line being the offending key's when known.
				line := d.line
				var le lineError
				if errors.As(err, &le) {
					line, err = le.line, le.err
				}
				where := f
				if line > 0 {
					where = fmt.Sprintf("%s:%d", f, line)
				}
				return desiredState{}, fmt.Errorf("%s: document %d: %w", where, i+1, err)
			}
		}
	}
	return want, nil
}

// lineError places an error of a document on one of its lines.
type lineError struct {
	line int
	err  error
}

func (e lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e lineError) Unwrap() error { return e.err }

// docRoot is the directory Profile documents may read files from.
type docRoot struct {
	dir  string // as given, for messages
	real string // absolute, symlinks resolved
	root *os.Root
}

func newDocRoot(dir string) (*docRoot, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, err
	}
	return &docRoot{dir: dir, real: real, root: r}, nil
}

func (r *docRoot) Close() error { return r.root.Close() }

// within reports whether target (absolute, cleaned) is r.real or below it.
func (r *docRoot) within(target string) (string, bool) {
	rel, err := filepath.Rel(r.real, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// readFile reads name, a file: value of the document docPath, refusing anything outside r.
func (r *docRoot) readFile(docPath, name string) ([]byte, error) {
	docDir, err := filepath.Abs(filepath.Dir(docPath))
	if err != nil {
		return nil, err
	}
	if realDocDir, err := filepath.EvalSymlinks(docDir); err == nil {
		docDir = realDocDir
	}
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(docDir, p)
	}
	p = filepath.Clean(p)
	outside := fmt.Errorf("file %q is outside %s, the directory given to -f; keep the Intune export next to its documents", name, r.dir)
	if _, ok := r.within(p); !ok {
		return nil, outside
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	rel, ok := r.within(real)
	if !ok {
		return nil, fmt.Errorf("file %q resolves through a symlink to %s, outside %s, the directory given to -f", name, real, r.dir)
	}
	b, err := r.root.ReadFile(rel)
	if err != nil {
		return nil, fmt.Errorf("file %q: %w", name, err)
	}
	return b, nil
}

// readDocs decodes the documents of one file. In a directory scan, a JSON file without
// "kind" is an Intune export and yields nothing.
func readDocs(path string, scanning bool) ([]applyDoc, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(filepath.Ext(path), ".json") && scanning {
		var probe map[string]any
		if json.Unmarshal(raw, &probe) == nil && probe["kind"] == nil {
			return nil, nil
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	// A second pass over the same bytes as nodes finds each document's line and the line of
	// its file: value; both decoders see the same document sequence.
	lines := yaml.NewDecoder(bytes.NewReader(raw))
	var out []applyDoc
	for {
		var d applyDoc
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var n yaml.Node
		if lines.Decode(&n) == nil {
			d.line, d.fileLine = docLines(&n)
		}
		out = append(out, d)
	}
}

// docLines returns the line of a document's first key and of its file: value.
func docLines(doc *yaml.Node) (line, fileLine int) {
	m := doc
	if m.Kind == yaml.DocumentNode && len(m.Content) == 1 {
		m = m.Content[0]
	}
	line = m.Line
	if m.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == "file" {
				fileLine = m.Content[i+1].Line
			}
		}
	}
	return line, fileLine
}

func addDocument(want *desiredState, d applyDoc, docPath string, root *docRoot) error {
	name := strings.TrimSpace(d.Name)
	switch strings.ToLower(d.Kind) {
	case "group":
		if name == "" {
			return errors.New("a Group needs a name")
		}
		want.Groups = append(want.Groups, desiredGroup{Name: name, Description: d.Description, Members: d.Members})
	case "profile":
		var raw []byte
		switch {
		case d.File != "" && d.Spec != nil:
			return errors.New("a Profile takes file or spec, not both")
		case d.File != "":
			b, err := root.readFile(docPath, d.File)
			if err != nil {
				if d.fileLine > 0 {
					return lineError{d.fileLine, err}
				}
				return err
			}
			raw = b
		case d.Spec != nil:
			b, err := json.Marshal(d.Spec)
			if err != nil {
				return fmt.Errorf("spec: %w", err)
			}
			raw = b
		default:
			return errors.New("a Profile needs file or spec")
		}
		p, err := profileDocument(raw, name)
		if err != nil {
			return err
		}
		want.Profiles = append(want.Profiles, p)
	case "assignment":
		if strings.TrimSpace(d.Profile) == "" {
			return errors.New("an Assignment needs profile")
		}
		want.Assignments = append(want.Assignments, desiredAssignment{Profile: strings.TrimSpace(d.Profile), Include: d.Include,
			Exclude: d.Exclude, AllDevices: d.AllDevices, AllUsers: d.AllUsers})
	case "":
		return errors.New("no kind (Group, Profile or Assignment)")
	default:
		return fmt.Errorf("unknown kind %q (want Group, Profile or Assignment)", d.Kind)
	}
	return nil
}

// memberName is the UPN of a user member or the name of a device member, or "".
func memberName(m memberRef, have currentState) string {
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
