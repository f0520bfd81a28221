package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// tenant update patches only the fields whose flags are given.
func TestAdminTenantUpdate(t *testing.T) {
	base := startCLIServer(t)
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	const portal = "https://portal.contoso.com/enroll/done"
	code, out, e := cli("tenant", "create", "--id", tid, "--name", "Contoso", "--domain", "contoso.com", "--return-uri", portal)
	if code != 0 || !strings.Contains(out, "ENROLLMENTRETURNURIS") || !strings.Contains(out, portal) {
		t.Fatalf("tenant create --return-uri: exit %d\n%s%s", code, out, e)
	}
	type view struct {
		DisplayName          string   `json:"displayName"`
		VerifiedDomains      []string `json:"verifiedDomains"`
		AuthPolicy           string   `json:"authPolicy"`
		FederationHost       string   `json:"federationHost"`
		GovCloud             bool     `json:"govCloud"`
		EnrollmentReturnURIs []string `json:"enrollmentReturnUris"`
	}
	update := func(args ...string) view {
		t.Helper()
		code, out, e := cli(append([]string{"-o", "json", "tenant", "update", "--tenant", tid}, args...)...)
		var v view
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("tenant update %v: exit %d\n%s%s", args, code, out, e)
		}
		return v
	}
	if v := update("--auth-policy", "Federated", "--federation-host", "adfs.contoso.com"); v.AuthPolicy != "Federated" || v.FederationHost != "adfs.contoso.com" ||
		v.DisplayName != "Contoso" || len(v.VerifiedDomains) != 1 || !slices.Equal(v.EnrollmentReturnURIs, []string{portal}) {
		t.Fatalf("after setting the federation host: %+v", v)
	}
	// --return-uri replaces the list; a lone "" empties it.
	const kiosk = "https://kiosk.contoso.com/done?x=1,2"
	if v := update("--return-uri", kiosk, "--return-uri", portal); !slices.Equal(v.EnrollmentReturnURIs, []string{kiosk, portal}) || v.FederationHost != "adfs.contoso.com" {
		t.Fatalf("after setting two return addresses: %+v", v)
	}
	if v := update("--name", "Contoso"); !slices.Equal(v.EnrollmentReturnURIs, []string{kiosk, portal}) {
		t.Fatalf("a patch without --return-uri changed them: %+v", v)
	}
	if v := update("--return-uri", ""); len(v.EnrollmentReturnURIs) != 0 {
		t.Fatalf("after --return-uri \"\": %+v", v)
	}
	if v := update("--name", "Contoso Ltd", "--domain", "contoso.com", "--domain", "contoso.net", "--gov-cloud=true"); v.DisplayName != "Contoso Ltd" ||
		len(v.VerifiedDomains) != 2 || !v.GovCloud || v.FederationHost != "adfs.contoso.com" {
		t.Fatalf("after name, domains, gov cloud: %+v", v)
	}
	if v := update("--federation-host", "", "--gov-cloud=false"); v.FederationHost != "" || v.GovCloud || v.AuthPolicy != "Federated" {
		t.Fatalf("after clearing the host: %+v", v)
	}
	code, out, _ = cli("tenant", "update", "--tenant", tid, "--name", "Contoso")
	if code != 0 || !strings.Contains(out, "Contoso") || !strings.Contains(out, "DISPLAYNAME") {
		t.Fatalf("table output: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tenant", "update", "--tenant", tid}, 2, "give at least one of"},
		{[]string{"tenant", "update", "--name", "x"}, 2, "--tenant is required"},
		{[]string{"tenant", "update", "--tenant", tid, "--federation-host", "not a host"}, 1, "HTTP 422"},
		{[]string{"tenant", "update", "--tenant", "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d", "--name", "x"}, 1, "HTTP 404"},
		{[]string{"tenant", "update", "--tenant", tid, "--return-uri", "http://portal.contoso.com/"}, 1, "enrollmentReturnUris"},
		{[]string{"tenant", "update", "--tenant", tid, "--return-uri", portal, "--return-uri", ""}, 2, "give it alone"},
		{[]string{"tenant", "create", "--id", "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d", "--name", "F", "--domain", "fabrikam.com", "--return-uri", "ms-app://s-1-15"}, 1, "HTTP 422"},
	} {
		if code, _, e := cli(tc.args...); code != tc.code || !strings.Contains(e, tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, e, tc.want)
		}
	}
}
