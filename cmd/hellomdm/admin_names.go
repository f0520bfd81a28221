package main

import (
	"fmt"
	"regexp"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// Names everywhere an ID is asked: --tenant, --user, --group, --profile and --device (and
// the /tenants/{tid}/... paths and query parameters built from them) take the object's ID
// or its unique name, resolved here on the client through the API's list endpoints, with the
// admin's own token: a token sees only its tenants, so a name never reaches another tenant.
//
//	tenant   verified domain or display name
//	user     user principal name
//	group    display name
//	profile  name (settings catalog) or displayName (custom OMA-URI), across both routes
//	device   device name
//	token    name (token revoke --id)
//
// An ID-shaped value (a GUID, or a 32-hex-digit DeviceID) is used as it is; anything else is
// matched: an exact ID first, then the names (case-insensitively). A name that matches
// several objects is refused with the candidates listed; one that matches nothing goes to
// the server as it is, and the server's refusal (404, 422) carries the note that it is
// neither an ID nor a name.

var idShaped = regexp.MustCompile(`^(?i:\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?|[0-9a-f]{32})$`)

// nameCandidate is one object a name can resolve to.
type nameCandidate struct {
	id    string
	names []string
}

// nameError is a name that resolves to no object, or to several.
type nameError struct{ msg string }

func (e nameError) Error() string { return e.msg }

// resolve returns the ID of the kind's object (in tenant tid) that v names or is.
func (c *adminClient) resolve(kind, tid, v string) (string, error) {
	if v == "" || idShaped.MatchString(v) {
		return strings.Trim(v, "{}"), nil
	}
	cands, err := c.candidates(kind, tid)
	if err != nil {
		return "", err
	}
	for _, cd := range cands {
		if strings.EqualFold(cd.id, v) {
			return cd.id, nil
		}
	}
	var hits []nameCandidate
	for _, cd := range cands {
		for _, n := range cd.names {
			if strings.EqualFold(n, v) {
				hits = append(hits, cd)
				break
			}
		}
	}
	what := map[string]string{"tenant": "domain or name", "user": "user principal name", "group": "name",
		"profile": "name", "device": "name", "token": "name"}[kind]
	where := ""
	if tid != "" {
		where = " in tenant " + tid
	}
	switch len(hits) {
	case 1:
		return hits[0].id, nil
	case 0:
		// Not a name either: the server decides (it may know an ID the list does not show,
		// e.g. a deleted device in an audit filter); its refusal carries this note.
		c.notes = append(c.notes, fmt.Sprintf("%q is not a %s ID, and no %s%s has that %s", v, kind, kind, where, what))
		return v, nil
	}
	var list []string
	for _, h := range hits {
		list = append(list, fmt.Sprintf("%s (%s)", h.id, strings.Join(h.names, ", ")))
	}
	return "", nameError{fmt.Sprintf("%q names %d %ss%s: %s; give the ID", v, len(hits), kind, where, strings.Join(list, "; "))}
}

// candidates lists the kind's objects with their names, once per command run (a write
// forgets the list: see wrote).
func (c *adminClient) candidates(kind, tid string) ([]nameCandidate, error) {
	key := kind + "/" + tid
	if cands, ok := c.names[key]; ok {
		return cands, nil
	}
	// Straight to the server: a lookup neither resolves names nor consumes notes.
	cands, err := c.lookup(kind, tid)
	if err != nil {
		return nil, err
	}
	if c.names == nil {
		c.names = map[string][]nameCandidate{}
	}
	c.names[key] = cands
	return cands, nil
}

// lookup lists the kind's objects in tenant tid with their names.
func (c *adminClient) lookup(kind, tid string) ([]nameCandidate, error) {
	var cands []nameCandidate
	add := func(id string, names ...string) { cands = append(cands, nameCandidate{id: id, names: names}) }
	switch kind {
	case "tenant":
		ts, err := c.api.Tenants(c.ctx)
		for _, t := range ts {
			add(t.ID, append(append([]string{}, t.VerifiedDomains...), t.DisplayName)...)
		}
		return cands, err
	case "user":
		us, err := c.api.Users(c.ctx, tid)
		for _, u := range us {
			add(u.ID, u.UserPrincipalName)
		}
		return cands, err
	case "group":
		gs, err := c.api.Groups(c.ctx, tid)
		for _, g := range gs {
			add(g.ID, g.DisplayName)
		}
		return cands, err
	case "device":
		ds, err := c.api.Devices(c.ctx, tid, adminclient.DeviceFilter{})
		for _, d := range ds {
			add(d.ID, d.DeviceName)
		}
		return cands, err
	case "profile":
		for _, route := range adminclient.ProfileRoutes {
			ps, err := c.api.Profiles(c.ctx, tid, route)
			if err != nil {
				return nil, err
			}
			for _, p := range ps {
				add(p.ID, p.Title())
			}
		}
		return cands, nil
	case "token":
		ts, err := c.api.Tokens(c.ctx)
		for _, t := range ts {
			add(t.ID, t.Name)
		}
		return cands, err
	}
	return nil, fmt.Errorf("no lookup of %s names", kind)
}

// resolveList resolves each value of a repeated flag.
func (c *adminClient) resolveList(kind, tid string, vs []string) ([]string, error) {
	tid, err := c.resolve("tenant", "", tid)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		if out[i], err = c.resolve(kind, tid, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// nameOf returns the name of the kind's object id in tenant tid (an ID or a name), or ""
// when the token cannot list them or none has that ID: tables show names beside IDs.
func (c *adminClient) nameOf(kind, tid, id string) string {
	if kind != "tenant" {
		var err error
		if tid, err = c.resolve("tenant", "", tid); err != nil {
			return ""
		}
	}
	cands, err := c.candidates(kind, tid)
	if err != nil {
		return ""
	}
	for _, cd := range cands {
		if strings.EqualFold(cd.id, id) && len(cd.names) > 0 {
			return cd.names[0]
		}
	}
	return ""
}

// withName is "ID (name)", or the ID alone when the name is unknown.
func (c *adminClient) withName(kind, tid, id string) string {
	if n := c.nameOf(kind, tid, id); n != "" && n != id {
		return id + " (" + n + ")"
	}
	return id
}

// resolveIn returns the IDs of the tenant tid names or is, and of the kind's object in it
// that v names or is.
func (c *adminClient) resolveIn(kind, tid, v string) (tenantID, id string, err error) {
	if tenantID, err = c.resolve("tenant", "", tid); err != nil {
		return "", "", err
	}
	id, err = c.resolve(kind, tenantID, v)
	return tenantID, id, err
}

// memberKinds are the kinds a group member can be, in the order candidates are listed.
var memberKinds = []string{"user", "device", "group"}

// resolveMember returns the ID of the group member (user, device or group) of tenant tid
// (an ID) that v names or is: an ID, a user principal name, a device name or a group name.
// A name that objects of several kinds, or several objects, have is refused with the
// candidates listed; one that matches nothing goes to the server as it is (see resolve).
func (c *adminClient) resolveMember(tid, v string) (string, error) {
	if v == "" || idShaped.MatchString(v) {
		return strings.Trim(v, "{}"), nil
	}
	all := map[string][]nameCandidate{}
	for _, kind := range memberKinds {
		cands, err := c.candidates(kind, tid)
		if err != nil {
			return "", err
		}
		all[kind] = cands
		for _, cd := range cands {
			if strings.EqualFold(cd.id, v) {
				return cd.id, nil
			}
		}
	}
	var list []string
	id := ""
	for _, kind := range memberKinds {
		for _, cd := range all[kind] {
			for _, n := range cd.names {
				if strings.EqualFold(n, v) {
					list = append(list, fmt.Sprintf("%s %s (%s)", kind, cd.id, strings.Join(cd.names, ", ")))
					id = cd.id
					break
				}
			}
		}
	}
	switch len(list) {
	case 1:
		return id, nil
	case 0:
		c.notes = append(c.notes, fmt.Sprintf("%q is not a user, device or group ID, and no user principal name, device name or group name in tenant %s is that", v, tid))
		return v, nil
	}
	return "", nameError{fmt.Sprintf("%q names %d members in tenant %s: %s; give the ID", v, len(list), tid, strings.Join(list, "; "))}
}

// given is how a command names an object it changed: its ID, and the name it was given by
// when that was not the ID.
func given(id, asGiven string) string {
	if asGiven == "" || strings.EqualFold(strings.Trim(asGiven, "{}"), id) {
		return id
	}
	return id + " (" + asGiven + ")"
}
