package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hellomdm/hellomdm/policy/model"
)

// TenantPlaceholder stands for the tenant's ID in stored LocURIs until resolution.
const TenantPlaceholder = "{TenantId}"

// probeTenant replaces the placeholder when a LocURI is checked against the catalog, whose
// {TenantId} segments accept only GUIDs.
const probeTenant = "00000000-0000-0000-0000-000000000000"

// tenantForms matches the placeholder spellings admins type: {TenantId}, <TenantId>,
// {tenantid}, <Tenant ID>...
var tenantForms = regexp.MustCompile(`(?i)[{<]\s*tenant\s*_?id\s*[}>]`)

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
