package testpki

import (
	"crypto/x509"
	"net"
	"testing"
)

// TestCAIssues: issued certificates chain to the root for their extended key usage, carry
// the common name and IP addresses asked for, and have serials of their own.
func TestCAIssues(t *testing.T) {
	ca := NewCA(t, "test root")
	key := Key(t)
	a := ca.Issue(t, key.Public(), "device-a", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	b := ca.Issue(t, key.Public(), "127.0.0.1", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, net.IPv4(127, 0, 0, 1))
	if a.Subject.CommonName != "device-a" || a.SerialNumber.Cmp(b.SerialNumber) == 0 || a.SerialNumber.Cmp(ca.Cert.SerialNumber) == 0 {
		t.Fatalf("issued %s serial %v and serial %v under root serial %v", a.Subject.CommonName, a.SerialNumber, b.SerialNumber, ca.Cert.SerialNumber)
	}
	if _, err := a.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("client certificate: %v", err)
	}
	if _, err := b.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "127.0.0.1"}); err != nil {
		t.Fatalf("server certificate: %v", err)
	}
	other := NewCA(t, "other root")
	if _, err := a.Verify(x509.VerifyOptions{Roots: other.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Fatal("a certificate of one CA verified under another")
	}
}
