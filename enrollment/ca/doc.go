// Package ca is hellomdm's small certificate authority, built on the standard
// library only.
//
// It owns one ECDSA P-256 root key and issues two kinds of leaf certificates:
//
//   - TLS server certificates for the MDM listener (IssueServer, IssueServerPEM);
//   - device identity certificates for MS-MDE2 enrollment (IssueDevice), shaped like
//     the ones Windows accepts in the provisioning document (MS-MDE2 2.2.9.1): subject
//     CN=<DeviceID>, KeyUsage digitalSignature (critical), EKU clientAuth, an Authority
//     Key Identifier, a random 128-bit serial and an ECDSA-with-SHA256 signature.
//
// VerifyDevice checks that a certificate chains to this CA, is within its validity
// period and carries the clientAuth EKU, and returns the DeviceID it names.
// Revocation is not handled here: the caller holds the revoked serials.
//
// # Clock and randomness
//
// Nothing in this package reads the wall clock: every issuing call takes the time
// explicitly. Serial numbers are drawn from the io.Reader given to Generate (or
// WithRand for Load). Since Go 1.26 the crypto/ecdsa signing and key generation
// functions ignore a caller-supplied reader and always use a secure source, so
// certificates are not byte-for-byte reproducible even with a fixed reader; serial
// numbers are.
//
// # Performance
//
// IssueDevice costs one ECDSA P-256 signature, DER encoding and a re-parse. On
// the 2-core development machine (AMD EPYC) (go test -bench IssueDevice):
//
//	BenchmarkIssueDevice/rsa2048-2     238331 ns/op   20004 B/op   318 allocs/op
//	BenchmarkIssueDevice/ecdsaP256-2   222102 ns/op   19004 B/op   315 allocs/op
//
// That is roughly 4 000 enrollments per second per core before storage costs.
package ca
