package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminGPOCommands(t *testing.T) {
	base := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	fixtures := filepath.Join("..", "..", "policy", "gpo", "testdata")
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, errOut := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}

	// analyze a GPMC backup folder; -o json after PATH; the JSON shape is Intune's.
	code, out, errOut := cli("gpo", "analyze", "--tenant", tid, filepath.Join(fixtures, "backup"), "-o", "json")
	if code != 0 {
		t.Fatalf("gpo analyze: %d %s", code, errOut)
	}
	var rep struct {
		Summary map[string]int   `json:"summary"`
		Value   []map[string]any `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Summary["settings"] != 17 || rep.Summary["supported"] != 13 ||
		rep.Summary["supportedPercent"] != 76 || len(rep.Value) != 17 {
		t.Fatalf("gpo analyze -o json: %v\n%s", err, out)
	}
	for _, r := range rep.Value {
		for _, k := range []string{"scope", "key", "valueName", "data", "mdmSupport"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("row without %s: %v", k, r)
			}
		}
	}

	// The table: rows, then the summary as Intune shows it. A bare User registry.pol takes its
	// half from its folder's name.
	userDir := filepath.Join(t.TempDir(), "User")
	if err := os.MkdirAll(userDir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(fixtures, "user-registry.pol"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(userDir, "registry.pol"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = cli("gpo", "analyze", "--tenant", tid, filepath.Join(userDir, "registry.pol"))
	if code != 0 || !strings.Contains(out, "./User/Vendor/MSFT/PassportForWork/"+tid+"/Policies/UsePassportForWork") ||
		!strings.Contains(out, "3 settings: 1 supported (33%), 2 not supported, 0 unknown") {
		t.Fatalf("gpo analyze user registry.pol: %d %s\n%s", code, errOut, out)
	}

	// A file that does not parse: exit 1, the error names the file and the byte.
	bad := filepath.Join(t.TempDir(), "registry.pol")
	full, _ := os.ReadFile(filepath.Join(fixtures, "registry.pol"))
	if err := os.WriteFile(bad, full[:50], 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := cli("gpo", "import", "--tenant", tid, bad, "--name", "x"); code != 1 || !strings.Contains(errOut, "registry.pol: byte ") {
		t.Fatalf("bad registry.pol: %d %s", code, errOut)
	}
	if code, _, errOut := cli("gpo", "import", "--tenant", tid, filepath.Join(fixtures, "lgpo.txt")); code != 2 || !strings.Contains(errOut, "--name is required") {
		t.Fatalf("import without --name: %d %s", code, errOut)
	}

	// --dry-run creates nothing; import prints the new profile's ID.
	code, out, errOut = cli("gpo", "import", "--tenant", tid, filepath.Join(fixtures, "gpreport.xml"), "--name", "WHfB from GPO", "--dry-run")
	if code != 0 || !strings.Contains(out, `dry run: would create custom profile "WHfB from GPO" with 13 settings`) {
		t.Fatalf("gpo import --dry-run: %d %s\n%s", code, errOut, out)
	}
	if _, out, _ := cli("-o", "json", "profile", "list", "--tenant", tid); strings.Contains(out, "WHfB from GPO") {
		t.Fatalf("the dry run created a profile: %s", out)
	}
	code, out, errOut = cli("gpo", "import", "--tenant", tid, filepath.Join(fixtures, "lgpo.txt"), "--name", "WHfB from GPO")
	if code != 0 || !strings.Contains(out, "created profile ") {
		t.Fatalf("gpo import: %d %s\n%s", code, errOut, out)
	}
	id := strings.TrimSpace(out[strings.LastIndex(out, "created profile ")+len("created profile "):])
	if _, out, _ := cli("profile", "list", "--tenant", tid); !strings.Contains(out, id) || !strings.Contains(out, "WHfB from GPO") {
		t.Fatalf("profile list lacks %s:\n%s", id, out)
	}
	// The tenant by its domain; -q prints the new profile's ID only.
	code, out, errOut = cli("-q", "gpo", "import", "--tenant", "contoso.com", filepath.Join(fixtures, "registry.pol"), "--name", "Second")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 1 || len(lines[0]) != 36 || lines[0] == id {
		t.Fatalf("gpo import -q by tenant name: %d %s\n%s", code, errOut, out)
	}
}
