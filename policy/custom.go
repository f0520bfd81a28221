package policy

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

// rawOMA is one omaSetting of a custom OMA-URI profile (windows10CustomConfiguration).
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
	case len(u)+strings.Count(u, TenantPlaceholder)*(len("00000000-0000-0000-0000-000000000000")-len(TenantPlaceholder)) > maxURILen:
		// Delivered, each {TenantId} is the tenant's GUID: the LocURI a device's setting
		// state is stored under (store: at most MaxIDLen bytes) must fit.
		return "", fmt.Errorf("omaUri longer than %d bytes once {TenantId} is filled in", maxURILen)
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
