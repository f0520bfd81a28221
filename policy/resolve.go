package policy

import (
	"errors"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

// Snapshot is a tenant's policy indexed for resolution: immutable, safe for concurrent use,
// built once per tenant policy version.
type Snapshot struct {
	tenantID string
	version  uint64
	parents  map[string][]string // member ref ("device\x00id") → groups it is a direct member of
	users    map[string]bool
	profiles []compiledProfile // by ID
}

type compiledProfile struct {
	id          string
	include     []string // group IDs
	exclude     []string
	allDevices  bool
	allLicensed bool
	settings    []compiledSetting
}

type compiledSetting struct {
	uri    string // canonical, concrete
	format string
	value  string
	match  csp.Match
	known  bool // match is set
}

// NewSnapshot indexes a tenant's policy for Resolve: {TenantId} is filled with the tenant's
// ID and every LocURI looked up in the catalog once.
func NewSnapshot(ps model.PolicySnapshot, cat *csp.Catalog) *Snapshot {
	s := &Snapshot{tenantID: ps.TenantID, version: ps.Version, parents: map[string][]string{}, users: make(map[string]bool, len(ps.UserIDs))}
	for g, ms := range ps.Members {
		for _, m := range ms {
			k := m.Kind + "\x00" + m.ID
			s.parents[k] = append(s.parents[k], g)
		}
	}
	for _, u := range ps.UserIDs {
		s.users[u] = true
	}
	profiles := slices.Clone(ps.Profiles)
	slices.SortFunc(profiles, func(a, b model.Profile) int { return strings.Compare(a.ID, b.ID) })
	for _, p := range profiles {
		cp := compiledProfile{id: p.ID}
		for _, a := range ps.Assignments[p.ID] {
			switch a.Target {
			case model.TargetGroup:
				cp.include = append(cp.include, a.GroupID)
			case model.TargetExclusionGroup:
				cp.exclude = append(cp.exclude, a.GroupID)
			case model.TargetAllDevices:
				cp.allDevices = true
			case model.TargetAllLicensedUsers:
				cp.allLicensed = true
			}
		}
		if len(cp.include) == 0 && !cp.allDevices && !cp.allLicensed {
			continue // unassigned: targets nothing
		}
		for _, st := range p.Settings {
			uri := csp.Canonical(strings.ReplaceAll(st.LocURI, TenantPlaceholder, ps.TenantID))
			m, ok := cat.Lookup(uri)
			cp.settings = append(cp.settings, compiledSetting{uri: uri, format: st.Format, value: st.Value, match: m, known: ok})
		}
		s.profiles = append(s.profiles, cp)
	}
	return s
}

// Version is the tenant policy version the snapshot was read at.
func (s *Snapshot) Version() uint64 { return s.version }

// TenantID is the snapshot's tenant.
func (s *Snapshot) TenantID() string { return s.tenantID }

// DeviceInfo is what resolution needs to know about a device.
type DeviceInfo struct {
	ID        string
	TenantID  string // Reconcile checks it against the snapshot's
	UserID    string // enrolled user; "" for a device enrollment
	OSVersion string // e.g. "10.0.19045.3803"; "" skips the MinOS check
	OSEdition int    // OSEdition product type; 0 skips the edition check
}

// Desired is a node value the device must hold.
type Desired struct {
	LocURI  string   `json:"locUri"` // canonical (csp.Canonical)
	Format  string   `json:"format"`
	Value   string   `json:"value"`
	Sources []string `json:"sources"` // profile IDs, sorted
}

// Conflict is a node two or more assigned profiles set to different values; nothing is sent.
type Conflict struct {
	LocURI string         `json:"locUri"`
	Values []ProfileValue `json:"values"`
}

// ProfileValue is one profile's value in a conflict.
type ProfileValue struct {
	ProfileID string `json:"profileId"`
	Format    string `json:"format"`
	Value     string `json:"value"`
}

// NotApplicable is a node the device cannot hold (OS build below MinOS, edition excluded).
type NotApplicable struct {
	LocURI  string   `json:"locUri"`
	Reason  string   `json:"reason"`
	Sources []string `json:"sources"`
}

// Result is a device's resolved policy, each list sorted by LocURI.
type Result struct {
	Profiles      []string // profile IDs that apply, sorted
	Desired       []Desired
	Conflicts     []Conflict
	NotApplicable []NotApplicable
}

// Sources lists the profile IDs a conflict involves.
func (c Conflict) Sources() []string {
	out := make([]string, 0, len(c.Values))
	for _, v := range c.Values {
		out = append(out, v.ProfileID)
	}
	return out
}

// Resolve computes what a device must hold: the profiles targeting it (an exclusion beats any
// inclusion; group membership through the device or its enrolled user, transitively), their
// settings merged by canonical LocURI, conflicts where profiles disagree, and nodes the device
// cannot hold (csp.Catalog.Applicable). It is a pure function of its inputs.
func Resolve(s *Snapshot, cat *csp.Catalog, d DeviceInfo) Result {
	groups := s.groupsOf(d)
	licensed := d.UserID != "" && s.users[d.UserID]
	type entry struct {
		values []ProfileValue
		set    compiledSetting
	}
	byURI := map[string]*entry{}
	var res Result
	for i := range s.profiles {
		p := &s.profiles[i]
		if !p.targets(groups, licensed) {
			continue
		}
		res.Profiles = append(res.Profiles, p.id)
		for _, st := range p.settings {
			e := byURI[st.uri]
			if e == nil {
				e = &entry{set: st}
				byURI[st.uri] = e
			}
			e.values = append(e.values, ProfileValue{ProfileID: p.id, Format: st.format, Value: st.value})
		}
	}
	uris := make([]string, 0, len(byURI))
	for u := range byURI {
		uris = append(uris, u)
	}
	slices.Sort(uris)
	for _, u := range uris {
		e := byURI[u]
		srcs := make([]string, 0, len(e.values))
		same := true
		for _, v := range e.values {
			if !slices.Contains(srcs, v.ProfileID) {
				srcs = append(srcs, v.ProfileID)
			}
			if v.Format != e.values[0].Format || v.Value != e.values[0].Value {
				same = false
			}
		}
		if e.set.known {
			if err := cat.Applicable(e.set.match, d.OSVersion, d.OSEdition); errors.Is(err, csp.ErrNotApplicable) {
				reason := err.Error()
				var ne *csp.NodeError
				if errors.As(err, &ne) {
					reason = ne.Reason
				}
				res.NotApplicable = append(res.NotApplicable, NotApplicable{LocURI: u, Reason: reason, Sources: srcs})
				continue
			}
		}
		if !same {
			res.Conflicts = append(res.Conflicts, Conflict{LocURI: u, Values: e.values})
			continue
		}
		res.Desired = append(res.Desired, Desired{LocURI: u, Format: e.values[0].Format, Value: e.values[0].Value, Sources: srcs})
	}
	return res
}

// groupsOf returns every group the device belongs to, through itself or its user.
func (s *Snapshot) groupsOf(d DeviceInfo) map[string]bool {
	in := map[string]bool{}
	stack := append([]string(nil), s.parents[model.MemberDevice+"\x00"+d.ID]...)
	if d.UserID != "" {
		stack = append(stack, s.parents[model.MemberUser+"\x00"+d.UserID]...)
	}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if in[g] {
			continue
		}
		in[g] = true
		stack = append(stack, s.parents[model.MemberGroup+"\x00"+g]...)
	}
	return in
}

func (p *compiledProfile) targets(groups map[string]bool, licensed bool) bool {
	for _, g := range p.exclude {
		if groups[g] {
			return false
		}
	}
	if p.allDevices || p.allLicensed && licensed {
		return true
	}
	for _, g := range p.include {
		if groups[g] {
			return true
		}
	}
	return false
}
