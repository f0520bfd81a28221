package device

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Parsers of network input must never panic.

func FuzzParseForm(f *testing.F) {
	f.Fuzz(func(t *testing.T, page []byte) {
		form, err := parseForm(page)
		if err == nil && form == nil {
			t.Fatal("nil form without error")
		}
		_ = errorText(page)
	})
}

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
		env, err := soapResponse("enroll", 200, body)
		if err == nil && env == nil {
			t.Fatal("nil operation without error")
		}
	})
}

// The Windows-shaped CSR carries the quirks the server must handle (the standard library
// refuses it), names the OIW sha1WithRSA algorithm, and its signature verifies.
func TestWindowsCSR(t *testing.T) {
	id, err := NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	key, der, err := newKeyAndCSR(CSRWindows, id.DeviceID, rand.Reader)
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
	if !algOID.Equal(oidOIWSHA1WithRSA) {
		t.Errorf("signature algorithm %v, want %v", algOID, oidOIWSHA1WithRSA)
	}
	digest := sha1.Sum(tbs) //nolint:gosec
	if err := rsa.VerifyPKCS1v15(key.Public().(*rsa.PublicKey), crypto.SHA1, digest[:], sig.Bytes); err != nil {
		t.Errorf("signature: %v", err)
	}
	if !bytes.Contains(tbs, []byte("!"+id.DeviceID+"\x00")) {
		t.Error("CN lacks <partial GUID>!<DeviceID> with a trailing NUL")
	}
	if _, clean, err := newKeyAndCSR(CSRClean, id.DeviceID, rand.Reader); err != nil {
		t.Fatal(err)
	} else if _, err := x509.ParseCertificateRequest(clean); err != nil {
		t.Errorf("clean CSR: %v", err)
	}
}
