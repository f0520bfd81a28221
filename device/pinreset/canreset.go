package pinreset

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
	"github.com/hellomdm/hellomdm/device/resetpolicy"
)

// CanReset follows the support matrix. dsregcmd's CanReset answers "which PIN resets would
// succeed now"; the agent answers it for non-destructive reset with hello.NonDestructiveRefusal
// over every fact it has: edition and version (Identity), join, trust and account type
// (JoinState), EnablePinRecovery (policy), the protector (present and under the current
// label), and what it last learned about the tenant's PIN reset service: whether the tenant
// consented to the two applications and whether it is in a government cloud. The device
// cannot see those two; it learns them from the server at check-in (the server Replaces
// PinResetService/Availability when the value the device reported in package 1 is not the
// truth) and from the service's own answers whenever it asks for the key. The same inputs
// drive ResetPIN, so `device status`, the server's device list and ResetPIN agree.

// Values of ./Device/Vendor/MSFT/hellomdm/PinResetService/Availability (hellomdm-specific;
// csp/table.go): what the device knows of its tenant's PIN reset service.
const (
	ServiceAvailable       = "available"
	ServiceConsentRequired = "consentRequired" // an admin has not consented to both applications
	ServiceGovernmentCloud = "governmentCloud" // Azure Government: no PIN reset service
	serviceUnknown         = "unknown"         // reported in package 1 before anything was learned
)

const (
	pinResetServiceRoot = "./Device/Vendor/MSFT/hellomdm/PinResetService"
	nodeServiceAvail    = pinResetServiceRoot + "/Availability"
	filePinResetService = "pinreset-service.json"
)

// serviceState is what the agent last learned about the tenant's PIN reset service.
type serviceState struct {
	Availability string    `json:"availability"`
	LearnedAt    time.Time `json:"learnedAt,omitzero"`
	From         string    `json:"from,omitempty"` // "server" (check-in) or "service" (its answer)
}

func (m *Manager) loadServiceState() error {
	if _, err := statefile.ReadJSON(m.path(filePinResetService), &m.svc); err != nil {
		return fmt.Errorf("opening device state: %w", err)
	}
	return nil
}

// ServiceAvailability is what the device last learned about its tenant's PIN reset service
// (one of the Service* constants), "" before it learned anything.
func (m *Manager) ServiceAvailability() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.svc.Availability
}

// learnService records the tenant's PIN reset service state; from says who told.
func (m *Manager) learnService(avail, from string) error {
	switch avail {
	case ServiceAvailable, ServiceConsentRequired, ServiceGovernmentCloud:
	default:
		return fmt.Errorf("PIN reset service availability %q: want %s, %s or %s", avail, ServiceAvailable, ServiceConsentRequired, ServiceGovernmentCloud)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.svc.Availability == avail {
		return nil
	}
	st := serviceState{Availability: avail, LearnedAt: m.cfg.Now().UTC(), From: from}
	if err := statefile.WriteJSON(m.path(filePinResetService), st); err != nil {
		return err
	}
	m.log.Info("PIN reset service availability learned", "availability", avail, "from", from)
	m.svc = st
	return nil
}

// learnFromKeyAnswer records what an answer to the public key request says about the
// service: a key means available, consent_required and the 503 service_unavailable (the
// service's answer for a government cloud tenant) the matching state. Other failures
// (network, server errors) say nothing.
func (m *Manager) learnFromKeyAnswer(kerr error) {
	avail := ""
	var se *ServiceError
	switch {
	case kerr == nil:
		avail = ServiceAvailable
	case errors.As(kerr, &se) && se.Code == "consent_required":
		avail = ServiceConsentRequired
	case errors.As(kerr, &se) && se.Status == http.StatusServiceUnavailable && se.Code == "service_unavailable":
		avail = ServiceGovernmentCloud
	}
	if avail != "" {
		if err := m.learnService(avail, "service"); err != nil {
			m.log.Warn("recording the PIN reset service state", "err", err)
		}
	}
}

// serviceHandler owns ./Device/Vendor/MSFT/hellomdm/PinResetService: the server
// Replaces Availability, the agent keeps it (learnService) and answers Gets from it.
type serviceHandler struct{ m *Manager }

func (h serviceHandler) Prefix() string { return pinResetServiceRoot }

func (h serviceHandler) Get(uri string) (string, bool, error) {
	if uri != nodeServiceAvail {
		return "", false, nil
	}
	v := h.m.ServiceAvailability()
	return v, v != "", nil
}

func (h serviceHandler) Changed(uri, value string, deleted bool) error {
	if uri != nodeServiceAvail || deleted {
		return nil
	}
	return h.m.learnService(value, "server")
}

// supportFacts is the support matrix request for this device and user as they stand, for
// kind and entry point ep. protector reports a present, current protector.
func (m *Manager) supportFacts(pol resetpolicy.Policy, protector bool) hello.ResetRequest {
	id, j, avail := m.dev.Identity(), m.dev.Join(), m.ServiceAvailability()
	return hello.ResetRequest{
		Join: j.Join, Trust: j.Trust, Account: j.Account, Edition: id.OSEdition, OSVersion: id.OSVersion,
		RecoveryEnabled: pol.PINRecoveryEnabled, ProtectorPresent: protector,
		TenantOnboarded: avail != ServiceConsentRequired, GovCloud: avail == ServiceGovernmentCloud,
		GovSignInAllowListed: pol.WebSignInAllowed(hello.GovSignInHost),
	}
}

// withCanReset replaces st's container-only CanReset (hello.Status) with the support
// matrix's answer for this device, and says why when it is DestructiveOnly. The web sign-in
// allow list cannot refuse it: it concerns only the lock screen, and Settings remains.
func (m *Manager) withCanReset(st hello.UserState, pol resetpolicy.Policy) (hello.UserState, error) {
	if !st.NgcSet {
		return st, nil
	}
	protector := st.CanReset == hello.CanResetDestructiveAndNonDestructive
	ref, err := hello.NonDestructiveRefusal(m.supportFacts(pol, protector))
	if err != nil {
		return st, fmt.Errorf("evaluating CanReset: %w", err)
	}
	st.CanReset, st.CanResetReason = hello.CanResetDestructiveAndNonDestructive, ""
	if ref != nil {
		st.CanReset, st.CanResetReason = hello.CanResetDestructiveOnly, ref.Error()
	}
	return st, nil
}

// userStateLocked is the enrolled user's Hello state with CanReset from the support matrix;
// the caller holds helloMu and passes the policy it read before.
func (m *Manager) userStateLocked(upn string, pol resetpolicy.Policy) (hello.UserState, error) {
	st, err := hello.Status(m.HelloDir(), upn)
	if err != nil {
		return hello.UserState{}, err
	}
	return m.withCanReset(st, pol)
}

// LockoutHint tells the user of a locked PIN how to set a new one on this device: the
// non-destructive reset-pin command when CanReset is DestructiveAndNonDestructive, otherwise
// the destructive one and why non-destructive reset is unavailable. stateDir and upn are
// filled into the command.
func (m *Manager) LockoutHint(stateDir, upn string) (string, error) {
	st, err := m.HelloState()
	if err != nil {
		return "", err
	}
	cmd := fmt.Sprintf("hellomdm device reset-pin --state %s --user %s --password PW --otp CODE --new-pin NEWPIN", stateDir, upn)
	if st.CanReset == hello.CanResetDestructiveAndNonDestructive {
		return "The PIN is locked. Set a new one (non-destructive: the Hello keys and NgcKeyId stay) with:\n  " + cmd, nil
	}
	reason := strings.TrimPrefix(st.CanResetReason, "PIN reset not supported ")
	return fmt.Sprintf("The PIN is locked. Non-destructive PIN reset is not available on this device %s.\n"+
		"Set a new PIN, with new Hello keys, with:\n  %s --destructive", reason, cmd), nil
}
