package enrollment

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// issuedCert extracts the client certificate from an RSTR's provisioning doc.
func issuedCert(t *testing.T, rstr []byte) (*x509.Certificate, string) {
	t.Helper()
	m := reBST.FindSubmatch(rstr)
	if m == nil {
		t.Fatalf("no token in RSTR: %s", rstr)
	}
	raw, err := base64.StdEncoding.DecodeString(string(m[2]))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	for _, scope := range []string{"User", "System"} {
		el := doc.FindElement("//characteristic[@type='My']/characteristic[@type='" + scope + "']/characteristic/parm[@name='EncodedCertificate']")
		if el == nil {
			continue
		}
		der, _ := base64.StdEncoding.DecodeString(el.SelectAttrValue("value", ""))
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if got := el.Parent().SelectAttrValue("type", ""); got != mde2.Thumbprint(cert) {
			t.Errorf("thumbprint node %s, want %s", got, mde2.Thumbprint(cert))
		}
		return cert, string(raw)
	}
	t.Fatalf("no client certificate in %s", raw)
	return nil, ""
}

func TestEnrollOnPremiseAndRenew(t *testing.T) {
	f := newFixture(t, time.Time{})
	srv := f.startTLS(t)
	c := f.client(nil)

	resp, err := c.Get(srv.URL + PathDiscovery)
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 0 {
		t.Fatalf("probe: %v %v", err, resp)
	}
	resp.Body.Close()
	if r := post(t, c, srv.URL+PathDiscovery, discoverXML("user@example.com", "6.0")); r.status != 200 ||
		!strings.Contains(string(r.body), "<AuthPolicy>OnPremise</AuthPolicy>") ||
		strings.Contains(string(r.body), "AuthenticationServiceUrl") {
		t.Fatalf("discover: %d %s", r.status, r.body)
	}
	sec := usernameSecurity("user@example.com", testPassword)
	if r := post(t, c, srv.URL+PathPolicy, getPoliciesXML(sec)); r.status != 200 ||
		!strings.Contains(string(r.body), "<minimalKeyLength>2048</minimalKeyLength>") {
		t.Fatalf("policies: %d %s", r.status, r.body)
	}
	key := testKeys().rsa2048
	r := post(t, c, srv.URL+PathEnrollment, rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, windowsCSR(t, key, testDeviceID),
		windowsContext(testDeviceID, "Full")))
	if r.status != 200 {
		t.Fatalf("enroll: %d %s", r.status, r.body)
	}
	cert, prov := issuedCert(t, r.body)
	if id, err := f.ca.VerifyDevice(cert, time.Now()); err != nil || id != testDeviceID {
		t.Fatalf("VerifyDevice = %q, %v", id, err)
	}
	if strings.Contains(cert.Subject.String(), "!") {
		t.Fatalf("CSR CN leaked into certificate: %s", cert.Subject)
	}
	for _, want := range []string{`<parm name="APPID" value="w7"/>`, `value="CLIENT"`, `value="APPSRV"`, `name="PollOnLogin" value="true"`} {
		if !strings.Contains(prov, want) {
			t.Errorf("provisioning doc lacks %s", want)
		}
	}
	e, err := f.reg.Device(t.Context(), testDeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if e.TenantID != "t-onprem" || e.UserID != "u-1" || e.CertSerial != SerialHex(cert) || e.CertThumbprint != mde2.Thumbprint(cert) ||
		e.HWDevID != testHWDevID || len(e.MACs) != 3 || e.EnrollmentType != "Full" {
		t.Fatalf("registered %+v", e)
	}

	// Renewal: authenticated by the current certificate on the TLS connection.
	devTLS := &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	dc := f.client(devTLS)
	newKey := testKeys().p256
	r = post(t, dc, srv.URL+PathEnrollment, rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS7, pkcs7Wrap(standardCSR(t, newKey)), nil))
	if r.status != 200 {
		t.Fatalf("renew: %d %s", r.status, r.body)
	}
	renewed, renewProv := issuedCert(t, r.body)
	if strings.Contains(renewProv, "APPLICATION") {
		t.Error("renewal re-sent the w7 APPLICATION block")
	}
	e2, _ := f.reg.Device(t.Context(), testDeviceID)
	if e2.CertSerial != SerialHex(renewed) || e2.CertSerial == e.CertSerial || !f.reg.revoked[e.CertSerial] || e2.UserID != "u-1" {
		t.Fatalf("after renew: %+v", e2)
	}

	// The replaced certificate can no longer renew.
	r = post(t, dc, srv.URL+PathEnrollment, rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS10, standardCSR(t, newKey), nil))
	if r.status != 400 || !strings.Contains(string(r.body), mde2.ErrorTypeNotEligibleToRenew) {
		t.Fatalf("renew with old cert: %d %s", r.status, r.body)
	}
}

func TestEnrollFederated(t *testing.T) {
	f := newFixture(t, time.Time{})
	srv := f.startTLS(t)
	c := f.client(nil)
	r := post(t, c, srv.URL+PathDiscovery, discoverXML("someone@fed.example", "5.0"))
	if r.status != 200 || !strings.Contains(string(r.body), "<AuthenticationServiceUrl>https://mdm.example.com:8443/idp/enroll</AuthenticationServiceUrl>") {
		t.Fatalf("discover: %d %s", r.status, r.body)
	}
	sec := tokenSecurity(f.token("t-fed", "someone@fed.example", time.Now().Add(time.Hour)))
	if r := post(t, c, srv.URL+PathPolicy, getPoliciesXML(sec)); r.status != 200 {
		t.Fatalf("policies: %d %s", r.status, r.body)
	}
	r = post(t, c, srv.URL+PathEnrollment, rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, standardCSR(t, testKeys().p384),
		windowsContext(testDeviceID, "Device")))
	if r.status != 200 {
		t.Fatalf("enroll: %d %s", r.status, r.body)
	}
	_, prov := issuedCert(t, r.body)
	if !strings.Contains(prov, "Stores=My%5CSystem") {
		t.Error("Device enrollment should search My\\System")
	}
	e, err := f.reg.Device(t.Context(), testDeviceID)
	if err != nil || e.TenantID != "t-fed" || e.UserID != "u-fed" || e.UPN != "someone@fed.example" {
		t.Fatalf("registered %+v, %v", e, err)
	}
}

var reSubcode = regexp.MustCompile(`<s:Subcode><s:Value>([^<]+)</s:Value>`)

func TestBadInputChangesNothing(t *testing.T) {
	k := testKeys()
	csr := windowsCSR(t, k.rsa2048, testDeviceID)
	badSig := append([]byte(nil), csr...)
	badSig[len(badSig)-3] ^= 0x55
	onPrem := usernameSecurity("user@example.com", testPassword)
	ctx := windowsContext(testDeviceID, "Full")
	issue := func(sec string, csr []byte) string {
		return rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, ctx)
	}
	tests := []struct {
		name        string
		path        string
		body        func(f *fixture) string
		setup       func(f *fixture)
		wantStatus  int
		wantSubcode string
	}{
		{"malformed SOAP", PathEnrollment, func(*fixture) string { return "<s:Envelope><s:Body>" }, nil, 400, mde2.SubcodeMessageFormat},
		{"missing Action", PathEnrollment, func(*fixture) string {
			return strings.Replace(issue(onPrem, csr), mde2.ActionRST, "", 1)
		}, nil, 400, mde2.SubcodeMessageFormat},
		{"wrong Action", PathEnrollment, func(*fixture) string {
			return strings.Replace(issue(onPrem, csr), mde2.ActionRST, mde2.ActionGetPolicies, 1)
		}, nil, 400, mde2.SubcodeMessageFormat},
		{"unsupported RequestVersion", PathDiscovery, func(*fixture) string { return discoverXML("user@example.com", "3.5") }, nil, 400, mde2.SubcodeMessageFormat},
		{"unknown domain", PathDiscovery, func(*fixture) string { return discoverXML("user@nowhere.example", "4.0") }, nil, 400, mde2.SubcodeAuthentication},
		{"bad CSR signature", PathEnrollment, func(*fixture) string { return issue(onPrem, badSig) }, nil, 400, mde2.SubcodeCertificateRequest},
		{"weak key RSA-1024", PathEnrollment, func(*fixture) string { return issue(onPrem, windowsCSR(t, k.rsa1024, testDeviceID)) }, nil, 400, mde2.SubcodeCertificateRequest},
		{"garbage CSR", PathEnrollment, func(*fixture) string { return issue(onPrem, []byte("nope")) }, nil, 400, mde2.SubcodeCertificateRequest},
		{"wrong password", PathEnrollment, func(*fixture) string {
			return issue(usernameSecurity("user@example.com", "hunter2"), csr)
		}, nil, 400, mde2.SubcodeAuthentication},
		{"password for federated tenant", PathEnrollment, func(*fixture) string {
			return issue(usernameSecurity("someone@fed.example", testPassword), csr)
		}, nil, 400, mde2.SubcodeAuthentication},
		{"expired token", PathEnrollment, func(f *fixture) string {
			return issue(tokenSecurity(f.token("t-fed", "someone@fed.example", time.Now().Add(-time.Minute))), csr)
		}, nil, 400, mde2.SubcodeAuthentication},
		{"forged token", PathEnrollment, func(f *fixture) string {
			forger := &hmacTokens{key: []byte("not the server key"), issuer: f.tokens.issuer, audience: f.tokens.audience, now: f.tokens.now}
			return issue(tokenSecurity(forger.sign(tokenBody{Iss: testIssuer, Aud: testAudience, Tid: "t-fed",
				UPN: "someone@fed.example", Exp: time.Now().Add(time.Hour).Unix()})), csr)
		}, nil, 400, mde2.SubcodeAuthentication},
		{"token of another tenant", PathEnrollment, func(f *fixture) string {
			return issue(tokenSecurity(f.token("t-other", "someone@fed.example", time.Now().Add(time.Hour))), csr)
		}, nil, 400, mde2.SubcodeAuthorization},
		{"no credentials", PathEnrollment, func(*fixture) string { return issue("", csr) }, nil, 400, mde2.SubcodeInvalidSecurity},
		{"DeviceID enrolled in another tenant", PathEnrollment, func(*fixture) string { return issue(onPrem, csr) }, func(f *fixture) {
			if err := f.reg.Register(t.Context(), Enrollment{DeviceID: testDeviceID, TenantID: "t-other", CertSerial: "AA"}); err != nil {
				t.Fatal(err)
			}
		}, 400, mde2.SubcodeAuthorization},
		{"renew without client certificate", PathEnrollment, func(*fixture) string {
			return rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS10, csr, nil)
		}, nil, 400, mde2.SubcodeAuthentication},
		{"registry failure", PathEnrollment, func(*fixture) string { return issue(onPrem, csr) }, func(f *fixture) {
			f.svc.reg = failingRegistry{f.reg}
		}, 500, mde2.SubcodeEnrollmentServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, time.Time{})
			if tt.setup != nil {
				tt.setup(f)
			}
			writesBefore, before := f.reg.snapshot()
			srv := f.startTLS(t)
			r := post(t, f.client(nil), srv.URL+tt.path, tt.body(f))
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			m := reSubcode.FindSubmatch(r.body)
			if m == nil || string(m[1]) != tt.wantSubcode {
				t.Fatalf("subcode %q, want %s: %s", m, tt.wantSubcode, r.body)
			}
			wantCode := "s:Sender"
			if tt.wantStatus == 500 {
				wantCode = "s:Receiver"
			}
			if !strings.Contains(string(r.body), "<s:Value>"+wantCode+"</s:Value>") {
				t.Errorf("fault code is not %s: %s", wantCode, r.body)
			}
			if !strings.Contains(string(r.body), "<a:RelatesTo>"+testMsgID+"</a:RelatesTo>") && tt.name != "malformed SOAP" {
				t.Errorf("no RelatesTo: %s", r.body)
			}
			writesAfter, after := f.reg.snapshot()
			if writesAfter != writesBefore || len(after) != len(before) {
				t.Fatalf("registry changed: writes %d→%d, devices %d→%d", writesBefore, writesAfter, len(before), len(after))
			}
			for id, e := range before {
				if after[id].CertSerial != e.CertSerial || after[id].TenantID != e.TenantID {
					t.Fatalf("device %s changed", id)
				}
			}
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	f := newFixture(t, goldenNow)
	good := f.svc.cfg
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"nil PublicURL", func(c *Config) { c.PublicURL = nil }},
		{"http PublicURL", func(c *Config) { u := *c.PublicURL; u.Scheme = "http"; c.PublicURL = &u }},
		{"relative auth path", func(c *Config) { c.AuthenticationPath = "idp" }},
		{"bad provider ID", func(c *Config) { c.ProviderID = "hello mdm" }},
		{"tiny validity", func(c *Config) { c.CertValidity = time.Second }},
		{"zero poll interval", func(c *Config) { c.Poll = PollSchedule{NumberOfFirstRetries: 1} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.mutate(&cfg)
			if _, err := New(cfg, f.ca, f.svc.dir, f.tokens, f.reg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
	if _, err := New(good, nil, f.svc.dir, nil, f.reg); err == nil {
		t.Fatal("New accepted a nil CA")
	}
}
