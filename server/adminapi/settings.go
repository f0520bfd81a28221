package adminapi

import (
	"net/http"
	"strings"

	"github.com/hellomdm/hellomdm/csp"
)

// The settings catalog as Intune's settings picker searches it (Graph's
// deviceManagement/configurationSettings and configurationCategories): every setting a
// settings catalog profile may set, with what a client needs to build the setting instance
// (its value kind, options and group setting). The catalog is the same for every tenant; the
// routes are under the tenant so that a tenant's reader may search it.

// SettingDefinitionView is one setting of the catalog.
type SettingDefinitionView struct {
	// ID is the settingDefinitionId a profile's setting instance names.
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	// CategoryName is the picker's category ("Windows Hello For Business").
	CategoryName string `json:"categoryName"`
	Description  string `json:"description,omitempty"`
	// LocURI is the node's OMA-URI pattern ({TenantId}: the tenant's ID on delivery).
	LocURI string `json:"locUri"`
	Format string `json:"format"` // bool, int or chr
	// ValueKind is the setting instance a profile uses: choice (options), integer (a simple
	// integer value), string (a simple string value) or stringCollection (a simple setting
	// collection, joined with the node's list separator on delivery).
	ValueKind    string              `json:"valueKind"`
	Options      []SettingOptionView `json:"options,omitempty"`
	Minimum      *int                `json:"minimum,omitempty"`
	Maximum      *int                `json:"maximum,omitempty"`
	DefaultValue string              `json:"defaultValue,omitempty"`
	MinimumOS    string              `json:"minimumSupportedVersion,omitempty"`
	// GroupSettingDefinitionID is the group setting (a groupSettingCollectionInstance) the
	// setting's instance must be a child of, e.g. device_vendor_msft_passportforwork_{tenantid};
	// "" for a top-level setting.
	GroupSettingDefinitionID string `json:"groupSettingDefinitionId,omitempty"`
}

// SettingOptionView is one option of a choice setting: itemId is the choiceSettingValue's
// value.
type SettingOptionView struct {
	ItemID      string `json:"itemId"`
	DisplayName string `json:"displayName"`
}

// SettingCategoryView is one category of the catalog.
type SettingCategoryView struct {
	DisplayName string `json:"displayName"`
}

// Value kinds of SettingDefinitionView.
const (
	valueChoice     = "choice"
	valueInteger    = "integer"
	valueString     = "string"
	valueCollection = "stringCollection"
)

func settingDefinitionView(s csp.Setting) SettingDefinitionView {
	n := s.Node
	v := SettingDefinitionView{ID: s.ID, DisplayName: s.Name, CategoryName: s.Category, Description: n.Description,
		LocURI: s.LocURI(), Format: string(n.Format), Minimum: n.Min, Maximum: n.Max, DefaultValue: n.Default,
		MinimumOS: n.MinOS, GroupSettingDefinitionID: s.GroupID}
	option := func(o string) {
		v.Options = append(v.Options, SettingOptionView{ItemID: s.ID + "_" + strings.ToLower(o), DisplayName: o})
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
	out := []SettingDefinitionView{}
	for _, s := range h.cat.SearchSettings(q.Get("search"), q.Get("category")) {
		out = append(out, settingDefinitionView(s))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (h *policyAPI) settingCategories(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.s.tenantOf(w, r); !ok {
		return
	}
	out := []SettingCategoryView{}
	for _, c := range h.cat.SettingCategories() {
		out = append(out, SettingCategoryView{DisplayName: c})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}
