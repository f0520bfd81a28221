package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// profile export writes Intune JSON that profile import takes back: the re-imported profile
// has the same settings; profile show prints it with its id and version.
func TestProfileShowExportRoundTrip(t *testing.T) {
	base := startCLIServer(t)
	admin := func(args ...string) string {
		t.Helper()
		code, out, errOut := cliRun(append(append([]string{}, base...), args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	admin("tenant", "create", "--id", "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01", "--name", "Contoso", "--domain", "contoso.com")
	pid := strings.TrimSpace(admin("-q", "profile", "import", "--tenant", "contoso.com", "../../examples/policy/whfb-pin-recovery.settings-catalog.json"))
	var shown map[string]any
	if err := json.Unmarshal([]byte(admin("profile", "show", "--tenant", "contoso.com", "--profile", pid)), &shown); err != nil || shown["id"] != pid || shown["version"] == nil {
		t.Fatalf("profile show: %v %v", err, shown)
	}
	file := filepath.Join(t.TempDir(), "export.json")
	admin("profile", "export", "--tenant", "contoso.com", "--profile", pid, "--out", file)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var exported map[string]any
	if err := json.Unmarshal(raw, &exported); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "version", "createdDateTime", "lastModifiedDateTime"} {
		if _, ok := exported[f]; ok {
			t.Errorf("export keeps the server's %s", f)
		}
	}
	// Import it into another tenant: same settings.
	admin("tenant", "create", "--id", "0b6f4c1e-2d3a-4c5b-8e9f-1a2b3c4d5e6f", "--name", "Fabrikam", "--domain", "fabrikam.com")
	pid2 := strings.TrimSpace(admin("-q", "profile", "import", "--tenant", "fabrikam.com", file))
	var again map[string]any
	if err := json.Unmarshal([]byte(admin("profile", "show", "--tenant", "fabrikam.com", "--profile", pid2)), &again); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again["settings"], shown["settings"]) || again["name"] != shown["name"] || again["@odata.type"] != shown["@odata.type"] {
		t.Errorf("the round trip changed the profile:\nbefore %v\nafter  %v", shown, again)
	}
}
