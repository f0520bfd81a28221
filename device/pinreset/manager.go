package pinreset

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/hello"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
	"github.com/hellomdm/hellomdm/device/resetpolicy"
)

// Device is what the manager reads of the device it runs on; the agent (package device)
// provides it. Each function is safe for concurrent use.
type Device struct {
	Identity   func() identity.Identity
	Join       func() identity.JoinState
	Policy     func() resetpolicy.Policy
	Enrollment func() enroll.Enrollment
	// Credentials returns the device certificate and the provisioned root; it fails with
	// enroll.ErrNotEnrolled on a device that is not enrolled.
	Credentials func() (tls.Certificate, *x509.CertPool, error)
}

// Config configures a Manager.
type Config struct {
	// Dir is the device's state directory: the Hello containers are under Dir/hello, the
	// manager's own files (hello-agent.json, pinreset-service.json) beside them.
	Dir    string
	Device Device
	Rand   io.Reader
	Now    func() time.Time
	Log    *slog.Logger
	// Timeout bounds each request to the server.
	Timeout time.Duration
	// KDF is the Argon2id cost of new Hello PIN protectors (nil: hello.DefaultKDFParams).
	KDF *hello.KDFParams
	// OnPinRecoveryChanged is called when the effective EnablePinRecovery changes, after the
	// protector lifecycle ran; an error fails the change. May be nil.
	OnPinRecoveryChanged func(enabled bool) error
}

// Manager is the enrolled user's Windows Hello and PIN reset on the device. Its methods are
// safe for concurrent use.
type Manager struct {
	cfg Config
	dev Device
	log *slog.Logger

	// helloMu serialises the Hello container operations. Lock order: the policy's lock,
	// then helloMu, then the agent's; never read the policy while holding it.
	helloMu sync.Mutex

	mu  sync.Mutex   // guards svc
	svc serviceState // what the device learned of its tenant's PIN reset service
}

// dirHello holds the Hello containers (device/hello) under the state directory.
const dirHello = "hello"

// Open returns the manager of the state directory cfg.Dir, creating its Hello directory.
func Open(cfg Config) (*Manager, error) {
	m := &Manager{cfg: cfg, dev: cfg.Device, log: cfg.Log}
	if err := m.loadServiceState(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.HelloDir(), 0o700); err != nil {
		return nil, fmt.Errorf("creating Hello directory: %w", err)
	}
	return m, nil
}

func (m *Manager) path(name string) string { return filepath.Join(m.cfg.Dir, name) }

// HelloDir is the directory holding the user's Windows Hello container (device/hello).
func (m *Manager) HelloDir() string { return m.path(dirHello) }

// The PIN reset protector lifecycle (docs/protocol.md D.2 and D.5; Learn "PIN reset", "How
// nondestructive PIN reset works"): while PassportForWork EnablePinRecovery is true, the enrolled
// user's Hello container carries a protector escrowed to the tenant's PIN reset service key.
// Creating it needs the container key, which only the PIN opens, so it is created the next time
// the agent holds the unlocked container: Hello provisioning, a successful PIN reset, or a sign-in
// with the PIN (UnlockHello). Until then the protector is "pending". A protector made under the
// tenant-only label of earlier releases (hello.ProtectorOutdated: the service no longer decrypts
// it) is replaced the same way and reported "outdated" until then. When the policy turns false
// (Replace false or Delete) the protector is destroyed at once; that needs no PIN.

// Errors of the Hello operations.
var (
	// ErrNotHelloUser: the user is not the device's enrolled user, the only user whose Hello
	// container the agent manages.
	ErrNotHelloUser = errors.New("not the device's enrolled user")
	// ErrHelloDisabled: PassportForWork UsePassportForWork is false, so Windows Hello for
	// Business is not provisioned (passportforwork-csp).
	ErrHelloDisabled = errors.New("Windows Hello for Business is disabled by policy (UsePassportForWork is false)")
)

// fileHelloAgent keeps the protector bookkeeping of the enrolled user.
const fileHelloAgent = "hello-agent.json"

// helloAgentState is the protector bookkeeping: whether a protector is owed and, when the
// last attempt to create one failed, why.
type helloAgentState struct {
	UPN              string    `json:"upn"`
	ProtectorPending bool      `json:"protectorPending"`
	ProtectorIssue   string    `json:"protectorIssue,omitempty"`
	IssueAt          time.Time `json:"issueAt,omitzero"`
}

// Protector states reported by ProtectorStatus.
const (
	// ProtectorNotUsed: EnablePinRecovery is false, so no protector is kept.
	ProtectorNotUsed = "not used"
	// ProtectorPresent: the container holds a protector (CanReset DestructiveAndNonDestructive).
	ProtectorPresent = "present"
	// ProtectorPending: EnablePinRecovery is true but the container has no protector yet.
	ProtectorPending = "pending"
	// ProtectorNoContainer: EnablePinRecovery is true and the user has no Hello container;
	// the protector is created with it.
	ProtectorNoContainer = "no Hello container"
	// ProtectorOutdated: the container holds a protector under the old tenant-only label,
	// which the service no longer decrypts (CanReset DestructiveOnly); it is replaced at the
	// next sign-in with the PIN while EnablePinRecovery is true.
	ProtectorOutdated = "outdated"
)

// ProtectorStatus describes the enrolled user's PIN reset protector.
type ProtectorStatus struct {
	State string // one of the Protector* constants
	// TenantID and KeyFingerprint (hex) identify the service key of a present or outdated
	// protector.
	TenantID       string
	KeyFingerprint string
	// Issue says why a pending protector was not created (or an outdated one not replaced)
	// at the last attempt, for example the tenant's missing admin consent; empty when
	// nothing failed.
	Issue string
}

// String renders the status for `device status`.
func (p ProtectorStatus) String() string {
	switch p.State {
	case ProtectorPresent:
		return fmt.Sprintf("present (tenant %s, service key %s)", p.TenantID, p.KeyFingerprint)
	case ProtectorPending:
		if p.Issue != "" {
			return "pending: not created: " + p.Issue
		}
		return "pending: sign in with the PIN (hellomdm device hello unlock) to create it"
	case ProtectorNoContainer:
		return "no Hello container yet; created at provisioning"
	case ProtectorOutdated:
		msg := fmt.Sprintf("outdated (tenant %s, service key %s, tenant-only label): sign in with the PIN (hellomdm device hello unlock) to replace it", p.TenantID, p.KeyFingerprint)
		if p.Issue != "" {
			msg += "; last attempt: " + p.Issue
		}
		return msg
	}
	return "not used (EnablePinRecovery is off)"
}

// HelloResult is the enrolled user's Hello state after an operation.
type HelloResult struct {
	hello.UserState
	// ProtectorIssue says why no protector was created although EnablePinRecovery is true;
	// the operation itself succeeded.
	ProtectorIssue string
}

// helloOptions are the options of every container operation: the agent's clock and KDF cost.
func (m *Manager) helloOptions() []hello.Option {
	opts := []hello.Option{hello.WithClock(m.cfg.Now)}
	if m.cfg.KDF != nil {
		opts = append(opts, hello.WithKDFParams(*m.cfg.KDF))
	}
	return opts
}

// helloUser returns the enrolled user's UPN as stored, if upn names that user
// (case-insensitively, as UPNs compare).
func (m *Manager) helloUser(upn string) (string, error) {
	enr := m.dev.Enrollment()
	if enr.State != enroll.StateEnrolled {
		return "", enroll.ErrNotEnrolled
	}
	if upn == "" || !strings.EqualFold(strings.TrimSpace(upn), enr.UPN) {
		return "", fmt.Errorf("user %q: %w (%s)", upn, ErrNotHelloUser, enr.UPN)
	}
	return enr.UPN, nil
}

func (m *Manager) loadHelloState(upn string) (helloAgentState, error) {
	var st helloAgentState
	if _, err := statefile.ReadJSON(m.path(fileHelloAgent), &st); err != nil {
		return helloAgentState{}, err
	}
	if st.UPN != upn {
		return helloAgentState{UPN: upn}, nil
	}
	return st, nil
}

func (m *Manager) saveHelloState(st helloAgentState) error {
	return statefile.WriteJSON(m.path(fileHelloAgent), st)
}

// PinRecoveryChanged is the policy hook (resetpolicy.Open): it runs the protector lifecycle,
// then Config.OnPinRecoveryChanged. It runs with the policy lock held, so it must not read
// the policy back.
func (m *Manager) PinRecoveryChanged(enabled bool) error {
	m.helloMu.Lock()
	defer m.helloMu.Unlock()
	upn := m.dev.Enrollment().UPN
	prev, err := m.loadHelloState(upn)
	if err != nil {
		return err
	}
	if upn != "" {
		if err := m.applyRecoveryLocked(upn, enabled); err != nil {
			return err
		}
	}
	if h := m.cfg.OnPinRecoveryChanged; h != nil {
		if err := h(enabled); err != nil {
			if upn != "" {
				// Undo the bookkeeping. A protector destroyed on disable stays destroyed: if
				// the policy remains on, it is owed again.
				if !enabled {
					prev.ProtectorPending = true
				}
				_ = m.saveHelloState(prev)
			}
			return err
		}
	}
	return nil
}

// applyRecoveryLocked follows EnablePinRecovery: off destroys the protector now; on marks it
// pending when the user has a container without one, or with an outdated one.
func (m *Manager) applyRecoveryLocked(upn string, enabled bool) error {
	c, err := hello.Open(m.HelloDir(), upn, m.helloOptions()...)
	if errors.Is(err, hello.ErrNoContainer) {
		return m.saveHelloState(helloAgentState{UPN: upn})
	}
	if err != nil {
		return fmt.Errorf("applying EnablePinRecovery: %w", err)
	}
	st := helloAgentState{UPN: upn}
	if enabled {
		st.ProtectorPending = !c.HasProtector() || c.ProtectorOutdated()
	} else if err := c.DestroyProtector(); err != nil {
		return fmt.Errorf("applying EnablePinRecovery=false: %w", err)
	}
	if err := m.saveHelloState(st); err != nil {
		return fmt.Errorf("applying EnablePinRecovery: %w", err)
	}
	m.log.Info("PIN recovery policy applied", "enabled", enabled, "protectorPending", st.ProtectorPending)
	return nil
}

// ensureProtectorLocked brings an unlocked container in line with pol: a protector escrowed
// to the tenant's current PIN reset key under the current label version (an outdated one is
// replaced) while EnablePinRecovery is true, none otherwise.
// When the key cannot be obtained (the tenant has not consented, the server is unreachable,
// its answer is unusable) the container is left as it was and the reason is recorded
// (ProtectorStatus.Issue) and returned as issue; err is for failures of the container or
// the state directory.
func (m *Manager) ensureProtectorLocked(ctx context.Context, u *hello.Unlocked, upn string, pol resetpolicy.Policy, svc *client) (issue string, err error) {
	c := u.Container()
	if !pol.PINRecoveryEnabled {
		if err := c.DestroyProtector(); err != nil {
			return "", err
		}
		return "", m.saveHelloState(helloAgentState{UPN: upn})
	}
	tenant := m.dev.Enrollment().TenantID
	pub, kerr := svc.publicKey(ctx, tenant)
	m.learnFromKeyAnswer(kerr)
	if kerr != nil {
		st := helloAgentState{
			UPN: upn, ProtectorPending: !c.HasProtector() || c.ProtectorOutdated(),
			ProtectorIssue: kerr.Error(), IssueAt: m.cfg.Now().UTC(),
		}
		m.log.Warn("PIN reset protector not created", "upn", upn, "err", kerr)
		return kerr.Error(), m.saveHelloState(st)
	}
	fp, err := hello.KeyFingerprint(pub)
	if err != nil {
		return "", err
	}
	info, perr := c.Protector()
	if perr == nil && info.TenantID == tenant && bytes.Equal(info.KeyFingerprint, fp) && info.LabelVersion == hello.ProtectorLabelVersion {
		return "", m.saveHelloState(helloAgentState{UPN: upn})
	}
	if err := u.CreateProtector(pub, tenant, m.cfg.Rand); err != nil {
		return "", err
	}
	if perr == nil && info.LabelVersion < hello.ProtectorLabelVersion {
		m.log.Info("PIN reset protector replaced: it used an outdated label", "tenant", tenant, "labelVersion", info.LabelVersion)
	} else {
		m.log.Info("PIN reset protector created", "tenant", tenant)
	}
	return "", m.saveHelloState(helloAgentState{UPN: upn})
}

// ProtectorStatus reports the enrolled user's PIN reset protector.
func (m *Manager) ProtectorStatus() (ProtectorStatus, error) {
	pol := m.dev.Policy()
	upn := m.dev.Enrollment().UPN
	if upn == "" {
		return ProtectorStatus{State: ProtectorNotUsed}, nil
	}
	c, err := hello.Open(m.HelloDir(), upn)
	switch {
	case errors.Is(err, hello.ErrNoContainer):
		if pol.PINRecoveryEnabled {
			return ProtectorStatus{State: ProtectorNoContainer}, nil
		}
		return ProtectorStatus{State: ProtectorNotUsed}, nil
	case err != nil:
		return ProtectorStatus{}, fmt.Errorf("reading PIN reset protector: %w", err)
	}
	if info, err := c.Protector(); err == nil {
		ps := ProtectorStatus{State: ProtectorPresent, TenantID: info.TenantID, KeyFingerprint: fmt.Sprintf("%x", info.KeyFingerprint[:8])}
		if c.ProtectorOutdated() {
			st, err := m.loadHelloState(upn)
			if err != nil {
				return ProtectorStatus{}, err
			}
			ps.State, ps.Issue = ProtectorOutdated, st.ProtectorIssue
		}
		return ps, nil
	}
	if !pol.PINRecoveryEnabled {
		return ProtectorStatus{State: ProtectorNotUsed}, nil
	}
	st, err := m.loadHelloState(upn)
	if err != nil {
		return ProtectorStatus{}, err
	}
	return ProtectorStatus{State: ProtectorPending, Issue: st.ProtectorIssue}, nil
}

// ProvisionHello creates the enrolled user's Windows Hello container under pin, which must
// satisfy the PassportForWork PINComplexity policy (a *hello.PolicyError names the broken
// rule), and, when EnablePinRecovery is true, its PIN reset protector. The new NgcSet,
// NgcKeyId and CanReset reach the server at the next sync.
func (m *Manager) ProvisionHello(ctx context.Context, upn, pin string) (HelloResult, error) {
	upn, err := m.helloUser(upn)
	if err != nil {
		return HelloResult{}, fmt.Errorf("provisioning Windows Hello: %w", err)
	}
	pol := m.dev.Policy() // before helloMu (lock order)
	if !pol.UsePassportForWork {
		return HelloResult{}, fmt.Errorf("provisioning Windows Hello: %w", ErrHelloDisabled)
	}
	svc, err := m.newClient()
	if err != nil {
		return HelloResult{}, fmt.Errorf("provisioning Windows Hello: %w", err)
	}
	m.helloMu.Lock()
	defer m.helloMu.Unlock()
	c, err := hello.Provision(m.HelloDir(), upn, pin, pol.PINComplexity, m.cfg.Rand, m.helloOptions()...)
	if err != nil {
		return HelloResult{}, err
	}
	m.log.Info("Windows Hello provisioned", "upn", upn, "ngcKeyId", c.NgcKeyID())
	return m.afterUnlockLocked(ctx, c, upn, pin, pol, svc)
}

// UnlockHello is the user signing in with the PIN: it proves pin (hello.ErrWrongPIN
// otherwise) and, holding the unlocked container, creates a pending PIN reset protector or
// removes one the policy no longer wants. After hello.DefaultMaxPINAttempts consecutive
// wrong PINs it returns hello.ErrPINLocked without checking the PIN until ResetPIN sets a
// new one.
func (m *Manager) UnlockHello(ctx context.Context, upn, pin string) (HelloResult, error) {
	upn, err := m.helloUser(upn)
	if err != nil {
		return HelloResult{}, fmt.Errorf("signing in with the PIN: %w", err)
	}
	pol := m.dev.Policy()
	svc, err := m.newClient()
	if err != nil {
		return HelloResult{}, fmt.Errorf("signing in with the PIN: %w", err)
	}
	m.helloMu.Lock()
	defer m.helloMu.Unlock()
	c, err := hello.Open(m.HelloDir(), upn, m.helloOptions()...)
	if err != nil {
		return HelloResult{}, fmt.Errorf("signing in with the PIN: %w", err)
	}
	return m.afterUnlockLocked(ctx, c, upn, pin, pol, svc)
}

// afterUnlockLocked unlocks c with pin and brings its protector in line with pol. A
// protector that could not be created is reported in HelloResult.ProtectorIssue, not as an
// error: the PIN operation itself succeeded.
func (m *Manager) afterUnlockLocked(ctx context.Context, c *hello.Container, upn, pin string, pol resetpolicy.Policy, svc *client) (HelloResult, error) {
	u, err := c.Unlock(pin)
	if err != nil {
		if errors.Is(err, hello.ErrPINLocked) {
			m.log.Warn("Windows Hello PIN locked after too many wrong PINs; the user must reset it", "upn", upn)
		}
		return HelloResult{}, err
	}
	defer u.Close()
	var issue string
	if !pol.PINRecoveryEnabled && !c.HasProtector() {
		err = m.saveHelloState(helloAgentState{UPN: upn})
	} else {
		issue, err = m.ensureProtectorLocked(ctx, u, upn, pol, svc)
	}
	if err != nil {
		return HelloResult{}, err
	}
	st, err := m.userStateLocked(upn, pol)
	if err != nil {
		return HelloResult{}, err
	}
	return HelloResult{UserState: st, ProtectorIssue: issue}, nil
}
