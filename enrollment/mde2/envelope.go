package mde2

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// Header is the SOAP header of an MS-MDE2 message (MS-MDE2 2.2.2): WS-Addressing and,
// where the message has one, wsse:Security. A request names Action, MessageID, ReplyTo and
// To; a response names Action and RelatesTo (the request's MessageID).
type Header struct {
	Action    string
	MessageID string
	RelatesTo string
	// ReplyTo is the address of a:ReplyTo/a:Address (AddressAnonymous from Windows).
	ReplyTo  string
	To       string
	Security *Security
}

// Security is the wsse:Security header (WS-Security 1.0). A client request carries a
// UsernameToken (OnPremise) or a user token (Federated); an RSTR carries a Timestamp.
type Security struct {
	// UsernameToken is OnPremise authentication (MS-MDE2 3.3.4.1.1.1). When a request
	// carries both kinds of credentials it wins and the user token is not read.
	UsernameToken *UsernameToken
	// UserToken is the Federated token of the sign-in page (MS-MDE2 3.3.4.1.1.1), sent
	// base64 in a BinarySecurityToken of ValueTypeUserToken; HasUserToken tells an empty
	// token from none.
	UserToken    string
	HasUserToken bool
	// Timestamp is the u:Timestamp of an RSTR (MS-WSTEP 3.1.4.1.2.2).
	Timestamp *Timestamp
}

// UsernameToken carries a user name and a clear-text password (PasswordTypeText).
type UsernameToken struct {
	ID       string // u:Id (WindowsUsernameTokenID from Windows), "" for none
	Username string
	Password string // as sent, not trimmed
}

// Timestamp is a WS-Security timestamp; Created and Expires are xsd:dateTime text
// (hellomdm writes 2006-01-02T15:04:05.000Z).
type Timestamp struct {
	ID, Created, Expires string
}

// Body is a message that travels as the operation of a SOAP Body: a pointer to one of the
// request or response types of this package, or a *Fault.
type Body interface {
	element() (*etree.Element, error)
}

// Envelope is a decoded SOAP envelope: its header and the operation of its Body, read with
// the accessor of the message expected.
type Envelope struct {
	Header Header
	op     *etree.Element
}

// Operation is the local name of the Body's operation element.
func (e *Envelope) Operation() string { return e.op.Tag }

// DecodeRequest reads a request envelope of at most MaxRequestBytes. The error is an
// *Error; when the header could be read, the returned Envelope carries it (so a fault can
// name the request's MessageID) even with an error.
func DecodeRequest(data []byte) (*Envelope, error) { return decode(data, MaxRequestBytes, "request") }

// DecodeResponse reads a response envelope of at most MaxResponseBytes, like DecodeRequest.
func DecodeResponse(data []byte) (*Envelope, error) {
	return decode(data, MaxResponseBytes, "response")
}

func decode(data []byte, maxBytes int, what string) (*Envelope, error) {
	if len(data) == 0 {
		return nil, formatError("empty "+what, nil)
	}
	if len(data) > maxBytes {
		return nil, formatError(what+" too large", nil)
	}
	root, err := readXML(data)
	if err != nil {
		return nil, err
	}
	if root == nil || root.Tag != "Envelope" || !isSOAPNamespace(root.NamespaceURI()) {
		return nil, formatError("not a SOAP envelope", nil)
	}
	env := &Envelope{}
	if header := xmlx.Child(root, "Header"); header != nil {
		if env.Header, err = decodeHeader(header); err != nil {
			return env, err
		}
	}
	body := xmlx.Child(root, "Body")
	if body == nil {
		return env, formatError("missing SOAP Body", nil)
	}
	ops := body.ChildElements()
	if len(ops) != 1 {
		return env, formatError("SOAP Body must hold exactly one element", nil)
	}
	env.op = ops[0]
	return env, nil
}

// readXML parses untrusted XML: UTF-8 only (xmlx.UTF8Only), at most MaxDepth deep, no
// entities beyond XML's own.
func readXML(data []byte) (*etree.Element, error) {
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: MaxDepth, CharsetReader: xmlx.UTF8Only}
	if err := doc.ReadFromBytes(data); err != nil {
		if errors.Is(err, xmlx.ErrUnsupportedEncoding) {
			return nil, formatError("unsupported encoding: only UTF-8 is accepted", err)
		}
		return nil, formatError("malformed XML", fmt.Errorf("reading XML: %w", err))
	}
	return doc.Root(), nil
}

func decodeHeader(header *etree.Element) (Header, error) {
	h := Header{
		Action:    xmlx.Text(xmlx.Child(header, "Action")),
		MessageID: xmlx.Text(xmlx.Child(header, "MessageID")),
		RelatesTo: xmlx.Text(xmlx.Child(header, "RelatesTo")),
		ReplyTo:   xmlx.Text(xmlx.Child(xmlx.Child(header, "ReplyTo"), "Address")),
		To:        xmlx.Text(xmlx.Child(header, "To")),
	}
	for _, v := range []string{h.Action, h.MessageID, h.RelatesTo, h.ReplyTo, h.To} {
		if len(v) > MaxFieldLen {
			return h, formatError("header field too long", nil)
		}
	}
	if sec := xmlx.Child(header, "Security"); sec != nil {
		s, err := decodeSecurity(sec)
		if err != nil {
			return h, err
		}
		h.Security = s
	}
	return h, nil
}

func decodeSecurity(sec *etree.Element) (*Security, error) {
	s := &Security{}
	if ts := xmlx.Child(sec, "Timestamp"); ts != nil {
		s.Timestamp = &Timestamp{ID: xmlx.Attr(ts, "Id"),
			Created: xmlx.Text(xmlx.Child(ts, "Created")), Expires: xmlx.Text(xmlx.Child(ts, "Expires"))}
		if len(s.Timestamp.ID)+len(s.Timestamp.Created)+len(s.Timestamp.Expires) > MaxFieldLen {
			return nil, formatError("header field too long", nil)
		}
	}
	if ut := xmlx.Child(sec, "UsernameToken"); ut != nil {
		user, pw := xmlx.Child(ut, "Username"), xmlx.Child(ut, "Password")
		if user == nil || pw == nil {
			return nil, securityError("incomplete UsernameToken", nil)
		}
		if t := xmlx.Attr(pw, "Type"); t != "" && t != PasswordTypeText {
			return nil, securityError("unsupported password type", nil)
		}
		s.UsernameToken = &UsernameToken{ID: xmlx.Attr(ut, "Id"), Username: xmlx.Text(user), Password: pw.Text()}
		if len(s.UsernameToken.Username) > MaxFieldLen || len(s.UsernameToken.Password) > MaxFieldLen ||
			len(s.UsernameToken.ID) > MaxFieldLen {
			return nil, securityError("credential too long", nil)
		}
		return s, nil
	}
	if bst := xmlx.Child(sec, "BinarySecurityToken"); bst != nil {
		if vt := xmlx.Attr(bst, "ValueType"); vt != ValueTypeUserToken {
			return nil, securityError("unsupported security token type", nil)
		}
		raw, err := decodeBase64(bst.Text())
		if err != nil {
			return nil, securityError("security token is not base64", err)
		}
		s.UserToken, s.HasUserToken = string(raw), true
	}
	return s, nil
}

// operation returns the Body's operation when it is local in namespace ns, tolerating a
// trailing slash and letter case in the namespace URI.
func (e *Envelope) operation(local, ns string) (*etree.Element, error) {
	if e.op.Tag != local || !nsEqual(e.op.NamespaceURI(), ns) {
		return nil, formatError("unexpected operation "+e.op.Tag, nil)
	}
	return e.op, nil
}

func isSOAPNamespace(ns string) bool { return nsEqual(ns, NSSOAP12) || nsEqual(ns, NSSOAP11) }

func nsEqual(got, want string) bool {
	return strings.EqualFold(strings.TrimSuffix(got, "/"), strings.TrimSuffix(want, "/"))
}

// decodeBase64 decodes standard base64, ignoring XML white space.
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

// Marshal writes a SOAP 1.2 envelope holding h and body, without an XML declaration (the
// envelope is the whole HTTP body). Values are escaped so that they decode unchanged.
func Marshal(h Header, body Body) ([]byte, error) {
	op, err := body.element()
	if err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.WriteSettings = writeSettings
	root := doc.CreateElement("s:Envelope")
	root.CreateAttr("xmlns:s", NSSOAP12)
	root.CreateAttr("xmlns:a", NSAddressing)
	root.CreateAttr("xmlns:u", NSWSU)
	h.encode(root.CreateElement("s:Header"))
	root.CreateElement("s:Body").AddChild(op)
	var buf bytes.Buffer
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("writing SOAP envelope: %w", err)
	}
	return buf.Bytes(), nil
}

// writeSettings escape carriage returns in text and white space in attribute values, which
// XML would otherwise normalise away on reading.
var writeSettings = etree.WriteSettings{CanonicalText: true, CanonicalAttrVal: true}

func (h Header) encode(hdr *etree.Element) {
	act := hdr.CreateElement("a:Action")
	act.CreateAttr("s:mustUnderstand", "1")
	act.SetText(h.Action)
	if h.MessageID != "" {
		hdr.CreateElement("a:MessageID").SetText(h.MessageID)
	}
	if h.RelatesTo != "" {
		hdr.CreateElement("a:RelatesTo").SetText(h.RelatesTo)
	}
	if h.ReplyTo != "" {
		hdr.CreateElement("a:ReplyTo").CreateElement("a:Address").SetText(h.ReplyTo)
	}
	if h.To != "" {
		to := hdr.CreateElement("a:To")
		to.CreateAttr("s:mustUnderstand", "1")
		to.SetText(h.To)
	}
	if h.Security != nil {
		h.Security.encode(hdr)
	}
}

// encode writes wsse:Security as Windows does in requests, or, for a response's
// timestamp-only header, as o:Security the way MS-WSTEP's examples do.
func (s *Security) encode(hdr *etree.Element) {
	var sec *etree.Element
	p := "wsse"
	if s.Timestamp != nil && s.UsernameToken == nil && !s.HasUserToken {
		p = "o"
		sec = hdr.CreateElement("o:Security")
		sec.CreateAttr("s:mustUnderstand", "1")
		sec.CreateAttr("xmlns:o", NSWSSE)
	} else {
		sec = hdr.CreateElement("wsse:Security")
		sec.CreateAttr("xmlns:wsse", NSWSSE)
		sec.CreateAttr("s:mustUnderstand", "1")
	}
	if ts := s.Timestamp; ts != nil {
		t := sec.CreateElement("u:Timestamp")
		if ts.ID != "" {
			t.CreateAttr("u:Id", ts.ID)
		}
		t.CreateElement("u:Created").SetText(ts.Created)
		t.CreateElement("u:Expires").SetText(ts.Expires)
	}
	switch {
	case s.UsernameToken != nil:
		ut := sec.CreateElement(p + ":UsernameToken")
		if s.UsernameToken.ID != "" {
			ut.CreateAttr("u:Id", s.UsernameToken.ID)
		}
		ut.CreateElement(p + ":Username").SetText(s.UsernameToken.Username)
		pw := ut.CreateElement(p + ":Password")
		pw.CreateAttr(p+":Type", PasswordTypeText)
		pw.SetText(s.UsernameToken.Password)
	case s.HasUserToken:
		bst := sec.CreateElement(p + ":BinarySecurityToken")
		bst.CreateAttr("ValueType", ValueTypeUserToken)
		bst.CreateAttr("EncodingType", EncodingTypeBase64Binary)
		bst.SetText(base64.StdEncoding.EncodeToString([]byte(s.UserToken)))
	}
}
