package device

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/csp"
)

// RenewalStatus is the CertificateStore My/WSTEP/Renew/Status of the last renewal attempt
// (certificatestore-csp: 0 not started, 1 in progress, 2 succeeded, 3 failed).
type RenewalStatus int

// Renewal statuses.
const (
	RenewalNotStarted RenewalStatus = 0
	RenewalInProgress RenewalStatus = 1
	RenewalSucceeded  RenewalStatus = 2
	RenewalFailed     RenewalStatus = 3
)

// hresultFail is the renewal ErrorCode of a failed attempt: E_FAIL. The agent does not map
// its failures onto Windows' many HRESULTs; the device log has the cause.
const hresultFail = int32(-2147467259) // 0x80004005

// wstepRoot is the CertificateStore subtree of the MDM client certificate (certificatestore-csp
// My/WSTEP), which certStoreHandler owns; the rest of CertificateStore is plain stored values.
const wstepRoot = "./Device/Vendor/MSFT/CertificateStore/My/WSTEP"

// certStoreHandler owns My/WSTEP/Renew of the MDM client certificate. The schedule nodes
// (RenewPeriod, RetryInterval, ROBOSupport; ServerURL, the enrollment service renewals go
// to) are stored tree values seeded from the enrollment record (renewSeeds), and a Replace
// of one changes the schedule automatic renewal follows; Status, ErrorCode and
// LastRenewalAttemptTime report the last attempt live; Exec of RenewNow renews the
// certificate right after the session (202: the outcome shows in Status).
type certStoreHandler struct{ a *Agent }

func (h certStoreHandler) Prefix() string { return wstepRoot }

// Get answers the read-only status nodes (the tree asks handlers only for those).
func (h certStoreHandler) Get(uri string) (string, bool, error) {
	enr := h.a.Enrollment()
	if enr.State != StateEnrolled {
		return "", false, nil
	}
	switch uri {
	case wstepRoot + "/Renew/Status":
		return strconv.Itoa(int(enr.RenewalStatus)), true, nil
	case wstepRoot + "/Renew/ErrorCode":
		return strconv.Itoa(int(enr.RenewalErrorCode)), true, nil
	case wstepRoot + "/Renew/LastRenewalAttemptTime":
		if enr.LastRenewalAttempt.IsZero() {
			return "", false, nil
		}
		return enr.LastRenewalAttempt.UTC().Format(time.RFC3339), true, nil
	}
	return "", false, nil
}

// renewSeeds are the stored values of the schedule nodes for enr (see certStoreHandler).
func renewSeeds(enr Enrollment) [][2]string {
	s := enr.RenewSchedule()
	seeds := [][2]string{
		{wstepRoot + "/Renew/RenewPeriod", strconv.Itoa(s.RenewPeriod)},
		{wstepRoot + "/Renew/RetryInterval", strconv.Itoa(s.RetryInterval)},
		{wstepRoot + "/Renew/ROBOSupport", strconv.FormatBool(s.ROBOSupport)},
	}
	if enr.EnrollmentURL != "" {
		seeds = append(seeds, [2]string{wstepRoot + "/Renew/ServerURL", enr.EnrollmentURL})
	}
	return seeds
}

// seedRenewNodes stores the schedule nodes of an enrolled device whose tree lacks them (a
// state directory written before the agent kept them in its tree).
func (a *Agent) seedRenewNodes() error {
	enr := a.Enrollment()
	if enr.State != StateEnrolled {
		return nil
	}
	for _, kv := range renewSeeds(enr) {
		if _, ok := a.tree.Value(kv[0]); ok {
			continue
		}
		if err := a.tree.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("seeding %s: %w", kv[0], err)
		}
	}
	return nil
}

// Changed applies a Replace (or Delete: back to the CSP default) of the schedule nodes to
// the enrollment record, which automatic renewal reads. A schedule whose RetryInterval would
// exceed its RenewPeriod is refused (the CSP's rule; the tree has checked each value's range).
func (h certStoreHandler) Changed(uri, value string, deleted bool) error {
	leaf, ok := strings.CutPrefix(uri, wstepRoot+"/Renew/")
	if !ok {
		return nil
	}
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enr.State != StateEnrolled {
		return fmt.Errorf("CertificateStore %s: the device is not enrolled", leaf)
	}
	prev := a.enr
	s := a.enr.RenewSchedule()
	num := func(def int) (int, error) {
		if deleted || value == "" {
			return def, nil
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > cspMaxRenewDays {
			return 0, fmt.Errorf("CertificateStore %s: %q is not 1 to %d days", leaf, value, cspMaxRenewDays)
		}
		return n, nil
	}
	var err error
	switch leaf {
	case "RenewPeriod":
		s.RenewPeriod, err = num(cspRenewPeriodDays)
	case "RetryInterval":
		s.RetryInterval, err = num(cspRetryIntervalDays)
	case "ROBOSupport":
		switch {
		case deleted || value == "":
			s.ROBOSupport = true
		case value == "true" || value == "false":
			s.ROBOSupport = value == "true"
		default:
			err = fmt.Errorf("CertificateStore ROBOSupport: %q is not a boolean", value)
		}
	case "ServerURL":
		if deleted || value == "" {
			return fmt.Errorf("CertificateStore ServerURL: renewal needs an enrollment service URL")
		}
		a.enr.EnrollmentURL = value
	default:
		return nil
	}
	if err != nil {
		return err
	}
	if s.RetryInterval > s.RenewPeriod {
		return fmt.Errorf("CertificateStore %s: RetryInterval %d days would exceed RenewPeriod %d days", leaf, s.RetryInterval, s.RenewPeriod)
	}
	a.enr.Renewal = &s
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return err
	}
	return nil
}

// Exec handles Renew/RenewNow: the renewal runs when the session has ended, so that the
// session keeps the connection and certificate it started with.
func (h certStoreHandler) Exec(op csp.Op) (bool, error) {
	if op.URI != wstepRoot+"/Renew/RenewNow" {
		return false, fmt.Errorf("no action at %s", op.URI)
	}
	a := h.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.enr.State != StateEnrolled {
		return false, fmt.Errorf("RenewNow: the device is not enrolled")
	}
	a.renewNow = true
	return true, nil
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
	if a.enr.State != StateEnrolled {
		return nil
	}
	prev := a.enr
	a.enr.LastRenewalAttempt, a.enr.RenewalStatus, a.enr.RenewalErrorCode = started.UTC(), RenewalFailed, hresultFail
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
