package enrollment

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// XML namespaces used on the wire (MS-MDE2 2.2.1, MS-XCEP 2.2, MS-WSTEP 2.2).
const (
	nsSOAP12      = "http://www.w3.org/2003/05/soap-envelope"
	nsSOAP11      = "http://schemas.xmlsoap.org/soap/envelope/"
	nsAddressing  = "http://www.w3.org/2005/08/addressing"
	nsWSSE        = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsXSI         = "http://www.w3.org/2001/XMLSchema-instance"
	nsDiscovery   = "http://schemas.microsoft.com/windows/management/2012/01/enrollment"
	nsPolicy      = "http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"
	nsWSTrust     = "http://docs.oasis-open.org/ws-sx/ws-trust/200512"
	nsPKIEnroll   = "http://schemas.microsoft.com/windows/pki/2009/01/enrollment"
	nsAuthContext = "http://schemas.xmlsoap.org/ws/2006/12/authorization"
)

// SOAP actions (MS-MDE2 3.1.4.1 Discover, MS-XCEP 3.1.4.1 GetPolicies,
// MS-WSTEP 3.1.4.1 RequestSecurityToken; responses likewise).
const (
	actionDiscover           = nsDiscovery + "/IDiscoveryService/Discover"
	actionDiscoverResponse   = nsDiscovery + "/IDiscoveryService/DiscoverResponse"
	actionGetPolicies        = nsPolicy + "/IPolicy/GetPolicies"
	actionGetPoliciesResp    = nsPolicy + "/IPolicy/GetPoliciesResponse"
	actionRST                = nsPKIEnroll + "/RST/wstep"
	actionRSTRC              = nsPKIEnroll + "/RSTRC/wstep"
	addressAnonymous         = "http://www.w3.org/2005/08/addressing/anonymous"
	valueTypeUserToken       = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken"
	passwordTypeText         = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	encodingTypeBase64Binary = nsWSSE + "#base64binary"
)

// Limits on untrusted input.
const (
	maxRequestBytes = 256 << 10 // whole SOAP body
	maxXMLDepth     = 32        // deepest real request (RST) is 6
	maxFieldLen     = 1024      // any single text field we keep
)

// envelope is a decoded SOAP request: addressing headers, credentials from
// wsse:Security, and the operation element (first child of Body).
type envelope struct {
	Action    string
	MessageID string
	Creds     credentials
	Op        *etree.Element
}

// credentials is what wsse:Security carried (MS-MDE2 3.3.4/3.4.4 auth variants;
// docs/protocol.md A.4). At most one kind is set.
type credentials struct {
	HasUsername bool
	Username    string
	Password    string
	HasToken    bool
	Token       string // decoded from base64; opaque
}

// parseEnvelope decodes a SOAP 1.2 (or 1.1) envelope by local names only, so any
// prefix or default namespace works. Errors are Sender MessageFormat faults.
func parseEnvelope(data []byte) (*envelope, error) {
	if len(data) == 0 {
		return nil, formatFault("empty request", nil)
	}
	if len(data) > maxRequestBytes {
		return nil, formatFault("request too large", nil)
	}
	doc := etree.NewDocument()
	// Only UTF-8 is decoded; another declared encoding is a MessageFormat fault
	// (xmlx.UTF8Only), never read as if it were UTF-8.
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxXMLDepth, CharsetReader: xmlx.UTF8Only}
	if err := doc.ReadFromBytes(data); err != nil {
		if errors.Is(err, xmlx.ErrUnsupportedEncoding) {
			return nil, formatFault("unsupported encoding: only UTF-8 is accepted", err)
		}
		return nil, formatFault("malformed XML", fmt.Errorf("reading envelope: %w", err))
	}
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" || !isSOAPNamespace(root.NamespaceURI()) {
		return nil, formatFault("not a SOAP envelope", nil)
	}
	env := &envelope{}
	header := xmlx.Child(root, "Header")
	if header != nil {
		env.MessageID = xmlx.Text(xmlx.Child(header, "MessageID"))
		env.Action = xmlx.Text(xmlx.Child(header, "Action"))
		if len(env.MessageID) > maxFieldLen || len(env.Action) > maxFieldLen {
			return nil, formatFault("header field too long", nil)
		}
		if sec := xmlx.Child(header, "Security"); sec != nil {
			c, err := parseSecurity(sec)
			if err != nil {
				return env, err
			}
			env.Creds = c
		}
	}
	body := xmlx.Child(root, "Body")
	if body == nil {
		return env, formatFault("missing SOAP Body", nil)
	}
	ops := body.ChildElements()
	if len(ops) != 1 {
		return env, formatFault("SOAP Body must hold exactly one element", nil)
	}
	env.Op = ops[0]
	return env, nil
}

func isSOAPNamespace(ns string) bool { return nsEqual(ns, nsSOAP12) || nsEqual(ns, nsSOAP11) }

// checkAction verifies wsa:Action against what the endpoint serves (MS-MDE2
// 3.1.4.1.1.1 and siblings: each message's SOAP action is fixed).
func (env *envelope) checkAction(want string) error {
	if env.Action == "" {
		return formatFault("missing wsa:Action", nil)
	}
	if !strings.EqualFold(env.Action, want) {
		return formatFault("wrong wsa:Action for this endpoint", fmt.Errorf("action %q", env.Action))
	}
	return nil
}

// checkOp verifies the operation element's local name and namespace,
// tolerating a trailing slash and letter case in the namespace URI.
func (env *envelope) checkOp(local, ns string) error {
	if env.Op.Tag != local || !nsEqual(env.Op.NamespaceURI(), ns) {
		return formatFault("unexpected operation "+env.Op.Tag, nil)
	}
	return nil
}

func parseSecurity(sec *etree.Element) (credentials, error) {
	var c credentials
	if ut := xmlx.Child(sec, "UsernameToken"); ut != nil {
		user, pw := xmlx.Child(ut, "Username"), xmlx.Child(ut, "Password")
		if user == nil || pw == nil {
			return c, senderFault(SubcodeInvalidSecurity, "incomplete UsernameToken", nil)
		}
		if t := xmlx.Attr(pw, "Type"); t != "" && t != passwordTypeText {
			return c, senderFault(SubcodeInvalidSecurity, "unsupported password type", nil)
		}
		c.HasUsername, c.Username, c.Password = true, xmlx.Text(user), pw.Text()
		if len(c.Username) > maxFieldLen || len(c.Password) > maxFieldLen {
			return c, senderFault(SubcodeInvalidSecurity, "credential too long", nil)
		}
		return c, nil
	}
	if bst := xmlx.Child(sec, "BinarySecurityToken"); bst != nil {
		if vt := xmlx.Attr(bst, "ValueType"); vt != valueTypeUserToken {
			return c, senderFault(SubcodeInvalidSecurity, "unsupported security token type", nil)
		}
		raw, err := decodeBase64(bst.Text())
		if err != nil {
			return c, senderFault(SubcodeInvalidSecurity, "security token is not base64", err)
		}
		c.HasToken, c.Token = true, string(raw)
	}
	return c, nil
}

// decodeBase64 decodes standard base64, ignoring XML whitespace.
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding base64: %w", err)
	}
	return b, nil
}

func nsEqual(got, want string) bool {
	return strings.EqualFold(strings.TrimSuffix(got, "/"), strings.TrimSuffix(want, "/"))
}

// newEnvelope starts a SOAP 1.2 response with the addressing headers every
// MS-MDE2 response carries: a:Action (mustUnderstand) and a:RelatesTo echoing
// the request's MessageID.
func newEnvelope(action, relatesTo string) (doc *etree.Document, header, body *etree.Element) {
	doc = etree.NewDocument()
	root := doc.CreateElement("s:Envelope")
	root.CreateAttr("xmlns:s", nsSOAP12)
	root.CreateAttr("xmlns:a", nsAddressing)
	root.CreateAttr("xmlns:u", nsWSU)
	header = root.CreateElement("s:Header")
	act := header.CreateElement("a:Action")
	act.CreateAttr("s:mustUnderstand", "1")
	act.SetText(action)
	if relatesTo != "" {
		header.CreateElement("a:RelatesTo").SetText(relatesTo)
	}
	body = root.CreateElement("s:Body")
	return doc, header, body
}

// serialize renders doc without an XML declaration (the envelope is the whole
// HTTP body).
func serialize(doc *etree.Document) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("writing envelope: %w", err)
	}
	return buf.Bytes(), nil
}

// buildFault renders f as a SOAP 1.2 fault (MS-MDE2 2.2.10). The response
// action is the endpoint's normal response action, as in the MS-MDE2 example.
func buildFault(f *Fault, action, relatesTo, traceID string) ([]byte, error) {
	doc, _, body := newEnvelope(action, relatesTo)
	fault := body.CreateElement("s:Fault")
	code := fault.CreateElement("s:Code")
	code.CreateElement("s:Value").SetText(f.Code())
	code.CreateElement("s:Subcode").CreateElement("s:Value").SetText(f.Subcode)
	reason := fault.CreateElement("s:Reason").CreateElement("s:Text")
	reason.CreateAttr("xml:lang", "en-US")
	reason.SetText(f.Reason)
	if f.ErrorType != "" {
		d := fault.CreateElement("s:Detail").CreateElement("DeviceEnrollmentServiceError")
		d.CreateAttr("xmlns", nsPKIEnroll)
		d.CreateElement("ErrorType").SetText(f.ErrorType)
		d.CreateElement("Message").SetText(f.Reason)
		d.CreateElement("TraceId").SetText(traceID)
	}
	return serialize(doc)
}
