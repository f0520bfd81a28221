package enrollment

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

func TestParseDiscover(t *testing.T) {
	defaultNS := `<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header>` +
		`<Action xmlns="http://www.w3.org/2005/08/addressing">` + mde2.ActionDiscover + `</Action>` +
		`<MessageID xmlns="http://www.w3.org/2005/08/addressing">m1</MessageID></Header>` +
		`<Body><Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment/">` +
		`<request><EmailAddress> user@example.com </EmailAddress><RequestVersion>6.0</RequestVersion></request></Discover></Body></Envelope>`
	tests := []struct {
		name        string
		xml         string
		wantEmail   string
		wantVersion string
		wantPols    []string
		wantSubcode string // "" = success
	}{
		{"windows 10 shape", discoverXML("user@example.com", "4.0"), "user@example.com", "4.0", []string{"OnPremise", "Federated"}, ""},
		{"version 5.0", discoverXML("user@example.com", "5.0"), "user@example.com", "5.0", []string{"OnPremise", "Federated"}, ""},
		{"default namespaces, trailing slash, whitespace", defaultNS, "user@example.com", "6.0", nil, ""},
		{"unsupported version 8.0", discoverXML("user@example.com", "8.0"), "", "", nil, mde2.SubcodeMessageFormat},
		{"version garbage", discoverXML("user@example.com", "four"), "", "", nil, mde2.SubcodeMessageFormat},
		{"missing email", discoverXML("", "4.0"), "", "", nil, mde2.SubcodeMessageFormat},
		{"wrong operation", strings.Replace(discoverXML("u@example.com", "4.0"), "<Discover ", "<Other ", 1), "", "", nil, mde2.SubcodeMessageFormat},
		{"wrong op namespace", strings.Replace(discoverXML("u@example.com", "4.0"), "management/2012/01/enrollment\"", "example.org/x\"", 1), "", "", nil, mde2.SubcodeMessageFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := decodeRequest([]byte(tt.xml))
			if err == nil {
				err = checkAction(env, mde2.ActionDiscover)
			}
			var d *mde2.DiscoverRequest
			if err == nil {
				d, err = parseDiscover(env)
			}
			if tt.wantSubcode != "" {
				var f *Fault
				if !errors.As(err, &f) || f.Subcode != tt.wantSubcode || !f.Sender {
					t.Fatalf("err = %v, want Sender fault %s", err, tt.wantSubcode)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if d.EmailAddress != tt.wantEmail || d.RequestVersion != tt.wantVersion || !slices.Equal(d.AuthPolicies, tt.wantPols) {
				t.Fatalf("got %+v", d)
			}
		})
	}
}

func TestParseEnvelopeErrors(t *testing.T) {
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	tests := []struct {
		name, xml string
	}{
		{"empty", ""},
		{"not XML", "hello"},
		{"unclosed", "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body>"},
		{"not an envelope", "<Discover/>"},
		{"no body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/></s:Envelope>`},
		{"empty body", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>`},
		{"too deep", `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>` + deep + `</s:Body></s:Envelope>`},
		{"too large", strings.Repeat(" ", mde2.MaxRequestBytes+1)},
		{"entity", `<!DOCTYPE x [<!ENTITY e "boom">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&e;</x></s:Body></s:Envelope>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRequest([]byte(tt.xml))
			var f *Fault
			if !errors.As(err, &f) || f.Subcode != mde2.SubcodeMessageFormat || !f.Sender {
				t.Fatalf("err = %v, want Sender MessageFormat fault", err)
			}
		})
	}
}

func TestCheckAction(t *testing.T) {
	tests := []struct {
		name, action string
		ok           bool
	}{
		{"exact", mde2.ActionGetPolicies, true},
		{"other endpoint's action", mde2.ActionDiscover, false},
		{"missing", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := decodeRequest([]byte(strings.Replace(getPoliciesXML(""), mde2.ActionGetPolicies, tt.action, 1)))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkAction(env, mde2.ActionGetPolicies); (err == nil) != tt.ok {
				t.Fatalf("checkAction = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestParseRST(t *testing.T) {
	csr := windowsCSR(t, testKeys().rsa2048, testDeviceID)
	sec := usernameSecurity("user@example.com", "pw")
	without := func(name string) [][2]string {
		var out [][2]string
		for _, it := range windowsContext(testDeviceID, "Full") {
			if it[0] != name {
				out = append(out, it)
			}
		}
		return out
	}
	with := func(name, value string) [][2]string {
		items := without(name)
		return append(items, [2]string{name, value})
	}
	tests := []struct {
		name        string
		xml         string
		wantRenew   bool
		wantSubcode string
	}{
		{"windows issue", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, windowsContext(testDeviceID, "Full")), false, ""},
		{"device enrollment", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, windowsContext(testDeviceID, "Device")), false, ""},
		{"DeviceName at the limit", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("DeviceName", strings.Repeat("n", MaxDeviceNameLen))), false, ""},
		{"GUID DeviceID", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("DeviceID", "{6F9619FF-8B86-D011-B42D-00C04FC964FF}")), false, ""},
		{"renew PKCS#7 without context", rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS7, pkcs7Wrap(csr), nil), true, ""},
		{"missing DeviceID", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, without("DeviceID")), false, mde2.SubcodeMessageFormat},
		{"DeviceID with slash", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("DeviceID", "../etc")), false, mde2.SubcodeMessageFormat},
		{"DeviceID too long", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("DeviceID", strings.Repeat("A", 65))), false, mde2.SubcodeMessageFormat},
		{"missing HWDevID", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, without("HWDevID")), false, mde2.SubcodeMessageFormat},
		{"bad EnrollmentType", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("EnrollmentType", "Other")), false, mde2.SubcodeMessageFormat},
		{"missing OSVersion", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, without("OSVersion")), false, mde2.SubcodeMessageFormat},
		{"DeviceName too long", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("DeviceName", strings.Repeat("n", MaxDeviceNameLen+1))), false, mde2.SubcodeMessageFormat},
		{"renewal with a DeviceName too long", rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS7, pkcs7Wrap(csr), [][2]string{{"DeviceName", strings.Repeat("n", MaxDeviceNameLen+1)}}), true, mde2.SubcodeMessageFormat},
		{"renewal with an OSVersion too long", rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS7, pkcs7Wrap(csr), [][2]string{{"OSVersion", strings.Repeat("1", 65)}}), true, mde2.SubcodeMessageFormat},
		{"unsupported RequestVersion", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, with("RequestVersion", "9.0")), false, mde2.SubcodeMessageFormat},
		{"PKCS#7 on issue", rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS7, csr, windowsContext(testDeviceID, "Full")), false, mde2.SubcodeCertificateRequest},
		{"unknown RequestType", rstXML(sec, mde2.NSWSTrust+"/Cancel", mde2.ValueTypePKCS10, csr, windowsContext(testDeviceID, "Full")), false, mde2.SubcodeMessageFormat},
		{"wrong TokenType", strings.Replace(rstXML(sec, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, csr, nil), "DeviceEnrollmentToken<", "Other<", 1), false, mde2.SubcodeMessageFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := decodeRequest([]byte(tt.xml))
			if err != nil {
				t.Fatal(err)
			}
			r, err := parseRST(env)
			if tt.wantSubcode != "" {
				var f *Fault
				if !errors.As(err, &f) || f.Subcode != tt.wantSubcode || !f.Sender {
					t.Fatalf("err = %v, want Sender fault %s", err, tt.wantSubcode)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseRST: %v", err)
			}
			if r.Renew != tt.wantRenew || string(r.CSR) != string(csr) {
				t.Fatalf("renew=%v csr match=%v", r.Renew, string(r.CSR) == string(csr))
			}
			if !r.Renew && tt.name != "DeviceName at the limit" {
				c := r.Ctx
				if c.HWDevID != testHWDevID || c.OSVersion != "10.0.19043.2364" || c.DeviceName != "DESKTOP-28FGAI6" ||
					len(c.MACs) != 3 || c.Locale != "en-US" || c.OSEdition != "72" || c.NotInOobe || c.RequestVersion != "5.0" {
					t.Fatalf("context = %+v", c)
				}
			}
		})
	}
}
