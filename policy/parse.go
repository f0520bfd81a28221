package policy

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

// Intune @odata.type values (Microsoft Graph beta: deviceManagementConfigurationPolicy and
// its setting instances; windows10CustomConfiguration and omaSetting*).
const (
	typeSettingsCatalog = "#microsoft.graph.deviceManagementConfigurationPolicy"
	typeCustom          = "#microsoft.graph.windows10CustomConfiguration"

	typeChoice          = "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"
	typeSimple          = "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"
	typeGroupCollection = "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance"
	typeGroup           = "#microsoft.graph.deviceManagementConfigurationGroupSettingInstance"
	typeSimpleColl      = "#microsoft.graph.deviceManagementConfigurationSimpleSettingCollectionInstance"
	typeStringValue     = "#microsoft.graph.deviceManagementConfigurationStringSettingValue"
	typeIntegerValue    = "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue"

	omaPrefix = "#microsoft.graph.omaSetting"
)

// Limits on imported profiles.
const (
	MaxProfileBytes = 1 << 20 // a profile document
	MaxSettings     = 1000    // settings (leaves) in one profile
	maxDepth        = 16      // nesting of setting instances
	maxURILen       = 1024
)

// DefaultScopeTag is Intune's "Default" scope tag, given to profiles imported without one.
const DefaultScopeTag = "0"

// TenantPlaceholder stands for the tenant's ID in stored LocURIs until resolution.
const TenantPlaceholder = "{TenantId}"

// probeTenant replaces the placeholder when a LocURI is checked against the catalog, whose
// {TenantId} segments accept only GUIDs.
const probeTenant = "00000000-0000-0000-0000-000000000000"

// tenantForms matches the placeholder spellings admins type: {TenantId}, <TenantId>,
// {tenantid}, <Tenant ID>...
var tenantForms = regexp.MustCompile(`(?i)[{<]\s*tenant\s*_?id\s*[}>]`)

// legacy lists Intune formats hellomdm recognises but does not import.
var legacy = map[string]string{
	"#microsoft.graph.windows10GeneralConfiguration":            "device restrictions template",
	"#microsoft.graph.windowsIdentityProtectionConfiguration":   "identity protection template",
	"#microsoft.graph.groupPolicyConfiguration":                 "administrative templates (group policy/ADMX)",
	"#microsoft.graph.windows10EndpointProtectionConfiguration": "endpoint protection template",
	"#microsoft.graph.deviceManagementIntent":                   "security baseline / endpoint security intent",
}

// Parser turns Intune profile JSON into model.Profile, validating every setting against the
// CSP catalog. It is safe for concurrent use.
type Parser struct {
	cat  *csp.Catalog
	byID map[string]defRef
}

type defRef struct {
	node  *csp.Node
	scope csp.Scope
}

// NewParser indexes the catalog's settings-catalog ids, including the ids of interior nodes
// (e.g. device_vendor_msft_passportforwork_{tenantid}, a group setting in Intune).
func NewParser(cat *csp.Catalog) *Parser {
	p := &Parser{cat: cat, byID: map[string]defRef{}}
	for _, n := range cat.Nodes() {
		for _, s := range n.Scopes {
			if id, ok := definitionID(n.Path, s); ok {
				p.byID[id] = defRef{n, s}
			}
		}
		for _, id := range n.SettingDefinitionIDs {
			if _, sc, ok := cat.BySettingDefinitionID(id); ok {
				p.byID[strings.ToLower(id)] = defRef{n, sc}
			}
		}
	}
	return p
}

// definitionID derives Intune's id of a node: scope, then the path in lower case with "/"
// replaced by "_".
func definitionID(path string, s csp.Scope) (string, bool) {
	tail := strings.ToLower(strings.ReplaceAll(path, "/", "_"))
	switch s {
	case csp.ScopeDevice:
		return "device_" + tail, true
	case csp.ScopeUser:
		return "user_" + tail, true
	}
	return "", false
}

func scopePrefix(s csp.Scope) string {
	if s == csp.ScopeUser {
		return "./User/"
	}
	return "./Device/"
}

// header is the part common to both shapes.
type header struct {
	Type         string          `json:"@odata.type"`
	Name         string          `json:"name"`
	DisplayName  string          `json:"displayName"`
	Description  string          `json:"description"`
	Platforms    string          `json:"platforms"`
	Technologies string          `json:"technologies"`
	ScopeTags    []string        `json:"roleScopeTagIds"`
	Settings     json.RawMessage `json:"settings"`
	OMASettings  json.RawMessage `json:"omaSettings"`
}

// ParseProfile decodes and validates a settings-catalog or custom OMA-URI profile. The
// result carries Kind, Name, Description, ScopeTags, Raw (the input, verbatim) and Settings;
// the caller sets TenantID and ID. Errors are *ValidationError.
func (p *Parser) ParseProfile(raw []byte) (model.Profile, error) {
	return p.ParseTenantProfile(raw, "")
}

// ParseTenantProfile is ParseProfile for a profile of a known tenant: errors that concern
// the tenant's ID (a literal TenantId segment) name it.
func (p *Parser) ParseTenantProfile(raw []byte, tenantID string) (model.Profile, error) {
	if len(raw) > MaxProfileBytes {
		return model.Profile{}, &ValidationError{Message: fmt.Sprintf("profile larger than %d bytes", MaxProfileBytes), Err: ErrMalformed}
	}
	var h header
	if err := json.Unmarshal(raw, &h); err != nil {
		return model.Profile{}, &ValidationError{Message: "not a JSON object: " + err.Error(), Err: ErrMalformed}
	}
	kind := ""
	switch {
	case strings.EqualFold(h.Type, typeSettingsCatalog):
		kind = model.ProfileSettingsCatalog
	case strings.EqualFold(h.Type, typeCustom):
		kind = model.ProfileCustom
	case h.Type != "":
		what := "an Intune format hellomdm does not import"
		if l, ok := legacy[h.Type]; ok {
			what = "a legacy Intune " + l
		}
		return model.Profile{}, &ValidationError{Err: ErrUnsupportedFormat, Message: fmt.Sprintf(
			"unsupported format %s (%s): export it as a settings catalog policy (%s) or a custom OMA-URI profile (%s)",
			h.Type, what, typeSettingsCatalog, typeCustom)}
	case h.Settings != nil && h.OMASettings == nil:
		kind = model.ProfileSettingsCatalog // Graph GET responses omit @odata.type
	case h.OMASettings != nil && h.Settings == nil:
		kind = model.ProfileCustom
	default:
		return model.Profile{}, &ValidationError{Err: ErrUnsupportedFormat,
			Message: "unsupported format: no @odata.type, and not exactly one of settings (settings catalog) or omaSettings (custom OMA-URI)"}
	}
	prof := model.Profile{Kind: kind, Description: h.Description, ScopeTags: h.ScopeTags, Raw: append(json.RawMessage(nil), raw...)}
	if len(prof.ScopeTags) == 0 {
		prof.ScopeTags = []string{DefaultScopeTag}
	}
	var err error
	if kind == model.ProfileSettingsCatalog {
		prof.Name = h.Name
		if h.Platforms != "" && !strings.EqualFold(h.Platforms, "windows10") {
			return model.Profile{}, &ValidationError{Err: ErrUnsupportedFormat, Message: fmt.Sprintf("platforms %q: only windows10 is supported", h.Platforms)}
		}
		if h.Technologies != "" && !strings.Contains(strings.ToLower(h.Technologies), "mdm") {
			return model.Profile{}, &ValidationError{Err: ErrUnsupportedFormat, Message: fmt.Sprintf("technologies %q: only mdm is supported", h.Technologies)}
		}
		prof.Settings, err = p.catalogSettings(h.Settings)
	} else {
		prof.Name = h.DisplayName
		prof.Settings, err = p.customSettings(h.OMASettings, tenantID)
	}
	if err != nil {
		return model.Profile{}, err
	}
	if strings.TrimSpace(prof.Name) == "" {
		return model.Profile{}, &ValidationError{Message: "the profile has no name", Err: ErrMalformed}
	}
	if len(prof.Settings) == 0 {
		return model.Profile{}, &ValidationError{Message: "the profile has no settings", Err: ErrMalformed}
	}
	return prof, nil
}

type rawSetting struct {
	Instance *rawInstance `json:"settingInstance"`
}

type rawInstance struct {
	Type             string          `json:"@odata.type"`
	DefinitionID     string          `json:"settingDefinitionId"`
	Choice           *rawChoice      `json:"choiceSettingValue"`
	Simple           *rawSimple      `json:"simpleSettingValue"`
	GroupCollection  []rawGroupValue `json:"groupSettingCollectionValue"`
	Group            *rawGroupValue  `json:"groupSettingValue"`
	SimpleCollection []rawSimple     `json:"simpleSettingCollectionValue"`
}

type rawChoice struct {
	Value    string        `json:"value"`
	Children []rawInstance `json:"children"`
}

type rawSimple struct {
	Type  string          `json:"@odata.type"`
	Value json.RawMessage `json:"value"`
}

type rawGroupValue struct {
	Children []rawInstance `json:"children"`
}

// catalogWalk carries state through the setting instances of one settings-catalog profile.
type catalogWalk struct {
	p    *Parser
	out  []model.ProfileSetting
	seen map[string]bool // definition ids of leaves already set
}

func (p *Parser) catalogSettings(raw json.RawMessage) ([]model.ProfileSetting, error) {
	var settings []rawSetting
	if err := json.Unmarshal(raw, &settings); err != nil {
		return nil, &ValidationError{Message: "settings is not a list of settings: " + err.Error(), Err: ErrMalformed}
	}
	w := &catalogWalk{p: p, seen: map[string]bool{}}
	for i, s := range settings {
		if s.Instance == nil {
			return nil, &ValidationError{Message: fmt.Sprintf("settings[%d] has no settingInstance", i), Err: ErrMalformed}
		}
		if err := w.instance(*s.Instance, nil, 0); err != nil {
			return nil, err
		}
	}
	return w.out, nil
}

// instance validates one setting instance inside the group instance of node group (nil at
// top level).
func (w *catalogWalk) instance(in rawInstance, group *defRef, depth int) error {
	id := strings.TrimSpace(in.DefinitionID)
	if depth > maxDepth {
		return invalid(id, "settings nested deeper than %d levels", maxDepth)
	}
	if id == "" {
		return &ValidationError{Message: "a setting instance has no settingDefinitionId", Err: ErrMalformed}
	}
	ref, ok := w.p.byID[strings.ToLower(id)]
	if !ok {
		return invalid(id, "unknown settingDefinitionId: not in hellomdm's catalog")
	}
	if group != nil {
		if ref.scope != group.scope || !strings.HasPrefix(ref.node.Path, group.node.Path+"/") {
			gid, _ := definitionID(group.node.Path, group.scope)
			return invalid(id, "is not a child of group setting %s", gid)
		}
	} else if anc := groupAncestor(w.p.cat, ref.node); anc != nil {
		gid, _ := definitionID(anc.Path, ref.scope)
		return invalid(id, "child setting without its parent group: put it in the children of %s", gid)
	}
	switch {
	case strings.EqualFold(in.Type, typeGroupCollection) || strings.EqualFold(in.Type, typeGroup):
		if !ref.node.Interior() {
			return invalid(id, "wrong type: a %s setting, not a group", ref.node.Format)
		}
		values := in.GroupCollection
		if in.Group != nil {
			values = append(values, *in.Group)
		}
		if len(values) == 0 {
			return invalid(id, "group setting without values")
		}
		for _, v := range values {
			for _, c := range v.Children {
				if err := w.instance(c, &ref, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	case ref.node.Interior():
		return invalid(id, "wrong type: a group setting needs %s", typeGroupCollection)
	}
	if ref.node.ReadOnly || !ref.node.Access.Has(csp.AccessReplace) && !ref.node.Access.Has(csp.AccessAdd) {
		return invalid(id, "the node is read-only")
	}
	value, format, err := w.leafValue(id, in, ref)
	if err != nil {
		return err
	}
	if w.seen[strings.ToLower(id)] {
		return invalid(id, "set twice: the setting takes a single value")
	}
	w.seen[strings.ToLower(id)] = true
	uri := scopePrefix(ref.scope) + ref.node.Path
	norm, err := w.p.check(id, uri, format, value)
	if err != nil {
		return err
	}
	if len(w.out) >= MaxSettings {
		return invalid(id, "more than %d settings in one profile", MaxSettings)
	}
	w.out = append(w.out, model.ProfileSetting{DefinitionID: id, Name: id, LocURI: uri, Format: string(format), Value: norm})
	if in.Choice != nil {
		for _, c := range in.Choice.Children {
			if err := w.instance(c, group, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// groupAncestor is the nearest ancestor of n with a dynamic name (e.g.
// PassportForWork/{TenantId}): Intune nests n's setting in that node's group setting.
func groupAncestor(cat *csp.Catalog, n *csp.Node) *csp.Node {
	for p := n.Parent(); p != ""; {
		a, ok := cat.Node(p)
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

// leafValue extracts the value of a choice, simple or simple-collection instance.
func (w *catalogWalk) leafValue(id string, in rawInstance, ref defRef) (string, csp.Format, error) {
	n := ref.node
	switch {
	case strings.EqualFold(in.Type, typeChoice):
		if in.Choice == nil {
			return "", "", invalid(id, "choice setting without choiceSettingValue")
		}
		v := strings.TrimSpace(in.Choice.Value)
		if len(v) <= len(id)+1 || !strings.EqualFold(v[:len(id)+1], id+"_") {
			return "", "", invalid(id, "choice value %q is not %s_<option>", clip(v), id)
		}
		opt := v[len(id)+1:]
		switch n.Format {
		case csp.FormatBool:
			if !strings.EqualFold(opt, "true") && !strings.EqualFold(opt, "false") {
				return "", "", invalid(id, "value not allowed: option %q, want %s_true or %s_false", opt, id, id)
			}
			return strings.ToLower(opt), csp.FormatBool, nil
		case csp.FormatInt:
			return opt, csp.FormatInt, nil
		case csp.FormatChr:
			for _, a := range n.Allowed {
				if strings.EqualFold(a, opt) {
					return a, csp.FormatChr, nil
				}
			}
			return "", "", invalid(id, "wrong type: a chr setting without a list of options takes a simple value")
		}
		return "", "", invalid(id, "wrong type: a %s setting is not a choice", n.Format)
	case n.Format == csp.FormatBool:
		return "", "", invalid(id, "wrong type: a bool setting needs %s", typeChoice)
	case strings.EqualFold(in.Type, typeSimple):
		if in.Simple == nil {
			return "", "", invalid(id, "simple setting without simpleSettingValue")
		}
		return simpleValue(id, *in.Simple, n.Format)
	case strings.EqualFold(in.Type, typeSimpleColl):
		if n.ListSep == "" {
			return "", "", invalid(id, "wrong type: the setting takes one value, not a collection")
		}
		var parts []string
		for _, s := range in.SimpleCollection {
			v, _, err := simpleValue(id, s, n.Format)
			if err != nil {
				return "", "", err
			}
			parts = append(parts, v)
		}
		if len(parts) == 0 {
			return "", "", invalid(id, "empty collection")
		}
		return strings.Join(parts, n.ListSep), n.Format, nil
	}
	return "", "", invalid(id, "unsupported setting instance type %q", in.Type)
}

func simpleValue(id string, s rawSimple, f csp.Format) (string, csp.Format, error) {
	switch {
	case strings.EqualFold(s.Type, typeIntegerValue):
		if f != csp.FormatInt {
			return "", "", invalid(id, "wrong type: integer value for a %s setting", f)
		}
		n, err := jsonInt(s.Value)
		if err != nil {
			return "", "", invalid(id, "wrong type: %v", err)
		}
		return n, f, nil
	case strings.EqualFold(s.Type, typeStringValue) || s.Type == "":
		if f == csp.FormatInt {
			return "", "", invalid(id, "wrong type: string value for an int setting")
		}
		var v string
		if err := json.Unmarshal(s.Value, &v); err != nil {
			return "", "", invalid(id, "wrong type: value is not a string")
		}
		return v, f, nil
	}
	return "", "", invalid(id, "unsupported value type %q", s.Type)
}

func jsonInt(raw json.RawMessage) (string, error) {
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", errors.New("value is not an integer")
		}
		n = json.Number(strings.TrimSpace(s))
	}
	i, err := strconv.ParseInt(string(n), 10, 32)
	if err != nil {
		return "", fmt.Errorf("value %q is not a 32-bit integer", clip(string(n)))
	}
	return strconv.FormatInt(i, 10), nil
}

// check validates value against the catalog node of uri (which may hold {TenantId}) and
// returns it normalised.
func (p *Parser) check(setting, uri string, format csp.Format, value string) (string, error) {
	m, ok := p.cat.Lookup(strings.ReplaceAll(uri, TenantPlaceholder, probeTenant))
	if !ok {
		return "", invalid(setting, "node %s is not in the catalog", uri)
	}
	norm, err := p.cat.ValidateValue(m, format, value)
	if err != nil {
		var ne *csp.NodeError
		if errors.As(err, &ne) {
			return "", invalid(setting, "%v: %s", ne.Err, ne.Reason)
		}
		return "", invalid(setting, "%v", err)
	}
	return norm, nil
}

type rawOMA struct {
	Type        string          `json:"@odata.type"`
	DisplayName string          `json:"displayName"`
	URI         string          `json:"omaUri"`
	Value       json.RawMessage `json:"value"`
	IsEncrypted bool            `json:"isEncrypted"`
}

func (p *Parser) customSettings(raw json.RawMessage, tenantID string) ([]model.ProfileSetting, error) {
	var oma []rawOMA
	if err := json.Unmarshal(raw, &oma); err != nil {
		return nil, &ValidationError{Message: "omaSettings is not a list of OMA settings: " + err.Error(), Err: ErrMalformed}
	}
	if len(oma) > MaxSettings {
		return nil, invalid("", "more than %d settings in one profile", MaxSettings)
	}
	seen := map[string]bool{}
	var out []model.ProfileSetting
	for _, o := range oma {
		s, err := p.customSetting(o, tenantID)
		if err != nil {
			return nil, err
		}
		if seen[s.LocURI] {
			return nil, invalid(s.Name, "node %s is set twice in the profile", s.LocURI)
		}
		seen[s.LocURI] = true
		out = append(out, s)
	}
	return out, nil
}

func (p *Parser) customSetting(o rawOMA, tenantID string) (model.ProfileSetting, error) {
	name := strings.TrimSpace(o.DisplayName)
	if name == "" {
		name = o.URI
	}
	if o.IsEncrypted {
		return model.ProfileSetting{}, invalid(name, "encrypted values cannot be imported: export the profile with its values in clear")
	}
	uri, err := normURI(o.URI)
	if err != nil {
		return model.ProfileSetting{}, invalid(name, "%v", err)
	}
	format, value, err := omaValue(name, o)
	if err != nil {
		return model.ProfileSetting{}, err
	}
	probe := strings.ReplaceAll(uri, TenantPlaceholder, probeTenant)
	if p.cat.InKnownCSP(probe) || misplaced(probe) {
		m, ok := p.cat.Lookup(probe)
		if !ok {
			if e := p.literalTenant(name, uri, tenantID); e != nil {
				return model.ProfileSetting{}, e
			}
			e := invalid(name, "node %s does not exist in this CSP", uri)
			if s, ok := p.cat.Suggest(probe); ok {
				e.Suggestion = strings.ReplaceAll(s, probeTenant, TenantPlaceholder)
			}
			return model.ProfileSetting{}, e
		}
		n := m.Node
		if n.ReadOnly || n.Interior() {
			return model.ProfileSetting{}, invalid(name, "node %s cannot be set (read-only or interior node)", uri)
		}
		if n.Format == csp.FormatBool && format == csp.FormatChr {
			format = csp.FormatBool // "true" typed as a string for a bool node
		}
		if value, err = p.check(name, uri, format, value); err != nil {
			return model.ProfileSetting{}, err
		}
	}
	return model.ProfileSetting{Name: name, LocURI: uri, Format: string(format), Value: value}, nil
}

// literalTenantSegment is the placeholder written without its braces, as the PassportForWork
// CSP documentation prints it ("./Device/Vendor/MSFT/PassportForWork/TenantId/Policies/...").
var literalTenantSegment = regexp.MustCompile(`(?i)^tenant_?id$`)

// literalTenant explains a URI that names the literal segment TenantId where the CSP expects
// the tenant's ID (PassportForWork CSP: "TenantId ... the Microsoft Entra tenant ID"), with
// the corrected URI as the suggestion; nil when the URI has no such mistake.
func (p *Parser) literalTenant(setting, uri, tenantID string) *ValidationError {
	segs := strings.Split(uri, "/")
	found := false
	for i, seg := range segs {
		if literalTenantSegment.MatchString(seg) {
			segs[i], found = probeTenant, true
		}
	}
	if !found {
		return nil
	}
	if _, ok := p.cat.Lookup(strings.Join(segs, "/")); !ok {
		return nil
	}
	id, yours := tenantID, "your tenant ID ("+tenantID+")"
	if tenantID == "" {
		id, yours = TenantPlaceholder, "your tenant ID"
	}
	e := invalid(setting, "node %s has the literal segment TenantId: replace TenantId with %s", uri, yours)
	e.Suggestion = strings.ReplaceAll(strings.Join(segs, "/"), probeTenant, id)
	return e
}

// TenantWarnings returns a warning for each setting whose LocURI names a tenant other than
// tenantID in a {TenantId} segment (PassportForWork/<GUID>/...). Windows applies the
// PassportForWork policies of a tenant ID only on devices joined to that tenant
// (PassportForWork CSP, "TenantId"), so such a setting is written to this tenant's devices
// but can never take effect there. hellomdm accepts it (the node does exist and is written
// and read back as the setting states say) and says so in the answer instead of refusing:
// a URI may name a tenant on purpose, e.g. during a tenant migration.
func (p *Parser) TenantWarnings(settings []model.ProfileSetting, tenantID string) []string {
	var out []string
	for _, s := range settings {
		if strings.Contains(s.LocURI, TenantPlaceholder) {
			continue
		}
		m, ok := p.cat.Lookup(s.LocURI)
		if !ok {
			continue
		}
		other, ok := m.Vars["TenantId"]
		if !ok || strings.EqualFold(other, tenantID) {
			continue
		}
		fixed := strings.Replace(s.LocURI, "/"+other+"/", "/"+TenantPlaceholder+"/", 1)
		out = append(out, fmt.Sprintf("setting %s: %s names tenant %s, not this tenant (%s): Windows applies it only on devices of tenant %s, never on this tenant's; write %s (or %s) to target this tenant",
			s.Name, s.LocURI, other, tenantID, other, fixed, strings.Replace(fixed, TenantPlaceholder, tenantID, 1)))
	}
	return out
}

// misplaced reports whether a URI the catalog does not cover is still a mistake in a CSP
// whose shape is known: a Policy CSP path whose branch is not Config, Result or
// ConfigOperations (policy-configuration-service-provider), or a catalogued CSP's name below
// another CSP (e.g. ./Device/Vendor/MSFT/Policy/PassportForWork/..., as printed on the PIN
// reset documentation page).
func misplaced(uri string) bool {
	rest, ok := strings.CutPrefix(uri, "./Device/Vendor/MSFT/")
	if !ok {
		if rest, ok = strings.CutPrefix(uri, "./User/Vendor/MSFT/"); !ok {
			return false
		}
	}
	segs := strings.Split(rest, "/")
	if segs[0] == "Policy" && len(segs) > 1 {
		switch segs[1] {
		case "Config", "Result", "ConfigOperations":
		default:
			return true
		}
	}
	for _, s := range segs[1:] {
		switch s {
		case "PassportForWork", "DMClient", "CertificateStore":
			return true
		}
	}
	return false
}

// normURI checks an admin-typed OMA-URI, turns its tenant placeholders into {TenantId} and
// returns it canonical.
func normURI(raw string) (string, error) {
	u := tenantForms.ReplaceAllString(strings.TrimSpace(raw), TenantPlaceholder)
	switch {
	case u == "":
		return "", errors.New("empty omaUri")
	case len(u) > maxURILen:
		return "", fmt.Errorf("omaUri longer than %d bytes", maxURILen)
	case !strings.HasPrefix(u, "./") || len(u) < 3:
		return "", fmt.Errorf("omaUri %q must start with ./", clip(u))
	}
	u = csp.Canonical(u)
	for _, seg := range strings.Split(u[2:], "/") {
		if seg == "" {
			return "", fmt.Errorf("omaUri %q has an empty segment", clip(u))
		}
		if seg == "." || seg == ".." {
			return "", fmt.Errorf("omaUri %q has a relative segment", clip(u))
		}
	}
	for _, r := range u {
		if r < ' ' || r == 0x7f || r == '?' || r == '#' || r == ' ' {
			return "", fmt.Errorf("omaUri %q contains %q", clip(u), r)
		}
	}
	return u, nil
}

// omaValue maps an omaSetting type to a Meta Format and the value as sent (MS-MDM 2.2.7;
// OMA DM TND formats).
func omaValue(name string, o rawOMA) (csp.Format, string, error) {
	kind := strings.TrimPrefix(o.Type, omaPrefix)
	if len(o.Value) == 0 || string(o.Value) == "null" {
		return "", "", invalid(name, "no value")
	}
	str := func() (string, bool) {
		var s string
		return s, json.Unmarshal(o.Value, &s) == nil
	}
	switch {
	case !strings.HasPrefix(o.Type, omaPrefix):
		return "", "", invalid(name, "unsupported OMA setting type %q", o.Type)
	case kind == "Boolean":
		var b bool
		if json.Unmarshal(o.Value, &b) == nil {
			return csp.FormatBool, strconv.FormatBool(b), nil
		}
		if s, ok := str(); ok && (strings.EqualFold(strings.TrimSpace(s), "true") || strings.EqualFold(strings.TrimSpace(s), "false")) {
			return csp.FormatBool, strings.ToLower(strings.TrimSpace(s)), nil
		}
		return "", "", invalid(name, "wrong type: a Boolean setting needs true or false")
	case kind == "Integer":
		n, err := jsonInt(o.Value)
		if err != nil {
			return "", "", invalid(name, "wrong type: %v", err)
		}
		return csp.FormatInt, n, nil
	case kind == "FloatingPoint":
		var f float64
		if json.Unmarshal(o.Value, &f) != nil {
			return "", "", invalid(name, "wrong type: a FloatingPoint setting needs a number")
		}
		return "float", strconv.FormatFloat(f, 'g', -1, 64), nil
	case kind == "String":
		s, ok := str()
		if !ok {
			return "", "", invalid(name, "wrong type: a String setting needs a string")
		}
		return csp.FormatChr, s, nil
	case kind == "DateTime":
		// Intune sends date-time OMA settings as chr holding ISO 8601 [?: not confirmed].
		s, ok := str()
		if _, err := time.Parse(time.RFC3339, s); !ok || err != nil {
			return "", "", invalid(name, "wrong type: a DateTime setting needs an ISO 8601 date-time")
		}
		return csp.FormatChr, s, nil
	case kind == "Base64":
		s, ok := str()
		if _, err := base64.StdEncoding.DecodeString(s); !ok || err != nil {
			return "", "", invalid(name, "wrong type: a Base64 setting needs base64 data")
		}
		return csp.FormatB64, s, nil
	case kind == "StringXml":
		// Graph carries the XML file base64-encoded; the device receives the XML text as chr,
		// as Intune's "String (XML file)" does [?: not confirmed].
		s, ok := str()
		x, err := base64.StdEncoding.DecodeString(s)
		if !ok || err != nil {
			return "", "", invalid(name, "wrong type: a StringXml setting needs the XML file in base64")
		}
		return csp.FormatChr, string(x), nil
	}
	return "", "", invalid(name, "unsupported OMA setting type %q", o.Type)
}

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

type rawAssignments struct {
	Assignments []rawAssignment `json:"assignments"`
	Value       []rawAssignment `json:"value"` // a Graph GET .../assignments response
}

type rawAssignment struct {
	Target struct {
		Type    string `json:"@odata.type"`
		GroupID string `json:"groupId"`
	} `json:"target"`
}

// ParseAssignments decodes Intune's assign body {"assignments":[{"target":{...}}]} (or a
// Graph list response {"value":[...]}). Errors are *ValidationError.
func ParseAssignments(raw []byte) ([]model.Assignment, error) {
	var ra rawAssignments
	if err := json.Unmarshal(raw, &ra); err != nil {
		return nil, &ValidationError{Message: "not an assignments object: " + err.Error(), Err: ErrMalformed}
	}
	list := append(ra.Assignments, ra.Value...)
	out := make([]model.Assignment, 0, len(list))
	seen := map[model.Assignment]bool{}
	for i, a := range list {
		t := strings.TrimSpace(a.Target.Type)
		var as model.Assignment
		switch {
		case strings.EqualFold(t, model.TargetGroup), strings.EqualFold(t, model.TargetExclusionGroup):
			if strings.TrimSpace(a.Target.GroupID) == "" {
				return nil, &ValidationError{Message: fmt.Sprintf("assignments[%d]: %s needs a groupId", i, t), Err: ErrInvalidAssignment}
			}
			as = model.Assignment{Target: model.TargetGroup, GroupID: strings.TrimSpace(a.Target.GroupID)}
			if strings.EqualFold(t, model.TargetExclusionGroup) {
				as.Target = model.TargetExclusionGroup
			}
		case strings.EqualFold(t, model.TargetAllDevices):
			as = model.Assignment{Target: model.TargetAllDevices}
		case strings.EqualFold(t, model.TargetAllLicensedUsers):
			as = model.Assignment{Target: model.TargetAllLicensedUsers}
		default:
			return nil, &ValidationError{Message: fmt.Sprintf("assignments[%d]: unsupported target %q", i, t), Err: ErrInvalidAssignment}
		}
		if !seen[as] {
			seen[as] = true
			out = append(out, as)
		}
	}
	return out, nil
}

// MarshalAssignments encodes assignments in Intune's assign body shape, for exports.
func MarshalAssignments(as []model.Assignment) ([]byte, error) {
	type target struct {
		Type    string `json:"@odata.type"`
		GroupID string `json:"groupId,omitempty"`
	}
	type item struct {
		Target target `json:"target"`
	}
	out := struct {
		Assignments []item `json:"assignments"`
	}{Assignments: []item{}}
	for _, a := range as {
		out.Assignments = append(out.Assignments, item{Target: target{Type: a.Target, GroupID: a.GroupID}})
	}
	return json.Marshal(out)
}
