package gpo

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hellomdm/hellomdm/csp"
)

// MDM support of a row, as Intune's Group Policy analytics names it.
const (
	Supported    = "supported"
	NotSupported = "notSupported"
	Unknown      = "unknown"
)

// Row is one registry value of the GPO and what MDM can do with it.
type Row struct {
	Scope      Scope  `json:"scope"`
	Key        string `json:"key"`
	ValueName  string `json:"valueName"`
	Type       string `json:"type,omitempty"` // REG_DWORD, REG_SZ, ...
	Data       string `json:"data"`
	Setting    string `json:"setting,omitempty"` // the ADMX setting's display name
	ADMX       string `json:"admx,omitempty"`    // file and policy name, e.g. Passport.admx MSPassport_EnablePinRecovery
	MDMSupport string `json:"mdmSupport"`
	CSPMapping string `json:"cspMapping,omitempty"` // the OMA-URI, tenant filled in
	DataType   string `json:"dataType,omitempty"`   // the node's format: bool, int, chr
	Value      string `json:"value,omitempty"`      // what would be sent
	Source     string `json:"source,omitempty"`     // the CSP documentation page of the mapping
	Note       string `json:"note,omitempty"`       // why a setting is not supported

	pattern string // catalog URI with {TenantId} kept, for the profile
	off     bool   // the GPO's status disables this half: not imported
}

// Summary counts rows as Intune's Group Policy analytics does.
type Summary struct {
	Settings         int `json:"settings"`
	Supported        int `json:"supported"`
	NotSupported     int `json:"notSupported"`
	Unknown          int `json:"unknown"`
	SupportedPercent int `json:"supportedPercent"` // supported / settings, rounded; 0 with no settings
}

// Report is the analysis of one GPO.
type Report struct {
	Source       Source        `json:"source"`
	Summary      Summary       `json:"summary"`
	Value        []Row         `json:"value"`
	Instructions []Instruction `json:"instructions"`
}

// Analyzer maps parsed GPOs onto the CSP catalog. It is safe for concurrent use.
type Analyzer struct{ cat *csp.Catalog }

// NewAnalyzer checks that every mapped node is a writable node of the catalog.
func NewAnalyzer(cat *csp.Catalog) (*Analyzer, error) {
	for _, m := range mappings {
		if _, ok := byPolicyName[m.policy]; !ok {
			return nil, fmt.Errorf("gpo: mapping %s!%s names unknown ADMX policy %s", m.key, m.valueName, m.policy)
		}
		if m.node == "" {
			continue
		}
		n, ok := cat.Node(m.node)
		if !ok || n.ReadOnly || n.Interior() {
			return nil, fmt.Errorf("gpo: mapping %s!%s: %s is not a writable node of the CSP catalog", m.key, m.valueName, m.node)
		}
	}
	return &Analyzer{cat: cat}, nil
}

// probeTenant stands in for {TenantId} when no tenant is given: the catalog accepts only
// GUIDs in that segment.
const probeTenant = "00000000-0000-0000-0000-000000000000"

// TenantPlaceholder is how a profile names the tenant's ID (see package policy).
const TenantPlaceholder = "{TenantId}"

// Analyze maps every value of p. tenantID fills {TenantId} in cspMapping; "" keeps the
// placeholder.
func (a *Analyzer) Analyze(p *Policy, tenantID string) Report {
	rep := Report{Source: p.Source, Value: []Row{}, Instructions: slices.Clone(p.Instructions)}
	if rep.Instructions == nil {
		rep.Instructions = []Instruction{}
	}
	for _, e := range p.Values {
		r := a.row(e, tenantID)
		if slices.Contains(p.Disabled, e.Scope) {
			half := "Computer"
			if e.Scope == User {
				half = "User"
			}
			r.off = true
			r.Note = strings.TrimPrefix(r.Note+"; ", "; ") + "the GPO's " + half +
				" Configuration settings are disabled (GPO status), so clients do not apply it: import leaves it out"
		}
		rep.Value = append(rep.Value, r)
	}
	for _, u := range p.Unresolved {
		rep.Value = append(rep.Value, Row{Scope: u.Scope, Setting: u.Name, MDMSupport: Unknown,
			Note: u.Reason, Data: u.State})
	}
	slices.SortStableFunc(rep.Value, func(x, y Row) int {
		if c := strings.Compare(string(x.Scope), string(y.Scope)); c != 0 {
			return c
		}
		if (x.Key == "") != (y.Key == "") {
			if x.Key == "" {
				return 1
			}
			return -1
		}
		if c := strings.Compare(strings.ToLower(x.Key), strings.ToLower(y.Key)); c != 0 {
			return c
		}
		if c := strings.Compare(strings.ToLower(x.ValueName), strings.ToLower(y.ValueName)); c != 0 {
			return c
		}
		return strings.Compare(x.Setting, y.Setting)
	})
	for _, r := range rep.Value {
		rep.Summary.Settings++
		switch r.MDMSupport {
		case Supported:
			rep.Summary.Supported++
		case NotSupported:
			rep.Summary.NotSupported++
		default:
			rep.Summary.Unknown++
		}
	}
	if rep.Summary.Settings > 0 {
		rep.Summary.SupportedPercent = int(math.Round(100 * float64(rep.Summary.Supported) / float64(rep.Summary.Settings)))
	}
	return rep
}

func (a *Analyzer) row(e Entry, tenantID string) Row {
	r := Row{Scope: e.Scope, Key: e.Key, ValueName: e.ValueName, Type: e.Value.Type.String(), Data: e.Value.Data(), MDMSupport: Unknown}
	m, ok := byRegistry[regIndex(e.Key, e.ValueName)]
	if !ok {
		r.Note = "not a Windows Hello for Business policy hellomdm knows"
		return r
	}
	pol := byPolicyName[m.policy]
	// Known values are shown with the ADMX spelling of their key, so the same policy reads
	// the same whichever file it came from.
	r.Key, r.ValueName = m.key, m.valueName
	r.Setting = pol.display[0]
	if m.label != "" {
		r.Setting += ": " + m.label
	}
	r.ADMX = pol.file + " " + pol.name
	r.Source = m.doc
	r.MDMSupport = NotSupported
	if m.node == "" {
		r.Note = m.notSupported
		return r
	}
	node, _ := a.cat.Node(m.node)
	scope := csp.ScopeDevice
	if e.Scope == User {
		scope = csp.ScopeUser
	}
	if !node.InScope(scope) {
		if scope == csp.ScopeUser {
			r.Note = "the CSP has no ./User node for this setting: set it under Computer Configuration"
		} else {
			r.Note = "the CSP has no ./Device node for this setting"
		}
		return r
	}
	value, err := convert(m.conv, e.Value, pol)
	if err != nil {
		r.Note = err.Error()
		return r
	}
	probe, err := a.cat.Concrete(m.node, scope, map[string]string{"TenantId": probeTenant})
	if err != nil {
		r.Note = err.Error()
		return r
	}
	match, ok := a.cat.Lookup(probe)
	if !ok {
		r.Note = "node " + probe + " is not in the CSP catalog"
		return r
	}
	norm, err := a.cat.ValidateValue(match, node.Format, value)
	if err != nil {
		r.Note = err.Error()
		return r
	}
	r.pattern = strings.Replace(probe, probeTenant, TenantPlaceholder, 1)
	r.CSPMapping = r.pattern
	if tenantID != "" {
		r.CSPMapping = strings.Replace(r.pattern, TenantPlaceholder, tenantID, 1)
	}
	r.MDMSupport, r.DataType, r.Value = Supported, string(node.Format), norm
	return r
}

// convert applies a mapping's conversion, refusing data the ADMX would never write.
func convert(c conversion, v Value, pol *admxPolicy) (string, error) {
	isNum := v.Type == RegDWord || v.Type == RegDWordBigEndian || v.Type == RegQWord
	isStr := v.Type == RegSZ || v.Type == RegExpandSZ
	switch c {
	case convBool, convADMXOnOff:
		if !isNum {
			return "", fmt.Errorf("%s where %s writes REG_DWORD", v.Type, pol.file)
		}
		on, off := "true", "false"
		if c == convADMXOnOff {
			on, off = "<enabled/>", "<disabled/>"
		}
		switch v.Num {
		case 1:
			return on, nil
		case 0:
			return off, nil
		}
		return "", fmt.Errorf("value %d is not one %s writes (1 enabled, 0 disabled)", v.Num, pol.file)
	case convInt:
		if !isNum {
			return "", fmt.Errorf("%s where %s writes REG_DWORD", v.Type, pol.file)
		}
		if v.Num > math.MaxInt32 {
			return "", fmt.Errorf("value %d is out of range", v.Num)
		}
		return strconv.FormatUint(v.Num, 10), nil
	case convChr:
		if !isStr {
			return "", fmt.Errorf("%s where %s writes REG_SZ", v.Type, pol.file)
		}
		return v.Str, nil
	}
	return "", fmt.Errorf("no conversion")
}

// Profile is the Intune custom (OMA-URI) profile of a report's supported rows
// (#microsoft.graph.windows10CustomConfiguration, Microsoft Graph beta), ready for
// policy.Parser.ParseProfile; {TenantId} stays a placeholder until resolution. It fails
// when no row is supported.
func (r *Report) Profile(name string) ([]byte, error) {
	type oma struct {
		Type        string `json:"@odata.type"`
		DisplayName string `json:"displayName"`
		Description string `json:"description"`
		OMAURI      string `json:"omaUri"`
		IsEncrypted bool   `json:"isEncrypted"`
		Value       any    `json:"value"`
	}
	var settings []oma
	for _, row := range r.Value {
		if row.MDMSupport != Supported || row.off {
			continue
		}
		hive := "HKLM"
		if row.Scope == User {
			hive = "HKCU"
		}
		o := oma{DisplayName: row.Setting, Description: fmt.Sprintf(`Group Policy %s\%s!%s (%s)`, hive, row.Key, row.ValueName, row.ADMX), OMAURI: row.pattern}
		switch row.DataType {
		case string(csp.FormatBool):
			o.Type, o.Value = "#microsoft.graph.omaSettingBoolean", row.Value == "true"
		case string(csp.FormatInt):
			n, err := strconv.Atoi(row.Value)
			if err != nil {
				return nil, fmt.Errorf("setting %s: %w", row.Setting, err)
			}
			o.Type, o.Value = "#microsoft.graph.omaSettingInteger", n
		default:
			o.Type, o.Value = "#microsoft.graph.omaSettingString", row.Value
		}
		settings = append(settings, o)
	}
	if len(settings) == 0 {
		off := 0
		for _, row := range r.Value {
			if row.off {
				off++
			}
		}
		if off > 0 {
			return nil, fmt.Errorf("nothing to import: none of the %d settings maps to an MDM node in a half the GPO applies (%d are in a disabled half)", r.Summary.Settings, off)
		}
		return nil, fmt.Errorf("nothing to import: none of the %d settings maps to an MDM node", r.Summary.Settings)
	}
	desc := "Imported from Group Policy"
	if r.Source.GPOName != "" {
		desc += " object " + strconv.Quote(r.Source.GPOName)
	}
	desc += fmt.Sprintf(" (%s %s): %d of %d settings", r.Source.Format, r.Source.File, r.Summary.Supported, r.Summary.Settings)
	return json.MarshalIndent(map[string]any{
		"@odata.type": "#microsoft.graph.windows10CustomConfiguration",
		"displayName": name,
		"description": desc,
		"omaSettings": settings,
	}, "", "  ")
}
