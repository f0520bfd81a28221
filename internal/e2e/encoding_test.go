package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testpki"
)

// declarations are the XML declarations a body may start with, and whether the server
// reads it: only UTF-8 (any case) or no declaration; every other encoding is refused
// rather than read as if it were UTF-8.
var declarations = []struct {
	name, decl string
	accepted   bool
}{
	{"ISO-8859-1", `<?xml version="1.0" encoding="ISO-8859-1"?>`, false},
	{"UTF-16", `<?xml version="1.0" encoding="UTF-16"?>`, false},
	{"windows-1252", `<?xml version='1.0' encoding='windows-1252'?>`, false},
	{"US-ASCII", `<?xml version="1.0" encoding="US-ASCII"?>`, false},
	{"UTF-8", `<?xml version="1.0" encoding="UTF-8"?>`, true},
	{"utf-8", `<?xml version="1.0" encoding="utf-8"?>`, true},
	{"no encoding", `<?xml version="1.0"?>`, true},
	{"no declaration", ``, true},
}

// A SOAP request to the enrollment server that declares an encoding other than UTF-8 gets a
// MessageFormat fault; UTF-8 and no declaration are served.
func TestEnrollmentDeclaredEncoding(t *testing.T) {
	e := start(t)
	client := testpki.HTTPClient(testpki.ClientTLS(e.app.CA.Pool(), nil, nil))
	const discover = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">
  <s:Header>
    <a:Action s:mustUnderstand="1">http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover</a:Action>
    <a:MessageID>urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478</a:MessageID>
    <a:To s:mustUnderstand="1">https://enterpriseenrollment.contoso.com:443/EnrollmentServer/Discovery.svc</a:To>
  </s:Header>
  <s:Body>
    <Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment">
      <request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
        <EmailAddress>alice@contoso.com</EmailAddress>
        <RequestVersion>4.0</RequestVersion>
        <DeviceType>CIMClient_Windows</DeviceType>
        <ApplicationVersion>10.0.22631.2428</ApplicationVersion>
        <OSEdition>48</OSEdition>
        <AuthPolicies><AuthPolicy>OnPremise</AuthPolicy></AuthPolicies>
      </request>
    </Discover>
  </s:Body>
</s:Envelope>`
	for _, d := range declarations {
		t.Run(d.name, func(t *testing.T) {
			resp, err := client.Post(e.url+"/EnrollmentServer/Discovery.svc", "application/soap+xml; charset=utf-8",
				bytes.NewReader([]byte(d.decl+discover)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if d.accepted {
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "DiscoverResponse") {
					t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "s:MessageFormat") ||
				!strings.Contains(string(body), "encoding") {
				t.Fatalf("HTTP %d: %s; want a MessageFormat fault about the encoding", resp.StatusCode, body)
			}
		})
	}
}
