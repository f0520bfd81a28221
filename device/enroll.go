package device

import (
	"bytes"
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

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// Authentication policies (MS-MDE2 DiscoveryResponse AuthPolicy).
const (
	AuthOnPremise = "OnPremise"
	AuthFederated = "Federated"
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
	id := a.Identity()
	c := a.httpClient(req.RootCAs, nil)
	discURL := base.String() + discoveryPath

	// 1. Probe (MS-MDE2 3.1.4: GET, 200, empty body).
	probe, err := http.NewRequest(http.MethodGet, discURL, nil)
	if err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	probe.Header.Set("User-Agent", userAgentEnroll)
	pr, err := do(ctx, c, probe)
	if err != nil {
		return fmt.Errorf("enrolling: probing %s: %w", discURL, err)
	}
	if pr.Status != http.StatusOK {
		return fmt.Errorf("enrolling: discovery probe answered HTTP %d", pr.Status)
	}
	if pr.TLS == nil || len(pr.TLS.PeerCertificates) == 0 {
		return fmt.Errorf("enrolling: discovery did not use TLS")
	}
	serverLeaf := pr.TLS.PeerCertificates[0]

	// 2. Discover.
	disc, err := a.soap(ctx, c, "discover", discURL, actionDiscover, nil, func(body *etree.Element) {
		d := body.CreateElement("Discover")
		d.CreateAttr("xmlns", nsDiscovery)
		r := d.CreateElement("request")
		r.CreateAttr("xmlns:i", nsXSI)
		r.CreateElement("EmailAddress").SetText(req.UPN)
		r.CreateElement("RequestVersion").SetText(req.RequestVersion)
		r.CreateElement("DeviceType").SetText("CIMClient_Windows")
		r.CreateElement("ApplicationVersion").SetText(id.OSVersion)
		r.CreateElement("OSEdition").SetText(strconv.Itoa(id.OSEdition))
		ap := r.CreateElement("AuthPolicies")
		ap.CreateElement("AuthPolicy").SetText(AuthOnPremise)
		ap.CreateElement("AuthPolicy").SetText(AuthFederated)
	})
	if err != nil {
		return err
	}
	res := xmlx.Child(disc, "DiscoverResult")
	enr := Enrollment{
		ServerURL: base.String(), DiscoveryURL: discURL, AuthPolicy: xmlx.Text(xmlx.Child(res, "AuthPolicy")),
		PolicyURL: xmlx.Text(xmlx.Child(res, "EnrollmentPolicyServiceUrl")), EnrollmentURL: xmlx.Text(xmlx.Child(res, "EnrollmentServiceUrl")),
		UPN: req.UPN, CSRShape: shape,
	}
	if enr.EnrollmentURL == "" {
		return fmt.Errorf("enrolling: DiscoverResponse has no EnrollmentServiceUrl")
	}
	if enr.PolicyURL == "" {
		enr.PolicyURL = enr.EnrollmentURL // no policy service: defaults apply (docs/protocol.md A.6)
	}

	// 3. Credentials.
	creds := &credentials{Username: req.UPN, Password: req.Password}
	switch enr.AuthPolicy {
	case AuthOnPremise:
	case AuthFederated:
		tok := req.Token
		if tok == "" {
			if tok, err = a.webSignIn(ctx, c, xmlx.Text(xmlx.Child(res, "AuthenticationServiceUrl")), req.UPN, req.Password, req.OTP); err != nil {
				return fmt.Errorf("enrolling: %w", err)
			}
		}
		creds = &credentials{Token: tok}
		enr.TenantID = tokenTenant(tok)
	default:
		return fmt.Errorf("enrolling: server asks for auth policy %q, which this device does not support", enr.AuthPolicy)
	}

	// 4. GetPolicies (MS-XCEP).
	if _, err := a.soap(ctx, c, "policy", enr.PolicyURL, actionGetPolicies, creds, func(body *etree.Element) {
		g := body.CreateElement("GetPolicies")
		g.CreateAttr("xmlns", nsPolicy)
		cl := g.CreateElement("client")
		cl.CreateElement("lastUpdate").CreateAttr("xsi:nil", "true")
		cl.CreateElement("preferredLanguage").CreateAttr("xsi:nil", "true")
		g.CreateElement("requestFilter").CreateAttr("xsi:nil", "true")
		g.CreateAttr("xmlns:xsi", nsXSI)
	}); err != nil {
		return err
	}

	// 5. RequestSecurityToken (MS-WSTEP).
	key, csr, err := newKeyAndCSR(shape, id.DeviceID, a.opts.Rand)
	if err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	rstr, err := a.soap(ctx, c, "enroll", enr.EnrollmentURL, actionRST, creds, func(body *etree.Element) {
		writeRST(body, requestTypeIssue, valueTypePKCS10, csr, additionalContext(id, req.RequestVersion))
	})
	if err != nil {
		return err
	}
	prov, err := provisioningFromRSTR(rstr)
	if err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	if err := checkProvisioning(prov, key, serverLeaf, hostOf(base.String())); err != nil {
		return fmt.Errorf("enrolling: %w", err)
	}
	enr.ManagementURL, enr.ProviderID = prov.Addr, prov.ProviderID
	enr.EntDeviceName, enr.CertThumbprint = prov.EntDeviceName, thumbprint(prov.ClientCert)
	renew := prov.Renew
	enr.Renewal = &renew
	if enr.TenantID == "" {
		enr.TenantID = a.lookupTenant(ctx, c, base, req.UPN)
	}
	return a.commitEnrollment(enr, prov, key)
}

// additionalContext lists the RST AdditionalContext items in the order Windows sends them
// (docs/protocol.md A.7).
func additionalContext(id Identity, requestVersion string) [][2]string {
	items := [][2]string{
		{"UXInitiated", "true"}, {"HWDevID", id.HWDevID}, {"Locale", id.Locale},
		{"TargetedUserLoggedIn", "true"}, {"OSEdition", strconv.Itoa(id.OSEdition)}, {"DeviceName", id.DeviceName},
	}
	macs := id.MACs
	if len(macs) == 1 {
		macs = []string{macs[0], macs[0]} // Windows repeats adapters (captures)
	}
	for _, m := range macs {
		items = append(items, [2]string{"MAC", m})
	}
	return append(items,
		[2]string{"DeviceID", id.DeviceID}, [2]string{"EnrollmentType", "Full"},
		[2]string{"DeviceType", "CIMClient_Windows"}, [2]string{"OSVersion", id.OSVersion},
		[2]string{"ApplicationVersion", id.OSVersion}, [2]string{"NotInOobe", "false"},
		[2]string{"RequestVersion", requestVersion})
}

// soap posts one SOAP request and returns the response's body operation.
func (a *Agent) soap(ctx context.Context, c *http.Client, step, to, action string, creds *credentials, fill func(*etree.Element)) (*etree.Element, error) {
	body, err := soapRequest(action, "urn:uuid:"+uuid.NewString(), to, creds, fill)
	if err != nil {
		return nil, fmt.Errorf("enrolling: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("enrolling: %s: %w", step, err)
	}
	req.Header.Set("Content-Type", contentTypeSOAP)
	req.Header.Set("User-Agent", userAgentEnroll)
	resp, err := do(ctx, c, req)
	if err != nil {
		return nil, fmt.Errorf("enrolling: %s: %w", step, err)
	}
	op, err := parseSOAPResponse(step, resp.Status, resp.Body)
	if err != nil {
		var f *FaultError
		if errors.As(err, &f) {
			return nil, err
		}
		return nil, fmt.Errorf("enrolling: %w", err)
	}
	return op, nil
}

// provisioningFromRSTR takes the base64 wap-provisioningdoc out of an RSTR collection.
func provisioningFromRSTR(op *etree.Element) (*provisioning, error) {
	if op.Tag != "RequestSecurityTokenResponseCollection" {
		return nil, fmt.Errorf("enrollment answered %s, not a RequestSecurityTokenResponseCollection", op.Tag)
	}
	bst := xmlx.Child(xmlx.Child(xmlx.Child(op, "RequestSecurityTokenResponse"), "RequestedSecurityToken"), "BinarySecurityToken")
	if bst == nil || xmlx.Attr(bst, "ValueType") != tokenTypeProvDoc {
		return nil, fmt.Errorf("RSTR carries no provisioning document")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(bst.Text()), ""))
	if err != nil {
		return nil, fmt.Errorf("decoding provisioning document: %w", err)
	}
	return parseProvisioningDoc(raw)
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

// writeRST writes a WSTEP RequestSecurityToken (MS-WSTEP 3.1.4.1.1.1; docs/protocol.md A.7) into
// body: the request type (Issue or Renew), the certificate request as a BinarySecurityToken
// of valueType (PKCS#10, or PKCS#7 for renewal), and the AdditionalContext items in order.
func writeRST(body *etree.Element, requestType, valueType string, request []byte, context [][2]string) {
	rst := body.CreateElement("wst:RequestSecurityToken")
	rst.CreateAttr("xmlns:wst", nsWSTrust)
	rst.CreateElement("wst:TokenType").SetText(tokenTypeEnrollment)
	rst.CreateElement("wst:RequestType").SetText(requestType)
	bst := rst.CreateElement("wsse:BinarySecurityToken")
	bst.CreateAttr("xmlns:wsse", nsWSSE)
	bst.CreateAttr("ValueType", valueType)
	bst.CreateAttr("EncodingType", encodingBase64)
	bst.SetText(base64.StdEncoding.EncodeToString(request))
	ac := rst.CreateElement("ac:AdditionalContext")
	ac.CreateAttr("xmlns:ac", nsAuthContext)
	for _, kv := range context {
		it := ac.CreateElement("ac:ContextItem")
		it.CreateAttr("Name", kv[0])
		it.CreateElement("ac:Value").SetText(kv[1])
	}
}
