package device

import (
	"context"

	"github.com/hellomdm/hellomdm/device/pinreset"
)

// The enrolled user's Windows Hello and PIN reset are device/pinreset's (pinreset.Manager);
// the agent forwards.

// ProvisionHello creates the enrolled user's Windows Hello container under pin, which must
// satisfy the PassportForWork PINComplexity policy (a *hello.PolicyError names the broken
// rule), and, when EnablePinRecovery is true, its PIN reset protector. The new NgcSet,
// NgcKeyId and CanReset reach the server at the next sync.
func (a *Agent) ProvisionHello(ctx context.Context, upn, pin string) (pinreset.HelloResult, error) {
	return a.hm.ProvisionHello(ctx, upn, pin)
}

// UnlockHello is the user signing in with the PIN (pinreset.Manager.UnlockHello): it proves
// pin and, holding the unlocked container, creates a pending PIN reset protector or removes
// one the policy no longer wants.
func (a *Agent) UnlockHello(ctx context.Context, upn, pin string) (pinreset.HelloResult, error) {
	return a.hm.UnlockHello(ctx, upn, pin)
}

// ResetPIN runs "I forgot my PIN" for the enrolled user (pinreset.Manager.ResetPIN). On any
// refusal the container is unchanged.
func (a *Agent) ResetPIN(ctx context.Context, req pinreset.Request) (pinreset.HelloResult, error) {
	return a.hm.ResetPIN(ctx, req)
}

// ProtectorStatus reports the enrolled user's PIN reset protector.
func (a *Agent) ProtectorStatus() (pinreset.ProtectorStatus, error) { return a.hm.ProtectorStatus() }

// ServiceAvailability is what the device last learned about its tenant's PIN reset service
// (one of the pinreset.Service* constants), "" before it learned anything.
func (a *Agent) ServiceAvailability() string { return a.hm.ServiceAvailability() }

// LockoutHint tells the user of a locked PIN how to set a new one on this device
// (pinreset.Manager.LockoutHint).
func (a *Agent) LockoutHint(stateDir, upn string) (string, error) {
	return a.hm.LockoutHint(stateDir, upn)
}
