package device

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Windows signs its MDM CSR with SHA-1 (docs/protocol.md A.7)
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"strings"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// CSRShape selects the PKCS#10 request the agent sends in the WSTEP RST.
type CSRShape string

// CSR shapes.
const (
	// CSRWindows is what Windows sends (docs/protocol.md A.7): an RSA-2048 key, subject CN
	// "<partial GUID>!<DeviceID>" plus a trailing NUL as a PrintableString (both illegal
	// there), the DeviceID as NUL-terminated ASCII in extension 1.3.6.1.4.1.311.66.1.0, and a
	// sha1WithRSA signature under the OIW OID 1.3.14.3.2.29. Go's x509 parser rejects it,
	// which is the point: the server must handle it deliberately.
	CSRWindows CSRShape = "windows"
	// CSRClean is a standard request: ECDSA P-256, CN=DeviceID, ECDSA-with-SHA256.
	CSRClean CSRShape = "clean"
)

// ParseCSRShape accepts "windows" or "clean" ("" means windows).
func ParseCSRShape(s string) (CSRShape, error) {
	switch CSRShape(strings.ToLower(s)) {
	case "", CSRWindows:
		return CSRWindows, nil
	case CSRClean:
		return CSRClean, nil
	}
	return "", fmt.Errorf("CSR shape %q: want windows or clean", s)
}

var (
	oidOIWSHA1WithRSA   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 29}              // szOID_OIWSEC_sha1RSASign
	oidCommonName       = asn1.ObjectIdentifier{2, 5, 4, 3}                      // X.520 commonName
	oidExtensionRequest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 14}     // PKCS#9 (RFC 2985 §5.4.2)
	oidWindowsDeviceID  = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 66, 1, 0} // DeviceID, NUL-terminated
)

// newKeyAndCSR makes the client key and its DER PKCS#10 request in the given shape.
func newKeyAndCSR(shape CSRShape, deviceID string, rnd io.Reader) (crypto.Signer, []byte, error) {
	switch shape {
	case CSRClean:
		key, err := ecdsa.GenerateKey(elliptic.P256(), rnd)
		if err != nil {
			return nil, nil, fmt.Errorf("generating P-256 key: %w", err)
		}
		der, err := x509.CreateCertificateRequest(rnd, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: deviceID}, SignatureAlgorithm: x509.ECDSAWithSHA256,
		}, key)
		if err != nil {
			return nil, nil, fmt.Errorf("creating CSR: %w", err)
		}
		return key, der, nil
	case CSRWindows, "":
		key, err := rsa.GenerateKey(rnd, 2048)
		if err != nil {
			return nil, nil, fmt.Errorf("generating RSA key: %w", err)
		}
		der, err := windowsCSR(key, deviceID, rnd)
		if err != nil {
			return nil, nil, err
		}
		return key, der, nil
	}
	return nil, nil, fmt.Errorf("creating CSR: unknown shape %q", shape)
}

// windowsCSR builds the Windows-shaped request with cryptobyte (RFC 2986 §4 structure).
func windowsCSR(key *rsa.PrivateKey, deviceID string, rnd io.Reader) ([]byte, error) {
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
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // attributes
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oidExtensionRequest)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // Extensions
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddASN1ObjectIdentifier(oidWindowsDeviceID)
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
	digest := sha1.Sum(tbsDER) //nolint:gosec // see package doc: Windows' legacy SHA-1 CSR
	sig, err := rsa.SignPKCS1v15(rnd, key, crypto.SHA1, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing CSR: %w", err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(tbsDER)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidOIWSHA1WithRSA)
			b.AddASN1NULL()
		})
		b.AddASN1BitString(sig)
	})
	der, err := out.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding CSR: %w", err)
	}
	return der, nil
}
