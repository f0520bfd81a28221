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

// testRenewal returns a WrapRenewal request and the PKCS#10 it carries.
func testRenewal(t testing.TB) (p7, csr []byte) {
	t.Helper()
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
	if csr, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key); err != nil {
		t.Fatal(err)
	}
	if p7, err = WrapRenewal(csr, cert, key, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if _, err := WrapRenewal(csr, nil, key, rand.Reader); err == nil {
		t.Error("wrapped without a certificate")
	}
	return p7, csr
}

// A renewal request carries the PKCS#10 unchanged, is signed by the current key over it,
// and a bare PKCS#10 is not one.
func TestRenewalRoundTrip(t *testing.T) {
	p7, csr := testRenewal(t)
	got, err := UnwrapRenewal(p7)
	if err != nil || !bytes.Equal(got, csr) {
		t.Fatalf("UnwrapRenewal = %x, %v; want the request", got, err)
	}
	if _, err := UnwrapRenewal(csr); err == nil {
		t.Error("a bare PKCS#10 unwrapped as a renewal")
	}
}

// cms builds ContentInfo{ctype, [0] SignedData{1, {}, {etype, [0] content}}}, the shape
// UnwrapRenewal walks.
func cms(ctype, etype asn1.ObjectIdentifier, content func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(ctype)
		b.AddASN1(explicit0, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(*cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(etype)
					b.AddASN1(explicit0, content)
				})
			})
		})
	})
	return b.BytesOrPanic()
}

// nested returns depth definite-length elements of the given tag, each inside the last,
// around a NULL, with four-byte lengths: 6*depth+2 bytes, built in linear time.
func nested(depth int, tag byte) []byte {
	out := make([]byte, 0, 6*depth+2)
	for level := depth; level > 0; level-- {
		n := 6*(level-1) + 2
		out = append(out, tag, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, 0x05, 0x00)
}

// hostileRenewals are malformed renewal requests a device (or anyone holding a client
// certificate) can send; each must be refused with an error.
func hostileRenewals(t testing.TB) map[string][]byte {
	p7, _ := testRenewal(t)
	octets := func(b *cryptobyte.Builder) { b.AddASN1OctetString([]byte("csr")) }
	depth := (MaxRequestBytes - 2) / 6
	return map[string][]byte{
		"empty":               {},
		"trailing data":       append(append([]byte{}, p7...), 0x00),
		"truncated":           p7[:len(p7)-1],
		"indefinite length":   {0x30, 0x80, 0x00, 0x00},
		"length beyond input": {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06},
		"length over 2^32":    {0x30, 0x89, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"deep SEQUENCEs":      nested(depth, 0x30),
		"deep [0]s":           nested(depth, 0xa0),
		"not SignedData":      cms(oidCMSData, oidCMSData, octets),
		"content not Data":    cms(oidCMSSignedData, oidSHA256WithRSA, octets),
		"content not OCTETS": cms(oidCMSSignedData, oidCMSData, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, octets)
		}),
		"request-sized junk": append(bytes.Repeat([]byte{0x30, 0x00}, MaxRequestBytes/2-1), 0x30),
	}
}

// Malformed, truncated, deeply nested and request-sized renewal requests are refused with
// an error; the minimal well-formed one the cases are built from is accepted.
func TestUnwrapRenewalRefusesHostile(t *testing.T) {
	ok := cms(oidCMSSignedData, oidCMSData, func(b *cryptobyte.Builder) { b.AddASN1OctetString([]byte("csr")) })
	if got, err := UnwrapRenewal(ok); err != nil || string(got) != "csr" {
		t.Fatalf("UnwrapRenewal(minimal) = %q, %v; want csr", got, err)
	}
	for name, der := range hostileRenewals(t) {
		if got, err := UnwrapRenewal(der); err == nil {
			t.Errorf("%s: unwrapped %d bytes, want an error", name, len(got))
		}
	}
}

// FuzzUnwrapRenewal checks that UnwrapRenewal never panics, and that what it accepts is
// the content of the container it was given.
func FuzzUnwrapRenewal(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	p7, _ := testRenewal(f)
	f.Add(p7)
	for _, der := range hostileRenewals(f) {
		if len(der) < 4096 {
			f.Add(der)
		}
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		got, err := UnwrapRenewal(der)
		if err != nil {
			if got != nil {
				t.Fatalf("error %v with content %x", err, got)
			}
			return
		}
		if len(got) >= len(der) || !bytes.Contains(der, got) {
			t.Fatalf("content %x is not inside its container %x", got, der)
		}
	})
}
