package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
)

func customProfile(uri string) []byte {
	return []byte(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"PIN recovery",` +
		`"omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingBoolean","displayName":"EnablePinRecovery","omaUri":"` + uri + `","value":true}]}`)
}

// The PassportForWork documentation prints its paths with a literal TenantId segment; a URI
// copied from there is refused with the advice to replace it and the corrected URI.
func TestLiteralTenantIdSegment(t *testing.T) {
	p := NewParser(csp.Default())
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	tests := []struct {
		name, uri, tenant, msg, suggestion string
	}{
		{"device scope, tenant known", "./Device/Vendor/MSFT/PassportForWork/TenantId/Policies/EnablePinRecovery", tid,
			"replace TenantId with your tenant ID (" + tid + ")", "./Device/Vendor/MSFT/PassportForWork/" + tid + "/Policies/EnablePinRecovery"},
		{"lower case, user scope", "./User/Vendor/MSFT/PassportForWork/tenantid/Policies/EnablePinRecovery", tid,
			"replace TenantId with your tenant ID (" + tid + ")", "./User/Vendor/MSFT/PassportForWork/" + tid + "/Policies/EnablePinRecovery"},
		{"tenant unknown", "./Device/Vendor/MSFT/PassportForWork/TenantId/Policies/EnablePinRecovery", "",
			"replace TenantId with your tenant ID", "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.ParseTenantProfile(customProfile(tc.uri), tc.tenant)
			var ve *ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidSetting) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if !strings.Contains(ve.Message, tc.msg) || ve.Suggestion != tc.suggestion {
				t.Fatalf("message %q, suggestion %q; want %q and %q", ve.Message, ve.Suggestion, tc.msg, tc.suggestion)
			}
			if !strings.Contains(err.Error(), tc.suggestion) {
				t.Fatalf("the error does not show the corrected URI: %v", err)
			}
		})
	}
	// The corrected URI is accepted.
	if _, err := p.ParseTenantProfile(customProfile(tests[0].suggestion), tid); err != nil {
		t.Fatalf("corrected URI: %v", err)
	}
}

// A PassportForWork path naming another tenant's GUID is accepted with a warning; the own
// tenant's GUID and the placeholder get none.
func TestTenantWarnings(t *testing.T) {
	p := NewParser(csp.Default())
	const (
		tid   = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
		other = "0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d"
	)
	tests := []struct {
		name, uri string
		warn      bool
	}{
		{"placeholder", "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", false},
		{"own tenant", "./Device/Vendor/MSFT/PassportForWork/" + tid + "/Policies/EnablePinRecovery", false},
		{"own tenant upper case", "./Device/Vendor/MSFT/PassportForWork/" + strings.ToUpper(tid) + "/Policies/EnablePinRecovery", false},
		{"another tenant", "./Device/Vendor/MSFT/PassportForWork/" + other + "/Policies/EnablePinRecovery", true},
		{"not a tenant path", "./Vendor/MSFT/Policy/Config/Authentication/EnableWebSignIn", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := customProfile(tc.uri)
			if !strings.Contains(tc.uri, "PassportForWork") {
				raw = []byte(strings.Replace(string(raw), "omaSettingBoolean", "omaSettingInteger", 1))
				raw = []byte(strings.Replace(string(raw), `"value":true`, `"value":1`, 1))
			}
			prof, err := p.ParseTenantProfile(raw, tid)
			if err != nil {
				t.Fatal(err)
			}
			ws := p.TenantWarnings(prof.Settings, tid)
			if (len(ws) == 1) != tc.warn || len(ws) > 1 {
				t.Fatalf("warnings = %q, want a warning: %v", ws, tc.warn)
			}
			if tc.warn && (!strings.Contains(ws[0], other) || !strings.Contains(ws[0], "never on this tenant's") || !strings.Contains(ws[0], "{TenantId}")) {
				t.Fatalf("warning = %q", ws[0])
			}
		})
	}
}
