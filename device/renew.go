package device

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// errRenewalRejected: the server's renewed certificate fails the device's checks.
var errRenewalRejected = errors.New("renewed certificate rejected")

// Renew runs MS-MDE2 certificate renewal (3.5): a new key and CSR in the enrollment's CSR
// shape for the same DeviceID, sent as a WSTEP RequestSecurityToken with RequestType
// …/Renew to the enrollment service over TLS presenting the current certificate (which is
// the renewal's only authentication: no wsse:Security header). The answer's provisioning
// document carries only the CertificateStore section; the new client certificate must be
// for the new key, name the DeviceID, chain to the stored root and allow client
// authentication. Only then are key, certificate and enrollment record replaced; when any
// step fails, only the record of the attempt changes. The server revokes the old
// certificate as it answers, so a failure to store the new one (disk full) leaves the
// device to re-enroll.
//
// Every attempt of an enrolled device is recorded for the CertificateStore My/WSTEP/Renew
// Status, ErrorCode and LastRenewalAttemptTime nodes.
func (a *Agent) Renew(ctx context.Context) error { return a.renewRecorded(ctx, false) }

// renewRecorded is Renew; automatic marks an attempt of automatic renewal, whose failure
// also sets LastRenewalFailure (recordRenewalAttempt), in the same write of the record.
func (a *Agent) renewRecorded(ctx context.Context, automatic bool) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	started := a.opts.Now()
	thumbprint := a.Enrollment().CertThumbprint
	err := a.renew(ctx, started)
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrNotEnrolled) {
		if rerr := a.recordRenewalAttempt(thumbprint, started, automatic); rerr != nil {
			a.log.Warn("recording the failed renewal attempt", "after", err, "err", rerr)
		}
	}
	return err
}

func (a *Agent) renew(ctx context.Context, started time.Time) error {
	enr := a.Enrollment()
	cur, roots, err := a.credentials()
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	if enr.EnrollmentURL == "" {
		return fmt.Errorf("renewing certificate: enrollment record has no EnrollmentServiceUrl")
	}
	shape, err := ParseCSRShape(string(enr.CSRShape))
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	id := a.Identity()
	key, csr, err := newKeyAndCSR(shape, id.DeviceID, a.opts.Rand)
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	if cur.Leaf == nil {
		if cur.Leaf, err = x509.ParseCertificate(cur.Certificate[0]); err != nil {
			return fmt.Errorf("renewing certificate: parsing the current certificate: %w", err)
		}
	}
	signer, ok := cur.PrivateKey.(crypto.Signer)
	if !ok {
		return fmt.Errorf("renewing certificate: current private key cannot sign")
	}
	p7, err := mde2.WrapRenewal(csr, cur.Leaf, signer, a.opts.Rand)
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	// MS-MDE2 3.5.4.1.1.1: RequestType …/Renew and the new PKCS#10 wrapped in a PKCS#7
	// signed with the current key; no wsse:Security, the TLS certificate authenticates.
	env, err := a.exchange(ctx, a.httpClient(roots, &cur), "renew", enr.EnrollmentURL, mde2.ActionRST, nil,
		&mde2.RequestSecurityToken{RequestType: mde2.RequestTypeRenew, ValueType: mde2.ValueTypePKCS7, Request: p7,
			Context: additionalContext(id, DefaultRequestVersion)})
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	cert, err := renewedCertificate(env)
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	if err := checkRenewed(cert, key, roots, id.DeviceID, cur.Leaf); err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	if err := a.commitRenewal(cert, key, started); err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	a.log.Info("certificate renewed", "device", id.DeviceID, "old_thumbprint", enr.CertThumbprint,
		"thumbprint", mde2.Thumbprint(cert), "not_after", cert.NotAfter)
	return nil
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
	var p provisioning
	if err := p.certificateStore(store); err != nil {
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

// commitRenewal replaces key, certificate and the enrollment record's thumbprint, and clears
// the record's last failed automatic renewal, which was for the old certificate. Each
// file is replaced atomically; when a later write fails the earlier ones are put back, so a
// failed renewal leaves the old key and certificate. (Only a crash between the key and
// certificate renames can leave them mismatched: two files cannot be swapped as one.)
func (a *Agent) commitRenewal(cert *x509.Certificate, key crypto.Signer, started time.Time) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding key: %w", err)
	}
	var oldFiles [2][]byte
	for i, name := range []string{fileClientKey, fileClientCert} {
		if oldFiles[i], err = os.ReadFile(a.path(name)); err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
	}
	files := []struct {
		name     string
		new, old []byte
	}{
		{fileClientKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), oldFiles[0]},
		{fileClientCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), oldFiles[1]},
	}
	rollback := func(n int, cause error) error {
		for _, f := range files[:n] {
			if err := writeFileAtomic(a.path(f.name), f.old, 0o600); err != nil {
				return errors.Join(cause, fmt.Errorf("restoring %s: %w", f.name, err))
			}
		}
		return cause
	}
	for i, f := range files {
		if err := writeFileAtomic(a.path(f.name), f.new, 0o600); err != nil {
			return rollback(i, err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.enr
	a.enr.CertThumbprint = mde2.Thumbprint(cert)
	a.enr.LastRenewalFailure = time.Time{}
	a.enr.LastRenewalAttempt, a.enr.RenewalStatus, a.enr.RenewalErrorCode = started.UTC(), RenewalSucceeded, 0
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return rollback(len(files), err)
	}
	return nil
}
