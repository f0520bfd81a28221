package apply

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

const (
	catalogDoc = `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"PIN","settings":[{"x":1}]}`
	customDoc  = `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"URLs","omaSettings":[{"v":"a"}]}`
)

func mustProfile(t *testing.T, raw, name string) DesiredProfile {
	t.Helper()
	p, err := profileDocument([]byte(raw), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// planSummary renders a plan as "action Kind name [details]" lines.
func planSummary(plan []Change) []string {
	var out []string
	for _, c := range plan {
		s := c.Action + " " + c.Kind + " " + c.Name
		if len(c.Details) > 0 {
			s += " [" + strings.Join(c.Details, "; ") + "]"
		}
		out = append(out, s)
	}
	return out
}

func TestPlanApply(t *testing.T) {
	pin := mustProfile(t, catalogDoc, "PIN")
	urls := mustProfile(t, customDoc, "URLs")
	users := map[string]string{"alice@contoso.com": "u-alice"}
	devices := map[string]bool{"dev-1": true}
	// The server's answer for the same documents: key order, server fields, Default tag.
	pinServer := json.RawMessage(`{"settings":[{"x":1}],"name":"PIN","@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","id":"p1","version":3,"roleScopeTagIds":["0"],"settingCount":1}`)
	converged := Current{Users: users, Devices: devices,
		Groups: []CurrentGroup{
			{ID: "g1", Name: "Pilot", Members: []MemberRef{{Kind: "user", Key: "u-alice"}, {Kind: "group", Key: "g2"}}},
			{ID: "g2", Name: "Kiosks"},
		},
		Profiles: []CurrentProfile{{ID: "p1", Name: "PIN", Route: "configurationPolicies", JSON: pinServer,
			Assignments: []Target{{Type: wire.TargetGroup, Group: "g1"}, {Type: wire.TargetAllDevices}}}},
	}
	full := Desired{
		Groups:      []DesiredGroup{{Name: "Pilot", Members: []string{"alice@contoso.com", "Kiosks"}}, {Name: "Kiosks"}},
		Profiles:    []DesiredProfile{pin},
		Assignments: []DesiredAssignment{{Profile: "PIN", Include: []string{"Pilot"}, AllDevices: true}},
	}
	for _, tc := range []struct {
		name    string
		want    Desired
		have    Current
		prune   bool
		plan    []string
		errText string
	}{
		{name: "empty tenant", want: full, have: Current{Users: users, Devices: devices}, plan: []string{
			"create Group Pilot [+ member alice@contoso.com; + member Kiosks]", "create Group Kiosks",
			"create Profile PIN", "create Assignment PIN [+ include Pilot; + all devices]"}},
		{name: "converged is unchanged", want: full, have: converged, plan: []string{
			"unchanged Group Pilot", "unchanged Group Kiosks", "unchanged Profile PIN", "unchanged Assignment PIN"}},
		{name: "member changes", want: Desired{Groups: []DesiredGroup{{Name: "Pilot", Members: []string{"dev-1", "Kiosks"}}, {Name: "Kiosks"}}},
			have: converged, plan: []string{"update Group Pilot [+ member dev-1; - member user u-alice (alice@contoso.com)]", "unchanged Group Kiosks", "unmanaged Profile PIN"}},
		{name: "profile differs semantically", want: Desired{Profiles: []DesiredProfile{mustProfile(t, strings.Replace(catalogDoc, `"x":1`, `"x":2`, 1), "PIN")}},
			have: converged, plan: []string{"update Profile PIN [Intune JSON differs]", "unmanaged Group Kiosks", "unmanaged Group Pilot"}},
		{name: "prune deletes the rest", want: Desired{Profiles: []DesiredProfile{urls}}, have: converged, prune: true, plan: []string{
			"create Profile URLs", "delete Profile PIN", "delete Group Kiosks", "delete Group Pilot"}},
		{name: "assignment changes", want: Desired{Groups: full.Groups, Profiles: full.Profiles,
			Assignments: []DesiredAssignment{{Profile: "PIN", Include: []string{"Pilot"}, Exclude: []string{"Kiosks"}}}}, have: converged, plan: []string{
			"unchanged Group Pilot", "unchanged Group Kiosks", "unchanged Profile PIN", "update Assignment PIN [+ exclude Kiosks; - all devices]"}},
		{name: "unknown member", want: Desired{Groups: []DesiredGroup{{Name: "X", Members: []string{"bob@contoso.com"}}}}, have: converged, errText: "no such user"},
		{name: "unknown device or group", want: Desired{Groups: []DesiredGroup{{Name: "X", Members: []string{"nothing"}}}}, have: converged, errText: "not a group"},
		{name: "assignment to unknown group", want: Desired{Profiles: []DesiredProfile{pin}, Assignments: []DesiredAssignment{{Profile: "PIN", Include: []string{"Nope"}}}}, have: converged, errText: "no group named"},
		{name: "assignment of unknown profile", want: Desired{Assignments: []DesiredAssignment{{Profile: "Nope"}}}, have: converged, errText: "unknown profile"},
		{name: "profile defined twice", want: Desired{Profiles: []DesiredProfile{pin, pin}}, have: converged, errText: "defined twice"},
		{name: "kind changes", want: Desired{Profiles: []DesiredProfile{mustProfile(t, customDoc, "PIN")}}, have: converged, errText: "delete it first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Plan(tc.want, tc.have, tc.prune)
			if tc.errText != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := planSummary(plan); !slices.Equal(got, tc.plan) {
				t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.plan, "\n"))
			}
		})
	}
}

func TestLoadDocuments(t *testing.T) {
	want, err := Load(filepath.Join("..", "..", "examples", "policy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Groups) != 2 || len(want.Profiles) != 2 || len(want.Assignments) != 2 {
		t.Fatalf("loaded %+v", want)
	}
	if want.Profiles[0].Route != "configurationPolicies" || want.Profiles[1].Route != "deviceConfigurations" {
		t.Errorf("routes %s, %s", want.Profiles[0].Route, want.Profiles[1].Route)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, file, body, errText string }{
		{"inline spec", "a.yaml", "kind: Profile\nname: Inline\nspec:\n  \"@odata.type\": \"#microsoft.graph.windows10CustomConfiguration\"\n  omaSettings: [{value: 1}]\n", ""},
		{"json document", "b.json", `{"kind":"Group","name":"G","members":[]}`, ""},
		{"unknown kind", "c.yaml", "kind: Tenant\nname: x\n", "unknown kind"},
		{"unknown field", "d.yaml", "kind: Group\nname: x\ncolour: red\n", "colour"},
		{"file and spec", "e.yaml", "kind: Profile\nname: x\nfile: a.json\nspec: {}\n", "not both"},
		{"not Intune", "f.yaml", "kind: Profile\nname: x\nspec: {\"@odata.type\": \"#microsoft.graph.windows10GeneralConfiguration\"}\n", "neither"},
		{"no kind", "g.yaml", "name: x\n", "no kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.file)
			if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(p)
			if tc.errText == "" && err != nil || tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
				t.Errorf("err = %v, want %q", err, tc.errText)
			}
		})
	}
}
