package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/apply"
)

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
	var plan struct{ Value []apply.Change }
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatal(err)
	}
	for _, c := range plan.Value {
		if c.Action != apply.Unchanged {
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
