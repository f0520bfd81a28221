package enrollment

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	_ "crypto/sha1" // registers SHA-1 for crypto.Hash.New (Windows CSRs)
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// maxCSRBytes bounds a PKCS#10 request; an RSA-4096 Windows CSR is about 1.5 KiB.
const maxCSRBytes = 16 << 10

// Signature algorithm OIDs accepted in a PKCS#10 request.
var (
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}  // RFC 8017 A.2.4
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11} // RFC 8017 A.2.4
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2} // RFC 5758 §3.2
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
)

// ErrBadCSR is wrapped by every CSR parsing or verification failure.
var ErrBadCSR = errors.New("enrollment: bad certificate request")

type sigAlg struct {
	hash  crypto.Hash
	ecdsa bool
}

var csrSigAlgs = []struct {
	oid asn1.ObjectIdentifier
	alg sigAlg
}{
	{mde2.OIDOIWSHA1WithRSA, sigAlg{crypto.SHA1, false}},
	{oidSHA1WithRSA, sigAlg{crypto.SHA1, false}},
	{oidSHA256WithRSA, sigAlg{crypto.SHA256, false}},
	{oidSHA384WithRSA, sigAlg{crypto.SHA384, false}},
	{oidSHA512WithRSA, sigAlg{crypto.SHA512, false}},
	{oidECDSAWithSHA256, sigAlg{crypto.SHA256, true}},
	{oidECDSAWithSHA384, sigAlg{crypto.SHA384, true}},
}

// csrInfo is what the server takes from a PKCS#10 request. The subject is
// deliberately not kept: the certificate's CN is the DeviceID from
// AdditionalContext, never the CSR's (docs/protocol.md A.7).
type csrInfo struct {
	PublicKey crypto.PublicKey
	// DeviceID is the value of the Windows DeviceID extension, "" if absent.
	DeviceID string
}

// parseCSR walks a DER PKCS#10 request (RFC 2986 §4) with cryptobyte rather
// than x509.ParseCertificateRequest, because Windows puts '!' and a NUL byte in
// a PrintableString CN and may sign with the OIW sha1WithRSA OID (docs/protocol.md
// A.7), both of which the standard library refuses. It then verifies the
// self-signature and the key strength itself.
func parseCSR(der []byte) (*csrInfo, error) {
	if len(der) > maxCSRBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadCSR, len(der))
	}
	input := cryptobyte.String(der)
	var req, tbsRaw, algID cryptobyte.String
	var sigOID asn1.ObjectIdentifier
	var sig asn1.BitString
	if !input.ReadASN1(&req, cbasn1.SEQUENCE) || !input.Empty() {
		return nil, fmt.Errorf("%w: malformed CertificationRequest", ErrBadCSR)
	}
	if !req.ReadASN1Element(&tbsRaw, cbasn1.SEQUENCE) ||
		!req.ReadASN1(&algID, cbasn1.SEQUENCE) ||
		!algID.ReadASN1ObjectIdentifier(&sigOID) ||
		!req.ReadASN1BitString(&sig) || !req.Empty() {
		return nil, fmt.Errorf("%w: malformed CertificationRequest", ErrBadCSR)
	}
	if sig.BitLength%8 != 0 {
		return nil, fmt.Errorf("%w: signature is not whole bytes", ErrBadCSR)
	}
	info := &csrInfo{}
	spki, err := readTBS(tbsRaw, info)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %w", ErrBadCSR, err)
	}
	if err := checkCSRKey(pub); err != nil {
		return nil, err
	}
	info.PublicKey = pub
	if err := verifyCSRSignature(pub, sigOID, tbsRaw, sig.Bytes); err != nil {
		return nil, err
	}
	return info, nil
}

// readTBS parses CertificationRequestInfo and returns the raw SPKI; it records
// the Windows DeviceID extension in info.
func readTBS(tbsRaw cryptobyte.String, info *csrInfo) ([]byte, error) {
	var tbs, subject, spki cryptobyte.String
	var version int64
	malformed := fmt.Errorf("%w: malformed CertificationRequestInfo", ErrBadCSR)
	if !tbsRaw.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Integer(&version) ||
		!tbs.ReadASN1Element(&subject, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, malformed
	}
	if version != 0 {
		return nil, fmt.Errorf("%w: version %d", ErrBadCSR, version)
	}
	var attrs cryptobyte.String
	var hasAttrs bool
	if !tbs.ReadOptionalASN1(&attrs, &hasAttrs, cbasn1.Tag(0).Constructed().ContextSpecific()) || !tbs.Empty() {
		return nil, malformed
	}
	for !attrs.Empty() {
		var attr, values cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, cbasn1.SEQUENCE) ||
			!attr.ReadASN1ObjectIdentifier(&oid) ||
			!attr.ReadASN1(&values, cbasn1.SET) || !attr.Empty() {
			return nil, malformed
		}
		switch {
		case oid.Equal(mde2.OIDExtensionRequest):
			readExtensionRequest(values, info)
		case oid.Equal(mde2.OIDWindowsDeviceID):
			info.DeviceID = deviceIDValue(values)
		}
	}
	return spki, nil
}

// readExtensionRequest looks for the Windows DeviceID extension. Its content is
// informational only, so a shape we do not recognise is ignored, not refused.
func readExtensionRequest(values cryptobyte.String, info *csrInfo) {
	var exts cryptobyte.String
	if !values.ReadASN1(&exts, cbasn1.SEQUENCE) {
		return
	}
	for !exts.Empty() {
		var ext, value cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
			return
		}
		var critical bool
		if !ext.ReadOptionalASN1Boolean(&critical, cbasn1.BOOLEAN, false) || !ext.ReadASN1(&value, cbasn1.OCTET_STRING) {
			return
		}
		if oid.Equal(mde2.OIDWindowsDeviceID) {
			info.DeviceID = deviceIDValue(value)
		}
	}
}

// deviceIDValue extracts printable ASCII from the DeviceID extension, whether it
// holds a DER string or raw bytes, dropping the trailing NUL.
func deviceIDValue(v cryptobyte.String) string {
	raw := []byte(v)
	var inner cryptobyte.String
	var tag cbasn1.Tag
	if v.ReadAnyASN1(&inner, &tag) && v.Empty() {
		raw = inner
	}
	s := strings.TrimRight(string(raw), "\x00")
	if len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return ""
		}
	}
	return s
}

// checkCSRKey enforces the policy advertised by GetPolicies: RSA ≥ 2048 bits
// (minimalKeyLength) or ECDSA on P-256/P-384.
func checkCSRKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < policyMinimalKeyLength {
			return fmt.Errorf("%w: RSA key of %d bits", ErrBadCSR, k.N.BitLen())
		}
		if k.N.BitLen() > 8192 {
			return fmt.Errorf("%w: RSA key of %d bits", ErrBadCSR, k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: ECDSA curve %s", ErrBadCSR, k.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("%w: key type %T", ErrBadCSR, pub)
	}
	return nil
}

func verifyCSRSignature(pub crypto.PublicKey, oid asn1.ObjectIdentifier, signed, sig []byte) error {
	var alg *sigAlg
	for i := range csrSigAlgs {
		if csrSigAlgs[i].oid.Equal(oid) {
			alg = &csrSigAlgs[i].alg
		}
	}
	if alg == nil {
		return fmt.Errorf("%w: signature algorithm %s", ErrBadCSR, oid)
	}
	h := alg.hash.New()
	h.Write(signed)
	digest := h.Sum(nil)
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg.ecdsa {
			return fmt.Errorf("%w: ECDSA signature with an RSA key", ErrBadCSR)
		}
		if err := rsa.VerifyPKCS1v15(k, alg.hash, digest, sig); err != nil {
			return fmt.Errorf("%w: signature: %w", ErrBadCSR, err)
		}
	case *ecdsa.PublicKey:
		if !alg.ecdsa {
			return fmt.Errorf("%w: RSA signature with an ECDSA key", ErrBadCSR)
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return fmt.Errorf("%w: signature does not verify", ErrBadCSR)
		}
	default:
		return fmt.Errorf("%w: key type %T", ErrBadCSR, pub)
	}
	return nil
}
