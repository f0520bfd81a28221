package enroll

import (
	"errors"
	"time"
)

// Errors of the enrollment lifecycle.
var (
	// ErrNotEnrolled: the operation needs an enrolled device (Sync, Run, Unenroll, Renew,
	// the Hello and PIN reset operations).
	ErrNotEnrolled = errors.New("device is not enrolled")
	// ErrEnrolled: the operation needs a device that is not enrolled (Enroll, a change of
	// the identity).
	ErrEnrolled = errors.New("device is enrolled")
)

// Enrollment states.
const (
	StateNotEnrolled = "not-enrolled"
	StateEnrolled    = "enrolled"
	StateUnenrolled  = "unenrolled"
)

// Enrollment is what the agent keeps from MS-MDE2 enrollment.
type Enrollment struct {
	State          string    `json:"state"`
	ServerURL      string    `json:"serverUrl"`      // base URL the user typed
	DiscoveryURL   string    `json:"discoveryUrl"`   // …/EnrollmentServer/Discovery.svc
	PolicyURL      string    `json:"policyUrl"`      // EnrollmentPolicyServiceUrl
	EnrollmentURL  string    `json:"enrollmentUrl"`  // EnrollmentServiceUrl
	AuthPolicy     string    `json:"authPolicy"`     // OnPremise or Federated
	ManagementURL  string    `json:"managementUrl"`  // w7 APPLICATION ADDR
	ProviderID     string    `json:"providerId"`     // w7 PROVIDER-ID = DMClient Provider name
	UPN            string    `json:"upn"`            // enrolled user
	TenantID       string    `json:"tenantId"`       // directory tenant GUID, "" if unknown
	EntDeviceName  string    `json:"entDeviceName"`  // DMClient EntDeviceName
	CertThumbprint string    `json:"certThumbprint"` // upper-case hex SHA-1 of the client cert
	CSRShape       CSRShape  `json:"csrShape"`
	EnrolledAt     time.Time `json:"enrolledAt"`
	UnenrolledAt   time.Time `json:"unenrolledAt,omitzero"`
	// Renewal is the provisioned automatic renewal schedule; nil in a record written before
	// the agent kept it (see RenewSchedule).
	Renewal *RenewSchedule `json:"renewal,omitempty"`
	// LastRenewalFailure is when automatic renewal of the current certificate last failed;
	// zero when it has not.
	LastRenewalFailure time.Time `json:"lastRenewalFailure,omitzero"`
	// LastRenewalAttempt, RenewalStatus and RenewalErrorCode describe the last renewal
	// attempt, automatic, requested by the server (RenewNow) or by hand, as the
	// CertificateStore My/WSTEP/Renew nodes report it; zero before the first.
	LastRenewalAttempt time.Time     `json:"lastRenewalAttempt,omitzero"`
	RenewalStatus      RenewalStatus `json:"renewalStatus,omitempty"`
	RenewalErrorCode   int32         `json:"renewalErrorCode,omitempty"`
}

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
	RenewPeriodDefault   = 42
	RetryIntervalDefault = 7
	MaxRenewDays         = 1000
)

// The schedule hellomdm's enrollment service provisions (enrollment/provdoc.go: ROBOSupport
// true, RenewPeriod 60, RetryInterval 4). An enrollment record written before the agent kept
// the schedule was provisioned with it.
const (
	hellomdmRenewPeriod   = 60
	hellomdmRetryInterval = 4
)

// RenewSchedule returns the enrollment's renewal schedule: the provisioned one, or for a
// record written before the agent kept it, the schedule hellomdm's server provisioned then.
func (e Enrollment) RenewSchedule() RenewSchedule {
	if e.Renewal != nil {
		return *e.Renewal
	}
	return RenewSchedule{ROBOSupport: true, RenewPeriod: hellomdmRenewPeriod, RetryInterval: hellomdmRetryInterval}
}
