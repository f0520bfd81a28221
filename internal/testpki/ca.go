package testpki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// CA is a small issuing CA for tests: a self-signed P-256 root (serial 1, valid from an hour
// ago for a day) that issues leaf certificates with serials from 101 up. It is safe for
// concurrent use, so fake servers may issue from their handlers.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer

	mu   sync.Mutex
	next int64
}

// NewCA returns a CA whose root certificate has the common name name.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key := Key(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	cert, err := createCert(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: key, next: 100}
}

// Pool returns a pool holding the root.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// Issue returns a certificate for pub valid from an hour ago for two hours (see IssueValid).
func (c *CA) Issue(t testing.TB, pub crypto.PublicKey, cn string, eku []x509.ExtKeyUsage, ips ...net.IP) *x509.Certificate {
	t.Helper()
	return c.IssueValid(t, pub, cn, eku, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), ips...)
}

// IssueValid returns a certificate for pub with common name cn, digital signature key
// usage, the extended key usages eku, the IP addresses ips and the validity period given.
// A failure is reported with t.Errorf and returns nil: IssueValid may run on a fake server's
// goroutine, where t.Fatal must not be called.
func (c *CA) IssueValid(t testing.TB, pub crypto.PublicKey, cn string, eku []x509.ExtKeyUsage, notBefore, notAfter time.Time, ips ...net.IP) *x509.Certificate {
	t.Helper()
	c.mu.Lock()
	c.next++
	serial := c.next
	c.mu.Unlock()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: eku, IPAddresses: ips}
	cert, err := createCert(tmpl, c.Cert, pub, c.Key)
	if err != nil {
		t.Errorf("issuing test certificate: %v", err)
		return nil
	}
	return cert
}

// createCert signs tmpl for pub with signer as parent and parses the result.
func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
