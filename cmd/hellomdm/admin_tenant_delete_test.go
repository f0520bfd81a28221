package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// tenant delete refuses without a matching --confirm and, without --force, while a device
// is enrolled (naming the count); with both it deletes the tenant: its domain no longer
// enrolls and its device's check-ins are refused.
func TestTenantDeleteCLI(t *testing.T) {
	base := startCLIServer(t)
	admin := func(args ...string) (int, string, string) {
		t.Helper()
		return cliRun(append(append([]string{}, base...), args...)...)
	}
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, errOut := admin(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		return out
	}
	mustRun("tenant", "create", "--id", "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01", "--name", "Contoso", "--domain", "contoso.com")
	mustRun("user", "create", "--tenant", "contoso.com", "--upn", "alice@contoso.com", "--password", "Correct horse 1")
	enroll := func(state string) (int, string) {
		code, _, errOut := cliRun("device", "--state", state, "enroll", "--server", base[2],
			"--email", "alice@contoso.com", "--password", "Correct horse 1", "--ca-file", base[6])
		return code, errOut
	}
	pc := filepath.Join(t.TempDir(), "pc")
	if code, errOut := enroll(pc); code != 0 {
		t.Fatalf("enroll: %s", errOut)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no confirm", []string{"tenant", "delete", "--tenant", "contoso.com"}, "confirm"},
		{"wrong confirm", []string{"tenant", "delete", "--tenant", "contoso.com", "--confirm", "fabrikam.com"}, "refusing"},
		{"enrolled device", []string{"tenant", "delete", "--tenant", "contoso.com", "--confirm", "contoso.com"}, "1 enrolled devices"},
	} {
		code, out, errOut := admin(tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, want a refusal naming %q:\n%s%s", tc.name, code, tc.want, out, errOut)
		}
	}
	if out := mustRun("tenant", "list"); !strings.Contains(out, "contoso.com") {
		t.Fatalf("a refused delete removed the tenant:\n%s", out)
	}
	if out := mustRun("tenant", "delete", "--tenant", "contoso.com", "--confirm", "6D2A3F0E-1c55-4b0b-9a3e-2f4f7c1d9e01", "--force"); !strings.Contains(out, "deleted tenant") {
		t.Fatalf("tenant delete:\n%s", out)
	}
	if out := mustRun("tenant", "list"); strings.Contains(out, "contoso.com") {
		t.Fatalf("the deleted tenant is listed:\n%s", out)
	}
	if code, _ := enroll(filepath.Join(t.TempDir(), "pc2")); code == 0 {
		t.Errorf("a deleted tenant's domain enrolled a device")
	}
	if code, out, errOut := cliRun("device", "--state", pc, "sync"); code == 0 {
		t.Errorf("the deleted tenant's device synced:\n%s%s", out, errOut)
	} else if !strings.Contains(errOut, "retired") && !strings.Contains(errOut, "403") {
		t.Errorf("the deleted tenant's device is refused for another reason:\n%s", errOut)
	}
	code, out, errOut := admin("tenant", "delete", "-h")
	if code != 0 || !strings.Contains(out+errOut, "--confirm contoso.com") {
		t.Errorf("tenant delete -h: exit %d:\n%s%s", code, out, errOut)
	}
}
