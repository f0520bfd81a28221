package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	catalogDoc = `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"PIN","settings":[{"x":1}]}`
	customDoc  = `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"URLs","omaSettings":[{"v":"a"}]}`
)

func mustProfile(t *testing.T, raw, name string) desiredProfile {
	t.Helper()
	p, err := profileDocument([]byte(raw), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// planSummary renders a plan as "action Kind name [details]" lines.
func planSummary(plan []change) []string {
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
	converged := currentState{Users: users, Devices: devices,
		Groups: []currentGroup{
			{ID: "g1", Name: "Pilot", Members: []memberRef{{Kind: "user", Key: "u-alice"}, {Kind: "group", Key: "g2"}}},
			{ID: "g2", Name: "Kiosks"},
		},
		Profiles: []currentProfile{{ID: "p1", Name: "PIN", Route: "configurationPolicies", JSON: pinServer,
			Assignments: []assignTarget{{Type: targetGroup, Group: "g1"}, {Type: targetAllDevices}}}},
	}
	full := desiredState{
		Groups:      []desiredGroup{{Name: "Pilot", Members: []string{"alice@contoso.com", "Kiosks"}}, {Name: "Kiosks"}},
		Profiles:    []desiredProfile{pin},
		Assignments: []desiredAssignment{{Profile: "PIN", Include: []string{"Pilot"}, AllDevices: true}},
	}
	for _, tc := range []struct {
		name    string
		want    desiredState
		have    currentState
		prune   bool
		plan    []string
		errText string
	}{
		{name: "empty tenant", want: full, have: currentState{Users: users, Devices: devices}, plan: []string{
			"create Group Pilot [+ member alice@contoso.com; + member Kiosks]", "create Group Kiosks",
			"create Profile PIN", "create Assignment PIN [+ include Pilot; + all devices]"}},
		{name: "converged is unchanged", want: full, have: converged, plan: []string{
			"unchanged Group Pilot", "unchanged Group Kiosks", "unchanged Profile PIN", "unchanged Assignment PIN"}},
		{name: "member changes", want: desiredState{Groups: []desiredGroup{{Name: "Pilot", Members: []string{"dev-1", "Kiosks"}}, {Name: "Kiosks"}}},
			have: converged, plan: []string{"update Group Pilot [+ member dev-1; - member user u-alice (alice@contoso.com)]", "unchanged Group Kiosks", "unmanaged Profile PIN"}},
		{name: "profile differs semantically", want: desiredState{Profiles: []desiredProfile{mustProfile(t, strings.Replace(catalogDoc, `"x":1`, `"x":2`, 1), "PIN")}},
			have: converged, plan: []string{"update Profile PIN [Intune JSON differs]", "unmanaged Group Kiosks", "unmanaged Group Pilot"}},
		{name: "prune deletes the rest", want: desiredState{Profiles: []desiredProfile{urls}}, have: converged, prune: true, plan: []string{
			"create Profile URLs", "delete Profile PIN", "delete Group Kiosks", "delete Group Pilot"}},
		{name: "assignment changes", want: desiredState{Groups: full.Groups, Profiles: full.Profiles,
			Assignments: []desiredAssignment{{Profile: "PIN", Include: []string{"Pilot"}, Exclude: []string{"Kiosks"}}}}, have: converged, plan: []string{
			"unchanged Group Pilot", "unchanged Group Kiosks", "unchanged Profile PIN", "update Assignment PIN [+ exclude Kiosks; - all devices]"}},
		{name: "unknown member", want: desiredState{Groups: []desiredGroup{{Name: "X", Members: []string{"bob@contoso.com"}}}}, have: converged, errText: "no such user"},
		{name: "unknown device or group", want: desiredState{Groups: []desiredGroup{{Name: "X", Members: []string{"nothing"}}}}, have: converged, errText: "not a group"},
		{name: "assignment to unknown group", want: desiredState{Profiles: []desiredProfile{pin}, Assignments: []desiredAssignment{{Profile: "PIN", Include: []string{"Nope"}}}}, have: converged, errText: "no group named"},
		{name: "assignment of unknown profile", want: desiredState{Assignments: []desiredAssignment{{Profile: "Nope"}}}, have: converged, errText: "unknown profile"},
		{name: "profile defined twice", want: desiredState{Profiles: []desiredProfile{pin, pin}}, have: converged, errText: "defined twice"},
		{name: "kind changes", want: desiredState{Profiles: []desiredProfile{mustProfile(t, customDoc, "PIN")}}, have: converged, errText: "delete it first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := planApply(tc.want, tc.have, tc.prune)
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
	want, err := loadDocuments(filepath.Join("..", "..", "examples", "policy"))
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
			_, err := loadDocuments(p)
			if tc.errText == "" && err != nil || tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
				t.Errorf("err = %v, want %q", err, tc.errText)
			}
		})
	}
}

// Applying examples/policy to a real server: dry run changes nothing, the first apply creates
// everything, the second finds everything unchanged.
func TestApplyExamples(t *testing.T) {
	base := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := cli("user", "create", "--tenant", tid, "--upn", "alice@contoso.com", "--password", "Correct horse 1"); code != 0 {
		t.Fatal(e)
	}
	examples := filepath.Join("..", "..", "examples", "policy")

	code, out, e := cli("apply", "-f", examples, "--tenant", tid, "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run: 6 to create") {
		t.Fatalf("dry run: %d\n%s%s", code, out, e)
	}
	if _, out, _ := cli("-o", "json", "group", "list", "--tenant", tid); strings.Contains(out, "WHfB") {
		t.Fatalf("the dry run created groups:\n%s", out)
	}
	code, out, e = cli("apply", "-f", examples, "--tenant", tid)
	if code != 0 || !strings.Contains(out, "applied: 6 to create, 0 to update, 0 to delete, 0 unchanged") {
		t.Fatalf("apply: %d\n%s%s", code, out, e)
	}
	code, out, e = cli("-o", "json", "apply", "-f", examples, "--tenant", tid)
	if code != 0 {
		t.Fatalf("second apply: %d %s", code, e)
	}
	var plan struct{ Value []change }
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Value {
		if c.Action != actUnchanged {
			t.Errorf("second apply: %s %s %s %v", c.Action, c.Kind, c.Name, c.Details)
		}
	}
	if len(plan.Value) != 6 {
		t.Errorf("second plan has %d lines", len(plan.Value))
	}

	// A group outside the documents is unmanaged, then pruned.
	if code, _, e := cli("group", "create", "--tenant", tid, "--name", "Stray"); code != 0 {
		t.Fatal(e)
	}
	if _, out, _ := cli("apply", "-f", examples, "--tenant", tid, "--dry-run"); !strings.Contains(out, "unmanaged  Group") {
		t.Errorf("stray group not unmanaged:\n%s", out)
	}
	if code, out, e := cli("apply", "-f", examples, "--tenant", tid, "--prune"); code != 0 || !strings.Contains(out, "1 to delete") {
		t.Errorf("prune: %d\n%s%s", code, out, e)
	}
	if _, out, _ := cli("group", "list", "--tenant", tid); strings.Contains(out, "Stray") {
		t.Errorf("pruned group still listed:\n%s", out)
	}
}

func TestAdminPolicyCommands(t *testing.T) {
	base := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatal(e)
	}
	if code, _, e := cli("user", "create", "--tenant", tid, "--upn", "alice@contoso.com", "--password", "Correct horse 1"); code != 0 {
		t.Fatal(e)
	}
	var g struct{ ID string }
	code, out, e := cli("-o", "json", "group", "create", "--tenant", tid, "--name", "WHfB pilot")
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.ID == "" {
		t.Fatalf("group create: %d %s %s", code, out, e)
	}
	var prof struct {
		ID      string
		Version int
	}
	code, out, e = cli("-o", "json", "profile", "import", "--tenant", tid, filepath.Join("..", "..", "examples", "policy", "web-sign-in-allowed-urls.custom.json"))
	if code != 0 || json.Unmarshal([]byte(out), &prof) != nil || prof.ID == "" || prof.Version != 1 {
		t.Fatalf("profile import: %d %s %s", code, out, e)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"p","omaUri":"./Device/Vendor/MSFT/Policy/PassportForWork/{TenantId}/Policies/EnablePinRecovery","value":true}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout (code 0) or stderr
	}{
		{"add member by UPN", []string{"group", "add-member", "--tenant", tid, "--group", g.ID, "--id", "alice@contoso.com"}, 0, "added"},
		{"add unknown member", []string{"group", "add-member", "--tenant", tid, "--group", g.ID, "--id", "ghost"}, 1, "HTTP 404"},
		{"members", []string{"group", "members", "--tenant", tid, "--group", g.ID}, 0, "user"},
		{"group list", []string{"group", "list", "--tenant", tid}, 0, "WHfB pilot"},
		{"import a bad OMA-URI", []string{"profile", "import", "--tenant", tid, bad}, 1, "did you mean ./Device/Vendor/MSFT/PassportForWork/"},
		{"import without file", []string{"profile", "import", "--tenant", tid}, 2, "FILE.json"},
		{"profile list", []string{"profile", "list", "--tenant", tid}, 0, "customOMAURI"},
		{"assign", []string{"profile", "assign", "--tenant", tid, "--profile", prof.ID, "--group", g.ID, "--all-users"}, 0, "allLicensedUsersAssignmentTarget"},
		{"assign unknown group", []string{"profile", "assign", "--tenant", tid, "--profile", prof.ID, "--group", "ghost"}, 1, "HTTP 422"},
		{"status", []string{"profile", "status", "--tenant", tid, "--profile", prof.ID}, 0, "succeeded 0"},
		{"device settings of unknown device", []string{"device", "settings", "--tenant", tid, "--device", "ghost"}, 1, "HTTP 404"},
		{"remove member", []string{"group", "remove-member", "--tenant", tid, "--group", g.ID, "--id", "u-does-not-matter"}, 1, "HTTP 404"},
		{"delete assigned group", []string{"group", "delete", "--tenant", tid, "--group", g.ID}, 1, "HTTP 409"},
		{"profile delete", []string{"profile", "delete", "--tenant", tid, "--profile", prof.ID}, 0, "deleted"},
		{"group delete", []string{"group", "delete", "--tenant", tid, "--group", g.ID}, 0, "deleted"},
		{"profile delete again", []string{"profile", "delete", "--tenant", tid, "--profile", prof.ID}, 1, "HTTP 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, e := cli(tc.args...)
			text := out
			if tc.code != 0 {
				text = e
			}
			if code != tc.code || !strings.Contains(text, tc.want) {
				t.Errorf("exit %d (want %d); want %q in:\n%s%s", code, tc.code, tc.want, out, e)
			}
		})
	}
}

// A Profile document's file: may not leave the directory given to -f: not by ../, not by an
// absolute path, not through a symlink. The refusal names the document and the line, and
// nothing reaches the server. A file in a subdirectory of -f is still read.
func TestApplyRefusesFilesOutsideDir(t *testing.T) {
	base := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatal(e)
	}
	export, err := os.ReadFile(filepath.Join("..", "..", "examples", "policy", "web-sign-in-allowed-urls.custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	top := t.TempDir()
	outside := filepath.Join(top, "outside.json")
	if err := os.WriteFile(outside, export, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		file  string                 // the file: value
		setup func(dir string) error // extra files in the -f directory
		want  string                 // in stderr; "" = accepted
	}{
		{"parent", "../outside.json", nil, "outside"},
		{"absolute", outside, nil, "outside"},
		{"nested parent", "sub/../../outside.json", nil, "outside"},
		{"symlink", "link.json", func(dir string) error { return os.Symlink(outside, filepath.Join(dir, "link.json")) }, "symlink"},
		{"symlinked directory", "sub/outside.json", func(dir string) error { return os.Symlink(top, filepath.Join(dir, "sub")) }, "symlink"},
		{"subdirectory", "sub/p.json", func(dir string) error {
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, "sub", "p.json"), export, 0o600)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, err := os.MkdirTemp(top, "policy")
			if err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				if err := tc.setup(dir); err != nil {
					t.Fatal(err)
				}
			}
			doc := "kind: Group\nname: G\nmembers: []\n---\n# the profile\nkind: Profile\nname: Stolen\nfile: " + tc.file + "\n"
			if err := os.WriteFile(filepath.Join(dir, "set.yaml"), []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, e := cli("apply", "-f", dir, "--tenant", tid)
			_, list, _ := cli("profile", "list", "--tenant", tid)
			if tc.want == "" {
				if code != 0 || !strings.Contains(list, "Stolen") {
					t.Fatalf("apply: %d\n%s%s\nprofiles:\n%s", code, out, e, list)
				}
				if code, _, e := cli("apply", "-f", dir, "--tenant", tid, "--prune"); code != 0 {
					t.Fatal(e)
				}
				return
			}
			wantWhere := filepath.Join(dir, "set.yaml") + ":8: document 2:"
			if code != 1 || !strings.Contains(e, wantWhere) || !strings.Contains(e, tc.want) {
				t.Errorf("apply: exit %d, stderr %q; want exit 1 naming %q and %q", code, e, wantWhere, tc.want)
			}
			if strings.Contains(list, "Stolen") {
				t.Errorf("the outside file was uploaded:\n%s", list)
			}
		})
	}
}
