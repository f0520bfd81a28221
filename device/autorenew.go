package device

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"
)

// RenewSchedule is the automatic renewal configuration of the enrollment certificate, from
// the provisioning document's CertificateStore My/WSTEP/Renew characteristic (MS-MDE2
// 2.2.9.1; certificatestore-csp, MY/WSTEP/Renew).
type RenewSchedule struct {
	// ROBOSupport turns automatic renewal (Renew On Behalf Of) on.
	ROBOSupport bool `json:"roboSupport"`
	// RenewPeriod is the number of days before the certificate expires from which the
	// device renews it.
	RenewPeriod int `json:"renewPeriod"`
	// RetryInterval is the number of days between attempts after a failed renewal.
	RetryInterval int `json:"retryInterval"`
}

// CertificateStore CSP defaults and range of My/WSTEP/Renew (certificatestore-csp: RenewPeriod
// 42 days, RetryInterval 7 days, both 1–1000 with RetryInterval at most RenewPeriod,
// ROBOSupport true). A provisioning document that leaves a parm out gets its default.
const (
	cspRenewPeriodDays   = 42
	cspRetryIntervalDays = 7
	cspMaxRenewDays      = 1000
)

// The schedule hellomdm's enrollment service provisions (enrollment/provdoc.go: ROBOSupport
// true, RenewPeriod 60, RetryInterval 4). An enrollment record written before the agent kept
// the schedule was provisioned with it.
const (
	hellomdmRenewPeriodDays   = 60
	hellomdmRetryIntervalDays = 4
)

// RenewSchedule returns the enrollment's renewal schedule: the provisioned one, or for a
// record written before the agent kept it, the schedule hellomdm's server provisioned then.
func (e Enrollment) RenewSchedule() RenewSchedule {
	if e.Renewal != nil {
		return *e.Renewal
	}
	return RenewSchedule{ROBOSupport: true, RenewPeriod: hellomdmRenewPeriodDays, RetryInterval: hellomdmRetryIntervalDays}
}

// renewalState is where a certificate stands in automatic renewal.
type renewalState int

const (
	renewalOff     renewalState = iota // ROBOSupport is false: the device does not renew by itself
	renewalWaiting                     // renewal is due later (renewal period not reached, or a retry pending)
	renewalDue                         // renew now
	renewalStopped                     // the certificate expires before the next attempt, or has expired
)

func (s renewalState) String() string {
	switch s {
	case renewalOff:
		return "off"
	case renewalWaiting:
		return "waiting"
	case renewalDue:
		return "due"
	case renewalStopped:
		return "stopped"
	}
	return fmt.Sprintf("renewalState(%d)", int(s))
}

// renewalPlan decides the automatic renewal of a certificate valid from notBefore to notAfter,
// at time now, under schedule s, lastFailure being the last failed automatic attempt (zero:
// none). next is when renewal is due (states waiting and due), zero otherwise.
//
//   - ROBOSupport false: off (certificatestore-csp ROBOSupport).
//   - Renewal starts RenewPeriod days before notAfter (certificatestore-csp RenewPeriod), but
//     not before the middle of the certificate's lifetime. That floor is hellomdm's choice: a
//     RenewPeriod longer than the lifetime would otherwise renew every new certificate at once,
//     at every poll.
//   - After a failure the next attempt is RetryInterval days later, not at the next poll
//     (certificatestore-csp RetryInterval). A failure before notBefore was for an earlier
//     certificate and does not count.
//   - Attempts stop at notAfter: retries stop at the certificate's expiration and Windows does
//     not renew an expired certificate automatically (certificate-renewal-windows-mdm,
//     "Certificate renewal schedule configuration"; hellomdm provisions no
//     RetryAfterExpiryInterval).
//
// RenewPeriod and RetryInterval outside the CSP range 1–1000 are clamped into it.
func renewalPlan(now, notBefore, notAfter time.Time, s RenewSchedule, lastFailure time.Time) (state renewalState, next time.Time) {
	if !s.ROBOSupport {
		return renewalOff, time.Time{}
	}
	days := func(n int) time.Duration { return time.Duration(min(max(n, 1), cspMaxRenewDays)) * 24 * time.Hour }
	next = notAfter.Add(-days(s.RenewPeriod))
	if mid := notBefore.Add(notAfter.Sub(notBefore) / 2); next.Before(mid) {
		next = mid
	}
	if !lastFailure.IsZero() && !lastFailure.Before(notBefore) {
		if retry := lastFailure.Add(days(s.RetryInterval)); retry.After(next) {
			next = retry
		}
	}
	switch {
	case !now.Before(notAfter) || !next.Before(notAfter):
		return renewalStopped, time.Time{}
	case now.Before(next):
		return renewalWaiting, next
	}
	return renewalDue, next
}

// currentCertificate parses the stored client certificate.
func (a *Agent) currentCertificate() (*x509.Certificate, error) {
	cur, _, err := a.credentials()
	if err != nil {
		return nil, err
	}
	if cur.Leaf != nil {
		return cur.Leaf, nil
	}
	leaf, err := x509.ParseCertificate(cur.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing the device certificate: %w", err)
	}
	return leaf, nil
}

// autoRenew runs automatic renewal before a session when renewalPlan says it is due. A failed
// renewal is logged and its time persisted, so the next attempt waits RetryInterval days even
// across restarts; the session then goes ahead with the current certificate, which is still
// valid. Nothing is recorded when ctx ends the attempt.
func (a *Agent) autoRenew(ctx context.Context) {
	enr := a.Enrollment()
	if enr.State != StateEnrolled {
		return
	}
	cert, err := a.currentCertificate()
	if err != nil {
		a.log.Warn("automatic certificate renewal skipped", "err", err)
		return
	}
	s := enr.RenewSchedule()
	now := a.opts.Now()
	state, _ := renewalPlan(now, cert.NotBefore, cert.NotAfter, s, enr.LastRenewalFailure)
	if state != renewalDue {
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
