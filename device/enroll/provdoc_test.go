package enroll

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
	"github.com/hellomdm/hellomdm/internal/testpki"
)

// provDoc renders a provisioning document with a root, a client certificate and the given
// XML inside CertificateStore/My (the WSTEP characteristic, or nothing).
func provDoc(t *testing.T, wstep string) []byte {
	t.Helper()
	ca := testpki.NewCA(t, "hellomdm test root")
	key, _, err := NewKeyAndCSR(CSRClean, "00000000000000000000000000000001", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	client := ca.Issue(t, key.Public(), "00000000000000000000000000000001", nil)
	node := func(c *x509.Certificate) string {
		return fmt.Sprintf(`<characteristic type="%s"><parm name="EncodedCertificate" value="%s"/></characteristic>`,
			mde2.Thumbprint(c), base64.StdEncoding.EncodeToString(c.Raw))
	}
	return []byte(`<wap-provisioningdoc version="1.1"><characteristic type="CertificateStore">` +
		`<characteristic type="Root"><characteristic type="System">` + node(ca.Cert) + `</characteristic></characteristic>` +
		`<characteristic type="My"><characteristic type="User">` + node(client) + `</characteristic>` + wstep + `</characteristic>` +
		`</characteristic><characteristic type="APPLICATION"><parm name="ADDR" value="https://h/ManagementServer/MDM.svc"/>` +
		`<parm name="PROVIDER-ID" value="hellomdm"/></characteristic></wap-provisioningdoc>`)
}

func TestProvisioningRenewSchedule(t *testing.T) {
	renew := func(parms ...[2]string) string {
		s := `<characteristic type="WSTEP"><characteristic type="Renew">`
		for _, p := range parms {
			s += fmt.Sprintf(`<parm name="%s" value="%s" datatype="integer"/>`, p[0], p[1])
		}
		return s + `</characteristic></characteristic>`
	}
	for _, tc := range []struct {
		name    string
		wstep   string
		want    RenewSchedule
		wantErr string
	}{
		{"hellomdm's schedule", renew([2]string{"ROBOSupport", "true"}, [2]string{"RenewPeriod", "60"}, [2]string{"RetryInterval", "4"}),
			RenewSchedule{ROBOSupport: true, RenewPeriod: 60, RetryInterval: 4}, ""},
		{"ROBOSupport false", renew([2]string{"ROBOSupport", "False"}, [2]string{"RenewPeriod", "30"}, [2]string{"RetryInterval", "2"}),
			RenewSchedule{ROBOSupport: false, RenewPeriod: 30, RetryInterval: 2}, ""},
		{"no WSTEP characteristic: CSP defaults", "", RenewSchedule{ROBOSupport: true, RenewPeriod: 42, RetryInterval: 7}, ""},
		{"parms left out take CSP defaults", renew([2]string{"RenewPeriod", "90"}), RenewSchedule{ROBOSupport: true, RenewPeriod: 90, RetryInterval: 7}, ""},
		{"RenewPeriod 0", renew([2]string{"RenewPeriod", "0"}), RenewSchedule{}, "RenewPeriod"},
		{"RenewPeriod above 1000", renew([2]string{"RenewPeriod", "1001"}, [2]string{"RetryInterval", "4"}), RenewSchedule{}, "RenewPeriod"},
		{"RetryInterval not a number", renew([2]string{"RetryInterval", "four"}), RenewSchedule{}, "RetryInterval"},
		{"RetryInterval above RenewPeriod", renew([2]string{"RenewPeriod", "5"}, [2]string{"RetryInterval", "6"}), RenewSchedule{}, "exceeds RenewPeriod"},
		{"ROBOSupport not a boolean", renew([2]string{"ROBOSupport", "yes"}), RenewSchedule{}, "ROBOSupport"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseProvisioningDoc(provDoc(t, tc.wstep))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseProvisioningDoc = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Renew != tc.want {
				t.Errorf("schedule %+v, want %+v", p.Renew, tc.want)
			}
		})
	}
}
