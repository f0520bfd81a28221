package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// A profile being created or edited in the console's wizard (profiles_wizard.go). The wizard
// works without JavaScript: every step is a server-rendered form, and the draft travels
// between steps in the hidden field "draft" as JSON. Nothing is written until Review +
// create, where the draft becomes Intune JSON and goes through the admin API like an import:
// the API validates it (a tampered draft is refused there as any bad import is).

// Profile kinds of the wizard.
const (
	kindCatalog = "catalog"
	kindCustom  = "custom"
)

// draft is the wizard's state.
type draft struct {
	Kind        string         `json:"kind"`
	EditID      string         `json:"editId,omitempty"` // the profile edited; "" creates one
	Name        string         `json:"name"`
	Description string         `json:"description"`
	Settings    []draftSetting `json:"settings,omitempty"` // settings catalog
	Rows        []customRow    `json:"rows,omitempty"`     // custom OMA-URI
	ScopeTags   string         `json:"scopeTags"`          // comma-separated
	Include     []string       `json:"include,omitempty"`  // group IDs
	Exclude     []string       `json:"exclude,omitempty"`
	AllDevices  bool           `json:"allDevices,omitempty"`
	AllUsers    bool           `json:"allUsers,omitempty"`
}

// draftSetting is one settings-catalog setting chosen in the picker, with what the form
// needs to show its value control and the document needs to build its instance.
type draftSetting struct {
	ID       string               `json:"id"`
	Name     string               `json:"name"`
	Category string               `json:"category"`
	Kind     string               `json:"kind"` // choice, integer, string, stringCollection
	Group    string               `json:"group,omitempty"`
	Options  []wire.SettingOption `json:"options,omitempty"`
	Value    string               `json:"value"` // choice: the itemId
	Hint     string               `json:"hint,omitempty"`
	Err      string               `json:"-"`
}

// customRow is one OMA-URI row of a custom profile.
type customRow struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	URI         string `json:"omaUri"`
	Type        string `json:"type"` // a key of omaTypes
	Value       string `json:"value"`
	Err         string `json:"-"`
	Suggestion  string `json:"-"`
}

// omaTypes are the data types of Intune's custom OMA-URI rows, by the @odata.type suffix.
var omaTypes = []struct{ Key, Label string }{
	{"String", "String"},
	{"Integer", "Integer"},
	{"Boolean", "Boolean"},
	{"FloatingPoint", "Floating point"},
	{"DateTime", "Date and time"},
	{"Base64", "Base64"},
	{"StringXml", "String (XML)"},
}

func (d draft) encode() string {
	b, _ := json.Marshal(d)
	return string(b)
}

func decodeDraft(s string) (draft, error) {
	var d draft
	if s == "" {
		return d, errors.New("the form lost its draft: start again")
	}
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return d, errors.New("the form's draft is not readable: start again")
	}
	if d.Kind != kindCatalog && d.Kind != kindCustom {
		return d, errors.New("the form's draft has no profile type: start again")
	}
	return d, nil
}

// scopeTags splits the comma-separated scope tags; none is Intune's Default ("0").
func (d draft) scopeTags() []string {
	var out []string
	for _, t := range strings.Split(d.ScopeTags, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []string{"0"}
	}
	return out
}

// assignments are the draft's targets in Graph's shape.
func (d draft) assignments() []wire.Assignment {
	var out []wire.Assignment
	add := func(typ, gid string) {
		out = append(out, wire.Assignment{Target: wire.AssignmentTarget{Type: typ, GroupID: gid}})
	}
	if d.AllDevices {
		add(wire.TargetAllDevices, "")
	}
	if d.AllUsers {
		add(wire.TargetAllUsers, "")
	}
	for _, g := range d.Include {
		add(wire.TargetGroup, g)
	}
	for _, g := range d.Exclude {
		add(wire.TargetExclusion, g)
	}
	return out
}

// Intune JSON types a settings catalog document uses (Microsoft Graph beta).
const (
	odataPolicy       = "#microsoft.graph.deviceManagementConfigurationPolicy"
	odataCustom       = "#microsoft.graph.windows10CustomConfiguration"
	odataSetting      = "#microsoft.graph.deviceManagementConfigurationSetting"
	odataChoice       = "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance"
	odataChoiceValue  = "#microsoft.graph.deviceManagementConfigurationChoiceSettingValue"
	odataSimple       = "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance"
	odataSimpleColl   = "#microsoft.graph.deviceManagementConfigurationSimpleSettingCollectionInstance"
	odataGroupColl    = "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance"
	odataStringValue  = "#microsoft.graph.deviceManagementConfigurationStringSettingValue"
	odataIntegerValue = "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue"
	odataOMA          = "#microsoft.graph.omaSetting"
)

type obj = map[string]any

// settingInstance builds one setting's instance; a value the instance cannot carry (a word
// for an integer) is set as s.Err and reported as false.
func (s *draftSetting) instance() (obj, bool) {
	in := obj{"settingDefinitionId": s.ID}
	v := strings.TrimSpace(s.Value)
	switch s.Kind {
	case "choice":
		in["@odata.type"] = odataChoice
		in["choiceSettingValue"] = obj{"@odata.type": odataChoiceValue, "value": v, "children": []any{}}
	case "integer":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.Err = "enter a whole number"
			return nil, false
		}
		in["@odata.type"] = odataSimple
		in["simpleSettingValue"] = obj{"@odata.type": odataIntegerValue, "value": n}
	case "stringCollection":
		var vals []any
		for _, p := range strings.FieldsFunc(s.Value, func(r rune) bool { return r == ';' || r == '\n' || r == '\r' }) {
			if p = strings.TrimSpace(p); p != "" {
				vals = append(vals, obj{"@odata.type": odataStringValue, "value": p})
			}
		}
		in["@odata.type"] = odataSimpleColl
		in["simpleSettingCollectionValue"] = vals
	default:
		in["@odata.type"] = odataSimple
		in["simpleSettingValue"] = obj{"@odata.type": odataStringValue, "value": s.Value}
	}
	return in, true
}

// catalogDoc is the draft as a settings catalog policy: settings under a dynamic node (the
// PassportForWork {TenantId}) are children of that node's group setting, one per group, as
// Intune exports them.
func (d *draft) catalogDoc() (json.RawMessage, bool) {
	var settings []any
	groups := map[string]obj{}
	ok := true
	for i := range d.Settings {
		s := &d.Settings[i]
		in, good := s.instance()
		if !good {
			ok = false
			continue
		}
		if s.Group == "" {
			settings = append(settings, obj{"@odata.type": odataSetting, "settingInstance": in})
			continue
		}
		g, seen := groups[s.Group]
		if !seen {
			g = obj{"@odata.type": odataGroupColl, "settingDefinitionId": s.Group,
				"groupSettingCollectionValue": []any{obj{"children": []any{}}}}
			groups[s.Group] = g
			settings = append(settings, obj{"@odata.type": odataSetting, "settingInstance": g})
		}
		v := g["groupSettingCollectionValue"].([]any)[0].(obj)
		v["children"] = append(v["children"].([]any), in)
	}
	if settings == nil {
		settings = []any{}
	}
	doc := obj{"@odata.type": odataPolicy, "name": d.Name, "description": d.Description, "platforms": "windows10",
		"technologies": "mdm", "roleScopeTagIds": d.scopeTags(), "settings": settings}
	b, _ := json.Marshal(doc)
	return b, ok
}

// document is the draft's route and Intune JSON; false when a value cannot be carried (its
// setting's Err says why).
func (d *draft) document() (adminclient.ProfileRoute, json.RawMessage, bool) {
	if d.Kind == kindCustom {
		return adminclient.CustomOMAURI, d.customDoc(), true
	}
	doc, ok := d.catalogDoc()
	return adminclient.SettingsCatalog, doc, ok
}

// customDoc is the draft as a custom OMA-URI profile.
func (d *draft) customDoc() json.RawMessage {
	rows := []any{}
	for _, r := range d.Rows {
		rows = append(rows, obj{"@odata.type": odataOMA + r.Type, "displayName": r.Name, "description": r.Description,
			"omaUri": r.URI, "isEncrypted": false, "value": omaJSONValue(r.Type, r.Value)})
	}
	doc := obj{"@odata.type": odataCustom, "displayName": d.Name, "description": d.Description,
		"roleScopeTagIds": d.scopeTags(), "omaSettings": rows}
	b, _ := json.Marshal(doc)
	return b
}

// omaJSONValue is a row's value as Graph carries it: a number for Integer and Floating point
// and true/false for Boolean when the text is one (otherwise the text, which the API
// refuses with its own message), the XML file base64-encoded for String (XML).
func omaJSONValue(typ, v string) any {
	t := strings.TrimSpace(v)
	switch typ {
	case "Integer":
		if n, err := strconv.ParseInt(t, 10, 64); err == nil {
			return n
		}
	case "FloatingPoint":
		if f, err := strconv.ParseFloat(t, 64); err == nil {
			return f
		}
	case "Boolean":
		if b, err := strconv.ParseBool(t); err == nil && (strings.EqualFold(t, "true") || strings.EqualFold(t, "false")) {
			return b
		}
	case "StringXml":
		return base64.StdEncoding.EncodeToString([]byte(v))
	}
	return v
}

// placeError puts an API refusal of the draft beside the field it names (the error's
// target: a settingDefinitionId, a row's name or its OMA-URI); it reports whether one was
// found.
func (d *draft) placeError(ae *adminclient.Error) bool {
	target := strings.TrimSpace(ae.Target)
	if target == "" {
		return false
	}
	msg := ae.Message
	if i := strings.Index(msg, ": "); i > 0 && strings.HasPrefix(msg, "setting ") {
		msg = msg[i+2:]
	}
	if j := strings.Index(msg, " (did you mean "); j > 0 && ae.Suggestion != "" {
		msg = msg[:j]
	}
	for i := range d.Settings {
		if strings.EqualFold(d.Settings[i].ID, target) {
			d.Settings[i].Err = msg
			return true
		}
	}
	for i := range d.Rows {
		r := &d.Rows[i]
		if strings.TrimSpace(r.Name) == target || r.Name == "" && r.URI == target {
			r.Err, r.Suggestion = msg, ae.Suggestion
			return true
		}
	}
	return false
}

// draftFromProfile reads a stored profile back into a draft for editing: the settings
// catalog leaves (group settings flattened; defs gives their names and value kinds) or the
// custom rows.
func draftFromProfile(p adminclient.Profile, route adminclient.ProfileRoute, defs map[string]wire.SettingDefinition) (draft, error) {
	var h struct {
		Name        string            `json:"name"`
		DisplayName string            `json:"displayName"`
		Description string            `json:"description"`
		ScopeTags   []string          `json:"roleScopeTagIds"`
		Settings    []json.RawMessage `json:"settings"`
		OMASettings []struct {
			Type        string          `json:"@odata.type"`
			DisplayName string          `json:"displayName"`
			Description string          `json:"description"`
			URI         string          `json:"omaUri"`
			Value       json.RawMessage `json:"value"`
		} `json:"omaSettings"`
	}
	if err := json.Unmarshal(p.Raw, &h); err != nil {
		return draft{}, fmt.Errorf("reading the profile: %w", err)
	}
	d := draft{EditID: p.ID, Name: h.Name + h.DisplayName, Description: h.Description, ScopeTags: strings.Join(h.ScopeTags, ", ")}
	if route == adminclient.CustomOMAURI {
		d.Kind = kindCustom
		for _, o := range h.OMASettings {
			typ := strings.TrimPrefix(o.Type, odataOMA)
			d.Rows = append(d.Rows, customRow{Name: o.DisplayName, Description: o.Description, URI: o.URI, Type: typ, Value: omaText(typ, o.Value)})
		}
		return d, nil
	}
	d.Kind = kindCatalog
	for _, raw := range h.Settings {
		var s struct {
			Instance json.RawMessage `json:"settingInstance"`
		}
		if json.Unmarshal(raw, &s) == nil && s.Instance != nil {
			d.Settings = append(d.Settings, leaves(s.Instance, "", defs, 0)...)
		}
	}
	return d, nil
}

// omaText is a stored row value as the form shows it.
func omaText(typ string, raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if typ == "StringXml" {
			if x, err := base64.StdEncoding.DecodeString(s); err == nil {
				return string(x)
			}
		}
		return s
	}
	return strings.TrimSpace(string(raw))
}

// leaves flattens a setting instance into the draft's settings.
func leaves(raw json.RawMessage, group string, defs map[string]wire.SettingDefinition, depth int) []draftSetting {
	var in struct {
		ID     string `json:"settingDefinitionId"`
		Choice *struct {
			Value string `json:"value"`
		} `json:"choiceSettingValue"`
		Simple *struct {
			Value json.RawMessage `json:"value"`
		} `json:"simpleSettingValue"`
		Coll []struct {
			Value json.RawMessage `json:"value"`
		} `json:"simpleSettingCollectionValue"`
		Groups []struct {
			Children []json.RawMessage `json:"children"`
		} `json:"groupSettingCollectionValue"`
	}
	if depth > 16 || json.Unmarshal(raw, &in) != nil {
		return nil
	}
	if in.Groups != nil {
		var out []draftSetting
		for _, g := range in.Groups {
			for _, c := range g.Children {
				out = append(out, leaves(c, in.ID, defs, depth+1)...)
			}
		}
		return out
	}
	def := defs[strings.ToLower(in.ID)]
	s := draftFromDef(def)
	s.ID, s.Group = in.ID, group
	switch {
	case in.Choice != nil:
		s.Value = in.Choice.Value
	case in.Simple != nil:
		s.Value = omaText("", in.Simple.Value)
	default:
		var parts []string
		for _, c := range in.Coll {
			parts = append(parts, omaText("", c.Value))
		}
		s.Value = strings.Join(parts, ";")
	}
	return []draftSetting{s}
}

// draftFromDef is a setting picked from the catalog, with its default value.
func draftFromDef(def wire.SettingDefinition) draftSetting {
	s := draftSetting{ID: def.ID, Name: def.DisplayName, Category: def.CategoryName, Kind: def.ValueKind,
		Group: def.GroupSettingDefinitionID, Options: def.Options, Hint: settingHint(def)}
	if s.Name == "" {
		s.Name = s.ID
	}
	switch {
	case def.ValueKind == "choice":
		for _, o := range def.Options {
			if strings.EqualFold(o.DisplayName, def.DefaultValue) || s.Value == "" {
				s.Value = o.ItemID
			}
		}
	default:
		s.Value = def.DefaultValue
	}
	return s
}

// settingHint says what a value may be.
func settingHint(def wire.SettingDefinition) string {
	var parts []string
	if def.Minimum != nil && def.Maximum != nil {
		parts = append(parts, fmt.Sprintf("%d to %d", *def.Minimum, *def.Maximum))
	}
	if def.ValueKind == "stringCollection" {
		parts = append(parts, "one value a line, or separated by ;")
	}
	if def.MinimumOS != "" {
		parts = append(parts, "Windows "+def.MinimumOS+" and later")
	}
	return strings.Join(parts, "; ")
}
