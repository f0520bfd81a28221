package certs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/device/enroll"
)

// ErrorCodeFail is the renewal ErrorCode of a failed attempt: E_FAIL. The agent does not map
// its failures onto Windows' many HRESULTs; the device log has the cause.
const ErrorCodeFail = int32(-2147467259) // 0x80004005

// WSTEPRoot is the CertificateStore subtree of the MDM client certificate (certificatestore-csp
// My/WSTEP), which Handler owns; the rest of CertificateStore is plain stored values.
const WSTEPRoot = "./Device/Vendor/MSFT/CertificateStore/My/WSTEP"

// Handler owns My/WSTEP/Renew of the MDM client certificate. The schedule nodes
// (RenewPeriod, RetryInterval, ROBOSupport; ServerURL, the enrollment service renewals go
// to) are stored tree values seeded from the enrollment record (Seeds), and a Replace
// of one changes the schedule automatic renewal follows; Status, ErrorCode and
// LastRenewalAttemptTime report the last attempt live; Exec of RenewNow renews the
// certificate right after the session (202: the outcome shows in Status).
type Handler struct {
	// Enrollment returns the enrollment record.
	Enrollment func() enroll.Enrollment
	// Update runs f on the enrollment record under the agent's lock and persists the record;
	// when f or the save fails the record is left as it was.
	Update func(f func(*enroll.Enrollment) error) error
	// RenewNow asks for a renewal when the session has ended; it fails when the device is
	// not enrolled.
	RenewNow func() error
}

// Prefix is the subtree the handler owns.
func (h Handler) Prefix() string { return WSTEPRoot }

// Get answers the read-only status nodes (the tree asks handlers only for those).
func (h Handler) Get(uri string) (string, bool, error) {
	enr := h.Enrollment()
	if enr.State != enroll.StateEnrolled {
		return "", false, nil
	}
	switch uri {
	case WSTEPRoot + "/Renew/Status":
		return strconv.Itoa(int(enr.RenewalStatus)), true, nil
	case WSTEPRoot + "/Renew/ErrorCode":
		return strconv.Itoa(int(enr.RenewalErrorCode)), true, nil
	case WSTEPRoot + "/Renew/LastRenewalAttemptTime":
		if enr.LastRenewalAttempt.IsZero() {
			return "", false, nil
		}
		return enr.LastRenewalAttempt.UTC().Format(time.RFC3339), true, nil
	}
	return "", false, nil
}

// Seeds are the stored values of the schedule nodes for enr (see Handler).
func Seeds(enr enroll.Enrollment) [][2]string {
	s := enr.RenewSchedule()
	seeds := [][2]string{
		{WSTEPRoot + "/Renew/RenewPeriod", strconv.Itoa(s.RenewPeriod)},
		{WSTEPRoot + "/Renew/RetryInterval", strconv.Itoa(s.RetryInterval)},
		{WSTEPRoot + "/Renew/ROBOSupport", strconv.FormatBool(s.ROBOSupport)},
	}
	if enr.EnrollmentURL != "" {
		seeds = append(seeds, [2]string{WSTEPRoot + "/Renew/ServerURL", enr.EnrollmentURL})
	}
	return seeds
}

// Changed applies a Replace (or Delete: back to the CSP default) of the schedule nodes to
// the enrollment record, which automatic renewal reads. A schedule whose RetryInterval would
// exceed its RenewPeriod is refused (the CSP's rule; the tree has checked each value's range).
func (h Handler) Changed(uri, value string, deleted bool) error {
	leaf, ok := strings.CutPrefix(uri, WSTEPRoot+"/Renew/")
	if !ok {
		return nil
	}
	switch leaf {
	case "RenewPeriod", "RetryInterval", "ROBOSupport", "ServerURL":
		return h.Update(func(enr *enroll.Enrollment) error { return setSchedule(enr, leaf, value, deleted) })
	}
	if h.Enrollment().State != enroll.StateEnrolled {
		return fmt.Errorf("CertificateStore %s: the device is not enrolled", leaf)
	}
	return nil
}

// setSchedule applies the change of schedule node leaf (RenewPeriod, RetryInterval,
// ROBOSupport or ServerURL) to enr.
func setSchedule(enr *enroll.Enrollment, leaf, value string, deleted bool) error {
	if enr.State != enroll.StateEnrolled {
		return fmt.Errorf("CertificateStore %s: the device is not enrolled", leaf)
	}
	s := enr.RenewSchedule()
	num := func(def int) (int, error) {
		if deleted || value == "" {
			return def, nil
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 1 || n > enroll.MaxRenewDays {
			return 0, fmt.Errorf("CertificateStore %s: %q is not 1 to %d days", leaf, value, enroll.MaxRenewDays)
		}
		return n, nil
	}
	var err error
	switch leaf {
	case "RenewPeriod":
		s.RenewPeriod, err = num(enroll.RenewPeriodDefault)
	case "RetryInterval":
		s.RetryInterval, err = num(enroll.RetryIntervalDefault)
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
		enr.EnrollmentURL = value
	default:
		return fmt.Errorf("CertificateStore %s: not a schedule node", leaf)
	}
	if err != nil {
		return err
	}
	if s.RetryInterval > s.RenewPeriod {
		return fmt.Errorf("CertificateStore %s: RetryInterval %d days would exceed RenewPeriod %d days", leaf, s.RetryInterval, s.RenewPeriod)
	}
	enr.Renewal = &s
	return nil
}

// Exec handles Renew/RenewNow: the renewal runs when the session has ended, so that the
// session keeps the connection and certificate it started with.
func (h Handler) Exec(op csp.Op) (bool, error) {
	if op.URI != WSTEPRoot+"/Renew/RenewNow" {
		return false, fmt.Errorf("no action at %s", op.URI)
	}
	if err := h.RenewNow(); err != nil {
		return false, err
	}
	return true, nil
}
