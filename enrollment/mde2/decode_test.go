package mde2

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestWindowsShapes decodes requests laid out the way Windows clients send them (indented,
// wsse and ac prefixes, a default namespace on the operation, xsi declared per element,
// base64 broken over lines) to the same messages as the compact golden files.
func TestWindowsShapes(t *testing.T) {
	golden := map[string]goldenCase{}
	for _, tc := range goldenCases() {
		golden[tc.name] = tc
	}
	for _, name := range []string{"discover", "getpolicies_onpremise", "rst_issue"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "windows_"+name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			want := golden[name]
			env, err := DecodeRequest(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(env.Header, want.header) {
				t.Errorf("header %+v, want %+v", env.Header, want.header)
			}
			got, err := decodeAs(env, want.body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want.body) {
				t.Errorf("body %+v, want %+v", got, want.body)
			}
		})
	}
}

func TestDeviceContext(t *testing.T) {
	rst := &RequestSecurityToken{Context: append(windowsContext(), ContextItem{"DeviceName", "LATER"}, ContextItem{"Other", "x"})}
	c := rst.DeviceContext()
	want := DeviceContext{DeviceID: testDeviceID, HWDevID: "4C4C4544004E4A1080364B0C04F84C32A4A1B0E5C0F0D2E3F4A5B6C7D8E9F0A1",
		EnrollmentType: "Full", OSVersion: "10.0.19043.2364", OSEdition: "72", DeviceName: "LATER", DeviceType: "CIMClient_Windows",
		ApplicationVersion: "10.0.19043.2364", Locale: "en-US", RequestVersion: "5.0",
		MACs: []string{"00-0C-29-51-60-9D", "00-0C-29-51-60-9D", "00-50-56-C0-00-08"}}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("DeviceContext = %+v, want %+v", c, want)
	}
}

// TestRefusals checks that each refusal is an *Error with the MS-MDE2 fault it is answered
// with.
func TestRefusals(t *testing.T) {
	rst := string(mustRead(t, "rst_issue.xml"))
	discover := string(mustRead(t, "discover.xml"))
	policies := string(mustRead(t, "getpolicies_onpremise.xml"))
	federated := string(mustRead(t, "getpolicies_federated.xml"))
	deep := strings.Repeat("<a>", 40) + strings.Repeat("</a>", 40)
	many := strings.Repeat(`<ac:ContextItem Name="MAC"><ac:Value>x</ac:Value></ac:ContextItem>`, MaxContextItems+1)
	tests := []struct {
		name, in, subcode, errorType, reason string
		body                                 Body
	}{
		{"empty", "", SubcodeMessageFormat, "", "empty request", nil},
		{"too large", strings.Repeat(" ", MaxRequestBytes+1), SubcodeMessageFormat, "", "request too large", nil},
		{"not XML", "<s:Envelope", SubcodeMessageFormat, "", "malformed XML", nil},
		{"not SOAP", "<Envelope/>", SubcodeMessageFormat, "", "not a SOAP envelope", nil},
		{"Latin-1", `<?xml version="1.0" encoding="ISO-8859-1"?>` + discover, SubcodeMessageFormat, "", "unsupported encoding: only UTF-8 is accepted", nil},
		{"entity", `<!DOCTYPE x [<!ENTITY e "boom">]>` + strings.Replace(discover, "user@example.com", "&e;", 1), SubcodeMessageFormat, "", "malformed XML", nil},
		{"too deep", strings.Replace(discover, "<OSEdition>72</OSEdition>", deep, 1), SubcodeMessageFormat, "", "malformed XML", nil},
		{"two operations", strings.Replace(discover, "</s:Body>", "<x/></s:Body>", 1), SubcodeMessageFormat, "", "SOAP Body must hold exactly one element", nil},
		{"long header", strings.Replace(discover, testMessageID, strings.Repeat("m", MaxFieldLen+1), 1), SubcodeMessageFormat, "", "header field too long", nil},
		{"digest password", strings.Replace(policies, "#PasswordText", "#PasswordDigest", 1), SubcodeInvalidSecurity, "", "unsupported password type", nil},
		{"incomplete UsernameToken", strings.Replace(policies, "wsse:Password", "wsse:Other", 2), SubcodeInvalidSecurity, "", "incomplete UsernameToken", nil},
		{"token not base64", strings.Replace(federated, base64.StdEncoding.EncodeToString([]byte("eyJhbGciOiJSUzI1NiJ9.e30.c2ln")), "!!!", 1), SubcodeInvalidSecurity, "", "security token is not base64", nil},
		{"unknown token type", strings.Replace(federated, "DeviceEnrollmentUserToken", "Other", 1), SubcodeInvalidSecurity, "", "unsupported security token type", nil},
		{"wrong operation", discover, SubcodeMessageFormat, "", "unexpected operation Discover", &GetPoliciesRequest{}},
		{"wrong namespace", strings.Replace(discover, "management/2012/01/enrollment\"", "example.org/x\"", 1), SubcodeMessageFormat, "", "unexpected operation Discover", &DiscoverRequest{}},
		{"long email", strings.Replace(discover, "user@example.com", strings.Repeat("u", MaxFieldLen+1), 1), SubcodeMessageFormat, "", "field too long", &DiscoverRequest{}},
		{"many AuthPolicy", strings.Replace(discover, "<AuthPolicy>OnPremise</AuthPolicy>", strings.Repeat("<AuthPolicy>OnPremise</AuthPolicy>", MaxAuthPolicies+1), 1), SubcodeMessageFormat, "", "too many AuthPolicy values", &DiscoverRequest{}},
		{"token type", strings.Replace(rst, "DeviceEnrollmentToken<", "Other<", 1), SubcodeMessageFormat, "", "unsupported TokenType", &RequestSecurityToken{}},
		{"request type", strings.Replace(rst, "/Issue<", "/Cancel<", 1), SubcodeMessageFormat, "", "unsupported RequestType", &RequestSecurityToken{}},
		{"PKCS#7 on issue", strings.Replace(rst, "#PKCS10", "#PKCS7", 1), SubcodeCertificateRequest, "", "unsupported certificate request type", &RequestSecurityToken{}},
		{"CSR not base64", strings.Replace(rst, "MIIBCgIBAP8QPz4=", "!!", 1), SubcodeCertificateRequest, "", "certificate request is not base64", &RequestSecurityToken{}},
		{"too many items", strings.Replace(rst, "<ac:ContextItem ", many+"<ac:ContextItem ", 1), SubcodeMessageFormat, ErrorTypeInvalidEnrollmentData, "too many AdditionalContext items", &RequestSecurityToken{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := DecodeRequest([]byte(tt.in))
			if err == nil && tt.body != nil {
				_, err = decodeAs(env, tt.body)
			}
			var e *Error
			if !errors.As(err, &e) || e.Subcode != tt.subcode || e.ErrorType != tt.errorType || e.Reason != tt.reason {
				t.Fatalf("err = %#v, want %s %q %q", err, tt.subcode, tt.errorType, tt.reason)
			}
		})
	}
}

func TestResponseRefusals(t *testing.T) {
	rstr := string(mustRead(t, "rstr.xml"))
	for _, tt := range []struct{ name, in, reason string }{
		{"no provisioning document", strings.Replace(rstr, "DeviceEnrollmentProvisionDoc", "Other", 1), "RSTR carries no provisioning document"},
		{"not base64", strings.Replace(rstr, "PD94bWwg", "!!!!", 1), "provisioning document is not base64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, err := DecodeResponse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			_, err = env.RequestSecurityTokenResponse()
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.reason {
				t.Fatalf("err = %v, want %q", err, tt.reason)
			}
		})
	}
	if _, err := ParseProvisioningDoc([]byte("<wap/>")); err == nil {
		t.Error("ParseProvisioningDoc accepted another root")
	}
	env, err := DecodeResponse(mustRead(t, "discover_response_federated.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if f, err := env.Fault(); f != nil || err != nil {
		t.Errorf("Fault() of a DiscoverResponse = %v, %v", f, err)
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
