package adminapi

import (
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"strings"
	"testing"
)

func TestTenantWNSPatchValidate(t *testing.T) {
	str := func(s string) *string { return &s }
	const (
		pfn    = "Contoso.MDM_8wekyb3d8bbwe"
		sid    = "ms-app://s-1-15-2-2972962901-2322836549-3722629029-1345238579-3987825745-2155616079-650196962"
		secret = "Vex8L9WOFZuj95euaLrvSH7XyoDhLJc7"
	)
	full := wire.TenantWNS{PFN: pfn, PackageSID: sid, ClientSecretConfigured: true}
	for _, tc := range []struct {
		name   string
		before wire.TenantWNS
		patch  wire.TenantWNSPatch
		want   wire.TenantWNS
		err    string
	}{
		{"everything at once", wire.TenantWNS{}, wire.TenantWNSPatch{PFN: str(pfn), PackageSID: str(sid), ClientSecret: str(secret)}, full, ""},
		{"credentials before the PFN", wire.TenantWNS{}, wire.TenantWNSPatch{PackageSID: str(sid), ClientSecret: str(secret)}, wire.TenantWNS{PackageSID: sid, ClientSecretConfigured: true}, ""},
		{"a PFN alone", wire.TenantWNS{}, wire.TenantWNSPatch{PFN: str(pfn)}, wire.TenantWNS{}, "needs a packageSid and a clientSecret"},
		{"clearing the secret under a PFN", full, wire.TenantWNSPatch{ClientSecret: str("")}, wire.TenantWNS{}, "needs a packageSid"},
		{"clearing the PFN", full, wire.TenantWNSPatch{PFN: str("")}, wire.TenantWNS{PackageSID: sid, ClientSecretConfigured: true}, ""},
		{"clearing everything", full, wire.TenantWNSPatch{PFN: str(""), PackageSID: str(""), ClientSecret: str("")}, wire.TenantWNS{}, ""},
		{"rotating the secret", full, wire.TenantWNSPatch{ClientSecret: str("new-secret")}, full, ""},
		{"a PFN without publisher ID", wire.TenantWNS{}, wire.TenantWNSPatch{PFN: str("Contoso.MDM")}, wire.TenantWNS{}, "not a package family name"},
		{"a PFN with a space", wire.TenantWNS{}, wire.TenantWNSPatch{PFN: str("Contoso MDM_8wekyb3d8bbwe")}, wire.TenantWNS{}, "not a package family name"},
		{"a SID of another kind", wire.TenantWNS{}, wire.TenantWNSPatch{PackageSID: str("S-1-5-21-1-2-3-4")}, wire.TenantWNS{}, "not ms-app://"},
		{"a secret with a line break", wire.TenantWNS{}, wire.TenantWNSPatch{ClientSecret: str("a\nb")}, wire.TenantWNS{}, "printable ASCII"},
		{"a secret too long", wire.TenantWNS{}, wire.TenantWNSPatch{ClientSecret: str(strings.Repeat("x", 257))}, wire.TenantWNS{}, "printable ASCII"},
	} {
		got, err := validateWNSPatch(tc.patch, tc.before)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the refusal repeats the secret", tc.name)
		}
	}
}
