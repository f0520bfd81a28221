package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
)

const identityCLIToken = "hmdm_cli-test-token"

// startCLIServer runs a real server with its services on a loopback port and returns the
// admin flags that reach it.
func startCLIServer(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	app := testserve.Start(t, server.Options{DataDir: dir, AdminToken: identityCLIToken}, server.Services)
	return []string{"admin", "--server", "https://" + app.Addr().String(), "--token", identityCLIToken, "--ca-file", filepath.Join(dir, server.CAFile)}
}

func TestAdminIdentityCommands(t *testing.T) {
	base := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	jsonOf := func(t *testing.T, s string, v any) {
		t.Helper()
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, s)
		}
	}

	var userID string
	steps := []struct {
		name  string
		args  func() []string
		code  int
		check func(t *testing.T, stdout, stderr string)
	}{
		{"tenant create", func() []string {
			return []string{"tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com", "--domain", "contoso.net"}
		}, 0, func(t *testing.T, out, _ string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "DISPLAYNAME") ||
				!strings.Contains(lines[1], tid) || !strings.Contains(lines[1], "contoso.com,contoso.net") || !strings.Contains(lines[1], "OnPremise") {
				t.Fatalf("table:\n%s", out)
			}
		}},
		{"tenant create twice", func() []string {
			return []string{"tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"}
		}, 1, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "conflict") || !strings.Contains(errOut, "HTTP 409") {
				t.Fatalf("stderr: %s", errOut)
			}
		}},
		{"tenant create without domain", func() []string {
			return []string{"tenant", "create", "--id", tid, "--name", "Contoso"}
		}, 2, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "--domain is required") {
				t.Fatalf("stderr: %s", errOut)
			}
		}},
		{"tenant list json", func() []string { return []string{"-o", "json", "tenant", "list"} }, 0, func(t *testing.T, out, _ string) {
			var v struct {
				Value []struct {
					ID              string   `json:"id"`
					VerifiedDomains []string `json:"verifiedDomains"`
				} `json:"value"`
			}
			jsonOf(t, out, &v)
			if len(v.Value) != 1 || v.Value[0].ID != tid || len(v.Value[0].VerifiedDomains) != 2 {
				t.Fatalf("%+v", v)
			}
		}},
		{"user create json", func() []string {
			return []string{"-o", "json", "user", "create", "--tenant", tid, "--upn", "alice@contoso.com", "--password", "correct horse"}
		}, 0, func(t *testing.T, out, _ string) {
			var v struct {
				ID  string `json:"id"`
				UPN string `json:"userPrincipalName"`
			}
			jsonOf(t, out, &v)
			if v.ID == "" || v.UPN != "alice@contoso.com" || strings.Contains(out, "correct horse") {
				t.Fatalf("%s", out)
			}
			userID = v.ID
		}},
		{"user create weak password", func() []string {
			return []string{"user", "create", "--tenant", tid, "--upn", "bob@contoso.com", "--password", "short"}
		}, 1, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "HTTP 422") {
				t.Fatalf("stderr: %s", errOut)
			}
		}},
		{"user list", func() []string { return []string{"user", "list", "--tenant", tid} }, 0, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "USERPRINCIPALNAME") || !strings.Contains(out, "alice@contoso.com") || !strings.Contains(out, userID) {
				t.Fatalf("table:\n%s", out)
			}
		}},
		{"user totp", func() []string { return []string{"user", "totp", "--tenant", tid, "--user", userID} }, 0, func(t *testing.T, out, _ string) {
			if !strings.Contains(out, "secret: ") || !strings.Contains(out, "otpauth://totp/") {
				t.Fatalf("output:\n%s", out)
			}
		}},
		{"device list empty", func() []string {
			return []string{"device", "list", "--tenant", tid, "--can-reset", "DestructiveAndNonDestructive"}
		}, 0, func(t *testing.T, out, _ string) {
			if strings.TrimSpace(out) != strings.TrimSpace(strings.Join(strings.Fields("ID DEVICENAME USERPRINCIPALNAME OSVERSION JOINTYPE TRUSTTYPE ENROLLMENTSTATE CANRESET CANRESETREASON LASTSEENAT"), "  ")) {
				t.Fatalf("table:\n%q", out)
			}
		}},
		{"device list bad filter", func() []string {
			return []string{"device", "list", "--tenant", tid, "--can-reset", "Maybe"}
		}, 1, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "invalidFilter") {
				t.Fatalf("stderr: %s", errOut)
			}
		}},
		{"device retire absent", func() []string { return []string{"device", "retire", "--tenant", tid, "--device", "NOPE"} }, 1, func(t *testing.T, _, errOut string) {
			if !strings.Contains(errOut, "HTTP 404") {
				t.Fatalf("stderr: %s", errOut)
			}
		}},
		{"token create", func() []string {
			return []string{"token", "create", "--name", "ci", "--role", "reader", "--tenant", tid}
		}, 0, func(t *testing.T, out, errOut string) {
			if !strings.Contains(out, "hmdm_") || !strings.Contains(out, "reader") || !strings.Contains(errOut, "shown once") {
				t.Fatalf("out:\n%s\nerr:\n%s", out, errOut)
			}
		}},
		{"pinreset consent", func() []string { return []string{"pinreset", "consent", "--tenant", tid, "--app", "service"} }, 0, func(t *testing.T, out, _ string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[1], "service") || !strings.Contains(lines[1], "true") || !strings.Contains(lines[2], "false") {
				t.Fatalf("table:\n%s", out)
			}
		}},
		{"pinreset status json", func() []string { return []string{"-o", "json", "pinreset", "status", "--tenant", tid} }, 0, func(t *testing.T, out, _ string) {
			var v struct {
				Value []struct {
					App       string `json:"app"`
					Consented bool   `json:"consented"`
				} `json:"value"`
			}
			jsonOf(t, out, &v)
			if len(v.Value) != 2 || v.Value[0].App != "service" || !v.Value[0].Consented || v.Value[1].Consented {
				t.Fatalf("%+v", v)
			}
		}},
		{"pinreset revoke", func() []string {
			return []string{"-o", "json", "pinreset", "consent", "--tenant", tid, "--app", "service", "--revoke"}
		}, 0, func(t *testing.T, out, _ string) {
			if strings.Contains(out, `"consented": true`) {
				t.Fatalf("still consented:\n%s", out)
			}
		}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errOut := cli(s.args()...)
			if code != s.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, s.code, out, errOut)
			}
			s.check(t, out, errOut)
		})
	}
}

// Issue 13 item 5: consenting in a government cloud tenant works and prints the API's
// warning that the PIN reset service is not available there.
func TestAdminGovCloudConsentWarns(t *testing.T) {
	base := startCLIServer(t)
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	const tid = "3f9a2c71-5d4e-4b8a-a6c2-91e0d7b4f5a3"
	if code, _, errOut := cli("tenant", "create", "--id", tid, "--name", "Contoso Gov", "--domain", "gov.contoso.com", "--gov-cloud"); code != 0 {
		t.Fatalf("tenant create: %d %s", code, errOut)
	}
	code, out, errOut := cli("pinreset", "consent", "--tenant", tid, "--app", "service")
	if code != 0 || !strings.Contains(out, "consented") && !strings.Contains(out, "CONSENTED") {
		t.Fatalf("consent: %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "warning: the PIN reset service is not available in Azure Government") {
		t.Errorf("no warning on stderr: %q", errOut)
	}
	if _, _, errOut := cli("pinreset", "consent", "--tenant", tid, "--app", "service", "--revoke"); strings.Contains(errOut, "warning") {
		t.Errorf("revoking warns: %q", errOut)
	}
}
