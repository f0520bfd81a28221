package csp

import (
	"slices"
	"strings"
	"unicode"
)

// Setting is a settings-catalog setting as Intune's settings picker shows it: a writable node
// with a settings-catalog id in one scope, its display name and its category.
type Setting struct {
	// ID is the settingDefinitionId, e.g.
	// device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery.
	ID string
	// Name is the display name, the node's name split into words ("Enable Pin Recovery"),
	// with " (User)" for the user scope as Intune's picker marks them.
	Name string
	// Category is the picker's category ("Windows Hello For Business").
	Category string
	Node     *Node
	Scope    Scope
	// GroupID is the settingDefinitionId of the group setting the setting is nested in
	// (the nearest ancestor with a dynamic name, e.g. device_vendor_msft_passportforwork_{tenantid}),
	// "" for a top-level setting.
	GroupID string
}

// LocURI is the setting's LocURI pattern with its scope prefix, e.g.
// ./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery.
func (s Setting) LocURI() string { return s.Scope.prefix() + s.Node.Path }

// settingCategories map a node path prefix to the category of its settings, longest prefix
// first: Intune's names for the CSP areas the catalog covers.
var settingCategories = []struct{ prefix, name string }{
	{"Vendor/MSFT/PassportForWork/", "Windows Hello For Business"},
	{federatedAuthenticationArea + "/", "Federated Authentication"},
	{authenticationArea + "/", "Authentication"},
	{credentialProvidersArea + "/", "Credential Providers"},
}

func settingCategory(path string) string {
	for _, c := range settingCategories {
		if strings.HasPrefix(path, c.prefix) {
			return c.name
		}
	}
	return "Other"
}

// SettingName splits a node name into the words of its display name: EnablePinRecovery is
// "Enable Pin Recovery", MinimumPINLength "Minimum PIN Length", TPM12 "TPM12".
func SettingName(segment string) string {
	rs := []rune(segment)
	var b strings.Builder
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) && nextLower || unicode.IsUpper(prev) && nextLower {
				b.WriteByte(' ')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Settings returns every settings-catalog setting, sorted by category, then name.
func (c *Catalog) Settings() []Setting {
	var out []Setting
	for _, n := range c.nodes {
		for _, id := range n.SettingDefinitionIDs {
			sc, _ := settingScope(id)
			s := Setting{ID: id, Name: SettingName(n.Name()), Category: settingCategory(n.Path), Node: n, Scope: sc}
			if sc == ScopeUser {
				s.Name += " (User)"
			}
			if g := c.groupAncestor(n); g != nil {
				s.GroupID = strings.ToLower(strings.ReplaceAll(sc.prefix()[2:]+g.Path, "/", settingIDSeparator))
			}
			out = append(out, s)
		}
	}
	slices.SortStableFunc(out, func(a, b Setting) int {
		if d := strings.Compare(a.Category, b.Category); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// groupAncestor is the nearest ancestor of n with a dynamic name: Intune nests n's setting in
// that node's group setting.
func (c *Catalog) groupAncestor(n *Node) *Node {
	for p := n.Parent(); p != ""; {
		a, ok := c.byPath[p]
		if !ok {
			return nil
		}
		if a.Dynamic {
			return a
		}
		p = a.Parent()
	}
	return nil
}

// SettingCategories returns the categories of the settings, sorted.
func (c *Catalog) SettingCategories() []string {
	var out []string
	for _, s := range c.Settings() {
		if !slices.Contains(out, s.Category) {
			out = append(out, s.Category)
		}
	}
	slices.Sort(out)
	return out
}

// SearchSettings returns the settings in category (any when "", compared without case)
// whose name, category, id, LocURI or description contains every word of query (without
// case; every setting when query is blank), in the order of Settings.
func (c *Catalog) SearchSettings(query, category string) []Setting {
	words := strings.Fields(strings.ToLower(query))
	var out []Setting
	for _, s := range c.Settings() {
		if category != "" && !strings.EqualFold(strings.TrimSpace(category), s.Category) {
			continue
		}
		hay := strings.ToLower(strings.Join([]string{s.Name, s.Category, s.ID, s.LocURI(), s.Node.Description}, "\n"))
		joined := strings.ReplaceAll(hay, " ", "") // "pinrecovery" finds Enable Pin Recovery
		match := true
		for _, w := range words {
			if !strings.Contains(hay, w) && !strings.Contains(joined, w) {
				match = false
				break
			}
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}
