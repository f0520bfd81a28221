package enrollment

import (
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// WS-Trust / MS-WSTEP values of a RequestSecurityToken (MS-MDE2 3.4.4.1.1.1,
// 3.5.4.1.1.1 for renewal).
const (
	tokenTypeDeviceEnrollment = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentToken"
	tokenTypeProvisionDoc     = "http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentProvisionDoc"
	requestTypeIssue          = nsWSTrust + "/Issue"
	requestTypeRenew          = nsWSTrust + "/Renew"
	valueTypePKCS10           = nsPKIEnroll + "#PKCS10"
	// valueTypePKCS7 wraps the PKCS#10 in CMS SignedData; MS-MDE2 renewal
	// (3.5.4.1.1.1) uses it.
	valueTypePKCS7 = nsPKIEnroll + "#PKCS7"
)

// EnrollmentType values (MS-MDE2 3.4.4.1.1.1 AdditionalContext; docs/protocol.md A.7).
const (
	EnrollmentTypeFull   = "Full"   // user enrollment: client cert in My/User
	EnrollmentTypeDevice = "Device" // device-only: client cert in My/System
)

// maxContextItems bounds AdditionalContext; Windows sends about 15 plus one
// per network adapter.
const maxContextItems = 128

// rstRequest is a decoded RequestSecurityToken body.
type rstRequest struct {
	Renew bool
	CSR   []byte // DER PKCS#10
	Ctx   enrollContext
}

// enrollContext is the AdditionalContext of an RST (docs/protocol.md A.7 table).
type enrollContext struct {
	DeviceID, HWDevID, EnrollmentType, OSVersion, OSEdition string
	DeviceName, DeviceType, ApplicationVersion, Locale      string
	RequestVersion                                          string
	NotInOobe                                               bool
	MACs                                                    []string
}

// parseRST reads the RequestSecurityToken operation.
func parseRST(env *envelope) (rstRequest, error) {
	var r rstRequest
	if err := env.checkOp("RequestSecurityToken", nsWSTrust); err != nil {
		return r, err
	}
	op := env.Op
	if tt := xmlx.Text(xmlx.Child(op, "TokenType")); tt != tokenTypeDeviceEnrollment {
		return r, formatFault("unsupported TokenType", fmt.Errorf("token type %.100q", tt))
	}
	switch rt := xmlx.Text(xmlx.Child(op, "RequestType")); rt {
	case requestTypeIssue:
	case requestTypeRenew:
		r.Renew = true
	default:
		return r, formatFault("unsupported RequestType", fmt.Errorf("request type %.100q", rt))
	}
	bst := xmlx.Child(op, "BinarySecurityToken")
	if bst == nil {
		return r, senderFault(SubcodeCertificateRequest, "missing certificate request", nil)
	}
	der, err := decodeBase64(bst.Text())
	if err != nil {
		return r, senderFault(SubcodeCertificateRequest, "certificate request is not base64", err)
	}
	switch vt := xmlx.Attr(bst, "ValueType"); {
	case vt == valueTypePKCS10:
		r.CSR = der
	case vt == valueTypePKCS7 && r.Renew:
		r.CSR, err = pkcs7Content(der)
		if err != nil {
			return r, senderFault(SubcodeCertificateRequest, "malformed PKCS#7 renewal request", err)
		}
	default:
		return r, senderFault(SubcodeCertificateRequest, "unsupported certificate request type", fmt.Errorf("value type %.100q", vt))
	}
	if err := parseContext(xmlx.Child(op, "AdditionalContext"), &r.Ctx); err != nil {
		return r, err
	}
	if !r.Renew {
		if err := r.Ctx.validateIssue(); err != nil {
			return r, err
		}
	}
	return r, nil
}

func parseContext(ac *etree.Element, c *enrollContext) error {
	if ac == nil {
		return nil
	}
	items := xmlx.Children(ac, "ContextItem")
	if len(items) > maxContextItems {
		return dataFault("too many AdditionalContext items", nil)
	}
	for _, it := range items {
		name, value := xmlx.Attr(it, "Name"), xmlx.Text(xmlx.Child(it, "Value"))
		if len(value) > maxFieldLen {
			return dataFault("AdditionalContext value too long", fmt.Errorf("item %.64q", name))
		}
		switch name {
		case "DeviceID":
			c.DeviceID = value
		case "HWDevID":
			c.HWDevID = value
		case "EnrollmentType":
			c.EnrollmentType = value
		case "OSVersion":
			c.OSVersion = value
		case "OSEdition":
			c.OSEdition = value
		case "DeviceName":
			c.DeviceName = value
		case "DeviceType":
			c.DeviceType = value
		case "ApplicationVersion":
			c.ApplicationVersion = value
		case "Locale":
			c.Locale = value
		case "RequestVersion":
			c.RequestVersion = value
		case "NotInOobe":
			c.NotInOobe = strings.EqualFold(value, "true")
		case "MAC":
			c.MACs = append(c.MACs, value)
		}
	}
	return nil
}

// validateIssue checks the items an initial enrollment cannot do without
// (fleet refuses an RST lacking them too; docs/protocol.md A.7).
func (c *enrollContext) validateIssue() error {
	if err := checkDeviceID(c.DeviceID); err != nil {
		return err
	}
	if c.HWDevID == "" || len(c.HWDevID) > 128 || !isIDChars(c.HWDevID) {
		return dataFault("missing or invalid HWDevID", nil)
	}
	if c.EnrollmentType != EnrollmentTypeFull && c.EnrollmentType != EnrollmentTypeDevice {
		return dataFault("EnrollmentType must be Full or Device", fmt.Errorf("enrollment type %.64q", c.EnrollmentType))
	}
	if c.OSVersion == "" || len(c.OSVersion) > 64 {
		return dataFault("missing or invalid OSVersion", nil)
	}
	return c.checkRequestVersion()
}

func (c *enrollContext) checkRequestVersion() error {
	if c.RequestVersion != "" && !supportedVersions[c.RequestVersion] {
		f := dataFault("unsupported RequestVersion", fmt.Errorf("version %.16q", c.RequestVersion))
		f.ErrorType = ErrorTypeDeviceNotSupported
		return f
	}
	return nil
}

// checkDeviceID accepts the 32-hex DeviceID Windows sends and the GUID forms
// other clients use: 1–64 characters of [A-Za-z0-9-{}]. The value becomes the
// certificate CN and the SyncML Source LocURI, so nothing else is allowed.
func checkDeviceID(id string) error {
	if id == "" || len(id) > 64 || !isIDChars(id) {
		return dataFault("missing or invalid DeviceID", nil)
	}
	return nil
}

func isIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '{' || c == '}') {
			return false
		}
	}
	return true
}

var (
	oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2} // RFC 5652 §5.1
	oidData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1} // RFC 5652 §4
)

// pkcs7Content returns the encapsulated PKCS#10 of a CMS SignedData renewal
// request (MS-WCCE 3.2.1.4.2.1.4.2.1). The CMS signature is not checked: the
// renewing device is authenticated by its TLS client certificate, and the
// inner PKCS#10 self-signature is verified by parseCSR.
func pkcs7Content(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var ci, content, sd, algs, encap, eContent cryptobyte.String
	var ctype, etype asn1.ObjectIdentifier
	var version int64
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(oidSignedData) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.ReadASN1Integer(&version) ||
		!sd.ReadASN1(&algs, cbasn1.SET) ||
		!sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&etype) || !etype.Equal(oidData) ||
		!encap.ReadASN1(&eContent, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, fmt.Errorf("%w: malformed CMS SignedData", ErrBadCSR)
	}
	var octets cryptobyte.String
	if !eContent.ReadASN1(&octets, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: CMS content is not an OCTET STRING", ErrBadCSR)
	}
	return []byte(octets), nil
}
