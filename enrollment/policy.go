package enrollment

import (
	"strconv"

	"github.com/beevik/etree"
)

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

// parseGetPolicies checks the GetPolicies operation (MS-XCEP 3.1.4.1.1.1). Its
// client and requestFilter children carry nothing the server acts on.
func parseGetPolicies(env *envelope) error {
	return env.checkOp("GetPolicies", nsPolicy)
}

// policiesResponse builds the GetPoliciesResponse body (MS-XCEP 3.1.4.1.1.2).
func (s *Service) policiesResponse() *etree.Element {
	nilEl := func(parent *etree.Element, name string) {
		parent.CreateElement(name).CreateAttr("xsi:nil", "true")
	}
	resp := etree.NewElement("GetPoliciesResponse")
	resp.CreateAttr("xmlns", nsPolicy)
	resp.CreateAttr("xmlns:xsi", nsXSI)
	r := resp.CreateElement("response")
	r.CreateElement("policyID")
	nilEl(r, "policyFriendlyName")
	nilEl(r, "nextUpdateHours")
	nilEl(r, "policiesNotChanged")
	p := r.CreateElement("policies").CreateElement("policy")
	p.CreateElement("policyOIDReference").SetText("0")
	nilEl(p, "cAs")
	a := p.CreateElement("attributes")
	a.CreateElement("commonName").SetText(s.cfg.ProviderID + "-device")
	a.CreateElement("policySchema").SetText("3")
	v := a.CreateElement("certificateValidity")
	v.CreateElement("validityPeriodSeconds").SetText(strconv.FormatInt(int64(s.cfg.CertValidity.Seconds()), 10))
	v.CreateElement("renewalPeriodSeconds").SetText(strconv.Itoa(policyRenewalPeriodSeconds))
	perm := a.CreateElement("permission")
	perm.CreateElement("enroll").SetText("true")
	perm.CreateElement("autoEnroll").SetText("false")
	pk := a.CreateElement("privateKeyAttributes")
	pk.CreateElement("minimalKeyLength").SetText(strconv.Itoa(policyMinimalKeyLength))
	for _, n := range []string{"keySpec", "keyUsageProperty", "permissions", "algorithmOIDReference", "cryptoProviders"} {
		nilEl(pk, n)
	}
	rev := a.CreateElement("revision")
	rev.CreateElement("majorRevision").SetText("101")
	rev.CreateElement("minorRevision").SetText("0")
	for _, n := range []string{"supersededPolicies", "privateKeyFlags", "subjectNameFlags", "enrollmentFlags", "generalFlags"} {
		nilEl(a, n)
	}
	a.CreateElement("hashAlgorithmOIDReference").SetText("0")
	for _, n := range []string{"rARequirements", "keyArchivalAttributes", "extensions"} {
		nilEl(a, n)
	}
	nilEl(resp, "cAs")
	oid := resp.CreateElement("oIDs").CreateElement("oID")
	oid.CreateElement("value").SetText(oidSHA256)
	oid.CreateElement("group").SetText(strconv.Itoa(oidGroupHash))
	oid.CreateElement("oIDReferenceID").SetText("0")
	oid.CreateElement("defaultName").SetText(oidSHA256DefaultName)
	return resp
}
