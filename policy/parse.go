package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// jsonInt reads an integer value, as a JSON number or a string holding one, as the decimal
// text of a 32-bit integer.
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

// clip shortens a value quoted in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
