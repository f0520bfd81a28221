package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wns set changes only the flags given, reads the secret from a file, and never prints it;
// wns show tells whether a secret is configured.
func TestAdminWNS(t *testing.T) {
	base := startCLIServer(t)
	const (
		tid    = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
		pfn    = "Contoso.MDM_8wekyb3d8bbwe"
		sid    = "ms-app://s-1-15-2-1-2-3-4-5-6-7"
		secret = "Vex8L9WOFZuj95euaLrvSH7XyoDhLJc7"
	)
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	if code, out, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatalf("tenant create: exit %d\n%s%s", code, out, e)
	}
	secretFile := filepath.Join(t.TempDir(), "wns-secret.txt")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"wns", "set", "--tenant", "contoso.com"}, 2, "give at least one of"},
		{[]string{"wns", "set", "--tenant", "contoso.com", "--pfn", pfn}, 1, "needs a packageSid and a clientSecret"},
		{[]string{"wns", "set", "--tenant", "contoso.com", "--package-sid", "S-1-5-21"}, 1, "HTTP 422"},
		{[]string{"wns", "set", "--tenant", "contoso.com", "--client-secret-file", filepath.Join(t.TempDir(), "none")}, 1, "reading the client secret"},
		{[]string{"-q", "wns", "show", "--tenant", "contoso.com"}, 2, "no ID"},
		{[]string{"wns", "set", "--tenant", "contoso.com", "--pfn", pfn, "--package-sid", sid, "--client-secret-file", secretFile}, 0, "true"},
		{[]string{"wns", "show", "--tenant", "contoso.com"}, 0, pfn},
		{[]string{"-o", "json", "wns", "show", "--tenant", "contoso.com"}, 0, `"clientSecretConfigured": true`},
		{[]string{"wns", "set", "--tenant", "contoso.com", "--pfn", ""}, 0, sid},
	} {
		code, out, e := cli(tc.args...)
		if code != tc.code || !strings.Contains(out+e, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out, e)
		}
		if strings.Contains(out+e, secret) {
			t.Errorf("%v printed the client secret", tc.args)
		}
	}
}
