package mde2

import (
	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// Fault is a SOAP 1.2 fault as MS-MDE2 2.2.10 uses it: Code is CodeSender or
// CodeReceiver, Subcode one of the Subcode constants, Reason a sentence for people, and
// Detail the optional DeviceEnrollmentServiceError.
type Fault struct {
	Code    string
	Subcode string
	Reason  string
	Detail  *FaultDetail
}

// FaultDetail is s:Detail/DeviceEnrollmentServiceError (MS-MDE2 2.2.10).
type FaultDetail struct {
	ErrorType string // one of the ErrorType constants
	Message   string
	TraceID   string
}

// Fault reads the Body as a SOAP fault; it returns nil when the Body holds no Fault.
func (e *Envelope) Fault() (*Fault, error) {
	if e.op.Tag != "Fault" || !isSOAPNamespace(e.op.NamespaceURI()) {
		return nil, nil
	}
	code := xmlx.Child(e.op, "Code")
	f := &Fault{
		Code:    xmlx.Text(xmlx.Child(code, "Value")),
		Subcode: xmlx.Text(xmlx.Child(xmlx.Child(code, "Subcode"), "Value")),
		Reason:  xmlx.Text(xmlx.Child(xmlx.Child(e.op, "Reason"), "Text")),
	}
	fields := []string{f.Code, f.Subcode, f.Reason}
	if d := xmlx.Child(xmlx.Child(e.op, "Detail"), "DeviceEnrollmentServiceError"); d != nil {
		f.Detail = &FaultDetail{
			ErrorType: xmlx.Text(xmlx.Child(d, "ErrorType")),
			Message:   xmlx.Text(xmlx.Child(d, "Message")),
			TraceID:   xmlx.Text(xmlx.Child(d, "TraceId")),
		}
		fields = append(fields, f.Detail.ErrorType, f.Detail.Message, f.Detail.TraceID)
	}
	for _, v := range fields {
		if len(v) > MaxFieldLen {
			return nil, formatError("field too long", nil)
		}
	}
	return f, nil
}

func (f *Fault) element() (*etree.Element, error) {
	fault := etree.NewElement("s:Fault")
	code := fault.CreateElement("s:Code")
	code.CreateElement("s:Value").SetText(f.Code)
	code.CreateElement("s:Subcode").CreateElement("s:Value").SetText(f.Subcode)
	reason := fault.CreateElement("s:Reason").CreateElement("s:Text")
	reason.CreateAttr("xml:lang", "en-US")
	reason.SetText(f.Reason)
	if f.Detail != nil {
		d := fault.CreateElement("s:Detail").CreateElement("DeviceEnrollmentServiceError")
		d.CreateAttr("xmlns", NSPKIEnroll)
		d.CreateElement("ErrorType").SetText(f.Detail.ErrorType)
		d.CreateElement("Message").SetText(f.Detail.Message)
		d.CreateElement("TraceId").SetText(f.Detail.TraceID)
	}
	return fault, nil
}
