package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"testing"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Issue 3 acceptance: discover → policy → enroll → an accepted mTLS session.
func TestEnrollAndSync(t *testing.T) {
	e := start(t)
	for _, tc := range []struct {
		name, upn, tenant string
		shape             enroll.CSRShape
		os                string
		edition           int
	}{
		{"OnPremise Windows CSR, Windows 11 Pro", "alice@contoso.com", contosoTenant, enroll.CSRWindows, identity.OSVersionWindows11v23H2, identity.EditionPro},
		{"Federated web sign-in, clean CSR, Windows 10 1709 Enterprise", "bob@fabrikam.com", fabrikamTen, enroll.CSRClean, identity.OSVersionWindows10v1709, identity.EditionEnterprise},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.agent(newIdentity(t, tc.os, tc.edition))
			e.enroll(a, tc.upn, tc.shape)
			enr := a.Enrollment()
			if enr.State != enroll.StateEnrolled || enr.TenantID != tc.tenant || enr.ProviderID == "" {
				t.Fatalf("enrollment = %+v", enr)
			}
			rep, err := a.Sync(context.Background())
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if rep.SessionID != "1" || rep.Messages != 1 {
				t.Errorf("report = %+v, want session 1 in one message", rep)
			}
			d, err := e.app.Store.Device(context.Background(), a.Identity().DeviceID)
			if err != nil {
				t.Fatal(err)
			}
			if d.State != store.DeviceEnrolled || d.TenantID != tc.tenant || d.UPN != tc.upn {
				t.Errorf("server device = %+v", d)
			}
			if got := d.Nodes["./DevInfo/DmV"]; got != "1.3" {
				t.Errorf("server recorded DmV %q", got)
			}
			if got := d.Nodes["./Vendor/MSFT/DMClient/HWDevID"]; got != a.Identity().HWDevID {
				t.Errorf("server recorded HWDevID %q", got)
			}
			if got := d.Nodes["./Vendor/MSFT/hellomdm/HelloStatus/NgcSet"]; got != "NO" {
				t.Errorf("server recorded NgcSet %q", got)
			}
		})
	}
}

func TestEnrollBadPasswordIsAFault(t *testing.T) {
	e := start(t)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	err := a.Enroll(context.Background(), enroll.Request{ServerURL: e.url, UPN: "alice@contoso.com", Password: "wrong",
		RootCAs: e.app.CA.Pool()})
	var f *enroll.FaultError
	if !errors.As(err, &f) || f.Subcode != "s:Authentication" {
		t.Fatalf("err = %v, want an s:Authentication fault", err)
	}
	if a.Enrollment().State != enroll.StateNotEnrolled {
		t.Errorf("state after a refused enrollment = %s", a.Enrollment().State)
	}
}

// The management endpoint refuses every certificate that is not the device's current one.
func TestManagementRefusals(t *testing.T) {
	e := start(t)
	victim := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(victim, "alice@contoso.com", enroll.CSRClean)
	attacker := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(attacker, "alice@contoso.com", enroll.CSRClean)
	victimID := victim.Identity().DeviceID

	// Revoked: the same DeviceID enrolls again (new key, new certificate); the old one is out.
	oldCert := tlsCertOf(t, victim)
	again, err := device.Open(t.TempDir(), device.Options{Identity: ptr(victim.Identity())})
	if err != nil {
		t.Fatal(err)
	}
	e.enroll(again, "alice@contoso.com", enroll.CSRWindows)

	selfCert, selfKey := testpki.SelfSigned(t, victimID)
	self := &tls.Certificate{Certificate: [][]byte{selfCert.Raw}, PrivateKey: selfKey, Leaf: selfCert}

	for _, tc := range []struct {
		name    string
		cert    *tls.Certificate
		source  string
		wantHdr int // SyncHdr status of a SyncML refusal; 0 = TLS or HTTP refusal
	}{
		{"own certificate is accepted", tlsCertOf(t, again), victimID, syncml.StatusOK},
		{"another device's certificate", tlsCertOf(t, attacker), victimID, syncml.StatusForbidden},
		{"replaced (revoked) certificate", oldCert, victimID, syncml.StatusInvalidCredentials},
		{"self-signed certificate", self, victimID, 0},
		{"no certificate", nil, victimID, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpStatus, hdr, err := e.checkin(tc.cert, tc.source)
			if tc.wantHdr == 0 {
				if err == nil && httpStatus != http.StatusUnauthorized {
					t.Fatalf("HTTP %d, SyncHdr %d: want a TLS failure or HTTP 401", httpStatus, hdr)
				}
				return
			}
			if err != nil {
				t.Fatalf("check-in: %v", err)
			}
			if httpStatus != http.StatusOK || hdr != tc.wantHdr {
				t.Fatalf("HTTP %d, SyncHdr %d; want 200 and %d", httpStatus, hdr, tc.wantHdr)
			}
		})
	}

	// The agent holding the replaced certificate sees a typed refusal.
	_, err = victim.Sync(context.Background())
	var refused *omadm.RefusedError
	if !errors.As(err, &refused) || refused.Status != syncml.StatusInvalidCredentials {
		t.Fatalf("sync with a replaced certificate: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
