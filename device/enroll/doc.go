// Package enroll is the device agent's MS-MDE2 enrollment client over the codec
// enrollment/mde2, as the Settings app enrolls (docs/protocol.md A): the GET probe, Discover,
// the federated web sign-in (device/webauth) or an OnPremise UsernameToken, GetPolicies and
// the WSTEP RequestSecurityToken with a Windows-shaped CSR; then it checks the provisioning
// document. It keeps nothing itself: Enroll returns the record (Enrollment) and the key and
// certificates, which the agent (package device) persists; certificate renewal
// (device/certs) reuses its SOAP exchange, CSR shapes and provisioning reader.
//
// Wire behaviour: GET probe and POSTs with User-Agent ENROLLClient and
// application/soap+xml; charset=utf-8; a:MessageID urn:uuid, a:To; RequestVersion 6.0,
// DeviceType CIMClient_Windows, AuthPolicies OnPremise and Federated; UsernameToken with the
// literal u:Id Windows uses, or the web sign-in token as a DeviceEnrollmentUserToken;
// AdditionalContext in Windows' order. SOAP faults come back as *FaultError.
package enroll
