package enrollment

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

var goldenNow = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

var (
	reBST        = regexp.MustCompile(`(<BinarySecurityToken[^>]*>)([^<]+)(</BinarySecurityToken>)`)
	reEncodedCrt = regexp.MustCompile(`value="[A-Za-z0-9+/=]{200,}"`)
	reThumbprint = regexp.MustCompile(`type="[0-9A-F]{40}"`)
)

// normaliseRSTR splits an RSTR into the envelope (token replaced) and the
// provisioning document with certificates and thumbprints replaced, since
// ECDSA keys and signatures are never reproducible.
func normaliseRSTR(t *testing.T, body []byte) (env, prov []byte) {
	t.Helper()
	m := reBST.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no BinarySecurityToken in %s", body)
	}
	doc, err := base64.StdEncoding.DecodeString(string(m[2]))
	if err != nil {
		t.Fatal(err)
	}
	env = reBST.ReplaceAll(body, []byte("${1}PROVISIONING-DOCUMENT${3}"))
	prov = reEncodedCrt.ReplaceAll(doc, []byte(`value="BASE64-CERTIFICATE"`))
	prov = reThumbprint.ReplaceAll(prov, []byte(`type="THUMBPRINT"`))
	return env, prov
}

func TestGoldenResponses(t *testing.T) {
	k := testKeys()
	csr := windowsCSR(t, k.rsa2048, testDeviceID)
	onPrem := usernameSecurity("user@example.com", testPassword)
	issue := func(sec string, csr []byte) string {
		return rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, windowsContext(testDeviceID, "Full"))
	}
	badSig := append([]byte(nil), csr...)
	badSig[len(badSig)-3] ^= 0x55
	tests := []struct {
		name       string
		path       string
		body       func(f *fixture) string
		setup      func(f *fixture)
		wantStatus int
	}{
		{"discover_onpremise", PathDiscovery, func(*fixture) string { return discoverXML("user@example.com", "4.0") }, nil, 200},
		{"discover_federated", PathDiscovery, func(*fixture) string { return discoverXML("someone@fed.example", "5.0") }, nil, 200},
		{"getpolicies", PathPolicy, func(*fixture) string { return getPoliciesXML(onPrem) }, nil, 200},
		{"rstr_full", PathEnrollment, func(*fixture) string { return issue(onPrem, csr) }, nil, 200},
		{"rstr_device", PathEnrollment, func(f *fixture) string {
			return rstXML(tokenSecurity(f.token("t-fed", "someone@fed.example", goldenNow.Add(time.Hour))), mde2.RequestTypeIssue,
				mde2.ValueTypePKCS10, csr, windowsContext(testDeviceID, "Device"))
		}, nil, 200},
		{"fault_messageformat", PathEnrollment, func(*fixture) string { return "<s:Envelope" }, nil, 400},
		{"fault_wrong_action", PathPolicy, func(*fixture) string {
			return strings.Replace(getPoliciesXML(onPrem), mde2.ActionGetPolicies, mde2.ActionDiscover, 1)
		}, nil, 400},
		{"fault_version", PathDiscovery, func(*fixture) string { return discoverXML("user@example.com", "9.0") }, nil, 400},
		{"fault_authentication", PathPolicy, func(*fixture) string {
			return getPoliciesXML(usernameSecurity("user@example.com", "wrong"))
		}, nil, 400},
		{"fault_invalidsecurity", PathPolicy, func(*fixture) string { return getPoliciesXML("") }, nil, 400},
		{"fault_authorization", PathEnrollment, func(*fixture) string { return issue(onPrem, csr) }, func(f *fixture) {
			f.reg.devices[testDeviceID] = Enrollment{DeviceID: testDeviceID, TenantID: "t-other"}
		}, 400},
		{"fault_certificaterequest", PathEnrollment, func(*fixture) string { return issue(onPrem, badSig) }, nil, 400},
		{"fault_receiver", PathEnrollment, func(*fixture) string { return issue(onPrem, csr) }, func(f *fixture) {
			f.svc.reg = failingRegistry{f.reg}
		}, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, goldenNow)
			if tt.setup != nil {
				tt.setup(f)
			}
			rec := f.serve(t, tt.path, tt.body(f))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if rec.Header().Get("Content-Length") == "" {
				t.Error("no Content-Length")
			}
			body := rec.Body.Bytes()
			if strings.HasPrefix(tt.name, "rstr") {
				env, prov := normaliseRSTR(t, body)
				goldenCompare(t, tt.name, env)
				goldenCompare(t, tt.name+"_provdoc", prov)
				return
			}
			goldenCompare(t, tt.name, body)
		})
	}
}

func TestDiscoveryProbe(t *testing.T) {
	f := newFixture(t, goldenNow)
	for _, tt := range []struct {
		name, method, path string
		want               int
	}{
		{"GET probe", http.MethodGet, PathDiscovery, 200},
		{"PUT discovery", http.MethodPut, PathDiscovery, 405},
		{"GET policy", http.MethodGet, PathPolicy, 405},
		{"unknown path", http.MethodPost, "/EnrollmentServer/Other.svc", 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.path, nil)
			rec := httptestRecorder(f, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d", rec.Code, tt.want)
			}
			if tt.want == 200 && (rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != "0") {
				t.Fatalf("probe body %q, Content-Length %q", rec.Body, rec.Header().Get("Content-Length"))
			}
		})
	}
}
