package adminapi

import (
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

func TestUserValidation(t *testing.T) {
	tenant := store.Tenant{ID: testTenant, VerifiedDomains: []string{"contoso.com", "contoso.net"}}
	cases := []struct {
		name, upn, password string
		wantUPN             string // "" = refused
	}{
		{"plain", "alice@contoso.com", "12345678", "alice@contoso.com"},
		{"second domain, case folded", " Bob@CONTOSO.net ", "12345678", "bob@contoso.net"},
		{"eight runes of multibyte", "c@contoso.com", "éééééééé", "c@contoso.com"},
		{"seven characters", "c@contoso.com", "1234567", ""},
		{"overlong password", "c@contoso.com", strings.Repeat("x", 257), ""},
		{"subdomain is not verified", "c@eu.contoso.com", "12345678", ""},
		{"two at signs", "c@d@contoso.com", "12345678", ""},
		{"empty local part", "@contoso.com", "12345678", ""},
		{"space inside", "c d@contoso.com", "12345678", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := wire.UserRequest{UserPrincipalName: c.upn}
			req.PasswordProfile.Password = c.password
			u, pw, err := toUser(req, tenant, identityTestNow)
			if c.wantUPN == "" {
				if err == nil {
					t.Fatalf("accepted %+v", u)
				}
				return
			}
			if err != nil || u.UPN != c.wantUPN || pw != c.password || u.TenantID != testTenant || u.ID == "" {
				t.Fatalf("got %+v, %v", u, err)
			}
		})
	}
}
