package enrollment

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// supportedVersions are the MS-MDE2 RequestVersion values accepted. Windows 10
// sends 4.0 (21H1), newer builds 5.0 and 6.0 (docs/protocol.md A.2); MS-MDE2 3.1.4.1.3.1
// defines 1.0–6.0 and fleet accepts up to 7.0 (docs/protocol.md A.2).
var supportedVersions = map[string]bool{
	"1.0": true, "2.0": true, "3.0": true, "4.0": true, "5.0": true, "6.0": true, "7.0": true,
}

// parseDiscover reads the Discover operation of an envelope and checks what the server
// needs of it: an EmailAddress and a supported RequestVersion.
func parseDiscover(env *mde2.Envelope) (*mde2.DiscoverRequest, error) {
	d, err := env.Discover()
	if err != nil {
		return nil, decodeFault(err)
	}
	if d.EmailAddress == "" {
		return nil, formatFault("missing EmailAddress", nil)
	}
	if !supportedVersions[d.RequestVersion] {
		f := formatFault("unsupported RequestVersion", fmt.Errorf("version %q", d.RequestVersion))
		f.ErrorType = mde2.ErrorTypeDeviceNotSupported
		return nil, f
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
		return Tenant{}, senderFault(mde2.SubcodeAuthentication, "user name has no enrollment domain", err)
	}
	t, err := s.dir.TenantForDomain(ctx, domain)
	if errors.Is(err, ErrUnknownDomain) {
		return Tenant{}, senderFault(mde2.SubcodeAuthentication, "no enrollment service for this domain", err)
	}
	if err != nil {
		return Tenant{}, receiverFault(mde2.SubcodeInternalServiceFault, "directory unavailable", fmt.Errorf("finding tenant: %w", err))
	}
	if t.AuthPolicy != AuthPolicyOnPremise && t.AuthPolicy != AuthPolicyFederated {
		return Tenant{}, receiverFault(mde2.SubcodeEnrollmentServer, "tenant misconfigured",
			fmt.Errorf("tenant %s has auth policy %q", t.ID, t.AuthPolicy))
	}
	return t, nil
}

// discover decides the DiscoverResponse (MS-MDE2 3.1.4.1.3.2): the tenant's
// auth policy, which must be one the client offered; Federated adds the
// sign-in page URL.
func (s *Service) discover(ctx context.Context, d *mde2.DiscoverRequest) (*mde2.DiscoverResponse, error) {
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
			f := senderFault(mde2.SubcodeAuthorization, "client does not support the tenant's authentication policy",
				fmt.Errorf("tenant %s needs %s, client offers %v", t.ID, t.AuthPolicy, d.AuthPolicies))
			f.ErrorType = mde2.ErrorTypeNotSupported
			return nil, f
		}
	}
	resp := &mde2.DiscoverResponse{AuthPolicy: t.AuthPolicy, EnrollmentVersion: d.RequestVersion,
		EnrollmentPolicyServiceURL: s.urls.policy, EnrollmentServiceURL: s.urls.enrollment}
	if t.AuthPolicy == AuthPolicyFederated {
		// Required and HTTPS for Federated (MS-MDE2 3.1.4.1.3.2).
		resp.AuthenticationServiceURL = s.urls.authentication
	}
	return resp, nil
}
