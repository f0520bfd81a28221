package mde2

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The Windows-shaped request names the OIW algorithm, carries the quirky CN and the DeviceID
// extension, is refused by the standard library, and its signature verifies.
func TestWindowsCSR(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := WindowsCSR(key, testDeviceID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificateRequest(der); err == nil {
		t.Error("the standard library parsed the Windows CSR; it should not")
	}
	in := cryptobyte.String(der)
	var req, tbs, alg cryptobyte.String
	var algOID asn1.ObjectIdentifier
	var sig asn1.BitString
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1Element(&tbs, cbasn1.SEQUENCE) ||
		!req.ReadASN1(&alg, cbasn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&algOID) || !req.ReadASN1BitString(&sig) {
		t.Fatal("malformed CSR")
	}
	if !algOID.Equal(OIDOIWSHA1WithRSA) {
		t.Errorf("signature algorithm %v, want %v", algOID, OIDOIWSHA1WithRSA)
	}
	digest := sha1.Sum(tbs) //nolint:gosec
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA1, digest[:], sig.Bytes); err != nil {
		t.Errorf("signature: %v", err)
	}
	if !bytes.Contains(tbs, []byte("!"+testDeviceID+"\x00")) {
		t.Error("CN lacks <partial GUID>!<DeviceID> with a trailing NUL")
	}
	ext, err := asn1.Marshal(OIDWindowsDeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(tbs, ext) {
		t.Error("no DeviceID extension")
	}
}

// A renewal request carries the PKCS#10 unchanged, is signed by the current key over it,
// and a bare PKCS#10 is not one.
func TestRenewalRoundTrip(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: testDeviceID},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := WrapRenewal(csr, cert, key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapRenewal(p7)
	if err != nil || !bytes.Equal(got, csr) {
		t.Fatalf("UnwrapRenewal = %x, %v; want the request", got, err)
	}
	if _, err := UnwrapRenewal(csr); err == nil {
		t.Error("a bare PKCS#10 unwrapped as a renewal")
	}
	if _, err := WrapRenewal(csr, nil, key, rand.Reader); err == nil {
		t.Error("wrapped without a certificate")
	}
}

func FuzzUnwrapRenewal(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		if got, err := UnwrapRenewal(der); err == nil && len(got) > len(der) {
			t.Fatal("content longer than its container")
		}
	})
}
