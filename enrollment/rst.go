package enrollment

import (
	"encoding/asn1"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// rstRequest is a decoded RequestSecurityToken body.
type rstRequest struct {
	Renew bool
	CSR   []byte // DER PKCS#10
	Ctx   mde2.DeviceContext
}

// parseRST reads the RequestSecurityToken operation, unwraps a PKCS#7 renewal request and,
// for an initial enrollment, checks the context items it cannot do without.
func parseRST(env *mde2.Envelope) (rstRequest, error) {
	var r rstRequest
	rst, err := env.RequestSecurityToken()
	if err != nil {
		return r, decodeFault(err)
	}
	r.Renew, r.CSR, r.Ctx = rst.Renew(), rst.Request, rst.DeviceContext()
	if rst.ValueType == mde2.ValueTypePKCS7 {
		if r.CSR, err = pkcs7Content(rst.Request); err != nil {
			return r, senderFault(mde2.SubcodeCertificateRequest, "malformed PKCS#7 renewal request", err)
		}
	}
	if !r.Renew {
		if err := validateIssue(&r.Ctx); err != nil {
			return r, err
		}
	}
	return r, nil
}

// validateIssue checks the items an initial enrollment cannot do without (MS-MDE2
// 3.4.4.1.1.1 AdditionalContext).
func validateIssue(c *mde2.DeviceContext) error {
	if err := checkDeviceID(c.DeviceID); err != nil {
		return err
	}
	if c.HWDevID == "" || len(c.HWDevID) > 128 || !isIDChars(c.HWDevID) {
		return dataFault("missing or invalid HWDevID", nil)
	}
	if c.EnrollmentType != mde2.EnrollmentTypeFull && c.EnrollmentType != mde2.EnrollmentTypeDevice {
		return dataFault("EnrollmentType must be Full or Device", fmt.Errorf("enrollment type %.64q", c.EnrollmentType))
	}
	if c.OSVersion == "" || len(c.OSVersion) > 64 {
		return dataFault("missing or invalid OSVersion", nil)
	}
	return checkRequestVersion(c)
}

func checkRequestVersion(c *mde2.DeviceContext) error {
	if c.RequestVersion != "" && !supportedVersions[c.RequestVersion] {
		f := dataFault("unsupported RequestVersion", fmt.Errorf("version %.16q", c.RequestVersion))
		f.ErrorType = mde2.ErrorTypeDeviceNotSupported
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
