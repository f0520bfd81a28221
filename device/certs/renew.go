package certs

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/httpx"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// errRenewalRejected: the server's renewed certificate fails the device's checks.
var errRenewalRejected = errors.New("renewed certificate rejected")

// Renewal is one certificate renewal's input.
type Renewal struct {
	Enrollment enroll.Enrollment // EnrollmentURL and CSRShape
	Identity   identity.Identity
	Current    tls.Certificate // the certificate being renewed, with its key
	Roots      *x509.CertPool  // the root provisioned at enrollment
	Rand       io.Reader
	Timeout    time.Duration // of the request
}

// Request runs MS-MDE2 certificate renewal (3.5): a new key and CSR in the enrollment's CSR
// shape for the same DeviceID, sent as a WSTEP RequestSecurityToken with RequestType
// …/Renew to the enrollment service over TLS presenting the current certificate (which is
// the renewal's only authentication: no wsse:Security header). The answer's provisioning
// document carries only the CertificateStore section; the new client certificate must be
// for the new key, name the DeviceID, chain to the stored root and allow client
// authentication. It returns the new certificate and key and stores nothing (Replace does).
func Request(ctx context.Context, r Renewal) (*x509.Certificate, crypto.Signer, error) {
	enr, id, cur := r.Enrollment, r.Identity, r.Current
	if enr.EnrollmentURL == "" {
		return nil, nil, fmt.Errorf("enrollment record has no EnrollmentServiceUrl")
	}
	shape, err := enroll.ParseCSRShape(string(enr.CSRShape))
	if err != nil {
		return nil, nil, err
	}
	key, csr, err := enroll.NewKeyAndCSR(shape, id.DeviceID, r.Rand)
	if err != nil {
		return nil, nil, err
	}
	if cur.Leaf == nil {
		if cur.Leaf, err = x509.ParseCertificate(cur.Certificate[0]); err != nil {
			return nil, nil, fmt.Errorf("parsing the current certificate: %w", err)
		}
	}
	signer, ok := cur.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("current private key cannot sign")
	}
	p7, err := mde2.WrapRenewal(csr, cur.Leaf, signer, r.Rand)
	if err != nil {
		return nil, nil, err
	}
	// MS-MDE2 3.5.4.1.1.1: RequestType …/Renew and the new PKCS#10 wrapped in a PKCS#7
	// signed with the current key; no wsse:Security, the TLS certificate authenticates.
	env, err := enroll.Exchange(ctx, httpx.Client(r.Roots, &cur, r.Timeout), "renew", enr.EnrollmentURL, mde2.ActionRST, nil,
		&mde2.RequestSecurityToken{RequestType: mde2.RequestTypeRenew, ValueType: mde2.ValueTypePKCS7, Request: p7,
			Context: enroll.AdditionalContext(id, enroll.DefaultRequestVersion)})
	if err != nil {
		return nil, nil, err
	}
	cert, err := renewedCertificate(env)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRenewed(cert, key, r.Roots, id.DeviceID, cur.Leaf); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// renewedCertificate takes the client certificate out of a renewal RSTR: the provisioning
// document of a renewal holds only the CertificateStore characteristic (MS-MDE2 3.5).
func renewedCertificate(env *mde2.Envelope) (*x509.Certificate, error) {
	rstr, err := env.RequestSecurityTokenResponse()
	if err != nil {
		return nil, err
	}
	doc, err := mde2.ParseProvisioningDoc(rstr.ProvisioningDoc)
	if err != nil {
		return nil, fmt.Errorf("reading provisioning document: %w", err)
	}
	store := doc.Characteristic("CertificateStore")
	if store == nil {
		return nil, fmt.Errorf("reading provisioning document: no CertificateStore")
	}
	var p enroll.Provisioning
	if err := p.CertificateStore(store); err != nil {
		return nil, fmt.Errorf("reading provisioning document: %w", err)
	}
	if p.ClientCert == nil {
		return nil, fmt.Errorf("reading provisioning document: no client certificate in CertificateStore/My")
	}
	return p.ClientCert, nil
}

// checkRenewed verifies the renewed certificate against what the device knows: it is for
// the new key, names this device, is not the certificate being replaced, and chains to the
// root stored at enrollment with client authentication allowed.
func checkRenewed(cert *x509.Certificate, key crypto.Signer, roots *x509.CertPool, deviceID string, old *x509.Certificate) error {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(cert.PublicKey) {
		return fmt.Errorf("%w: not for the new key", errRenewalRejected)
	}
	if !strings.EqualFold(cert.Subject.CommonName, deviceID) {
		return fmt.Errorf("%w: subject CN %q is not the DeviceID %s", errRenewalRejected, cert.Subject.CommonName, deviceID)
	}
	if old != nil && bytes.Equal(cert.Raw, old.Raw) {
		return fmt.Errorf("%w: server returned the current certificate", errRenewalRejected)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("%w: %w", errRenewalRejected, err)
	}
	return nil
}
