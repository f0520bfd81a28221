// Package pinreset is the device's half of Windows Hello for Business PIN reset
// (docs/protocol.md D): a Manager provisions and unlocks the enrolled user's Hello container
// (device/hello), keeps the PIN reset protector escrowed to the tenant's PIN reset service
// while PassportForWork EnablePinRecovery is on, answers CanReset from the support matrix
// over everything the device knows (canreset.go), and runs "I forgot my PIN" (ResetPIN)
// against hellomdm's identity provider and PIN reset service (client.go). It also owns
// hellomdm's reporting nodes HelloStatus, DeviceState and PinResetService (Handlers,
// Reported).
//
// ResetPIN checks the support matrix first, then signs the user in at the identity
// provider with MFA — a federated tenant's web sign-in may open only hosts in
// ConfigureWebSignInAllowedUrls ("We can't open that page right now") — and then either
// asks the PIN reset service, over mTLS with the device certificate, to decrypt the
// protector (non-destructive: same key, new PIN) or replaces the container (destructive:
// new key, new NgcKeyId). Every refusal happens before the container is touched.
//
// The manager reads the device through Device (the agent, package device, provides it);
// it never imports package device. The HTTP contracts are documented in pinreset/doc.go and
// pinreset/idp/doc.go at the top of the module, which the device does not import.
package pinreset
