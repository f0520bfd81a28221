package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// A tenant federated to a third-party sign-in host (federationHost) enrolls devices through
// the real server and agent: the web sign-in's redirect to that host is followed the way the
// simulation contract says (the host's sign-in is stood in for by POST /idp/token with the
// host named). It works whether the host is given when the tenant is created or patched in
// later; a wrong password is refused by that sign-in and says so.
func TestFederationHostEnrollment(t *testing.T) {
	e := start(t)
	tenants := []struct {
		id, domain, host string
		later            bool
	}{
		{"3c1f6a2e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", "northwind.com", "adfs.northwind.com", false},
		{"7d8e9f0a-1b2c-4d3e-8f5a-6b7c8d9e0f1a", "woodgrove.com", "sts.woodgrove.com", true},
	}
	for _, tn := range tenants {
		t.Run(tn.domain, func(t *testing.T) {
			req := wire.TenantRequest{ID: tn.id, DisplayName: tn.domain, VerifiedDomains: []string{tn.domain}, AuthPolicy: "Federated"}
			if !tn.later {
				req.FederationHost = tn.host
			}
			if st := e.api(http.MethodPost, "/tenants", req, nil); st != http.StatusCreated {
				t.Fatalf("tenant create: HTTP %d", st)
			}
			var u wire.UserRequest
			u.UserPrincipalName = "carol@" + tn.domain
			u.PasswordProfile.Password = password
			if st := e.api(http.MethodPost, "/tenants/"+tn.id+"/users", u, nil); st != http.StatusCreated {
				t.Fatalf("user create: HTTP %d", st)
			}
			if tn.later {
				host := tn.host
				if st := e.api(http.MethodPatch, "/tenants/"+tn.id, wire.TenantPatch{FederationHost: &host}, nil); st != http.StatusOK {
					t.Fatalf("tenant patch: HTTP %d", st)
				}
			}
			a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionEnterprise))
			err := a.Enroll(t.Context(), enroll.Request{ServerURL: e.url, UPN: u.UserPrincipalName, Password: "wrong password 1",
				RootCAs: e.app.CA.Pool(), CSRShape: enroll.CSRWindows})
			if err == nil || !strings.Contains(err.Error(), "web sign-in at "+tn.host+" refused (HTTP 401)") {
				t.Fatalf("enrolling with a wrong password: %v", err)
			}
			err = a.Enroll(t.Context(), enroll.Request{ServerURL: e.url, UPN: u.UserPrincipalName, Password: password,
				RootCAs: e.app.CA.Pool(), CSRShape: enroll.CSRWindows})
			if err != nil {
				t.Fatalf("enrolling: %v", err)
			}
			if enr := a.Enrollment(); enr.State != enroll.StateEnrolled || enr.AuthPolicy != enroll.AuthFederated {
				t.Fatalf("enrollment = %+v", enr)
			}
			if _, err := a.Sync(t.Context()); err != nil {
				t.Fatalf("sync: %v", err)
			}
			var d wire.Device
			if st := e.api(http.MethodGet, "/tenants/"+tn.id+"/devices/"+a.Identity().DeviceID, nil, &d); st != http.StatusOK || !strings.EqualFold(d.UserPrincipalName, u.UserPrincipalName) {
				t.Fatalf("device: HTTP %d %+v", st, d)
			}
		})
	}
}
