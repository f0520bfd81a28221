package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
	"github.com/hellomdm/hellomdm/store"
)

const testTenant = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"

// identityTestNow is the clock of the validation tests.
var identityTestNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestTenantValidation(t *testing.T) {
	cases := []struct {
		name    string
		req     wire.TenantRequest
		wantErr bool
	}{
		{"minimal", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"a.example"}}, false},
		{"upper-case GUID", wire.TenantRequest{ID: strings.ToUpper(testTenant), DisplayName: "A", VerifiedDomains: []string{"a.example"}}, false},
		{"urn GUID", wire.TenantRequest{ID: "urn:uuid:" + testTenant, DisplayName: "A", VerifiedDomains: []string{"a.example"}}, true},
		{"single-label domain", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"localhost"}}, true},
		{"domain twice", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"a.example", "A.example"}}, true},
		{"label starts with hyphen", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"-a.example"}}, true},
		{"control char in name", wire.TenantRequest{ID: testTenant, DisplayName: "A\x00", VerifiedDomains: []string{"a.example"}}, true},
		{"bad federation host", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"a.example"}, FederationHost: "https://x"}, true},
		{"empty scope tag", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"a.example"}, RoleScopeTagIDs: []string{" "}}, true},
		{"scope tag twice", wire.TenantRequest{ID: testTenant, DisplayName: "A", VerifiedDomains: []string{"a.example"}, RoleScopeTagIDs: []string{"x", "X"}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tn, err := toTenant(c.req, identityTestNow)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			var ve validationError
			if err != nil && !errors.As(err, &ve) {
				t.Fatalf("error %T is not a validationError", err)
			}
			if err == nil && (tn.ID != testTenant || tn.AuthPolicy != store.AuthOnPremise) {
				t.Fatalf("tenant %+v", tn)
			}
		})
	}
}

// FuzzAdminRequests feeds request bodies to the decoders and validators of the identity
// routes: nothing may panic, and what validates is normalised.
func FuzzAdminRequests(f *testing.F) {
	f.Add([]byte(`{"id":"6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01","displayName":"Contoso","verifiedDomains":["contoso.com"],"authPolicy":"OnPremise"}`))
	f.Add([]byte(`{"userPrincipalName":"alice@contoso.com","passwordProfile":{"password":"correct horse"}}`))
	f.Add([]byte(`{"name":"ci","role":"reader","tenantId":"","roleScopeTagIds":["Berlin"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tenant := store.Tenant{ID: testTenant, VerifiedDomains: []string{"contoso.com"}}
		var tr wire.TenantRequest
		if decodeStrict(data, &tr) == nil {
			if tn, err := toTenant(tr, identityTestNow); err == nil {
				if _, err := normalizeTenantID(tn.ID); err != nil || tn.ID != strings.ToLower(tn.ID) {
					t.Fatalf("accepted tenant id %q", tn.ID)
				}
				for _, d := range tn.VerifiedDomains {
					if !validDNSName(d) {
						t.Fatalf("accepted domain %q", d)
					}
				}
			}
		}
		var ur wire.UserRequest
		if decodeStrict(data, &ur) == nil {
			if u, pw, err := toUser(ur, tenant, identityTestNow); err == nil {
				if !strings.HasSuffix(u.UPN, "@contoso.com") || len(pw) < minPasswordLen {
					t.Fatalf("accepted user %q password length %d", u.UPN, len(pw))
				}
			}
		}
		var kr wire.TokenRequest
		if decodeStrict(data, &kr) == nil {
			if tok, err := toToken(kr, identityTestNow); err == nil && tok.Role != store.RoleAdmin && tok.Role != store.RoleOperator && tok.Role != store.RoleReader {
				t.Fatalf("accepted role %q", tok.Role)
			}
		}
		var cr wire.ConsentRequest
		if decodeStrict(data, &cr) == nil {
			if app, err := consentApp(cr.App); err == nil && !app.Valid() {
				t.Fatalf("accepted app %q", app)
			}
		}
	})
}

// decodeStrict decodes as decodeAdminBody does.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
