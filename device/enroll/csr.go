package enroll

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"strings"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// CSRShape selects the PKCS#10 request the agent sends in the WSTEP RST.
type CSRShape string

// CSR shapes.
const (
	// CSRWindows is what Windows sends (mde2.WindowsCSR): an RSA-2048 key, subject CN
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

// NewKeyAndCSR makes the client key and its DER PKCS#10 request in the given shape.
func NewKeyAndCSR(shape CSRShape, deviceID string, rnd io.Reader) (crypto.Signer, []byte, error) {
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
		der, err := mde2.WindowsCSR(key, deviceID, rnd)
		if err != nil {
			return nil, nil, err
		}
		return key, der, nil
	}
	return nil, nil, fmt.Errorf("creating CSR: unknown shape %q", shape)
}
