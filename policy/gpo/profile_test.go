package gpo_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/policy/gpo"
)

// TestProfileIsAValidIntuneProfile: the profile built from the fixture backup passes the
// same validation as any imported custom OMA-URI profile, with one setting per supported
// row, and the user-half setting stays a ./User node.
func TestProfileIsAValidIntuneProfile(t *testing.T) {
	a, err := gpo.NewAnalyzer(csp.Default())
	if err != nil {
		t.Fatal(err)
	}
	p, err := gpo.ParseBackupFS("backup", os.DirFS(filepath.Join("testdata", "backup")))
	if err != nil {
		t.Fatal(err)
	}
	rep := a.Analyze(p, "")
	raw, err := rep.Profile("WHfB from GPO")
	if err != nil {
		t.Fatal(err)
	}
	prof, err := policy.NewParser(csp.Default()).ParseProfile(raw)
	if err != nil {
		t.Fatalf("the generated profile does not validate: %v", err)
	}
	if prof.Name != "WHfB from GPO" || len(prof.Settings) != rep.Summary.Supported {
		t.Fatalf("profile %q with %d settings, want %d", prof.Name, len(prof.Settings), rep.Summary.Supported)
	}
	want := map[string]string{
		"./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery":    "true",
		"./User/Vendor/MSFT/PassportForWork/{TenantId}/Policies/UsePassportForWork":     "true",
		"./Device/Vendor/MSFT/Policy/Config/CredentialProviders/AllowPINLogon":          "<enabled/>",
		"./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/PINComplexity/Digits": "1",
	}
	for _, s := range prof.Settings {
		if v, ok := want[s.LocURI]; ok {
			if s.Value != v {
				t.Errorf("%s = %q, want %q", s.LocURI, s.Value, v)
			}
			delete(want, s.LocURI)
		}
		if strings.Contains(s.LocURI, "SmartCard") {
			t.Errorf("a not-supported setting reached the profile: %s", s.LocURI)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing from the profile: %v", want)
	}
}
