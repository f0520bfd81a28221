package enroll

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"testing"

	"github.com/hellomdm/hellomdm/device/identity"
)

// Parsers of network input must never panic.

func FuzzParseProvisioningDoc(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := parseProvisioningDoc(doc)
		if err == nil && (p.RootCA == nil || p.ClientCert == nil) {
			t.Fatal("accepted a document without certificates")
		}
	})
}

func FuzzParseSOAPResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := ParseResponse("enroll", 200, body)
		if err == nil && env == nil {
			t.Fatal("nil operation without error")
		}
	})
}

// NewKeyAndCSR makes the key and request of each shape: the Windows one (mde2.WindowsCSR,
// which the standard library refuses) over an RSA-2048 key naming the DeviceID, the clean one
// a standard ECDSA request.
func TestNewKeyAndCSR(t *testing.T) {
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, der, err := NewKeyAndCSR(CSRWindows, id.DeviceID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := key.(*rsa.PrivateKey); !ok || k.N.BitLen() != 2048 {
		t.Errorf("Windows-shaped key %T, want RSA-2048", key)
	}
	if _, err := x509.ParseCertificateRequest(der); err == nil {
		t.Error("the standard library parsed the Windows CSR; it should not")
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(der, spki) || !bytes.Contains(der, []byte("!"+id.DeviceID+"\x00")) {
		t.Error("the Windows CSR lacks the key or the DeviceID CN")
	}
	clean, cder, err := NewKeyAndCSR(CSRClean, id.DeviceID, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req, err := x509.ParseCertificateRequest(cder)
	if err != nil {
		t.Fatalf("clean CSR: %v", err)
	}
	if req.Subject.CommonName != id.DeviceID || req.CheckSignature() != nil {
		t.Errorf("clean CSR CN %q, signature %v", req.Subject.CommonName, req.CheckSignature())
	}
	if _, ok := clean.(*ecdsa.PrivateKey); !ok {
		t.Errorf("clean key %T, want ECDSA", clean)
	}
	if _, _, err := NewKeyAndCSR("other", id.DeviceID, rand.Reader); err == nil {
		t.Error("unknown shape accepted")
	}
}
