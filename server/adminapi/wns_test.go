package adminapi

import (
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
	full := TenantWNSView{PFN: pfn, PackageSID: sid, ClientSecretConfigured: true}
	for _, tc := range []struct {
		name   string
		before TenantWNSView
		patch  TenantWNSPatch
		want   TenantWNSView
		err    string
	}{
		{"everything at once", TenantWNSView{}, TenantWNSPatch{PFN: str(pfn), PackageSID: str(sid), ClientSecret: str(secret)}, full, ""},
		{"credentials before the PFN", TenantWNSView{}, TenantWNSPatch{PackageSID: str(sid), ClientSecret: str(secret)}, TenantWNSView{PackageSID: sid, ClientSecretConfigured: true}, ""},
		{"a PFN alone", TenantWNSView{}, TenantWNSPatch{PFN: str(pfn)}, TenantWNSView{}, "needs a packageSid and a clientSecret"},
		{"clearing the secret under a PFN", full, TenantWNSPatch{ClientSecret: str("")}, TenantWNSView{}, "needs a packageSid"},
		{"clearing the PFN", full, TenantWNSPatch{PFN: str("")}, TenantWNSView{PackageSID: sid, ClientSecretConfigured: true}, ""},
		{"clearing everything", full, TenantWNSPatch{PFN: str(""), PackageSID: str(""), ClientSecret: str("")}, TenantWNSView{}, ""},
		{"rotating the secret", full, TenantWNSPatch{ClientSecret: str("new-secret")}, full, ""},
		{"a PFN without publisher ID", TenantWNSView{}, TenantWNSPatch{PFN: str("Contoso.MDM")}, TenantWNSView{}, "not a package family name"},
		{"a PFN with a space", TenantWNSView{}, TenantWNSPatch{PFN: str("Contoso MDM_8wekyb3d8bbwe")}, TenantWNSView{}, "not a package family name"},
		{"a SID of another kind", TenantWNSView{}, TenantWNSPatch{PackageSID: str("S-1-5-21-1-2-3-4")}, TenantWNSView{}, "not ms-app://"},
		{"a secret with a line break", TenantWNSView{}, TenantWNSPatch{ClientSecret: str("a\nb")}, TenantWNSView{}, "printable ASCII"},
		{"a secret too long", TenantWNSView{}, TenantWNSPatch{ClientSecret: str(strings.Repeat("x", 257))}, TenantWNSView{}, "printable ASCII"},
	} {
		got, err := tc.patch.validate(tc.before)
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
