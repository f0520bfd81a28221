package enrollment

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// supportedVersions are the MS-MDE2 RequestVersion values accepted. Windows 10
// sends 4.0 (21H1), newer builds 5.0 and 6.0 (docs/protocol.md A.2); MS-MDE2 3.1.4.1.3.1
// defines 1.0–6.0 and fleet accepts up to 7.0 (docs/protocol.md A.2).
var supportedVersions = map[string]bool{
	"1.0": true, "2.0": true, "3.0": true, "4.0": true, "5.0": true, "6.0": true, "7.0": true,
}

// discoverRequest is the body of a Discover message (MS-MDE2 3.1.4.1.3.1).
type discoverRequest struct {
	EmailAddress       string
	RequestVersion     string
	DeviceType         string
	ApplicationVersion string
	OSEdition          string
	AuthPolicies       []string
}

// parseDiscover reads the Discover operation of an envelope.
func parseDiscover(env *envelope) (discoverRequest, error) {
	var d discoverRequest
	if err := env.checkOp("Discover", nsDiscovery); err != nil {
		return d, err
	}
	req := xmlx.Child(env.Op, "request")
	if req == nil {
		return d, formatFault("missing request element", nil)
	}
	d.EmailAddress = xmlx.Text(xmlx.Child(req, "EmailAddress"))
	d.RequestVersion = xmlx.Text(xmlx.Child(req, "RequestVersion"))
	d.DeviceType = xmlx.Text(xmlx.Child(req, "DeviceType"))
	d.ApplicationVersion = xmlx.Text(xmlx.Child(req, "ApplicationVersion"))
	d.OSEdition = xmlx.Text(xmlx.Child(req, "OSEdition"))
	if ap := xmlx.Child(req, "AuthPolicies"); ap != nil {
		for _, p := range xmlx.Children(ap, "AuthPolicy") {
			d.AuthPolicies = append(d.AuthPolicies, xmlx.Text(p))
		}
	}
	for _, f := range []string{d.EmailAddress, d.RequestVersion, d.DeviceType, d.ApplicationVersion, d.OSEdition} {
		if len(f) > maxFieldLen {
			return d, formatFault("field too long", nil)
		}
	}
	if len(d.AuthPolicies) > 8 {
		return d, formatFault("too many AuthPolicy values", nil)
	}
	if d.EmailAddress == "" {
		return d, formatFault("missing EmailAddress", nil)
	}
	if !supportedVersions[d.RequestVersion] {
		f := formatFault("unsupported RequestVersion", fmt.Errorf("version %q", d.RequestVersion))
		f.ErrorType = ErrorTypeDeviceNotSupported
		return d, f
	}
	return d, nil
}

// domainOf returns the lower-cased domain of a UPN or e-mail address. The
// `domain\user` form Windows sends when no e-mail was typed carries no routable
// domain (docs/protocol.md A.2) and is refused.
func domainOf(upn string) (string, error) {
	at := strings.LastIndexByte(upn, '@')
	if at <= 0 || at == len(upn)-1 {
		return "", errors.New("no domain in user name")
	}
	d := strings.ToLower(upn[at+1:])
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return "", errors.New("invalid domain in user name")
		}
	}
	return d, nil
}

// tenantFor resolves the tenant of a UPN, mapping Directory errors to faults.
func (s *Service) tenantFor(ctx context.Context, upn string) (Tenant, error) {
	domain, err := domainOf(upn)
	if err != nil {
		return Tenant{}, senderFault(SubcodeAuthentication, "user name has no enrollment domain", err)
	}
	t, err := s.dir.TenantForDomain(ctx, domain)
	if errors.Is(err, ErrUnknownDomain) {
		return Tenant{}, senderFault(SubcodeAuthentication, "no enrollment service for this domain", err)
	}
	if err != nil {
		return Tenant{}, receiverFault(SubcodeInternalServiceFault, "directory unavailable", fmt.Errorf("finding tenant: %w", err))
	}
	if t.AuthPolicy != AuthPolicyOnPremise && t.AuthPolicy != AuthPolicyFederated {
		return Tenant{}, receiverFault(SubcodeEnrollmentServer, "tenant misconfigured",
			fmt.Errorf("tenant %s has auth policy %q", t.ID, t.AuthPolicy))
	}
	return t, nil
}

// discover decides the DiscoverResponse (MS-MDE2 3.1.4.1.3.2): the tenant's
// auth policy, which must be one the client offered; Federated adds the
// sign-in page URL.
func (s *Service) discover(ctx context.Context, d discoverRequest) (*etree.Element, error) {
	t, err := s.tenantFor(ctx, d.EmailAddress)
	if err != nil {
		return nil, err
	}
	if len(d.AuthPolicies) > 0 {
		offered := false
		for _, p := range d.AuthPolicies {
			offered = offered || strings.EqualFold(p, t.AuthPolicy)
		}
		if !offered {
			f := senderFault(SubcodeAuthorization, "client does not support the tenant's authentication policy",
				fmt.Errorf("tenant %s needs %s, client offers %v", t.ID, t.AuthPolicy, d.AuthPolicies))
			f.ErrorType = ErrorTypeNotSupported
			return nil, f
		}
	}
	resp := etree.NewElement("DiscoverResponse")
	resp.CreateAttr("xmlns", nsDiscovery)
	res := resp.CreateElement("DiscoverResult")
	res.CreateElement("AuthPolicy").SetText(t.AuthPolicy)
	res.CreateElement("EnrollmentVersion").SetText(d.RequestVersion)
	res.CreateElement("EnrollmentPolicyServiceUrl").SetText(s.urls.policy)
	res.CreateElement("EnrollmentServiceUrl").SetText(s.urls.enrollment)
	if t.AuthPolicy == AuthPolicyFederated {
		// Required and HTTPS for Federated (MS-MDE2 3.1.4.1.3.2; docs/protocol.md A.3).
		res.CreateElement("AuthenticationServiceUrl").SetText(s.urls.authentication)
	}
	return resp, nil
}
