package mde2

import (
	"encoding/base64"
	"fmt"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// RequestSecurityToken is the MS-WSTEP RequestSecurityToken of an enrollment (MS-MDE2
// 3.4.4.1.1.1: RequestTypeIssue, a PKCS#10 request) or a renewal (3.5.4.1.1.1:
// RequestTypeRenew, a PKCS#10 or a PKCS#7-wrapped one). TokenType is always
// TokenTypeDeviceEnrollment.
type RequestSecurityToken struct {
	RequestType string // RequestTypeIssue or RequestTypeRenew
	ValueType   string // ValueTypePKCS10, or ValueTypePKCS7 with RequestTypeRenew
	// Request is the DER certificate request the BinarySecurityToken carries.
	Request []byte
	// Context is the AdditionalContext, in the order sent.
	Context []ContextItem
}

// ContextItem is one AdditionalContext item (MS-MDE2 3.4.4.1.1.1).
type ContextItem struct {
	Name, Value string
}

// Renew reports whether the request renews a certificate.
func (r *RequestSecurityToken) Renew() bool { return r.RequestType == RequestTypeRenew }

// RequestSecurityToken reads the Body as an RST. It refuses another TokenType or
// RequestType, a certificate request that is missing, not base64 or of another ValueType
// (PKCS#7 only for a renewal), more than MaxContextItems context items and a value longer
// than MaxFieldLen.
func (e *Envelope) RequestSecurityToken() (*RequestSecurityToken, error) {
	op, err := e.operation("RequestSecurityToken", NSWSTrust)
	if err != nil {
		return nil, err
	}
	if tt := xmlx.Text(xmlx.Child(op, "TokenType")); tt != TokenTypeDeviceEnrollment {
		return nil, formatError("unsupported TokenType", fmt.Errorf("token type %.100q", tt))
	}
	r := &RequestSecurityToken{RequestType: xmlx.Text(xmlx.Child(op, "RequestType"))}
	if r.RequestType != RequestTypeIssue && r.RequestType != RequestTypeRenew {
		return nil, formatError("unsupported RequestType", fmt.Errorf("request type %.100q", r.RequestType))
	}
	bst := xmlx.Child(op, "BinarySecurityToken")
	if bst == nil {
		return nil, certificateRequestError("missing certificate request", nil)
	}
	if r.Request, err = decodeBase64(bst.Text()); err != nil {
		return nil, certificateRequestError("certificate request is not base64", err)
	}
	r.ValueType = xmlx.Attr(bst, "ValueType")
	if r.ValueType != ValueTypePKCS10 && (r.ValueType != ValueTypePKCS7 || !r.Renew()) {
		return nil, certificateRequestError("unsupported certificate request type", fmt.Errorf("value type %.100q", r.ValueType))
	}
	items := xmlx.Children(xmlx.Child(op, "AdditionalContext"), "ContextItem")
	if len(items) > MaxContextItems {
		return nil, dataError("too many AdditionalContext items", nil)
	}
	for _, it := range items {
		c := ContextItem{Name: xmlx.Attr(it, "Name"), Value: xmlx.Text(xmlx.Child(it, "Value"))}
		if len(c.Value) > MaxFieldLen || len(c.Name) > MaxFieldLen {
			return nil, dataError("AdditionalContext value too long", fmt.Errorf("item %.64q", c.Name))
		}
		r.Context = append(r.Context, c)
	}
	return r, nil
}

func (r *RequestSecurityToken) element() (*etree.Element, error) {
	rst := etree.NewElement("wst:RequestSecurityToken")
	rst.CreateAttr("xmlns:wst", NSWSTrust)
	rst.CreateElement("wst:TokenType").SetText(TokenTypeDeviceEnrollment)
	rst.CreateElement("wst:RequestType").SetText(r.RequestType)
	bst := rst.CreateElement("wsse:BinarySecurityToken")
	bst.CreateAttr("xmlns:wsse", NSWSSE)
	bst.CreateAttr("ValueType", r.ValueType)
	bst.CreateAttr("EncodingType", EncodingTypeBase64Binary)
	bst.SetText(base64.StdEncoding.EncodeToString(r.Request))
	ac := rst.CreateElement("ac:AdditionalContext")
	ac.CreateAttr("xmlns:ac", NSAuthContext)
	for _, c := range r.Context {
		it := ac.CreateElement("ac:ContextItem")
		it.CreateAttr("Name", c.Name)
		it.CreateElement("ac:Value").SetText(c.Value)
	}
	return rst, nil
}

// RequestSecurityTokenResponse is the RequestSecurityTokenResponseCollection answering an
// RST (MS-WSTEP 3.1.4.1.2.2; MS-MDE2 3.4.4.1.1.2): one response whose
// RequestedSecurityToken is the wap-provisioningdoc (TokenTypeProvisionDoc, base64).
// TokenType is always TokenTypeDeviceEnrollment.
type RequestSecurityTokenResponse struct {
	DispositionMessage string
	// ProvisioningDoc is the document, as bytes; ParseProvisioningDoc reads it.
	ProvisioningDoc []byte
	RequestID       string
}

// RequestSecurityTokenResponse reads the Body as an RSTR collection. It refuses one whose
// first response carries no BinarySecurityToken of TokenTypeProvisionDoc, or a token that
// is not base64 or decodes to more than MaxProvisioningDocBytes.
func (e *Envelope) RequestSecurityTokenResponse() (*RequestSecurityTokenResponse, error) {
	op, err := e.operation("RequestSecurityTokenResponseCollection", NSWSTrust)
	if err != nil {
		return nil, err
	}
	resp := xmlx.Child(op, "RequestSecurityTokenResponse")
	bst := xmlx.Child(xmlx.Child(resp, "RequestedSecurityToken"), "BinarySecurityToken")
	if bst == nil || xmlx.Attr(bst, "ValueType") != TokenTypeProvisionDoc {
		return nil, formatError("RSTR carries no provisioning document", nil)
	}
	r := &RequestSecurityTokenResponse{
		DispositionMessage: xmlx.Text(xmlx.Child(resp, "DispositionMessage")),
		RequestID:          xmlx.Text(xmlx.Child(resp, "RequestID")),
	}
	if len(r.DispositionMessage) > MaxFieldLen || len(r.RequestID) > MaxFieldLen {
		return nil, formatError("field too long", nil)
	}
	if r.ProvisioningDoc, err = decodeBase64(bst.Text()); err != nil {
		return nil, formatError("provisioning document is not base64", err)
	}
	if len(r.ProvisioningDoc) > MaxProvisioningDocBytes {
		return nil, formatError(fmt.Sprintf("provisioning document larger than %d bytes", MaxProvisioningDocBytes), nil)
	}
	return r, nil
}

func (r *RequestSecurityTokenResponse) element() (*etree.Element, error) {
	coll := etree.NewElement("RequestSecurityTokenResponseCollection")
	coll.CreateAttr("xmlns", NSWSTrust)
	resp := coll.CreateElement("RequestSecurityTokenResponse")
	resp.CreateElement("TokenType").SetText(TokenTypeDeviceEnrollment)
	dm := resp.CreateElement("DispositionMessage")
	dm.CreateAttr("xmlns", NSPKIEnroll)
	dm.SetText(r.DispositionMessage)
	bst := resp.CreateElement("RequestedSecurityToken").CreateElement("BinarySecurityToken")
	bst.CreateAttr("xmlns", NSWSSE)
	bst.CreateAttr("ValueType", TokenTypeProvisionDoc)
	bst.CreateAttr("EncodingType", EncodingTypeBase64Binary)
	bst.SetText(base64.StdEncoding.EncodeToString(r.ProvisioningDoc))
	rid := resp.CreateElement("RequestID")
	rid.CreateAttr("xmlns", NSPKIEnroll)
	rid.SetText(r.RequestID)
	return coll, nil
}
