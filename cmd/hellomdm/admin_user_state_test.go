package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// A disabled user cannot enroll a device (the enrollment fault is the one for bad
// credentials); enabled again, the same user can.
func TestUserDisableBlocksEnrollment(t *testing.T) {
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
	admin("user", "create", "--tenant", "contoso.com", "--upn", "alice@contoso.com", "--password", "Correct horse 1")
	if out := admin("user", "disable", "--tenant", "contoso.com", "--user", "alice@contoso.com"); !strings.Contains(out, "false") {
		t.Fatalf("user disable:\n%s", out)
	}
	enroll := func() (int, string) {
		code, _, errOut := cliRun("device", "--state", filepath.Join(t.TempDir(), "pc"), "enroll", "--server", base[2],
			"--email", "alice@contoso.com", "--password", "Correct horse 1", "--ca-file", base[6])
		return code, errOut
	}
	if code, errOut := enroll(); code == 0 {
		t.Fatalf("a disabled user enrolled a device")
	} else if !strings.Contains(strings.ToLower(errOut), "credential") && !strings.Contains(strings.ToLower(errOut), "password") {
		t.Logf("refusal: %s", errOut)
	}
	if out := admin("user", "list", "--tenant", "contoso.com"); !strings.Contains(out, "ACCOUNTENABLED") {
		t.Errorf("user list lacks accountEnabled:\n%s", out)
	}
	admin("user", "enable", "--tenant", "contoso.com", "--user", "alice@contoso.com")
	if code, errOut := enroll(); code != 0 {
		t.Fatalf("an enabled user cannot enroll: %s", errOut)
	}
}

// A deleted user (named by UPN) is gone from the user list and cannot enroll; a second
// delete is a 404; -h prints the command's help and example.
func TestUserDeleteCLI(t *testing.T) {
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
	if out := mustRun("user", "delete", "--tenant", "contoso.com", "--user", "alice@contoso.com"); !strings.Contains(out, "deleted user") {
		t.Fatalf("user delete:\n%s", out)
	}
	if out := mustRun("user", "list", "--tenant", "contoso.com"); strings.Contains(out, "alice@contoso.com") {
		t.Fatalf("a deleted user is listed:\n%s", out)
	}
	code, _, errOut := cliRun("device", "--state", filepath.Join(t.TempDir(), "pc"), "enroll", "--server", base[2],
		"--email", "alice@contoso.com", "--password", "Correct horse 1", "--ca-file", base[6])
	if code == 0 {
		t.Fatalf("a deleted user enrolled a device")
	}
	t.Logf("refusal: %s", errOut)
	if code, _, _ := admin("user", "delete", "--tenant", "contoso.com", "--user", "alice@contoso.com"); code == 0 {
		t.Errorf("deleting a deleted user succeeded")
	}
	code, out, errOut := admin("user", "delete", "-h")
	if code != 0 || !strings.Contains(out+errOut, "hellomdm admin user delete --tenant contoso.com") {
		t.Errorf("user delete -h: exit %d:\n%s%s", code, out, errOut)
	}
}

// user role grants a console admin role with scope tags, shown by the answer; a reader
// token cannot grant one; user revoke-role takes it away.
func TestUserRoleCLI(t *testing.T) {
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
	out := mustRun("-o", "json", "user", "role", "--tenant", "contoso.com", "--user", "alice@contoso.com", "--role", "Operator", "--scope-tag", "7")
	if !strings.Contains(out, `"adminRole": "operator"`) || !strings.Contains(out, `"7"`) {
		t.Fatalf("user role:\n%s", out)
	}
	if code, _, errOut := admin("user", "role", "--tenant", "contoso.com", "--user", "alice@contoso.com", "--role", "owner"); code == 0 || !strings.Contains(errOut, "not admin, operator or reader") {
		t.Fatalf("role owner: exit %d: %s", code, errOut)
	}
	mustRun("user", "create", "--tenant", "contoso.com", "--upn", "bob@contoso.com", "--password", "Correct horse 1")
	out = mustRun("user", "list", "--tenant", "contoso.com", "--admin-roles")
	if !strings.Contains(out, "ADMINROLE") || !strings.Contains(out, "alice@contoso.com") || !strings.Contains(out, "operator") || strings.Contains(out, "bob@") {
		t.Fatalf("user list --admin-roles:\n%s", out)
	}
	out = mustRun("-o", "json", "user", "revoke-role", "--tenant", "contoso.com", "--user", "alice@contoso.com")
	if strings.Contains(out, "adminRole\":") {
		t.Fatalf("after revoke-role:\n%s", out)
	}
	if out := mustRun("-q", "user", "list", "--tenant", "contoso.com", "--admin-roles"); out != "" {
		t.Fatalf("user list --admin-roles after revoke-role printed %q", out)
	}
}
