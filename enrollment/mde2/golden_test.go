package mde2

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	testMessageID = "urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749"
	testDeviceID  = "B5B954E81FBCB94EB79BD08BE625F4EE"
	testServer    = "https://mdm.example.com"
)

// windowsHeader is the header of a Windows client request: Action, a urn:uuid MessageID,
// the anonymous ReplyTo and To, all as a Windows 10 client sends them.
func windowsHeader(action, to string, sec *Security) Header {
	return Header{Action: action, MessageID: testMessageID, ReplyTo: AddressAnonymous, To: to, Security: sec}
}

func onPremiseSecurity() *Security {
	return &Security{UsernameToken: &UsernameToken{ID: WindowsUsernameTokenID, Username: "user@example.com", Password: "p<&>ss \"word\""}}
}

// windowsContext is the AdditionalContext of a Windows 10 client enrolling from Settings.
func windowsContext() []ContextItem {
	return DeviceContext{
		HWDevID: "4C4C4544004E4A1080364B0C04F84C32A4A1B0E5C0F0D2E3F4A5B6C7D8E9F0A1", Locale: "en-US",
		OSEdition: "72", DeviceName: "DESKTOP-28FGAI6", MACs: []string{"00-0C-29-51-60-9D", "00-0C-29-51-60-9D", "00-50-56-C0-00-08"},
		DeviceID: testDeviceID, EnrollmentType: EnrollmentTypeFull, DeviceType: "CIMClient_Windows",
		OSVersion: "10.0.19043.2364", ApplicationVersion: "10.0.19043.2364", RequestVersion: "5.0",
	}.WindowsItems()
}

// testCSR stands for a DER certificate request; the codec carries it without reading it.
var testCSR = []byte{0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x00, 0xff, 0x10, 0x3f, 0x3e}

func responseHeader(action string) Header { return Header{Action: action, RelatesTo: testMessageID} }

// testProvisioningDoc is the document an enrollment RSTR carries (MS-MDE2 2.2.9.1), with
// placeholders for the certificates and secrets.
func testProvisioningDoc() *ProvisioningDoc {
	d := NewProvisioningDoc()
	store := d.Add("CertificateStore")
	root := store.Add("Root").Add("System").Add("0123456789ABCDEF0123456789ABCDEF01234567")
	root.Set("EncodedCertificate", "QkFTRTY0LURFUi1ST09U", "")
	my := store.Add("My")
	user := my.Add("User")
	user.Add("FEDCBA9876543210FEDCBA9876543210FEDCBA98").Set("EncodedCertificate", "QkFTRTY0LURFUi1DTElFTlQ=", "")
	user.Add("PrivateKeyContainer")
	renew := my.Add("WSTEP").Add("Renew")
	renew.Set("ROBOSupport", "true", "boolean")
	renew.Set("RenewPeriod", "60", "integer")
	renew.Set("RetryInterval", "4", "integer")
	app := d.Add("APPLICATION")
	app.Set("APPID", "w7", "")
	app.Set("PROVIDER-ID", "hellomdm", "")
	app.Set("ADDR", testServer+"/ManagementServer/MDM.svc", "")
	app.Set("BACKCOMPATRETRYDISABLED", "", "")
	app.Set("SSLCLIENTCERTSEARCHCRITERIA", "Subject=CN%3D"+testDeviceID+"&Stores=My%5CUser", "")
	cl := app.Add("APPAUTH")
	cl.Set("AAUTHLEVEL", "CLIENT", "")
	cl.Set("AAUTHTYPE", "DIGEST", "")
	dm := d.Add("DMClient").Add("Provider").Add("hellomdm")
	dm.Set("EntDMID", testDeviceID, "string")
	dm.Set("EntDeviceName", "Bob's PC <lab>", "string")
	dm.Add("Poll").Set("PollOnLogin", "true", "boolean")
	return d
}

func mustMarshalDoc(d *ProvisioningDoc) []byte {
	b, err := d.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}

type goldenCase struct {
	name     string
	response bool
	header   Header
	body     Body
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{"discover", false, windowsHeader(ActionDiscover, "https://EnterpriseEnrollment.example.com:443/EnrollmentServer/Discovery.svc", nil),
			&DiscoverRequest{EmailAddress: "user@example.com", RequestVersion: "4.0", DeviceType: "CIMClient_Windows",
				ApplicationVersion: "10.0.19043.2364", OSEdition: "72", AuthPolicies: []string{AuthPolicyOnPremise, AuthPolicyFederated}}},
		{"getpolicies_onpremise", false, windowsHeader(ActionGetPolicies, testServer+"/EnrollmentServer/Policy.svc", onPremiseSecurity()),
			&GetPoliciesRequest{}},
		{"getpolicies_federated", false, windowsHeader(ActionGetPolicies, testServer+"/EnrollmentServer/Policy.svc",
			&Security{UserToken: "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", HasUserToken: true}), &GetPoliciesRequest{}},
		{"rst_issue", false, windowsHeader(ActionRST, testServer+"/EnrollmentServer/Enrollment.svc", onPremiseSecurity()),
			&RequestSecurityToken{RequestType: RequestTypeIssue, ValueType: ValueTypePKCS10, Request: testCSR, Context: windowsContext()}},
		{"rst_renew", false, windowsHeader(ActionRST, testServer+"/EnrollmentServer/Enrollment.svc", nil),
			&RequestSecurityToken{RequestType: RequestTypeRenew, ValueType: ValueTypePKCS7, Request: testCSR, Context: windowsContext()}},
		{"discover_response_federated", true, responseHeader(ActionDiscoverResponse), &DiscoverResponse{AuthPolicy: AuthPolicyFederated,
			EnrollmentVersion: "5.0", EnrollmentPolicyServiceURL: testServer + "/EnrollmentServer/Policy.svc",
			EnrollmentServiceURL: testServer + "/EnrollmentServer/Enrollment.svc", AuthenticationServiceURL: testServer + "/idp/enroll"}},
		{"getpolicies_response", true, responseHeader(ActionGetPoliciesResponse), &GetPoliciesResponse{
			Policies: []CertificatePolicy{{CommonName: "hellomdm-device", PolicySchema: 3, ValidityPeriodSeconds: 31536000,
				RenewalPeriodSeconds: 15552000, Enroll: true, MinimalKeyLength: 2048, MajorRevision: 101}},
			OIDs: []OID{{Value: "2.16.840.1.101.3.4.2.1", Group: 1, DefaultName: "szOID_NIST_sha256"}}}},
		{"rstr", true, Header{Action: ActionRSTRC, RelatesTo: testMessageID, Security: &Security{Timestamp: &Timestamp{
			ID: "_0", Created: "2025-01-01T12:00:00.000Z", Expires: "2025-01-01T12:05:00.000Z"}}},
			&RequestSecurityTokenResponse{ProvisioningDoc: mustMarshalDoc(testProvisioningDoc()), RequestID: "0"}},
		{"fault_authentication", true, responseHeader(ActionGetPoliciesResponse),
			&Fault{Code: CodeSender, Subcode: SubcodeAuthentication, Reason: "invalid user name or password"}},
		{"fault_certificaterequest", true, responseHeader(ActionRSTRC), &Fault{Code: CodeSender, Subcode: SubcodeCertificateRequest,
			Reason: "certificate request refused", Detail: &FaultDetail{ErrorType: ErrorTypeInvalidEnrollmentData,
				Message: "certificate request refused", TraceID: "1490066b778935b0"}}},
	}
}

// decodeAs decodes the Body of env as the type of want.
func decodeAs(env *Envelope, want Body) (Body, error) {
	switch want.(type) {
	case *DiscoverRequest:
		return env.Discover()
	case *GetPoliciesRequest:
		return env.GetPolicies()
	case *RequestSecurityToken:
		return env.RequestSecurityToken()
	case *DiscoverResponse:
		return env.DiscoverResponse()
	case *GetPoliciesResponse:
		return env.GetPoliciesResponse()
	case *RequestSecurityTokenResponse:
		return env.RequestSecurityTokenResponse()
	case *Fault:
		return env.Fault()
	}
	panic("unknown body type")
}

func decodeEnvelope(data []byte, response bool) (*Envelope, error) {
	if response {
		return DecodeResponse(data)
	}
	return DecodeRequest(data)
}

// TestGolden holds Marshal to the wire form in testdata/<name>.xml, and decoding that file
// to the model it came from.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			wire, err := Marshal(tc.header, tc.body)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			path := filepath.Join("testdata", tc.name+".xml")
			if *update {
				writeFile(t, path, wire)
			}
			golden, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(wire, golden) {
				t.Errorf("Marshal differs from %s:\n got: %s\nwant: %s", path, wire, golden)
			}
			env, err := decodeEnvelope(golden, tc.response)
			if err != nil {
				t.Fatalf("decoding %s: %v", path, err)
			}
			if !reflect.DeepEqual(env.Header, tc.header) {
				t.Errorf("header %+v, want %+v", env.Header, tc.header)
			}
			got, err := decodeAs(env, tc.body)
			if err != nil {
				t.Fatalf("decoding the body of %s: %v", path, err)
			}
			if !reflect.DeepEqual(got, tc.body) {
				t.Errorf("body %+v, want %+v", got, tc.body)
			}
		})
	}
}

func TestGoldenProvisioningDoc(t *testing.T) {
	doc := testProvisioningDoc()
	out := mustMarshalDoc(doc)
	path := filepath.Join("testdata", "provisioningdoc.xml")
	if *update {
		writeFile(t, path, out)
	}
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden (run with -update to create): %v", err)
	}
	if !bytes.Equal(out, golden) {
		t.Errorf("Marshal differs from %s:\n got: %s\nwant: %s", path, out, golden)
	}
	back, err := ParseProvisioningDoc(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, doc) {
		t.Errorf("ParseProvisioningDoc(golden) = %+v, want %+v", back, doc)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}
