package enrollment

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"html"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Request shapes Windows sends (docs/protocol.md A.2, A.4, A.6, A.7), composed for
// these tests.

const (
	testDeviceID = "B5B954E81FBCB94EB79BD08BE625F4EE"
	testHWDevID  = "4C4C4544004E4A1080364B0C04F84C32A4A1B0E5C0F0D2E3F4A5B6C7D8E9F0A1"
	testMsgID    = "urn:uuid:0d5a1441-5891-453b-becf-a2e5f6ea3749"
)

func envelopeXML(action, to, security, body string) string {
	return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" ` +
		`xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
  <s:Header>
    <a:Action s:mustUnderstand="1">` + action + `</a:Action>
    <a:MessageID>` + testMsgID + `</a:MessageID>
    <a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>
    <a:To s:mustUnderstand="1">` + to + `</a:To>
    ` + security + `
  </s:Header>
  <s:Body>
    ` + body + `
  </s:Body>
</s:Envelope>`
}

func discoverXML(email, version string) string {
	return envelopeXML(mde2.ActionDiscover, "https://EnterpriseEnrollment.example.com:443/EnrollmentServer/Discovery.svc", "",
		`<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment">
      <request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
        <EmailAddress>`+email+`</EmailAddress>
        <RequestVersion>`+version+`</RequestVersion>
        <DeviceType>CIMClient_Windows</DeviceType>
        <ApplicationVersion>10.0.19043.2364</ApplicationVersion>
        <OSEdition>72</OSEdition>
        <AuthPolicies><AuthPolicy>OnPremise</AuthPolicy><AuthPolicy>Federated</AuthPolicy></AuthPolicies>
      </request>
    </Discover>`)
}

func usernameSecurity(upn, password string) string {
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <wsse:UsernameToken u:Id="uuid-cc1ccc1f-2fba-4bcf-b063-ffc0cac77917-4">
        <wsse:Username>` + html.EscapeString(upn) + `</wsse:Username>
        <wsse:Password wsse:Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">` + html.EscapeString(password) + `</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>`
}

func tokenSecurity(token string) string {
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">
      <wsse:BinarySecurityToken ValueType="http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken" ` +
		`EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary">` +
		base64.StdEncoding.EncodeToString([]byte(token)) + `</wsse:BinarySecurityToken>
    </wsse:Security>`
}

func getPoliciesXML(security string) string {
	return envelopeXML(mde2.ActionGetPolicies, "https://mdm.example.com/EnrollmentServer/Policy.svc", security,
		`<GetPolicies xmlns="http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy">
      <client><lastUpdate xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><preferredLanguage xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/></client>
      <requestFilter xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>
    </GetPolicies>`)
}

// windowsContext is the AdditionalContext list of a Windows 10 client, in
// the order it sends them (docs/protocol.md A.7).
func windowsContext(deviceID, enrollmentType string) [][2]string {
	return [][2]string{
		{"UXInitiated", "true"}, {"HWDevID", testHWDevID}, {"Locale", "en-US"},
		{"TargetedUserLoggedIn", "true"}, {"OSEdition", "72"}, {"DeviceName", "DESKTOP-28FGAI6"},
		{"MAC", "00-0C-29-51-60-9D"}, {"MAC", "00-0C-29-51-60-9D"}, {"MAC", "00-50-56-C0-00-08"},
		{"DeviceID", deviceID}, {"EnrollmentType", enrollmentType}, {"DeviceType", "CIMClient_Windows"},
		{"OSVersion", "10.0.19043.2364"}, {"ApplicationVersion", "10.0.19043.2364"}, {"NotInOobe", "false"},
		{"RequestVersion", "5.0"},
	}
}

func rstXML(security, requestType, valueType string, csrDER []byte, items [][2]string) string {
	var ac strings.Builder
	for _, it := range items {
		fmt.Fprintf(&ac, `<ac:ContextItem Name="%s"><ac:Value>%s</ac:Value></ac:ContextItem>`, it[0], html.EscapeString(it[1]))
	}
	return envelopeXML(mde2.ActionRST, "https://mdm.example.com/EnrollmentServer/Enrollment.svc", security,
		`<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512">
      <wst:TokenType>http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken</wst:TokenType>
      <wst:RequestType>`+requestType+`</wst:RequestType>
      <wsse:BinarySecurityToken xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ValueType="`+valueType+`" `+
			`EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd#base64binary">`+
			base64.StdEncoding.EncodeToString(csrDER)+`</wsse:BinarySecurityToken>
      <ac:AdditionalContext xmlns:ac="http://schemas.xmlsoap.org/ws/2006/12/authorization">`+ac.String()+`</ac:AdditionalContext>
    </wst:RequestSecurityToken>`)
}

// windowsCSR builds a PKCS#10 request the way Windows does (mde2.WindowsCSR): a
// PrintableString CN "<partial GUID>!<DeviceID>\x00" (illegal characters), the DeviceID
// extension 1.3.6.1.4.1.311.66.1.0 in an extensionRequest, signed with sha1WithRSA under the
// OIW OID 1.3.14.3.2.29.
func windowsCSR(t testing.TB, key *rsa.PrivateKey, deviceID string) []byte {
	t.Helper()
	der, err := mde2.WindowsCSR(key, deviceID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func wrapCSR(tbs []byte, alg asn1.ObjectIdentifier, sig []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbs)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(alg)
			b.AddASN1NULL()
		})
		b.AddASN1BitString(sig)
	})
	return b.BytesOrPanic()
}

// standardCSR is a clean request from x509.CreateCertificateRequest, as the
// simulated agent may send.
func standardCSR(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// rsaCSRWithAlg signs a minimal request with RSA under any OID and hash.
func rsaCSRWithAlg(t testing.TB, key *rsa.PrivateKey, alg asn1.ObjectIdentifier, h crypto.Hash) []byte {
	t.Helper()
	spki, _ := x509.MarshalPKIXPublicKey(key.Public())
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {})
		b.AddBytes(spki)
	})
	tbsDER := tbs.BytesOrPanic()
	hh := h.New()
	hh.Write(tbsDER)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, h, hh.Sum(nil))
	if err != nil {
		t.Fatal(err)
	}
	return wrapCSR(tbsDER, alg, sig)
}

// oidRSAPSSForTest is RSASSA-PSS, which parseCSR does not accept.
var oidRSAPSSForTest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}

// CMS content types of pkcs7Wrap (RFC 5652 §4, §5.1).
var (
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
)

// pkcs7Wrap builds a minimal CMS SignedData around a PKCS#10, without signers: enough for
// the renewal path (MS-MDE2 3.5.4.1.1.1 ValueType #PKCS7), which reads only the content.
func pkcs7Wrap(inner []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidData)
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1OctetString(inner)
					})
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
			})
		})
	})
	return b.BytesOrPanic()
}
