package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

// rawSetting is one entry of a settings catalog profile's settings
// (deviceManagementConfigurationPolicy): a tree of setting instances whose
// settingDefinitionIds name catalog nodes.
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
