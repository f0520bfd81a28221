package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/httpx"
	"github.com/hellomdm/hellomdm/device/webauth"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

const discoveryPath = "/EnrollmentServer/Discovery.svc"

// Enroll runs MS-MDE2 enrollment: GET probe, Discover, (Federated: web sign-in), GetPolicies,
// RequestSecurityToken with a fresh key and CSR; then it checks the provisioning document
// (root CA chains the server's TLS certificate, client certificate matches the key) and
// returns what the device must persist. SOAP faults come back as *FaultError.
func Enroll(ctx context.Context, cfg Config, req Request) (*Result, error) {
	if req.RequestVersion == "" {
		req.RequestVersion = DefaultRequestVersion
	}
	shape, err := ParseCSRShape(string(req.CSRShape))
	if err != nil {
		return nil, fmt.Errorf("enrolling: %w", err)
	}
	base, err := url.Parse(strings.TrimRight(req.ServerURL, "/"))
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("enrolling: server URL %q is not an https URL", req.ServerURL)
	}
	if req.UPN == "" || !strings.Contains(req.UPN, "@") {
		return nil, fmt.Errorf("enrolling: user name %q is not a UPN", req.UPN)
	}
	e := &enroller{cfg: cfg}
	c := httpx.Client(req.RootCAs, nil, cfg.Timeout)
	serverLeaf, err := e.probe(ctx, c, base.String()+discoveryPath)
	if err != nil {
		return nil, fmt.Errorf("enrolling: %w", err)
	}
	enr, disc, err := e.discover(ctx, c, base, req)
	if err != nil {
		return nil, err
	}
	enr.CSRShape = shape
	sec, err := e.enrollmentSecurity(ctx, c, &enr, disc.AuthenticationServiceURL, req)
	if err != nil {
		return nil, err
	}
	// GetPolicies (MS-XCEP): Windows asks, and enrolls under the policy it is given.
	env, err := Exchange(ctx, c, "policy", enr.PolicyURL, mde2.ActionGetPolicies, sec, &mde2.GetPoliciesRequest{})
	if err == nil {
		_, err = env.GetPoliciesResponse()
	}
	if err != nil {
		return nil, enrollError(err)
	}
	key, prov, err := e.requestToken(ctx, c, enr, sec, req.RequestVersion)
	if err != nil {
		return nil, err
	}
	if err := checkProvisioning(prov, key, serverLeaf, httpx.HostOf(base.String())); err != nil {
		return nil, fmt.Errorf("enrolling: %w", err)
	}
	enr.ManagementURL, enr.ProviderID = prov.Addr, prov.ProviderID
	enr.EntDeviceName, enr.CertThumbprint = prov.EntDeviceName, mde2.Thumbprint(prov.ClientCert)
	renew := prov.Renew
	enr.Renewal = &renew
	if enr.TenantID == "" {
		enr.TenantID = webauth.LookupTenant(ctx, c, cfg.Log, base, req.UPN)
	}
	return &Result{Enrollment: enr, Provisioning: prov, Key: key}, nil
}

// enroller runs the steps of one enrollment.
type enroller struct{ cfg Config }

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
func (e *enroller) probe(ctx context.Context, c *http.Client, discURL string) (*x509.Certificate, error) {
	probe, err := http.NewRequest(http.MethodGet, discURL, nil)
	if err != nil {
		return nil, err
	}
	probe.Header.Set("User-Agent", httpx.UserAgentEnroll)
	pr, err := httpx.Do(ctx, c, probe)
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
func (e *enroller) discover(ctx context.Context, c *http.Client, base *url.URL, req Request) (Enrollment, *mde2.DiscoverResponse, error) {
	id := e.cfg.Identity
	discURL := base.String() + discoveryPath
	env, err := Exchange(ctx, c, "discover", discURL, mde2.ActionDiscover, nil, &mde2.DiscoverRequest{
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
func (e *enroller) enrollmentSecurity(ctx context.Context, c *http.Client, enr *Enrollment, authURL string, req Request) (*mde2.Security, error) {
	switch enr.AuthPolicy {
	case AuthOnPremise:
		return &mde2.Security{UsernameToken: &mde2.UsernameToken{ID: mde2.WindowsUsernameTokenID,
			Username: req.UPN, Password: req.Password}}, nil
	case AuthFederated:
		tok := req.Token
		if tok == "" {
			var err error
			if tok, err = webauth.WebSignIn(ctx, c, authURL, req.UPN, req.Password, req.OTP); err != nil {
				return nil, fmt.Errorf("enrolling: %w", err)
			}
		}
		enr.TenantID = webauth.TokenTenant(tok)
		return &mde2.Security{UserToken: tok, HasUserToken: true}, nil
	default:
		return nil, fmt.Errorf("enrolling: server asks for auth policy %q, which this device does not support", enr.AuthPolicy)
	}
}

// requestToken sends the RequestSecurityToken (MS-WSTEP) with a fresh key and CSR and reads
// the provisioning document of the answer.
func (e *enroller) requestToken(ctx context.Context, c *http.Client, enr Enrollment, sec *mde2.Security, version string) (crypto.Signer, *Provisioning, error) {
	id := e.cfg.Identity
	key, csr, err := NewKeyAndCSR(enr.CSRShape, id.DeviceID, e.cfg.Rand)
	if err != nil {
		return nil, nil, fmt.Errorf("enrolling: %w", err)
	}
	env, err := Exchange(ctx, c, "enroll", enr.EnrollmentURL, mde2.ActionRST, sec, &mde2.RequestSecurityToken{
		RequestType: mde2.RequestTypeIssue, ValueType: mde2.ValueTypePKCS10, Request: csr,
		Context: AdditionalContext(id, version),
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

// AdditionalContext lists the RST AdditionalContext items of a Full enrollment from
// Settings, in the order Windows sends them.
func AdditionalContext(id identity.Identity, requestVersion string) []mde2.ContextItem {
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
func checkProvisioning(p *Provisioning, key crypto.Signer, serverLeaf *x509.Certificate, host string) error {
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
