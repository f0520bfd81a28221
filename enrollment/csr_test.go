package enrollment

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
)

// Keys are slow to make; share them across tests.
var testKeys = sync.OnceValue(func() struct {
	rsa2048, rsa1024 *rsa.PrivateKey
	p256, p384, p224 *ecdsa.PrivateKey
} {
	var k struct {
		rsa2048, rsa1024 *rsa.PrivateKey
		p256, p384, p224 *ecdsa.PrivateKey
	}
	k.rsa2048, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.rsa1024, _ = rsa.GenerateKey(rand.Reader, 1024)
	k.p256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k.p384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	k.p224, _ = ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	return k
})

func TestParseCSR(t *testing.T) {
	k := testKeys()
	win := windowsCSR(t, k.rsa2048, testDeviceID)
	badSig := append([]byte(nil), win...)
	badSig[len(badSig)-5] ^= 0xff
	tests := []struct {
		name         string
		der          []byte
		wantDeviceID string
		wantErr      bool
	}{
		{"windows shape: ! and NUL in PrintableString, OIW sha1WithRSA", win, testDeviceID, false},
		{"standard ECDSA P-256", standardCSR(t, k.p256), "", false},
		{"standard ECDSA P-384", standardCSR(t, k.p384), "", false},
		{"standard RSA SHA-256", standardCSR(t, k.rsa2048), "", false},
		{"RSA sha1WithRSAEncryption", rsaCSRWithAlg(t, k.rsa2048, oidSHA1WithRSA, crypto.SHA1), "", false},
		{"RSA SHA-384", rsaCSRWithAlg(t, k.rsa2048, oidSHA384WithRSA, crypto.SHA384), "", false},
		{"RSA SHA-512", rsaCSRWithAlg(t, k.rsa2048, oidSHA512WithRSA, crypto.SHA512), "", false},
		{"bad signature", badSig, "", true},
		{"hash mismatch: signed SHA-1, labelled SHA-256", rsaCSRWithAlg(t, k.rsa2048, oidSHA256WithRSA, crypto.SHA1), "", true},
		{"unknown signature algorithm", rsaCSRWithAlg(t, k.rsa2048, oidRSAPSSForTest, crypto.SHA256), "", true},
		{"RSA-1024", windowsCSR(t, k.rsa1024, testDeviceID), "", true},
		{"ECDSA P-224", standardCSR(t, k.p224), "", true},
		{"garbage DER", []byte("this is not DER at all"), "", true},
		{"empty", nil, "", true},
		{"trailing data", append(append([]byte(nil), win...), 0x00), "", true},
		{"truncated", win[:len(win)/2], "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := parseCSR(tt.der)
			if tt.wantErr {
				if err == nil {
					t.Fatal("parseCSR accepted the request")
				}
				if !errors.Is(err, ErrBadCSR) {
					t.Fatalf("err = %v, want ErrBadCSR", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCSR: %v", err)
			}
			if info.DeviceID != tt.wantDeviceID {
				t.Errorf("DeviceID = %q, want %q", info.DeviceID, tt.wantDeviceID)
			}
			if info.PublicKey == nil {
				t.Error("no public key")
			}
		})
	}
}

// The standard library refuses the Windows CSR; this is why parseCSR exists.
func TestStdlibRefusesWindowsCSR(t *testing.T) {
	if _, err := x509.ParseCertificateRequest(windowsCSR(t, testKeys().rsa2048, testDeviceID)); err == nil {
		t.Skip("standard library now accepts the Windows CSR; parseCSR could be simplified")
	}
}
