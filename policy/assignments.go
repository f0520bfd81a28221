package policy

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/policy/model"
)

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
