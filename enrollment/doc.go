// Package enrollment implements the server side of Windows MDM enrollment
// (MS-MDE2): discovery, the MS-XCEP certificate policy and MS-WSTEP
// certificate enrollment and renewal.
//
// Each request goes one way: decode (the MS-MDE2 codec enrollment/mde2, which the
// device agent shares: SOAP read by local name, size- and depth-bounded) → decide
// (tenant by e-mail domain, OnPremise password or Federated token, CSR checks,
// certificate from enrollment/ca) → encode (DiscoverResponse, GetPoliciesResponse, or
// an RSTR carrying the wap-provisioningdoc, again with enrollment/mde2). A refusal of
// the codec becomes the fault it names. Responses are buffered and sent with
// Content-Length, never chunked, as Windows requires.
//
// # What the package owns
//
//   - Service and its http.Handler for /EnrollmentServer/Discovery.svc,
//     /EnrollmentServer/Policy.svc and /EnrollmentServer/Enrollment.svc.
//   - The consumer-side interfaces it needs: Directory (tenants, passwords),
//     TokenVerifier (Federated enrollment tokens) and Registry (enrolled
//     devices). The server adapts the store to them.
//   - A PKCS#10 parser that accepts what Windows really sends: a CN holding '!'
//     and a NUL in a PrintableString, and signatures under the OIW
//     sha1WithRSA OID 1.3.14.3.2.29 (docs/protocol.md A.7). The CSR subject is never
//     copied: the certificate CN is the DeviceID from AdditionalContext.
//
// # Faults
//
// Every refusal is a SOAP 1.2 fault (MS-MDE2 2.2.10). Problems the client
// caused (malformed SOAP, wrong wsa:Action, unsupported RequestVersion, bad
// CSR, failed authentication, a DeviceID owned by another tenant) use Code
// s:Sender and HTTP 400; server-side failures use s:Receiver and HTTP 500
// (SOAP 1.2 Part 2 HTTP binding). The MS-MDE2 meaning travels in the Subcode
// (s:MessageFormat, s:Authentication, s:Authorization, s:CertificateRequest,
// s:EnrollmentServer, a:InternalServiceFault, a:InvalidSecurity) and, where
// useful, in Detail/DeviceEnrollmentServiceError/ErrorType. A refused request
// never reaches Registry.Register or Registry.Renew.
//
// # Renewal
//
// The provisioning document enables WSTEP ROBO renewal. A renewal RST
// (RequestType …/Renew, PKCS#10 or PKCS#7-wrapped) is authenticated by the
// device's current certificate on the TLS connection, so the listener must
// request client certificates (tls.VerifyClientCertIfGiven with the CA pool)
// on the enrollment endpoints.
//
// # Caveats
//
// Passwords and tokens are never logged. Revocation of replaced certificates
// is the Registry's job. The Certificate auth policy (WS-Security signature
// over the header) is not implemented; such tenants cannot be configured.
package enrollment
