package enroll

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hellomdm/hellomdm/device/omadm"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Provisioning is what the agent takes from the wap-provisioningdoc of the RSTR
// (MS-MDE2 2.2.9.1; docs/protocol.md A.9).
type Provisioning struct {
	RootCA        *x509.Certificate
	ClientCert    *x509.Certificate
	Addr          string // APPLICATION ADDR: the management URL
	ProviderID    string // APPLICATION PROVIDER-ID
	EntDMID       string
	EntDeviceName string
	UPN           string
	Poll          omadm.PollSchedule
	HasPoll       bool
	Renew         RenewSchedule // CertificateStore My/WSTEP/Renew, CSP defaults filled in
}

// parseProvisioningDoc reads the document (mde2.ParseProvisioningDoc) and takes what the
// agent needs from it. Parm and characteristic names are case sensitive (w7 APPLICATION
// CSP); thumbprint characteristics must match their certificate.
func parseProvisioningDoc(data []byte) (*Provisioning, error) {
	doc, err := mde2.ParseProvisioningDoc(data)
	if err != nil {
		return nil, fmt.Errorf("reading Provisioning document: %w", err)
	}
	p := &Provisioning{}
	for _, c := range doc.Characteristics {
		var err error
		switch c.Type {
		case "CertificateStore":
			if err = p.CertificateStore(c); err == nil {
				err = p.renewSchedule(c)
			}
		case "APPLICATION":
			p.Addr, p.ProviderID = c.Parm("ADDR"), c.Parm("PROVIDER-ID")
		case "DMClient":
			err = p.dmClient(c)
		}
		if err != nil {
			return nil, fmt.Errorf("reading Provisioning document: %w", err)
		}
	}
	switch {
	case p.RootCA == nil:
		return nil, fmt.Errorf("reading Provisioning document: no root certificate in CertificateStore/Root/System")
	case p.ClientCert == nil:
		return nil, fmt.Errorf("reading Provisioning document: no client certificate in CertificateStore/My")
	case p.Addr == "" || p.ProviderID == "":
		return nil, fmt.Errorf("reading Provisioning document: APPLICATION lacks ADDR or PROVIDER-ID")
	}
	u, err := url.Parse(p.Addr)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("reading Provisioning document: ADDR %q is not an https URL", p.Addr)
	}
	return p, nil
}

// certIn reads the one certificate characteristic under e (skipping PrivateKeyContainer).
func certIn(e *mde2.Characteristic, where string) (*x509.Certificate, error) {
	var found *x509.Certificate
	for _, c := range e.Characteristics {
		if c.Type == "PrivateKeyContainer" {
			continue
		}
		cert, err := c.Certificate()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if found != nil {
			return nil, fmt.Errorf("%s: more than one certificate", where)
		}
		found = cert
	}
	return found, nil
}

// CertificateStore reads the root and client certificates of a CertificateStore
// characteristic (also the whole provisioning document of a renewal, MS-MDE2 3.5).
func (p *Provisioning) CertificateStore(c *mde2.Characteristic) error {
	var err error
	if sys := c.Child("Root").Child("System"); sys != nil {
		if p.RootCA, err = certIn(sys, "Root/System"); err != nil {
			return err
		}
	}
	my := c.Child("My")
	for _, scope := range []string{"User", "System"} {
		if s := my.Child(scope); s != nil {
			cert, err := certIn(s, "My/"+scope)
			if err != nil {
				return err
			}
			if cert != nil {
				p.ClientCert = cert
			}
		}
	}
	return nil
}

// renewSchedule reads CertificateStore My/WSTEP/Renew (MS-MDE2 2.2.9.1; certificatestore-csp,
// MY/WSTEP/Renew): parms left out take the CSP defaults, values outside the CSP ranges are
// refused as Windows refuses them. A renewal's document does not change the schedule: Windows
// sets the renewal period only at enrollment (certificate-renewal-windows-mdm).
func (p *Provisioning) renewSchedule(store *mde2.Characteristic) error {
	p.Renew = RenewSchedule{ROBOSupport: true, RenewPeriod: RenewPeriodDefault, RetryInterval: RetryIntervalDefault}
	r := store.Child("My").Child("WSTEP").Child("Renew")
	switch v := r.Parm("ROBOSupport"); {
	case v == "":
	case strings.EqualFold(v, "true"):
		p.Renew.ROBOSupport = true
	case strings.EqualFold(v, "false"):
		p.Renew.ROBOSupport = false
	default:
		return fmt.Errorf("CertificateStore My/WSTEP/Renew/ROBOSupport %q is not a boolean", v)
	}
	for name, dst := range map[string]*int{"RenewPeriod": &p.Renew.RenewPeriod, "RetryInterval": &p.Renew.RetryInterval} {
		v := r.Parm(name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxRenewDays {
			return fmt.Errorf("CertificateStore My/WSTEP/Renew/%s %q is not 1 to %d days", name, v, MaxRenewDays)
		}
		*dst = n
	}
	if p.Renew.RetryInterval > p.Renew.RenewPeriod {
		return fmt.Errorf("CertificateStore My/WSTEP/Renew: RetryInterval %d days exceeds RenewPeriod %d days",
			p.Renew.RetryInterval, p.Renew.RenewPeriod)
	}
	return nil
}

func (p *Provisioning) dmClient(c *mde2.Characteristic) error {
	prov := c.Child("Provider")
	if prov == nil {
		return nil
	}
	for _, pc := range prov.Characteristics {
		p.EntDMID, p.EntDeviceName, p.UPN = pc.Parm("EntDMID"), pc.Parm("EntDeviceName"), pc.Parm("UPN")
		poll := pc.Child("Poll")
		if poll == nil {
			continue
		}
		p.HasPoll = true
		for name, dst := range map[string]*int{
			"NumberOfFirstRetries": &p.Poll.NumberOfFirstRetries, "IntervalForFirstSetOfRetries": &p.Poll.IntervalForFirstSetOfRetries,
			"NumberOfSecondRetries": &p.Poll.NumberOfSecondRetries, "IntervalForSecondSetOfRetries": &p.Poll.IntervalForSecondSetOfRetries,
			"NumberOfRemainingScheduledRetries":    &p.Poll.NumberOfRemainingScheduledRetries,
			"IntervalForRemainingScheduledRetries": &p.Poll.IntervalForRemainingScheduledRetries,
		} {
			v := poll.Parm(name)
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1<<20 {
				return fmt.Errorf("DMClient Poll/%s %q is not a count or minutes", name, v)
			}
			*dst = n
		}
		p.Poll.PollOnLogin = strings.EqualFold(poll.Parm("PollOnLogin"), "true")
	}
	return nil
}
