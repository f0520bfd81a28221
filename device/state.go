package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Files of the state directory (mode 0700). Every file is replaced atomically: written to a
// temporary file in the same directory, fsynced, renamed over the old one, and the directory
// fsynced, so a crash leaves either the old or the new content, never a mix.
const (
	fileIdentity   = "identity.json"
	fileEnrollment = "enrollment.json"
	fileDMClient   = "dmclient.json"
	filePolicy     = "policy.json"
	fileTree       = "csp-tree.json"
	fileClientKey  = "client-key.pem" // 0600
	fileClientCert = "client.pem"
	fileServerCA   = "server-ca.pem"
	dirHello       = "hello"
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

// PollSchedule is the DMClient Provider/{ProviderID}/Poll configuration (dmclient-csp;
// intervals in minutes, a remaining count of 0 means forever).
type PollSchedule struct {
	NumberOfFirstRetries                 int  `json:"numberOfFirstRetries"`
	IntervalForFirstSetOfRetries         int  `json:"intervalForFirstSetOfRetries"`
	NumberOfSecondRetries                int  `json:"numberOfSecondRetries"`
	IntervalForSecondSetOfRetries        int  `json:"intervalForSecondSetOfRetries"`
	NumberOfRemainingScheduledRetries    int  `json:"numberOfRemainingScheduledRetries"`
	IntervalForRemainingScheduledRetries int  `json:"intervalForRemainingScheduledRetries"`
	PollOnLogin                          bool `json:"pollOnLogin"`
}

// dmClientState is the DMClient's own bookkeeping: poll schedule and session counter.
type dmClientState struct {
	Poll PollSchedule `json:"poll"`
	// SessionCounter is the SessionID of the last session started (MS-MDM: decimal, +1 per
	// session, as captures show; the server treats it as opaque).
	SessionCounter int `json:"sessionCounter"`
}

// writeFileAtomic replaces path with data (temporary file, fsync, rename, directory fsync).
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after the rename
	fail := func(err error) error {
		f.Close()
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", filepath.Base(path), err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing state directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing state directory: %w", err)
	}
	return nil
}

// maxStateFile bounds what the agent reads back from its own directory.
const maxStateFile = 1 << 20

// readJSON decodes a state file; ok=false when it does not exist.
func readJSON(path string, v any) (bool, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", filepath.Base(path), err)
	}
	if len(raw) > maxStateFile {
		return false, fmt.Errorf("reading %s: file larger than %d bytes", filepath.Base(path), maxStateFile)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decoding %s: %w", filepath.Base(path), err)
	}
	return true, nil
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, append(raw, '\n'), 0o600)
}

// StateExists reports whether dir holds a device's state (the identity Open writes), without
// creating anything: commands that only read or use an enrollment check it first, so a
// mistyped directory is named instead of becoming a new, empty device.
func StateExists(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, fileIdentity))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
