package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// seeded returns a deterministic reader so serials are reproducible.
func seeded(seed uint64) io.Reader { return mrand.NewChaCha8([32]byte{byte(seed)}) }

func newTestCA(t testing.TB) *CA {
	t.Helper()
	c, err := Generate(testNow, seeded(1), "hellomdm test CA")
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return c
}

func TestGenerateAndLoadRoundTrip(t *testing.T) {
	c := newTestCA(t)
	if !c.Certificate().IsCA || c.Certificate().Subject.CommonName != "hellomdm test CA" {
		t.Fatalf("unexpected CA certificate: %+v", c.Certificate().Subject)
	}
	if len(c.Certificate().SubjectKeyId) == 0 {
		t.Fatal("CA has no SubjectKeyId")
	}
	keyPEM, err := c.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(c.CertPEM(), keyPEM, WithRand(seeded(2)))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if !loaded.Certificate().Equal(c.Certificate()) {
		t.Fatal("loaded certificate differs")
	}
	// A certificate issued by the loaded CA verifies against the original.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dev, err := loaded.IssueDevice(DeviceCertRequest{PublicKey: key.Public(), DeviceID: "ABC", NotBefore: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyDevice(dev, testNow.Add(time.Hour)); err != nil {
		t.Fatalf("VerifyDevice across Load: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	c := newTestCA(t)
	other, _ := Generate(testNow, seeded(3), "other")
	otherKey, _ := other.KeyPEM()
	keyPEM, _ := c.KeyPEM()
	leafPEM, _, err := c.IssueServerPEM([]string{"localhost"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cert    []byte
		key     []byte
		wantErr error
	}{
		{"empty cert", nil, keyPEM, ErrInvalidPEM},
		{"empty key", c.CertPEM(), nil, ErrInvalidPEM},
		{"garbage key", c.CertPEM(), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), nil},
		{"key of another CA", c.CertPEM(), otherKey, ErrKeyMismatch},
		{"leaf is not a CA", leafPEM, keyPEM, ErrNotCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.cert, tt.key)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueDeviceShape(t *testing.T) {
	c := newTestCA(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const id = "B5B954E81FBCB94EB79BD08BE625F4EE"
	cert, err := c.IssueDevice(DeviceCertRequest{PublicKey: rsaKey.Public(), DeviceID: id, NotBefore: testNow})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"subject CN is DeviceID", cert.Subject.CommonName == id && len(cert.Subject.Names) == 1},
		{"digitalSignature only", cert.KeyUsage == x509.KeyUsageDigitalSignature},
		{"clientAuth EKU only", len(cert.ExtKeyUsage) == 1 && cert.ExtKeyUsage[0] == x509.ExtKeyUsageClientAuth},
		{"AKI equals CA SKI", string(cert.AuthorityKeyId) == string(c.Certificate().SubjectKeyId)},
		{"ECDSA-SHA256", cert.SignatureAlgorithm == x509.ECDSAWithSHA256},
		{"one year", cert.NotAfter.Sub(cert.NotBefore) == DefaultDeviceValidity},
		{"not a CA", !cert.IsCA},
		{"serial ≤ 128 bits and positive", cert.SerialNumber.Sign() > 0 && cert.SerialNumber.BitLen() <= 128},
		{"key usage critical", keyUsageCritical(cert)},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if !ch.ok {
				t.Errorf("check failed on %+v", cert.Subject)
			}
		})
	}
}

func keyUsageCritical(cert *x509.Certificate) bool {
	for _, e := range cert.Extensions {
		if e.Id.String() == "2.5.29.15" {
			return e.Critical
		}
	}
	return false
}

func TestIssueDeviceRejects(t *testing.T) {
	c := newTestCA(t)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	good, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name    string
		req     DeviceCertRequest
		wantErr error
	}{
		{"RSA 1024", DeviceCertRequest{PublicKey: small.Public(), DeviceID: "A", NotBefore: testNow}, ErrUnsupportedKey},
		{"P-224", DeviceCertRequest{PublicKey: p224.Public(), DeviceID: "A", NotBefore: testNow}, ErrUnsupportedKey},
		{"nil key", DeviceCertRequest{DeviceID: "A", NotBefore: testNow}, ErrUnsupportedKey},
		{"empty ID", DeviceCertRequest{PublicKey: good.Public(), NotBefore: testNow}, ErrInvalidRequest},
		{"ID with NUL", DeviceCertRequest{PublicKey: good.Public(), DeviceID: "A\x00", NotBefore: testNow}, ErrInvalidRequest},
		{"ID too long", DeviceCertRequest{PublicKey: good.Public(), DeviceID: string(make([]byte, 65)), NotBefore: testNow}, ErrInvalidRequest},
		{"zero NotBefore", DeviceCertRequest{PublicKey: good.Public(), DeviceID: "A"}, ErrInvalidRequest},
		{"negative validity", DeviceCertRequest{PublicKey: good.Public(), DeviceID: "A", NotBefore: testNow, Validity: -time.Hour}, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.IssueDevice(tt.req); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyDevice(t *testing.T) {
	c := newTestCA(t)
	other, _ := Generate(testNow, seeded(9), "other CA")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req := DeviceCertRequest{PublicKey: key.Public(), DeviceID: "DEV1", NotBefore: testNow, Validity: 24 * time.Hour}
	ours, err := c.IssueDevice(req)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := other.IssueDevice(req)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.IssueServer([]string{"mdm.example.com"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cert    *x509.Certificate
		now     time.Time
		wantID  string
		wantErr bool
	}{
		{"valid", ours, testNow.Add(time.Hour), "DEV1", false},
		{"expired", ours, testNow.Add(48 * time.Hour), "", true},
		{"not yet valid", ours, testNow.Add(-time.Hour), "", true},
		{"other CA", theirs, testNow.Add(time.Hour), "", true},
		{"server cert has no clientAuth", sc.Leaf, testNow.Add(time.Hour), "", true},
		{"nil", nil, testNow, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := c.VerifyDevice(tt.cert, tt.now)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrNotIssuedHere) {
				t.Fatalf("err = %v, want ErrNotIssuedHere", err)
			}
			if id != tt.wantID {
				t.Fatalf("id = %q, want %q", id, tt.wantID)
			}
		})
	}
}

func TestIssueServerHandshake(t *testing.T) {
	c, err := Generate(time.Now(), nil, "hellomdm handshake CA")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.IssueServer([]string{"127.0.0.1", "localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Leaf.IPAddresses) != 1 || len(sc.Leaf.DNSNames) != 1 {
		t.Fatalf("SANs: ips %v dns %v", sc.Leaf.IPAddresses, sc.Leaf.DNSNames)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{sc}}
	srv.StartTLS()
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.Pool()}}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("TLS handshake with issued server cert: %v", err)
	}
	resp.Body.Close()
	if _, _, err := c.IssueServerPEM(nil, time.Now()); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("no hosts: err = %v", err)
	}
}

func TestSerialsFromInjectedRand(t *testing.T) {
	a, _ := Generate(testNow, seeded(7), "x")
	b, _ := Generate(testNow, seeded(7), "x")
	if a.Certificate().SerialNumber.Cmp(b.Certificate().SerialNumber) != 0 {
		t.Fatal("same seed gave different CA serials")
	}
	if _, err := Generate(testNow, zeroReader{}, "x"); err == nil {
		t.Fatal("all-zero random source accepted")
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func BenchmarkIssueDevice(b *testing.B) {
	c := newTestCA(b)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, bc := range []struct {
		name string
		pub  crypto.PublicKey
	}{{"rsa2048", rsaKey.Public()}, {"ecdsaP256", ecKey.Public()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.IssueDevice(DeviceCertRequest{PublicKey: bc.pub, DeviceID: "B5B954E81FBCB94EB79BD08BE625F4EE", NotBefore: testNow}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
