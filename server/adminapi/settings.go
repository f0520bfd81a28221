package adminapi

import (
	"net/http"
	"strings"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// The settings catalog as Intune's settings picker searches it (Graph's
// deviceManagement/configurationSettings and configurationCategories): every setting a
// settings catalog profile may set, with what a client needs to build the setting instance
// (its value kind, options and group setting). The catalog is the same for every tenant; the
// routes are under the tenant so that a tenant's reader may search it.

// Value kinds of wire.SettingDefinition.
const (
	valueChoice     = "choice"
	valueInteger    = "integer"
	valueString     = "string"
	valueCollection = "stringCollection"
)

func settingDefinitionView(s csp.Setting) wire.SettingDefinition {
	n := s.Node
	v := wire.SettingDefinition{ID: s.ID, DisplayName: s.Name, CategoryName: s.Category, Description: n.Description,
		LocURI: s.LocURI(), Format: string(n.Format), Minimum: n.Min, Maximum: n.Max, DefaultValue: n.Default,
		MinimumOS: n.MinOS, GroupSettingDefinitionID: s.GroupID}
	option := func(o string) {
		v.Options = append(v.Options, wire.SettingOption{ItemID: s.ID + "_" + strings.ToLower(o), DisplayName: o})
	}
	switch {
	case n.Format == csp.FormatBool:
		v.ValueKind = valueChoice
		option("false")
		option("true")
	case len(n.Allowed) > 0:
		// The parser matches an option case-insensitively (policy.catalogWalk.leafValue).
		v.ValueKind = valueChoice
		for _, a := range n.Allowed {
			option(a)
		}
	case n.Format == csp.FormatInt:
		v.ValueKind = valueInteger
	case n.ListSep != "":
		v.ValueKind = valueCollection
	default:
		v.ValueKind = valueString
	}
	return v
}

func (h *policyAPI) searchSettings(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.s.tenantOf(w, r); !ok {
		return
	}
	q := r.URL.Query()
	out := []wire.SettingDefinition{}
	for _, s := range h.cat.SearchSettings(q.Get("search"), q.Get("category")) {
		out = append(out, settingDefinitionView(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (h *policyAPI) settingCategories(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.s.tenantOf(w, r); !ok {
		return
	}
	out := []wire.SettingCategory{}
	for _, c := range h.cat.SettingCategories() {
		out = append(out, wire.SettingCategory{DisplayName: c})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}
