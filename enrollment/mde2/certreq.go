package mde2

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Windows signs its MDM certificate request with SHA-1
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OIDs of the certificate requests an RST carries.
var (
	// OIDOIWSHA1WithRSA is sha1WithRSASignature under the OIW arc (szOID_OIWSEC_sha1RSASign),
	// which Windows signs its PKCS#10 with when policy selects SHA-1.
	OIDOIWSHA1WithRSA = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 29}
	// OIDExtensionRequest is PKCS#9 extensionRequest (RFC 2985 §5.4.2).
	OIDExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}
	// OIDWindowsDeviceID is the extension (and attribute) carrying the DeviceID as
	// NUL-terminated ASCII in a Windows MDM request.
	OIDWindowsDeviceID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 66, 1, 0}

	oidCommonName      = asn1.ObjectIdentifier{2, 5, 4, 3}                     // X.520 commonName
	oidCMSData         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}     // RFC 5652 §4
	oidCMSSignedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}     // RFC 5652 §5.1
	oidSHA256          = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} // RFC 5754 §2.2
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}    // RFC 8017 A.2.4
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}      // RFC 5758 §3.2
)

// explicit0 is the [0] EXPLICIT tag of CMS and PKCS#10 structures.
var explicit0 = cbasn1.Tag(0).Constructed().ContextSpecific()

// WindowsCSR builds the PKCS#10 request (RFC 2986 §4) the way Windows does for MDM
// enrollment: subject CN "<partial GUID>!<DeviceID>" plus a trailing NUL as a
// PrintableString (both illegal there, so Go's x509 parser refuses it), the DeviceID as
// NUL-terminated ASCII in extension OIDWindowsDeviceID, and a SHA-1 RSA signature under
// OIDOIWSHA1WithRSA. The GUID is read from rnd.
func WindowsCSR(key *rsa.PrivateKey, deviceID string, rnd io.Reader) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	guid := make([]byte, 16)
	if _, err := io.ReadFull(rnd, guid); err != nil {
		return nil, fmt.Errorf("creating CSR: %w", err)
	}
	g := fmt.Sprintf("%X-%X-%X-%X-%X", guid[0:4], guid[4:6], guid[6:8], guid[8:10], guid[10:16])
	cn := g[:30] + "!" + deviceID + "\x00" // 64 bytes for a 32-digit DeviceID
	var tbs cryptobyte.Builder
	tbs.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(0)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Name
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oidCommonName)
					b.AddASN1(cbasn1.PrintableString, func(b *cryptobyte.Builder) { b.AddBytes([]byte(cn)) })
				})
			})
		})
		b.AddBytes(spki)
		b.AddASN1(explicit0, func(b *cryptobyte.Builder) { // attributes
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(OIDExtensionRequest)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extensions
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(OIDWindowsDeviceID)
							b.AddASN1OctetString([]byte(deviceID + "\x00"))
						})
					})
				})
			})
		})
	})
	tbsDER, err := tbs.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding CSR: %w", err)
	}
	digest := sha1.Sum(tbsDER) //nolint:gosec // Windows' legacy SHA-1 request
	sig, err := rsa.SignPKCS1v15(rnd, key, crypto.SHA1, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing CSR: %w", err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(OIDOIWSHA1WithRSA)
			b.AddASN1NULL()
		})
		b.AddASN1BitString(sig)
	})
	return out.Bytes()
}

// WrapRenewal wraps a PKCS#10 request in CMS SignedData (RFC 5652 §5) signed with the
// current key and certificate: the ValueTypePKCS7 request of a renewal (MS-MDE2
// 3.5.4.1.1.1; MS-WCCE 3.2.1.4.2.1.4.2.1). There are no signed attributes, so the
// signature covers the PKCS#10 DER itself.
func WrapRenewal(csr []byte, cert *x509.Certificate, key crypto.Signer, rnd io.Reader) ([]byte, error) {
	if cert == nil {
		return nil, errors.New("building renewal request: no current certificate")
	}
	var sigAlg asn1.ObjectIdentifier
	withNull := false
	switch key.Public().(type) {
	case *rsa.PublicKey:
		sigAlg, withNull = oidSHA256WithRSA, true
	case *ecdsa.PublicKey:
		sigAlg = oidECDSAWithSHA256
	default:
		return nil, fmt.Errorf("building renewal request: unsupported key type %T", key.Public())
	}
	digest := sha256.Sum256(csr)
	sig, err := key.Sign(rnd, digest[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("signing renewal request: %w", err)
	}
	algID := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, null bool) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			if null {
				b.AddASN1NULL()
			}
		})
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidCMSSignedData)
		b.AddASN1(explicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { algID(b, oidSHA256, false) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(oidCMSData)
					b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddASN1OctetString(csr) })
				})
				// certificates [0] IMPLICIT CertificateSet: the signer's certificate.
				b.AddASN1(explicit0, func(b *cryptobyte.Builder) { b.AddBytes(cert.Raw) })
				// SignerInfos: one SignerInfo v1 identified by issuer and serial.
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
							b.AddASN1BigInt(cert.SerialNumber)
						})
						algID(b, oidSHA256, false)
						algID(b, sigAlg, withNull)
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	out, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding renewal request: %w", err)
	}
	return out, nil
}

// UnwrapRenewal returns the PKCS#10 request a WrapRenewal request encapsulates. It does not
// check the CMS signature: a renewing device is authenticated by its TLS client
// certificate, and the server verifies the PKCS#10's own signature.
func UnwrapRenewal(der []byte) ([]byte, error) {
	in := cryptobyte.String(der)
	var ci, content, sd, algs, encap, eContent cryptobyte.String
	var ctype, etype asn1.ObjectIdentifier
	var version int64
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() ||
		!ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(oidCMSSignedData) ||
		!ci.ReadASN1(&content, explicit0) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) ||
		!sd.ReadASN1Integer(&version) ||
		!sd.ReadASN1(&algs, cbasn1.SET) ||
		!sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&etype) || !etype.Equal(oidCMSData) ||
		!encap.ReadASN1(&eContent, explicit0) {
		return nil, errors.New("malformed CMS SignedData")
	}
	var octets cryptobyte.String
	if !eContent.ReadASN1(&octets, cbasn1.OCTET_STRING) {
		return nil, errors.New("CMS content is not an OCTET STRING")
	}
	return []byte(octets), nil
}
