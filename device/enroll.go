package device

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Authentication policies (MS-MDE2 DiscoveryResponse AuthPolicy).
const (
	AuthOnPremise = mde2.AuthPolicyOnPremise
	AuthFederated = mde2.AuthPolicyFederated
)

// DefaultRequestVersion is the MS-MDE2 RequestVersion of Windows 11 22H2 (docs/protocol.md A.2).
const DefaultRequestVersion = "6.0"

// EnrollRequest is what the user types in Settings › Accounts › Access work or school.
type EnrollRequest struct {
	// ServerURL is the server's base URL, e.g. https://mdm.contoso.com:8443; discovery is at
	// ServerURL + /EnrollmentServer/Discovery.svc.
	ServerURL string
	UPN       string
	Password  string
	OTP       string // authenticator code, when the user has one (Federated web sign-in)
	// Token, for a Federated tenant, is a security token already obtained from the sign-in
	// page (the wresult value); the web sign-in step is then skipped. Fleet tooling (the load
	// tool, provisioning packages) enrolls many devices with one token this way.
	Token string
	// RootCAs are trusted for the server's TLS certificate (the device's Root store).
	RootCAs        *x509.CertPool
	CSRShape       CSRShape // default CSRWindows
	RequestVersion string   // default DefaultRequestVersion
}

const discoveryPath = "/EnrollmentServer/Discovery.svc"

// Enroll runs MS-MDE2 enrollment: GET probe, Discover, (Federated: web sign-in), GetPolicies,
// RequestSecurityToken with a fresh key and CSR; then it checks the provisioning document
// (root CA chains the server's TLS certificate, client certificate matches the key), seeds
// the DMClient nodes and persists everything. Nothing is persisted when any step fails.
func (a *Agent) Enroll(ctx context.Context, req EnrollRequest) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.Enrollment().State == StateEnrolled {
		return fmt.Errorf("enrolling: %w", ErrEnrolled)
	}
	if req.RequestVersion == "" {
		req.RequestVersion = DefaultRequestVersion
	}
	shape, err := ParseCSRShape(string(req.CSRShape))
	if err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	base, err := url.Parse(strings.TrimRight(req.ServerURL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return fmt.Errorf("enrolling: server URL %q is not an https URL", req.ServerURL)
	}
	if req.UPN == "" || !strings.Contains(req.UPN, "@") {
		return fmt.Errorf("enrolling: user name %q is not a UPN", req.UPN)
	}
	c := a.httpClient(req.RootCAs, nil)
	serverLeaf, err := a.probe(ctx, c, base.String()+discoveryPath)
	if err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	enr, disc, err := a.discover(ctx, c, base, req)
	if err != nil {
		return err
	}
	enr.CSRShape = shape
	sec, err := a.enrollmentSecurity(ctx, c, &enr, disc.AuthenticationServiceURL, req)
	if err != nil {
		return err
	}
	// GetPolicies (MS-XCEP): Windows asks, and enrolls under the policy it is given.
	env, err := a.exchange(ctx, c, "policy", enr.PolicyURL, mde2.ActionGetPolicies, sec, &mde2.GetPoliciesRequest{})
	if err == nil {
		_, err = env.GetPoliciesResponse()
	}
	if err != nil {
		return enrollError(err)
	}
	key, prov, err := a.requestToken(ctx, c, enr, sec, req.RequestVersion)
	if err != nil {
		return err
	}
	if err := checkProvisioning(prov, key, serverLeaf, hostOf(base.String())); err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	enr.ManagementURL, enr.ProviderID = prov.Addr, prov.ProviderID
	enr.EntDeviceName, enr.CertThumbprint = prov.EntDeviceName, mde2.Thumbprint(prov.ClientCert)
	renew := prov.Renew
	enr.Renewal = &renew
	if enr.TenantID == "" {
		enr.TenantID = a.lookupTenant(ctx, c, base, req.UPN)
	}
	return a.commitEnrollment(enr, prov, key)
}

// enrollError wraps an error of an enrollment step; a *FaultError is returned as it is.
func enrollError(err error) error {
	var f *FaultError
	if errors.As(err, &f) {
		return err
	}
	return fmt.Errorf("enrolling: %w", err)
}

// probe is the discovery GET (MS-MDE2 3.1.4: 200, empty body); it returns the server's TLS
// certificate, which the provisioned root must issue.
func (a *Agent) probe(ctx context.Context, c *http.Client, discURL string) (*x509.Certificate, error) {
	probe, err := http.NewRequest(http.MethodGet, discURL, nil)
	if err != nil {
		return nil, err
	}
	probe.Header.Set("User-Agent", userAgentEnroll)
	pr, err := do(ctx, c, probe)
	if err != nil {
		return nil, fmt.Errorf("probing %s: %w", discURL, err)
	}
	if pr.Status != http.StatusOK {
		return nil, fmt.Errorf("discovery probe answered HTTP %d", pr.Status)
	}
	if pr.TLS == nil || len(pr.TLS.PeerCertificates) == 0 {
		return nil, fmt.Errorf("discovery did not use TLS")
	}
	return pr.TLS.PeerCertificates[0], nil
}

// discover sends Discover as Windows does and starts the enrollment record from the answer.
func (a *Agent) discover(ctx context.Context, c *http.Client, base *url.URL, req EnrollRequest) (Enrollment, *mde2.DiscoverResponse, error) {
	id := a.Identity()
	discURL := base.String() + discoveryPath
	env, err := a.exchange(ctx, c, "discover", discURL, mde2.ActionDiscover, nil, &mde2.DiscoverRequest{
		EmailAddress: req.UPN, RequestVersion: req.RequestVersion, DeviceType: windowsDeviceType,
		ApplicationVersion: id.OSVersion, OSEdition: strconv.Itoa(id.OSEdition),
		AuthPolicies: []string{AuthOnPremise, AuthFederated},
	})
	var disc *mde2.DiscoverResponse
	if err == nil {
		disc, err = env.DiscoverResponse()
	}
	if err != nil {
		return Enrollment{}, nil, enrollError(err)
	}
	enr := Enrollment{
		ServerURL: base.String(), DiscoveryURL: discURL, AuthPolicy: disc.AuthPolicy,
		PolicyURL: disc.EnrollmentPolicyServiceURL, EnrollmentURL: disc.EnrollmentServiceURL, UPN: req.UPN,
	}
	if enr.EnrollmentURL == "" {
		return Enrollment{}, nil, fmt.Errorf("enrolling: DiscoverResponse has no EnrollmentServiceUrl")
	}
	if enr.PolicyURL == "" {
		enr.PolicyURL = enr.EnrollmentURL // no policy service: defaults apply (MS-MDE2 3.1.4.1.3.2)
	}
	return enr, disc, nil
}

// enrollmentSecurity is the wsse:Security of GetPolicies and RST under the server's auth
// policy: a UsernameToken for OnPremise; for Federated the token of the web sign-in (or the
// one the request brought), whose tenant it records.
func (a *Agent) enrollmentSecurity(ctx context.Context, c *http.Client, enr *Enrollment, authURL string, req EnrollRequest) (*mde2.Security, error) {
	switch enr.AuthPolicy {
	case AuthOnPremise:
		return &mde2.Security{UsernameToken: &mde2.UsernameToken{ID: mde2.WindowsUsernameTokenID,
			Username: req.UPN, Password: req.Password}}, nil
	case AuthFederated:
		tok := req.Token
		if tok == "" {
			var err error
			if tok, err = a.webSignIn(ctx, c, authURL, req.UPN, req.Password, req.OTP); err != nil {
				return nil, fmt.Errorf("enrolling: %w", err)
			}
		}
		enr.TenantID = tokenTenant(tok)
		return &mde2.Security{UserToken: tok, HasUserToken: true}, nil
	default:
		return nil, fmt.Errorf("enrolling: server asks for auth policy %q, which this device does not support", enr.AuthPolicy)
	}
}

// requestToken sends the RequestSecurityToken (MS-WSTEP) with a fresh key and CSR and reads
// the provisioning document of the answer.
func (a *Agent) requestToken(ctx context.Context, c *http.Client, enr Enrollment, sec *mde2.Security, version string) (crypto.Signer, *provisioning, error) {
	id := a.Identity()
	key, csr, err := newKeyAndCSR(enr.CSRShape, id.DeviceID, a.opts.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("enrolling: %w", err)
	}
	env, err := a.exchange(ctx, c, "enroll", enr.EnrollmentURL, mde2.ActionRST, sec, &mde2.RequestSecurityToken{
		RequestType: mde2.RequestTypeIssue, ValueType: mde2.ValueTypePKCS10, Request: csr,
		Context: additionalContext(id, version),
	})
	var rstr *mde2.RequestSecurityTokenResponse
	if err == nil {
		rstr, err = env.RequestSecurityTokenResponse()
	}
	if err != nil {
		return nil, nil, enrollError(err)
	}
	prov, err := parseProvisioningDoc(rstr.ProvisioningDoc)
	if err != nil {
		return nil, nil, fmt.Errorf("enrolling: %w", err)
	}
	return key, prov, nil
}

// windowsDeviceType is the DeviceType of a Windows desktop (MS-MDE2 3.1.4.1.3.1).
const windowsDeviceType = "CIMClient_Windows"

// additionalContext lists the RST AdditionalContext items of a Full enrollment from
// Settings, in the order Windows sends them.
func additionalContext(id Identity, requestVersion string) []mde2.ContextItem {
	macs := id.MACs
	if len(macs) == 1 {
		macs = []string{macs[0], macs[0]} // Windows repeats adapters (captures)
	}
	return mde2.DeviceContext{
		HWDevID: id.HWDevID, Locale: id.Locale, OSEdition: strconv.Itoa(id.OSEdition), DeviceName: id.DeviceName,
		MACs: macs, DeviceID: id.DeviceID, EnrollmentType: mde2.EnrollmentTypeFull, DeviceType: windowsDeviceType,
		OSVersion: id.OSVersion, ApplicationVersion: id.OSVersion, RequestVersion: requestVersion,
	}.WindowsItems()
}

// checkProvisioning verifies the provisioning document against what the device knows: the
// root must chain the server's TLS certificate, and the client certificate must be for our
// key, chain to that root and allow client authentication.
func checkProvisioning(p *provisioning, key crypto.Signer, serverLeaf *x509.Certificate, host string) error {
	roots := x509.NewCertPool()
	roots.AddCert(p.RootCA)
	if _, err := serverLeaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
		return fmt.Errorf("provisioned root CA does not issue the server's TLS certificate: %w", err)
	}
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(p.ClientCert.PublicKey) {
		return fmt.Errorf("provisioned client certificate is not for this device's key")
	}
	if _, err := p.ClientCert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return fmt.Errorf("provisioned client certificate: %w", err)
	}
	return nil
}

// tokenTenant reads the tid claim of a JWT web-auth token without verifying it: the device
// only uses it to name its tenant; the server verifies the token.
func tokenTenant(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		TID string `json:"tid"`
	}
	if json.Unmarshal(raw, &claims) != nil || !isGUID(claims.TID) {
		return ""
	}
	return strings.ToLower(claims.TID)
}

// lookupTenant asks hellomdm's identity provider which tenant owns the UPN
// (GET /idp/signin-info, a hellomdm endpoint, not MS-MDE2). Best effort: "" when unknown.
func (a *Agent) lookupTenant(ctx context.Context, c *http.Client, base *url.URL, upn string) string {
	u := base.JoinPath("/idp/signin-info")
	u.RawQuery = url.Values{"upn": {upn}}.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		return ""
	}
	resp, err := do(ctx, c, req)
	if err != nil || resp.Status != http.StatusOK {
		a.log.Info("tenant of the enrolled user unknown", "upn", upn)
		return ""
	}
	var info struct {
		TenantID string `json:"tenantId"`
	}
	if json.Unmarshal(resp.Body, &info) != nil || !isGUID(info.TenantID) {
		return ""
	}
	return strings.ToLower(info.TenantID)
}

func isGUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// commitEnrollment persists the enrollment: key, certificates, CSP seeds, DMClient state,
// and last the enrollment record, which is the commit point (a crash before it leaves the
// device not enrolled).
func (a *Agent) commitEnrollment(enr Enrollment, p *provisioning, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("enrolling: encoding key: %w", err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{fileClientKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})},
		{fileClientCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.ClientCert.Raw})},
		{fileServerCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.RootCA.Raw})},
	}
	for _, f := range files {
		if err := writeFileAtomic(a.path(f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("enrolling: %w", err)
		}
	}
	id := a.Identity()
	prov := dmClientRoot + "/Provider/" + enr.ProviderID
	seeds := [][2]string{{prov + "/EntDMID", orDefault(p.EntDMID, id.DeviceID)}, {prov + "/UPN", enr.UPN}}
	if p.EntDeviceName != "" {
		seeds = append(seeds, [2]string{prov + "/EntDeviceName", p.EntDeviceName})
	}
	poll := p.Poll
	if p.HasPoll {
		for _, kv := range [][2]any{
			{"NumberOfFirstRetries", poll.NumberOfFirstRetries}, {"IntervalForFirstSetOfRetries", poll.IntervalForFirstSetOfRetries},
			{"NumberOfSecondRetries", poll.NumberOfSecondRetries}, {"IntervalForSecondSetOfRetries", poll.IntervalForSecondSetOfRetries},
			{"NumberOfRemainingScheduledRetries", poll.NumberOfRemainingScheduledRetries},
			{"IntervalForRemainingScheduledRetries", poll.IntervalForRemainingScheduledRetries},
			{"PollOnLogin", poll.PollOnLogin},
		} {
			seeds = append(seeds, [2]string{prov + "/Poll/" + kv[0].(string), fmt.Sprint(kv[1])})
		}
	}
	seeds = append(seeds, renewSeeds(enr)...)
	if enr.TenantID != "" {
		// The tenant's PassportForWork node exists on a device registered to it, so the
		// server can Replace its policies directly (a Replace under a never-added dynamic
		// node answers 405, docs/protocol.md B.6); so does the enrolled user's, under ./User
		// (user-scope policies, e.g. imported from a GPO's User Configuration).
		seeds = append(seeds, [2]string{passportDevice + "/" + enr.TenantID + "/Policies", ""},
			[2]string{passportUser + "/" + enr.TenantID + "/Policies", ""})
	}
	for _, kv := range seeds {
		if err := a.tree.Set(kv[0], kv[1]); err != nil {
			return fmt.Errorf("enrolling: seeding %s: %w", kv[0], err)
		}
	}
	a.pol.setTenant(enr.TenantID)
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.HasPoll {
		a.dm.Poll = poll
	}
	if err := a.saveDMClientLocked(); err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	enr.State = StateEnrolled
	enr.EnrolledAt = a.opts.Now().UTC()
	prev := a.enr
	a.enr = enr
	if err := a.saveEnrollmentLocked(); err != nil {
		a.enr = prev
		return fmt.Errorf("enrolling: %w", err)
	}
	a.log.Info("enrolled", "device", id.DeviceID, "server", enr.ManagementURL, "provider", enr.ProviderID, "tenant", enr.TenantID)
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
