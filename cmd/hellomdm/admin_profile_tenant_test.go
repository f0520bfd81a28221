package main

import (
	"bytes"
	"encoding/json"
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

// profile status follows a deleted profile's removal: removal pending until the device has
// synced, then removed.
func TestProfileStatusAfterDelete(t *testing.T) {
	base := startCLIServer(t)
	server, caFile := base[2], base[6]
	admin := func(args ...string) string {
		t.Helper()
		code, out, errOut := cliRun(append(append([]string{}, base...), args...)...)
		if code != 0 {
			t.Fatalf("admin %v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	admin("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com")
	admin("user", "create", "--tenant", tid, "--upn", "alice@contoso.com", "--password", "Correct horse 1")
	state := filepath.Join(t.TempDir(), "alice-pc")
	dev := func(args ...string) {
		t.Helper()
		if code, _, errOut := cliRun(append([]string{"device", "--state", state}, args...)...); code != 0 {
			t.Fatalf("device %v: exit %d: %s", args, code, errOut)
		}
	}
	dev("enroll", "--server", server, "--email", "alice@contoso.com", "--password", "Correct horse 1", "--ca-file", caFile)
	var prof struct{ ID string }
	if err := json.Unmarshal([]byte(admin("-o", "json", "profile", "import", "--tenant", tid,
		filepath.Join("..", "..", "examples", "policy", "web-sign-in-allowed-urls.custom.json"))), &prof); err != nil || prof.ID == "" {
		t.Fatalf("import: %v", err)
	}
	admin("profile", "assign", "--tenant", tid, "--profile", prof.ID, "--all-devices")
	dev("sync")
	dev("sync") // the verifying Get
	if out := admin("profile", "status", "--tenant", tid, "--profile", prof.ID); !strings.Contains(out, "succeeded 1") {
		t.Fatalf("before delete:\n%s", out)
	}
	admin("profile", "delete", "--tenant", tid, "--profile", prof.ID)
	if out := admin("profile", "status", "--tenant", tid, "--profile", prof.ID); !strings.Contains(out, "(deleted;") ||
		!strings.Contains(out, "pending 1") || !strings.Contains(out, "pending (removal)") {
		t.Fatalf("after delete:\n%s", out)
	}
	dev("sync")
	dev("sync")
	if out := admin("profile", "status", "--tenant", tid, "--profile", prof.ID); !strings.Contains(out, "removed 1") || strings.Contains(out, "(removal)") {
		t.Fatalf("after the device removed it:\n%s", out)
	}
}
