package device

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/device/hello"
)

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
func (a *Agent) helloOptions() []hello.Option {
	opts := []hello.Option{hello.WithClock(a.opts.Now)}
	if a.opts.HelloKDF != nil {
		opts = append(opts, hello.WithKDFParams(*a.opts.HelloKDF))
	}
	return opts
}

// helloUser returns the enrolled user's UPN as stored, if upn names that user
// (case-insensitively, as UPNs compare).
func (a *Agent) helloUser(upn string) (string, error) {
	enr := a.Enrollment()
	if enr.State != StateEnrolled {
		return "", ErrNotEnrolled
	}
	if upn == "" || !strings.EqualFold(strings.TrimSpace(upn), enr.UPN) {
		return "", fmt.Errorf("user %q: %w (%s)", upn, ErrNotHelloUser, enr.UPN)
	}
	return enr.UPN, nil
}

func (a *Agent) loadHelloState(upn string) (helloAgentState, error) {
	var st helloAgentState
	if _, err := readJSON(a.path(fileHelloAgent), &st); err != nil {
		return helloAgentState{}, err
	}
	if st.UPN != upn {
		return helloAgentState{UPN: upn}, nil
	}
	return st, nil
}

func (a *Agent) saveHelloState(st helloAgentState) error {
	return writeJSON(a.path(fileHelloAgent), st)
}

// pinRecoveryChanged is the policy hook: it runs the protector lifecycle, then the caller's
// Options.OnPinRecoveryChanged. It runs with the policy lock held, so it must not read the
// policy back.
func (a *Agent) pinRecoveryChanged(enabled bool) error {
	a.helloMu.Lock()
	defer a.helloMu.Unlock()
	upn := a.Enrollment().UPN
	prev, err := a.loadHelloState(upn)
	if err != nil {
		return err
	}
	if upn != "" {
		if err := a.applyRecoveryLocked(upn, enabled); err != nil {
			return err
		}
	}
	if h := a.opts.OnPinRecoveryChanged; h != nil {
		if err := h(enabled); err != nil {
			if upn != "" {
				// Undo the bookkeeping. A protector destroyed on disable stays destroyed: if
				// the policy remains on, it is owed again.
				if !enabled {
					prev.ProtectorPending = true
				}
				_ = a.saveHelloState(prev)
			}
			return err
		}
	}
	return nil
}

// applyRecoveryLocked follows EnablePinRecovery: off destroys the protector now; on marks it
// pending when the user has a container without one, or with an outdated one.
func (a *Agent) applyRecoveryLocked(upn string, enabled bool) error {
	c, err := hello.Open(a.HelloDir(), upn, a.helloOptions()...)
	if errors.Is(err, hello.ErrNoContainer) {
		return a.saveHelloState(helloAgentState{UPN: upn})
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
	if err := a.saveHelloState(st); err != nil {
		return fmt.Errorf("applying EnablePinRecovery: %w", err)
	}
	a.log.Info("PIN recovery policy applied", "enabled", enabled, "protectorPending", st.ProtectorPending)
	return nil
}

// ensureProtectorLocked brings an unlocked container in line with pol: a protector escrowed
// to the tenant's current PIN reset key under the current label version (an outdated one is
// replaced) while EnablePinRecovery is true, none otherwise.
// When the key cannot be obtained (the tenant has not consented, the server is unreachable,
// its answer is unusable) the container is left as it was and the reason is recorded
// (ProtectorStatus.Issue) and returned as issue; err is for failures of the container or
// the state directory.
func (a *Agent) ensureProtectorLocked(ctx context.Context, u *hello.Unlocked, upn string, pol ResetPolicy, svc *resetClient) (issue string, err error) {
	c := u.Container()
	if !pol.PINRecoveryEnabled {
		if err := c.DestroyProtector(); err != nil {
			return "", err
		}
		return "", a.saveHelloState(helloAgentState{UPN: upn})
	}
	tenant := a.Enrollment().TenantID
	pub, kerr := svc.publicKey(ctx, tenant)
	a.learnFromKeyAnswer(kerr)
	if kerr != nil {
		st := helloAgentState{
			UPN: upn, ProtectorPending: !c.HasProtector() || c.ProtectorOutdated(),
			ProtectorIssue: kerr.Error(), IssueAt: a.opts.Now().UTC(),
		}
		a.log.Warn("PIN reset protector not created", "upn", upn, "err", kerr)
		return kerr.Error(), a.saveHelloState(st)
	}
	fp, err := hello.KeyFingerprint(pub)
	if err != nil {
		return "", err
	}
	info, perr := c.Protector()
	if perr == nil && info.TenantID == tenant && bytes.Equal(info.KeyFingerprint, fp) && info.LabelVersion == hello.ProtectorLabelVersion {
		return "", a.saveHelloState(helloAgentState{UPN: upn})
	}
	if err := u.CreateProtector(pub, tenant, a.opts.Rand); err != nil {
		return "", err
	}
	if perr == nil && info.LabelVersion < hello.ProtectorLabelVersion {
		a.log.Info("PIN reset protector replaced: it used an outdated label", "tenant", tenant, "labelVersion", info.LabelVersion)
	} else {
		a.log.Info("PIN reset protector created", "tenant", tenant)
	}
	return "", a.saveHelloState(helloAgentState{UPN: upn})
}

// ProtectorStatus reports the enrolled user's PIN reset protector.
func (a *Agent) ProtectorStatus() (ProtectorStatus, error) {
	pol := a.Policy()
	upn := a.Enrollment().UPN
	if upn == "" {
		return ProtectorStatus{State: ProtectorNotUsed}, nil
	}
	c, err := hello.Open(a.HelloDir(), upn)
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
			st, err := a.loadHelloState(upn)
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
	st, err := a.loadHelloState(upn)
	if err != nil {
		return ProtectorStatus{}, err
	}
	return ProtectorStatus{State: ProtectorPending, Issue: st.ProtectorIssue}, nil
}

// ProvisionHello creates the enrolled user's Windows Hello container under pin, which must
// satisfy the PassportForWork PINComplexity policy (a *hello.PolicyError names the broken
// rule), and, when EnablePinRecovery is true, its PIN reset protector. The new NgcSet,
// NgcKeyId and CanReset reach the server at the next sync.
func (a *Agent) ProvisionHello(ctx context.Context, upn, pin string) (HelloResult, error) {
	upn, err := a.helloUser(upn)
	if err != nil {
		return HelloResult{}, fmt.Errorf("provisioning Windows Hello: %w", err)
	}
	pol := a.Policy() // before helloMu (lock order)
	if !pol.UsePassportForWork {
		return HelloResult{}, fmt.Errorf("provisioning Windows Hello: %w", ErrHelloDisabled)
	}
	svc, err := a.newResetClient()
	if err != nil {
		return HelloResult{}, fmt.Errorf("provisioning Windows Hello: %w", err)
	}
	a.helloMu.Lock()
	defer a.helloMu.Unlock()
	c, err := hello.Provision(a.HelloDir(), upn, pin, pol.PINComplexity, a.opts.Rand, a.helloOptions()...)
	if err != nil {
		return HelloResult{}, err
	}
	a.log.Info("Windows Hello provisioned", "upn", upn, "ngcKeyId", c.NgcKeyID())
	return a.afterUnlockLocked(ctx, c, upn, pin, pol, svc)
}

// UnlockHello is the user signing in with the PIN: it proves pin (hello.ErrWrongPIN
// otherwise) and, holding the unlocked container, creates a pending PIN reset protector or
// removes one the policy no longer wants. After hello.DefaultMaxPINAttempts consecutive
// wrong PINs it returns hello.ErrPINLocked without checking the PIN until ResetPIN sets a
// new one.
func (a *Agent) UnlockHello(ctx context.Context, upn, pin string) (HelloResult, error) {
	upn, err := a.helloUser(upn)
	if err != nil {
		return HelloResult{}, fmt.Errorf("signing in with the PIN: %w", err)
	}
	pol := a.Policy()
	svc, err := a.newResetClient()
	if err != nil {
		return HelloResult{}, fmt.Errorf("signing in with the PIN: %w", err)
	}
	a.helloMu.Lock()
	defer a.helloMu.Unlock()
	c, err := hello.Open(a.HelloDir(), upn, a.helloOptions()...)
	if err != nil {
		return HelloResult{}, fmt.Errorf("signing in with the PIN: %w", err)
	}
	return a.afterUnlockLocked(ctx, c, upn, pin, pol, svc)
}

// afterUnlockLocked unlocks c with pin and brings its protector in line with pol. A
// protector that could not be created is reported in HelloResult.ProtectorIssue, not as an
// error: the PIN operation itself succeeded.
func (a *Agent) afterUnlockLocked(ctx context.Context, c *hello.Container, upn, pin string, pol ResetPolicy, svc *resetClient) (HelloResult, error) {
	u, err := c.Unlock(pin)
	if err != nil {
		if errors.Is(err, hello.ErrPINLocked) {
			a.log.Warn("Windows Hello PIN locked after too many wrong PINs; the user must reset it", "upn", upn)
		}
		return HelloResult{}, err
	}
	defer u.Close()
	var issue string
	if !pol.PINRecoveryEnabled && !c.HasProtector() {
		err = a.saveHelloState(helloAgentState{UPN: upn})
	} else {
		issue, err = a.ensureProtectorLocked(ctx, u, upn, pol, svc)
	}
	if err != nil {
		return HelloResult{}, err
	}
	st, err := a.userStateLocked(upn, pol)
	if err != nil {
		return HelloResult{}, err
	}
	return HelloResult{UserState: st, ProtectorIssue: issue}, nil
}
