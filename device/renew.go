package device

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Renew runs MS-MDE2 certificate renewal (3.5; certs.Request): a new key and CSR in the
// enrollment's CSR shape for the same DeviceID, sent as a WSTEP RequestSecurityToken with
// RequestType …/Renew to the enrollment service over TLS presenting the current
// certificate. The new client certificate must be for the new key, name the DeviceID, chain
// to the stored root and allow client authentication. Only then are key, certificate and
// enrollment record replaced (certs.Replace); when any
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
	if err != nil && ctx.Err() == nil && !errors.Is(err, enroll.ErrNotEnrolled) {
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
	id := a.Identity()
	cert, key, err := certs.Request(ctx, certs.Renewal{Enrollment: enr, Identity: id, Current: cur, Roots: roots,
		Rand: a.opts.Rand, Timeout: a.opts.HTTPTimeout})
	if err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	if err := certs.Replace(a.dir, cert, key, func() error { return a.commitRenewal(cert, started) }); err != nil {
		return fmt.Errorf("renewing certificate: %w", err)
	}
	a.log.Info("certificate renewed", "device", id.DeviceID, "old_thumbprint", enr.CertThumbprint,
		"thumbprint", mde2.Thumbprint(cert), "not_after", cert.NotAfter)
	return nil
}

// commitRenewal replaces the enrollment record's thumbprint, records the successful
// attempt, and clears the record's last failed automatic renewal, which was for the old
// certificate.
func (a *Agent) commitRenewal(cert *x509.Certificate, started time.Time) error {
	return a.updateEnrollment(func(enr *enroll.Enrollment) error {
		enr.CertThumbprint = mde2.Thumbprint(cert)
		enr.LastRenewalFailure = time.Time{}
		enr.LastRenewalAttempt, enr.RenewalStatus, enr.RenewalErrorCode = started.UTC(), enroll.RenewalSucceeded, 0
		return nil
	})
}

// seedRenewNodes stores the schedule nodes of an enrolled device whose tree lacks them (a
// state directory written before the agent kept them in its tree).
func (a *Agent) seedRenewNodes() error {
	enr := a.Enrollment()
	if enr.State != enroll.StateEnrolled {
		return nil
	}
	for _, kv := range certs.Seeds(enr) {
		if _, ok := a.tree.Value(kv[0]); ok {
			continue
		}
		if err := a.tree.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("seeding %s: %w", kv[0], err)
		}
	}
	return nil
}

// certStoreHandler is the CertificateStore My/WSTEP handler (certs.Handler) over the
// agent's enrollment record.
func (a *Agent) certStoreHandler() certs.Handler {
	return certs.Handler{
		Enrollment: a.Enrollment,
		Update:     a.updateEnrollment,
		RenewNow: func() error {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.enr.State != enroll.StateEnrolled {
				return fmt.Errorf("RenewNow: the device is not enrolled")
			}
			a.renewNow = true
			return nil
		},
	}
}

// takeRenewNow reports and clears a RenewNow requested in the last session.
func (a *Agent) takeRenewNow() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	req := a.renewNow
	a.renewNow = false
	return req
}

// renewRequested runs the renewal the server asked for with RenewNow. A failure is logged
// and shows in Renew/Status and ErrorCode; the current certificate stays in use.
func (a *Agent) renewRequested(ctx context.Context) {
	a.log.Info("renewing the certificate at the server's request (RenewNow)")
	if err := a.Renew(ctx); err != nil && ctx.Err() == nil {
		a.log.Warn("renewal requested by the server failed; keeping the current certificate", "err", err)
	}
}

// recordRenewalAttempt stores a failed renewal attempt that started at started, for the
// Renew/Status, ErrorCode and LastRenewalAttemptTime nodes; for an automatic attempt
// (automatic) it also sets LastRenewalFailure, which delays the next automatic attempt by
// RetryInterval, unless the certificate with the given thumbprint has been replaced
// meanwhile. When the record cannot be written, LastRenewalFailure is still kept in memory,
// so this process does not retry at every poll; the rest is undone.
func (a *Agent) recordRenewalAttempt(thumbprint string, started time.Time, automatic bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enr.State != enroll.StateEnrolled {
		return nil
	}
	prev := a.enr
	a.enr.LastRenewalAttempt, a.enr.RenewalStatus, a.enr.RenewalErrorCode = started.UTC(), enroll.RenewalFailed, certs.ErrorCodeFail
	if automatic && a.enr.CertThumbprint == thumbprint {
		a.enr.LastRenewalFailure = started.UTC()
	}
	if err := a.saveEnrollmentLocked(); err != nil {
		failure := a.enr.LastRenewalFailure
		a.enr = prev
		a.enr.LastRenewalFailure = failure
		return err
	}
	return nil
}
