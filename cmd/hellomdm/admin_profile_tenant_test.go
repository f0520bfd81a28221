package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// profile import prints the server's advice for a literal TenantId segment, and the warning
// for another tenant's GUID on stderr (stdout keeps the profile row, or JSON with -o json).
func TestProfileImportTenantAdvice(t *testing.T) {
	base := startCLIServer(t)
	const (
		tid   = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
		other = "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d"
	)
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, _, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatal(e)
	}
	file := func(segment string) string {
		f := filepath.Join(t.TempDir(), "p.json")
		doc := `{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"PIN recovery","omaSettings":[` +
			`{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"EnablePinRecovery","omaUri":"./Device/Vendor/MSFT/PassportForWork/` + segment + `/Policies/EnablePinRecovery","value":true}]}`
		if err := os.WriteFile(f, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	code, _, e := cli("profile", "import", "--tenant", tid, file("TenantId"))
	if code != 1 || !strings.Contains(e, "replace TenantId with your tenant ID ("+tid+")") || !strings.Contains(e, "PassportForWork/"+tid+"/Policies") {
		t.Fatalf("literal TenantId: exit %d\n%s", code, e)
	}
	code, out, e := cli("-o", "json", "profile", "import", "--tenant", tid, file(other))
	if code != 0 || !strings.Contains(e, "warning: profile") || !strings.Contains(e, "names tenant "+other) || !strings.HasPrefix(strings.TrimSpace(out), "{") {
		t.Fatalf("another tenant: exit %d\nstdout %s\nstderr %s", code, out, e)
	}
}
