package device

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// XML namespaces and SOAP actions of MS-MDE2 (discovery), MS-XCEP (policy) and MS-WSTEP
// (enrollment), docs/protocol.md A.2–A.8.
const (
	nsSOAP12      = "http://www.w3.org/2003/05/soap-envelope"
	nsAddressing  = "http://www.w3.org/2005/08/addressing"
	nsWSSE        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsXSI         = "http://www.w3.org/2001/XMLSchema-instance"
	nsDiscovery   = "http://schemas.microsoft.com/windows/management/2012/01/enrollment"
	nsPolicy      = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"
	nsWSTrust     = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	nsPKIEnroll   = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment"
	nsAuthContext = "http://schemas.xmlsoap.org/ws/2006/12/authorization"

	actionDiscover    = nsDiscovery + "/IDiscoveryService/Discover"
	actionGetPolicies = nsPolicy + "/IPolicy/GetPolicies"
	actionRST         = nsPKIEnroll + "/RST/wstep"
	addressAnonymous  = "http://www.w3.org/2005/08/addressing/anonymous"

	tokenTypeEnrollment = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken"
	tokenTypeProvDoc    = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc"
	valueTypeUserToken  = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken"
	valueTypePKCS10     = nsPKIEnroll + "#PKCS10"
	requestTypeIssue    = nsWSTrust + "/Issue"
	passwordTypeText    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	encodingBase64      = nsWSSE + "#base64binary"
	contentTypeSOAP     = "application/soap+xml; charset=utf-8"

	// usernameTokenID is the literal u:Id Windows puts on its UsernameToken (docs/protocol.md A.4).
	usernameTokenID = "uuid-cc1ccc1f-2fba-4bcf-b063-ffc0cac77917-4"
)

// Limits on what the agent reads from the enrollment server.
const (
	maxSOAPResponse = 512 << 10
	maxSOAPDepth    = 32
)

// credentials go into wsse:Security (docs/protocol.md A.4): a UsernameToken for OnPremise, a
// BinarySecurityToken for Federated.
type credentials struct {
	Username, Password string
	Token              string // opaque web-auth token (wresult), sent base64
}

// soapRequest builds a SOAP 1.2 request envelope with the addressing headers every
// MS-MDE2 client request carries; fill adds the body operation.
func soapRequest(action, messageID, to string, creds *credentials, fill func(body *etree.Element)) ([]byte, error) {
	doc := etree.NewDocument()
	env := doc.CreateElement("s:Envelope")
	env.CreateAttr("xmlns:s", nsSOAP12)
	env.CreateAttr("xmlns:a", nsAddressing)
	env.CreateAttr("xmlns:u", nsWSU)
	hdr := env.CreateElement("s:Header")
	act := hdr.CreateElement("a:Action")
	act.CreateAttr("s:mustUnderstand", "1")
	act.SetText(action)
	hdr.CreateElement("a:MessageID").SetText(messageID)
	hdr.CreateElement("a:ReplyTo").CreateElement("a:Address").SetText(addressAnonymous)
	toEl := hdr.CreateElement("a:To")
	toEl.CreateAttr("s:mustUnderstand", "1")
	toEl.SetText(to)
	if creds != nil {
		sec := hdr.CreateElement("wsse:Security")
		sec.CreateAttr("xmlns:wsse", nsWSSE)
		sec.CreateAttr("s:mustUnderstand", "1")
		if creds.Token != "" {
			bst := sec.CreateElement("wsse:BinarySecurityToken")
			bst.CreateAttr("ValueType", valueTypeUserToken)
			bst.CreateAttr("EncodingType", encodingBase64)
			bst.SetText(base64.StdEncoding.EncodeToString([]byte(creds.Token)))
		} else {
			ut := sec.CreateElement("wsse:UsernameToken")
			ut.CreateAttr("u:Id", usernameTokenID)
			ut.CreateElement("wsse:Username").SetText(creds.Username)
			pw := ut.CreateElement("wsse:Password")
			pw.CreateAttr("wsse:Type", passwordTypeText)
			pw.SetText(creds.Password)
		}
	}
	fill(env.CreateElement("s:Body"))
	var buf bytes.Buffer
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encoding SOAP request: %w", err)
	}
	return buf.Bytes(), nil
}

// FaultError is a SOAP fault the enrollment server answered (MS-MDE2 2.2.10; docs/protocol.md
// A.10): Subcode names the MS-MDE2 failure (s:Authentication, s:CertificateRequest, …);
// ErrorType, Message and TraceID come from DeviceEnrollmentServiceError when present.
type FaultError struct {
	Step       string // discover, policy or enroll
	HTTPStatus int
	Code       string // s:Sender or s:Receiver
	Subcode    string
	Reason     string
	ErrorType  string
	Message    string
	TraceID    string
}

func (e *FaultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "enrollment %s refused: %s %s: %s", e.Step, e.Code, e.Subcode, e.Reason)
	if e.ErrorType != "" {
		fmt.Fprintf(&b, " (errortype %s", e.ErrorType)
		if e.Message != "" && e.Message != e.Reason {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
		if e.TraceID != "" {
			fmt.Fprintf(&b, ", trace %s", e.TraceID)
		}
		b.WriteString(")")
	}
	return b.String()
}

// parseSOAPResponse decodes a response envelope by local names (docs/protocol.md E.1: tolerate
// prefixes, default namespaces and extra elements) and returns the first Body child. A
// Fault becomes a *FaultError.
func parseSOAPResponse(step string, httpStatus int, data []byte) (*etree.Element, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("enrollment %s: empty response (HTTP %d)", step, httpStatus)
	}
	if len(data) > maxSOAPResponse {
		return nil, fmt.Errorf("enrollment %s: response larger than %d bytes", step, maxSOAPResponse)
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxSOAPDepth, CharsetReader: xmlx.UTF8Only}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("enrollment %s: malformed XML (HTTP %d): %w", step, httpStatus, err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" {
		return nil, fmt.Errorf("enrollment %s: response is not a SOAP envelope (HTTP %d)", step, httpStatus)
	}
	body := xmlx.Child(root, "Body")
	if body == nil || len(body.ChildElements()) == 0 {
		return nil, fmt.Errorf("enrollment %s: SOAP response has no body (HTTP %d)", step, httpStatus)
	}
	op := body.ChildElements()[0]
	if op.Tag == "Fault" {
		f := &FaultError{Step: step, HTTPStatus: httpStatus}
		code := xmlx.Child(op, "Code")
		f.Code = xmlx.Text(xmlx.Child(code, "Value"))
		f.Subcode = xmlx.Text(xmlx.Child(xmlx.Child(code, "Subcode"), "Value"))
		f.Reason = xmlx.Text(xmlx.Child(xmlx.Child(op, "Reason"), "Text"))
		if d := xmlx.Child(xmlx.Child(op, "Detail"), "DeviceEnrollmentServiceError"); d != nil {
			f.ErrorType = xmlx.Text(xmlx.Child(d, "ErrorType"))
			f.Message = xmlx.Text(xmlx.Child(d, "Message"))
			f.TraceID = xmlx.Text(xmlx.Child(d, "TraceId"))
		}
		return nil, f
	}
	if httpStatus != 200 {
		return nil, fmt.Errorf("enrollment %s: HTTP %d without a SOAP fault", step, httpStatus)
	}
	return op, nil
}
