// Package idp is hellomdm's small identity provider: tenant users sign in with a password
// (argon2id) and, when enrolled, a TOTP code (RFC 6238); the provider answers with a short
// ES256 JWT signed by the tenant's own key. Those tokens back two flows:
//
//   - Federated MDM enrollment (MS-MDE2 web authentication, docs/protocol.md A.5): the device
//     opens AuthenticationServiceUrl = /idp/enroll?appru=..&login_hint=.., the user signs in,
//     and the page auto-POSTs the token as the single field wresult to appru. The device
//     base64-encodes it into the DeviceEnrollmentUserToken BinarySecurityToken (A.4);
//     EnrollmentVerifier checks it (audience AudienceEnrollment).
//   - Windows Hello PIN reset (docs/protocol.md D.2): the reset client signs in with MFA and shows
//     the PIN reset service a token with audience AudiencePINReset.
//
// # Basics
//
// HashPassword/CheckPassword store passwords as PHC argon2id strings. NewTOTPSecret,
// TOTPURI, TOTPCode and VerifyTOTP implement TOTP (codes computed and compared by
// github.com/pquerna/otp with explicit SHA-1, 6 digits, 30 s); VerifyTOTP accepts ±1 step and refuses a
// step at or below the last one used, which the caller persists (UserStore.UseTOTPStep does
// so atomically). Issuer issues and verifies tokens (signing and signature/claim checks by
// github.com/golang-jwt/jwt/v5, pinned to ES256): Verify accepts only alg ES256, checks
// kid and signature against the tenant's key from KeySource, then iss, aud, tid, nbf/exp
// (with a small skew) and, when asked, amr "mfa" (docs/protocol.md H.1).
// Service ties these to a UserStore and serves HTTP (Handler, mounted at /idp/).
//
// # Simulated federation contract
//
// A federated tenant (Tenant.Federated) authenticates its users at a third-party identity
// provider, Tenant.FederationHost (e.g. "adfs.fabrikam.com"). hellomdm does not run that
// provider, so:
//
//   - GET /idp/enroll with a login_hint of a federated tenant answers 302 to
//     https://<FederationHost><Config.FederationPath>?<the original query>, and
//     POST /idp/enroll refuses federated users (403): the browser flow never authenticates
//     them here.
//   - GET /idp/signin-info?upn=.. answers {"tenantId","federated","signInHost","govCloud"},
//     where signInHost is FederationHost for federated tenants and this server's host
//     otherwise, and govCloud (omitted when false) marks an Azure Government tenant.
//     The simulated device checks that host against its web sign-in allow list
//     (Policy/Authentication ConfigureWebSignInAllowedUrls) before "navigating" there.
//   - POST /idp/token stands in for the third-party provider: for a federated tenant it
//     signs the user in against hellomdm's own user store only when the request carries the
//     header X-Hellomdm-Federation-Host (FederationHostHeader) equal, case-insensitively, to
//     the tenant's FederationHost; the header asserts "the device's web sign-in reached that
//     host". Without it the answer is 401 {"error":{"code":"federated",..}}. The header is
//     ignored for non-federated tenants. This is a simulation aid, not a security boundary:
//     a real deployment federates for real.
//
// # HTTP endpoints
//
//	GET  /idp/enroll?appru=..&login_hint=..  sign-in form; appru must be ms-app, http or https (else 400)
//	POST /idp/enroll                         form fields upn, password, otp, appru, nonce
//	POST /idp/token                          {"upn","password","otp","audience"} →
//	                                         200 {"token","token_type":"Bearer","expires_in"} or
//	                                         400/401/429/500 {"error":{"code","message"}}
//	GET  /idp/signin-info?upn=..             {"tenantId","federated","signInHost","govCloud"}
//
// The sign-in form carries a nonce HMAC'd with Config.FormKey, bound to appru and expiring
// after Config.FormTTL; it needs no server-side state.
//
// # Caveats
//
//   - Failed sign-ins are rate limited per UPN (default 10 per minute, fixed windows), never
//     per client address or X-Forwarded-For. With Config.Failures (the server passes its
//     store) the count is shared: all replicas on one database enforce one limit. Without
//     it the count lives in process memory, and N replicas would allow N times the limit.
//     Every attempt is also counted in memory; while Config.Failures fails, the limit falls
//     back to that per-process count (logged once when it starts and once when it ends),
//     so a store outage neither lets guesses through unlimited nor locks users out. Unknown
//     users, unknown domains and wrong passwords give the same ErrInvalidCredentials and
//     each spend one argon2id hash.
//   - Each attempt is counted as failed before the password is checked, and a successful
//     sign-in takes the count back, so concurrent attempts cannot together exceed the
//     limit. An attempt that stops at ErrTOTPRequired (the first step of a two-step
//     sign-in) stays counted until a sign-in succeeds.
//   - A wrong or replayed TOTP code is reported as such (after a correct password).
//   - KeySource returns a tenant's current key only; rotating it invalidates tokens issued
//     with the previous key (they live DefaultTokenLifetime, 10 minutes).
//   - EnrollmentVerifier accepts any tenant's token; the enrollment handler must compare
//     TokenClaims.TenantID with the tenant of the enrolling UPN's domain.
package idp
