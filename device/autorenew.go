package device

import (
	"context"
	"crypto/x509"

	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
)

// currentCertificate parses the stored client certificate.
func (a *Agent) currentCertificate() (*x509.Certificate, error) {
	cur, _, err := a.credentials()
	if err != nil {
		return nil, err
	}
	return certs.Leaf(cur)
}

// autoRenew runs automatic renewal before a session when certs.Plan says it is due. A failed
// renewal is logged and its time persisted, so the next attempt waits RetryInterval days even
// across restarts; the session then goes ahead with the current certificate, which is still
// valid. Nothing is recorded when ctx ends the attempt.
func (a *Agent) autoRenew(ctx context.Context) {
	enr := a.Enrollment()
	if enr.State != enroll.StateEnrolled {
		return
	}
	cert, err := a.currentCertificate()
	if err != nil {
		a.log.Warn("automatic certificate renewal skipped", "err", err)
		return
	}
	s := enr.RenewSchedule()
	now := a.opts.Now()
	state, _ := certs.Plan(now, cert.NotBefore, cert.NotAfter, s, enr.LastRenewalFailure)
	if state != certs.Due {
		return
	}
	a.log.Info("certificate in its renewal period; renewing", "thumbprint", enr.CertThumbprint, "not_after", cert.NotAfter)
	err = a.renewRecorded(ctx, true) // a failure is recorded as LastRenewalFailure
	if err == nil || ctx.Err() != nil {
		return // Renew logged the new certificate
	}
	a.log.Warn("automatic certificate renewal failed; keeping the current certificate",
		"err", err, "not_after", cert.NotAfter, "retry_in_days", s.RetryInterval)
}
