// Package device is hellomdm's simulated Windows 10/11 device agent: it enrolls with MS-MDE2
// like the Settings app, runs OMA-DM sessions like the Windows DMClient (MS-MDM), executes
// the server's commands against a csp.Tree, and keeps the reset agent's policy (PassportForWork
// EnablePinRecovery and PIN complexity, Policy/Authentication ConfigureWebSignInAllowedUrls)
// for the PIN reset flow. It talks to the server only over HTTPS and never imports the server
// or the store.
//
// # Basics
//
//	a, err := device.Open(dir, device.Options{Identity: &id})
//	err = a.Enroll(ctx, enroll.Request{ServerURL: "https://mdm.contoso.com", UPN: upn, Password: pw, RootCAs: pool})
//	rep, err := a.Sync(ctx)    // one session to completion
//	err = a.Run(ctx)           // poll on the DMClient schedule until ctx is done, renewing the certificate when due
//	fmt.Print(a.Status())      // dsregcmd /status-style report
//	err = a.Unenroll(ctx)      // Alert 1226, then unenrolled
//	err = a.Renew(ctx)         // MS-MDE2 WSTEP Renew over mTLS with the current certificate
//
// # Layout
//
// The agent is split along its concerns; each subpackage does one thing and none imports
// package device, which holds the Agent: its state directory, the locks, the wiring of the
// subpackages to each other and to the CSP tree (handlers.go), and the dsregcmd-style
// Status. Imports point one way, from the top of this list down (TestLayering checks it
// with go list):
//
//	device                     Agent, Open, state directory, wiring, Status
//	device/pinreset            Hello provisioning and unlock, the PIN reset protector, CanReset,
//	                           ResetPIN and its client of the identity provider and PIN reset
//	                           service; hellomdm's HelloStatus, DeviceState, PinResetService nodes
//	device/certs               the MDM certificate: key and certificate files, MS-MDE2 renewal,
//	                           the automatic renewal plan, CertificateStore My/WSTEP/Renew
//	device/enroll              the MS-MDE2 enrollment client over enrollment/mde2: the record,
//	                           CSR shapes, SOAP exchange and faults, the provisioning document
//	device/omadm               the OMA-DM session client; DMClient state and the DMClient,
//	                           DevInfo and DevDetail handlers
//	device/webauth             enrollment's federated web sign-in at the identity provider
//	device/resetpolicy         the reset agent's policy from PassportForWork and
//	                           Policy/Authentication, and the handlers of those subtrees
//	device/identity            the device's facts: Identity (DevInfo, AdditionalContext) and
//	                           JoinState (join type, Hello trust model, account type)
//	device/push                the agent's side of the server's built-in push channel: holds
//	                           it, reconnects with jittered back-off, reports wake-ups
//	device/hello               the Windows Hello container, its protectors, the support matrix
//	device/internal/statefile  atomic state files
//	device/internal/httpx      the agent's HTTP client
//
// The subpackages reach the agent's state through what they are given: a record and a
// callback to update it under the agent's lock (certs.Handler, omadm.DMClientHandler), or
// functions reading the device (pinreset.Device).
//
// # Windows Hello and PIN reset
//
// ProvisionHello creates the enrolled user's Hello container (device/hello) under the
// PassportForWork PINComplexity policy. While EnablePinRecovery is on, the agent keeps a PIN
// reset protector: it is created with the tenant's key from the PIN reset service the next
// time the container is unlocked (ProvisionHello, UnlockHello, or after a reset) and destroyed
// as soon as the policy goes off. CanReset is the support matrix's answer for non-destructive
// reset over everything the agent knows (device/pinreset/canreset.go), including what the
// server told it at check-in about the tenant's consent and cloud. ResetPIN checks the support
// matrix first, then signs the user in at the identity provider with MFA — a federated
// tenant's web sign-in may open only hosts in ConfigureWebSignInAllowedUrls ("We can't open
// that page right now") — and then either asks the PIN reset service, over mTLS with the
// device certificate, to decrypt the protector (non-destructive: same key, new PIN) or
// replaces the container (destructive: new key, new NgcKeyId). Every refusal happens before
// the container is touched.
//
// # State directory
//
// One directory (mode 0700) holds identity.json, join.json, enrollment.json (server URLs,
// ADDR, ProviderID, UPN, tenant, certificate renewal schedule and last failed automatic
// renewal), client-key.pem (0600), client.pem, server-ca.pem, dmclient.json (poll schedule
// and SessionID counter), policy.json (the raw policy node values), csp-tree.json,
// hello-agent.json and pinreset-service.json, plus the Hello containers under hello/. Every
// file is replaced atomically (temporary file, fsync, rename, directory fsync).
// enrollment.json is written last on enrollment, so a crash mid-way leaves the device not
// enrolled.
//
// # Wire behaviour (docs/protocol.md A and B)
//
//   - Enrollment (device/enroll; the wire format is enrollment/mde2's, shared with the
//     server): GET probe and POSTs with User-Agent ENROLLClient and
//     application/soap+xml; charset=utf-8; a:MessageID urn:uuid, a:To; RequestVersion 6.0,
//     DeviceType CIMClient_Windows, AuthPolicies OnPremise and Federated; UsernameToken with
//     the literal u:Id Windows uses, or the web sign-in token as a DeviceEnrollmentUserToken;
//     AdditionalContext in Windows' order. The CSR is Windows-shaped by default
//     (enroll.CSRWindows). SOAP faults come back as *enroll.FaultError.
//   - Sessions (device/omadm): POST ADDR?mode=Maintenance&Platform=WoA with User-Agent
//     MSFT OMA DM Client/1.2.0.1, the Windows Accept header, an MS-CV correlation vector
//     growing per request and Client-Request-Id; SessionID is a decimal counter, MsgID counts
//     from 1, package 1 numbers CmdIDs from 2. The SyncHdr announces MaxMsgSize; Statuses and
//     Results that do not fit go in further messages without Final, answered by the server's
//     Alert 1222.
//
// # Choices where Windows is not confirmed
//
//   - PassportForWork: a device-scope value wins over a user-scope one; only the enrolled
//     tenant's {TenantId} counts (or the first one seen while the tenant is unknown).
//   - The tenant of an OnPremise enrollment is read from hellomdm's /idp/signin-info, of a
//     Federated one from the token's tid claim. The tenant's PassportForWork/{TenantId}/Policies
//     node is created at enrollment, so a Replace of a policy succeeds without a prior Add.
//   - The windows CSR is signed with SHA-1 under the OIW OID even when the policy names
//     SHA-256, to exercise the server's handling of that quirk.
//   - A single Status or Results larger than MaxMsgSize is sent alone rather than chunked.
//   - The SessionID counter advances when a session starts, also when it then fails.
//   - Automatic renewal (CertificateStore My/WSTEP/Renew) starts RenewPeriod days before
//     expiry but never before the middle of the certificate's lifetime, so a RenewPeriod
//     longer than the lifetime does not renew at every poll. It stops at expiry, as Windows
//     does without RetryAfterExpiryInterval. An enrollment record from before the agent kept
//     the schedule gets hellomdm's (ROBOSupport true, 60 days, retry every 4 days).
package device
