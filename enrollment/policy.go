package enrollment

import "github.com/hellomdm/hellomdm/enrollment/mde2"

// Certificate policy handed out by GetPolicies (MS-XCEP 3.1.4.1.3; Windows
// honours only minimalKeyLength, hashAlgorithmOIDReference with its oIDs entry,
// and crypto providers — docs/protocol.md A.6).
const (
	policyMinimalKeyLength = 2048
	// oidSHA256 is id-sha256 (NIST, RFC 5754 §2.2) in OID group 1, the hash
	// algorithm group (MS-XCEP 3.1.4.1.3.16, CRYPT_HASH_ALG_OID_GROUP_ID). We
	// name a pure hash OID rather than sha256WithRSAEncryption
	// (1.2.840.113549.1.1.11, a signature OID of group 4) because the
	// reference is the *hash* algorithm; Windows then signs its PKCS#10 with
	// SHA-256. The CSR parser still accepts SHA-1 for clients that ignore it.
	oidSHA256            = "2.16.840.1.101.3.4.2.1"
	oidSHA256DefaultName = "szOID_NIST_sha256"
	oidGroupHash         = 1
	// policyRenewalPeriodSeconds advertises renewal 180 days before expiry
	// (MS-XCEP 3.1.4.1.3.4 CertificateValidity).
	policyRenewalPeriodSeconds = 180 * 24 * 3600
)

// policiesResponse is the GetPoliciesResponse (MS-XCEP 3.1.4.1.1.2): one policy
// asking for RSA 2048 and SHA-256, valid as long as the certificates hellomdm issues.
func (s *Service) policiesResponse() *mde2.GetPoliciesResponse {
	return &mde2.GetPoliciesResponse{
		Policies: []mde2.CertificatePolicy{{
			CommonName: s.cfg.ProviderID + "-device", PolicySchema: 3,
			ValidityPeriodSeconds: int64(s.cfg.CertValidity.Seconds()), RenewalPeriodSeconds: policyRenewalPeriodSeconds,
			Enroll: true, MinimalKeyLength: policyMinimalKeyLength, MajorRevision: 101,
		}},
		OIDs: []mde2.OID{{Value: oidSHA256, Group: oidGroupHash, DefaultName: oidSHA256DefaultName}},
	}
}
