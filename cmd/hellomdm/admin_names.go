package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
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

// pathKinds maps a collection segment of /tenants/{tid}/... to the kind of the ID after it.
var pathKinds = map[string]string{
	"users": "user", "groups": "group", "devices": "device",
	"configurationPolicies": "profile", "deviceConfigurations": "profile",
}

// resolvePath rewrites names in an API path (and its device/profile query parameters) to IDs.
func (c *adminClient) resolvePath(path string) (string, error) {
	p, query, _ := strings.Cut(path, "?")
	segs := strings.Split(p, "/")
	if len(segs) < 3 || segs[1] != "tenants" {
		return path, nil
	}
	tid, err := url.PathUnescape(segs[2])
	if err != nil {
		return path, nil
	}
	if tid, err = c.resolve("tenant", "", tid); err != nil {
		return "", err
	}
	segs[2] = url.PathEscape(tid)
	for i := 3; i+1 < len(segs); i += 2 {
		kind, ok := pathKinds[segs[i]]
		if !ok {
			break
		}
		v, err := url.PathUnescape(segs[i+1])
		if err != nil {
			break
		}
		if v, err = c.resolve(kind, tid, v); err != nil {
			return "", err
		}
		segs[i+1] = url.PathEscape(v)
	}
	out := strings.Join(segs, "/")
	if query != "" {
		if q, err := url.ParseQuery(query); err == nil {
			changed := false
			for _, k := range []string{"device", "profile"} {
				if v := q.Get(k); v != "" {
					id, err := c.resolve(k, tid, v)
					if err != nil {
						return "", err
					}
					changed = changed || id != v
					q.Set(k, id)
				}
			}
			if changed {
				query = q.Encode()
			}
		}
		out += "?" + query
	}
	return out, nil
}

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
// forgets the list: see send).
func (c *adminClient) candidates(kind, tid string) ([]nameCandidate, error) {
	key := kind + "/" + tid
	if cands, ok := c.names[key]; ok {
		return cands, nil
	}
	type row struct {
		ID              string   `json:"id"`
		DisplayName     string   `json:"displayName"`
		Name            string   `json:"name"`
		VerifiedDomains []string `json:"verifiedDomains"`
		UPN             string   `json:"userPrincipalName"`
		DeviceName      string   `json:"deviceName"`
	}
	var paths []string
	switch kind {
	case "tenant":
		paths = []string{"/tenants"}
	case "user":
		paths = []string{tenantPath(tid, "users")}
	case "group":
		paths = []string{tenantPath(tid, "groups")}
	case "device":
		paths = []string{tenantPath(tid, "devices")}
	case "profile":
		paths = []string{tenantPath(tid, "configurationPolicies"), tenantPath(tid, "deviceConfigurations")}
	case "token":
		paths = []string{"/tokens"}
	}
	var cands []nameCandidate
	for _, p := range paths {
		var out struct {
			Value []row `json:"value"`
		}
		// Straight to the server: a lookup neither resolves names nor consumes notes.
		resp, err := c.exchange("GET", p, nil)
		if err != nil {
			return nil, err
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("decoding the server's list: %w", err)
		}
		for _, r := range out.Value {
			cd := nameCandidate{id: r.ID}
			switch kind {
			case "tenant":
				cd.names = append(append(cd.names, r.VerifiedDomains...), r.DisplayName)
			case "user":
				cd.names = []string{r.UPN}
			case "group":
				cd.names = []string{r.DisplayName}
			case "device":
				cd.names = []string{r.DeviceName}
			case "profile":
				cd.names = []string{r.Name + r.DisplayName}
			case "token":
				cd.names = []string{r.Name}
			}
			cands = append(cands, cd)
		}
	}
	if c.names == nil {
		c.names = map[string][]nameCandidate{}
	}
	c.names[key] = cands
	return cands, nil
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

// tenantOfPath is the (unescaped) tenant of a /tenants/{tid}/... path.
func tenantOfPath(path string) string {
	segs := strings.Split(path, "/")
	if len(segs) < 3 || segs[1] != "tenants" {
		return ""
	}
	tid, _ := url.PathUnescape(segs[2])
	return tid
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
