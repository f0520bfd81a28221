// Package pinreset is hellomdm's PIN reset service: the stand-in for the Microsoft PIN reset
// service behind non-destructive Windows Hello for Business PIN reset.
//
// Source for the behaviour modelled here: Microsoft Learn, "PIN reset"
// (learn.microsoft.com/windows/security/identity-protection/hello-for-business/pin-reset),
// summarised in docs/protocol.md D.
//
// # Basics
//
// When PassportForWork EnablePinRecovery is true, the device creates a random 256-bit AES key,
// the PIN reset protector, adds it as a protector of its Hello container, encrypts it to this
// service's per-tenant RSA public key and keeps only the ciphertext. At reset time the user
// signs in with MFA; the device sends the ciphertext and the resulting token, and the service
// decrypts the protector and answers it over TLS.
//
// The encryption is RSA-OAEP with SHA-256 (for hash and MGF1) and the label [Label]:
// "hellomdm-pin-reset:v2:" followed by the tenant ID, a colon and the lower-cased UPN of the
// user whose Hello container holds the protector. The service decrypts only under the label
// of the user named by the verified token, so a ciphertext made for one tenant never
// decrypts under another tenant's key or label, and one made for one user never decrypts
// with another user's token, even in the same tenant and on the same device. The public key
// answer carries the tenant's part of the label ([TenantLabelPrefix]); the device appends
// the user. Protectors made under the tenant-only label of earlier releases
// ("hellomdm-pin-reset:" + tenant ID) no longer decrypt; the agent replaces them at the next
// sign-in with the PIN. Because the UPN is in the label, renaming a user makes their
// protector undecryptable: they reset destructively, as for any changed identity. Tenant
// keys are at least 3072 bits, created on first use and kept by the [KeyStore].
//
// [Service] holds the protocol logic ([Service.PublicKey], [Service.Decrypt],
// [Service.Consent], [Service.ServicePrincipals]); [Service.Handler] is the thin HTTP adapter
// that the server mounts at /pinreset/:
//
//	GET  /pinreset/v1/tenants/{tid}/publickey   → PublicKeyResponse
//	POST /pinreset/v1/tenants/{tid}/decrypt     Authorization: Bearer <token>
//	                                            {"ciphertext":"<base64>"} → {"protector":"<base64>"}
//
// Refusals are answered as {"error":{"code":"…","message":"…"}}; see [ErrorBody] for codes.
//
// # Decrypt checks
//
// In this order, each refusal with its own error: the tenant is known, not a government cloud
// tenant (the real service is not available there), and an administrator consented to both
// enterprise applications ([AppService], [AppClient]); the token verifies, is unexpired, was
// issued for the same tenant and records MFA; the device (named by its verified client
// certificate, never by the request body) is not retired, is enrolled and belongs to the
// tenant; the ciphertext has the size of the tenant's key and decrypts under it with the
// token user's label (another user's protector is refused as a bad ciphertext); the plaintext
// is exactly 32 bytes; last, the token has not released a protector before ([Redeemer]
// records it, bound to the device, before the protector is answered). Every call is audited
// exactly once through the [Auditor].
//
// # Caveats
//
//   - The service keeps nothing in memory between requests: tenants, consents and keys live
//     behind the [Tenants] and [KeyStore] interfaces, so several replicas can share one store.
//   - Token signature, issuer, audience and expiry are the [TokenVerifier]'s job; the service
//     checks expiry again against its own clock.
//   - Since Go 1.26 crypto/rsa ignores a custom random source unless GODEBUG
//     cryptocustomrand=1 is set; [Config.Rand] is passed through for that case only.
package pinreset
