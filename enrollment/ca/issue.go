package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"time"
)

// DefaultDeviceValidity is the device certificate lifetime when a request
// leaves Validity zero: one year, as in the certificate Windows accepted in the
// MS-MDE2 capture (docs/protocol.md A.9).
const DefaultDeviceValidity = 365 * 24 * time.Hour

// serverValidity is the lifetime of TLS server certificates: one year, under
// the 398-day ceiling browsers and the CA/B Forum apply.
const serverValidity = 365 * 24 * time.Hour

// maxDeviceIDLen bounds the DeviceID placed in the subject CN (RFC 5280
// ub-common-name is 64).
const maxDeviceIDLen = 64

// DeviceCertRequest describes one device identity certificate.
type DeviceCertRequest struct {
	// PublicKey is the device key from the CSR: RSA ≥ 2048 bits or ECDSA P-256/P-384.
	PublicKey crypto.PublicKey
	// DeviceID becomes the subject CN; it must be 1–64 printable ASCII characters.
	DeviceID string
	// NotBefore is the start of validity (required); the caller's clock.
	NotBefore time.Time
	// Validity defaults to DefaultDeviceValidity when zero.
	Validity time.Duration
}

// IssueDevice signs a device identity certificate: subject CN=DeviceID,
// KeyUsage digitalSignature (critical), EKU clientAuth, AKI, random 128-bit
// serial, ECDSA with SHA-256 (MS-MDE2 2.2.9.1; docs/protocol.md A.9).
func (c *CA) IssueDevice(req DeviceCertRequest) (*x509.Certificate, error) {
	if err := checkDeviceKey(req.PublicKey); err != nil {
		return nil, err
	}
	if err := checkDeviceID(req.DeviceID); err != nil {
		return nil, err
	}
	if req.NotBefore.IsZero() {
		return nil, fmt.Errorf("issuing device certificate: zero NotBefore: %w", ErrInvalidRequest)
	}
	validity := req.Validity
	if validity == 0 {
		validity = DefaultDeviceValidity
	}
	if validity < 0 {
		return nil, fmt.Errorf("issuing device certificate: negative validity: %w", ErrInvalidRequest)
	}
	notAfter := req.NotBefore.Add(validity)
	if notAfter.After(c.cert.NotAfter) {
		notAfter = c.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: req.DeviceID},
		NotBefore:   req.NotBefore.UTC(),
		NotAfter:    notAfter.UTC(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err := c.issue(tmpl, req.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("issuing device certificate: %w", err)
	}
	return cert, nil
}

func checkDeviceKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits: %w", k.N.BitLen(), ErrUnsupportedKey)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s: %w", k.Curve.Params().Name, ErrUnsupportedKey)
		}
	default:
		return fmt.Errorf("key type %T: %w", pub, ErrUnsupportedKey)
	}
	return nil
}

func checkDeviceID(id string) error {
	if id == "" || len(id) > maxDeviceIDLen {
		return fmt.Errorf("device ID length %d: %w", len(id), ErrInvalidRequest)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("device ID has byte 0x%02x: %w", id[i], ErrInvalidRequest)
		}
	}
	return nil
}

// VerifyDevice checks that cert was issued by this CA, is valid at now and
// carries the clientAuth EKU; it returns the DeviceID (subject CN). It does not
// check revocation: the caller holds the revoked serials.
func (c *CA) VerifyDevice(cert *x509.Certificate, now time.Time) (string, error) {
	if cert == nil {
		return "", fmt.Errorf("verifying device certificate: nil: %w", ErrNotIssuedHere)
	}
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       c.pool,
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return "", fmt.Errorf("verifying device certificate: %w: %w", ErrNotIssuedHere, err)
	}
	if err := checkDeviceID(cert.Subject.CommonName); err != nil {
		return "", fmt.Errorf("verifying device certificate: %w", err)
	}
	return cert.Subject.CommonName, nil
}

// IssueServer returns a TLS server certificate for hosts (DNS names or IP
// addresses) with the serverAuth EKU, chained to this CA. The key is a fresh
// ECDSA P-256 key.
func (c *CA) IssueServer(hosts []string, now time.Time) (tls.Certificate, error) {
	certPEM, keyPEM, err := c.IssueServerPEM(hosts, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("assembling server key pair: %w", err)
	}
	return tc, nil
}

// IssueServerPEM is IssueServer in persistable form: certPEM holds the leaf
// followed by the CA certificate, keyPEM the PKCS#8 private key.
func (c *CA) IssueServerPEM(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, fmt.Errorf("issuing server certificate: no hosts: %w", ErrInvalidRequest)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0]},
		NotBefore:   now.Add(-clockSkew).UTC(),
		NotAfter:    now.Add(serverValidity).UTC(),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(c.cert.NotAfter) {
		tmpl.NotAfter = c.cert.NotAfter
	}
	for _, h := range hosts {
		if h == "" {
			return nil, nil, fmt.Errorf("issuing server certificate: empty host: %w", ErrInvalidRequest)
		}
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), c.rand)
	if err != nil {
		return nil, nil, fmt.Errorf("generating server key: %w", err)
	}
	cert, err := c.issue(tmpl, key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("issuing server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshalling server key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	certPEM = append(certPEM, c.CertPEM()...)
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}
