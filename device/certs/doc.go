// Package certs is the device's MDM certificate: the key, client certificate and provisioned
// root in the state directory (Save at enrollment, Load, Replace at renewal with rollback),
// MS-MDE2 certificate renewal (Request: WSTEP RequestSecurityToken …/Renew over mutual TLS,
// MS-MDE2 3.5), the automatic renewal schedule (Plan) and the CertificateStore My/WSTEP/Renew
// nodes (Handler, Seeds).
//
// Automatic renewal (CertificateStore My/WSTEP/Renew) starts RenewPeriod days before expiry
// but never before the middle of the certificate's lifetime, so a RenewPeriod longer than
// the lifetime does not renew at every poll. It stops at expiry, as Windows does without
// RetryAfterExpiryInterval.
package certs
