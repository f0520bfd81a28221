// Package testpki makes device keys, an issuing CA and TLS client configurations for
// tests. It is test-only support code: production packages never import it.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"testing"
	"time"
)

// Issuer is what tests need of a CA.
type Issuer interface {
	Pool() *x509.CertPool
}

// ClientTLS returns a TLS config presenting cert/key and trusting roots.
func ClientTLS(roots *x509.CertPool, cert *x509.Certificate, key *ecdsa.PrivateKey) *tls.Config {
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}}
	}
	return cfg
}

// HTTPClient returns an HTTP client over cfg with keep-alive.
func HTTPClient(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 16, ForceAttemptHTTP2: false}}
}

// Key returns a fresh P-256 key.
func Key(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// SelfSigned returns a self-signed client certificate naming deviceID: what an attacker
// who knows a DeviceID could present.
func SelfSigned(t testing.TB, deviceID string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := Key(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: deviceID},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	c, err := createCert(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}
