package device

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"crypto/sha1" //nolint:gosec // certificate thumbprints are SHA-1 by definition (docs/protocol.md A.9)
	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// maxProvDoc bounds the decoded wap-provisioningdoc.
const maxProvDoc = 256 << 10

// provisioning is what the agent takes from the wap-provisioningdoc of the RSTR
// (MS-MDE2 2.2.9.1; docs/protocol.md A.9).
type provisioning struct {
	RootCA        *x509.Certificate
	ClientCert    *x509.Certificate
	Addr          string // APPLICATION ADDR: the management URL
	ProviderID    string // APPLICATION PROVIDER-ID
	EntDMID       string
	EntDeviceName string
	UPN           string
	Poll          PollSchedule
	HasPoll       bool
	Renew         RenewSchedule // CertificateStore My/WSTEP/Renew, CSP defaults filled in
}

// parseProvisioningDoc reads the document. Parm and characteristic names are case sensitive
// (w7 APPLICATION CSP); thumbprint characteristics must match their certificate.
func parseProvisioningDoc(data []byte) (*provisioning, error) {
	if len(data) > maxProvDoc {
		return nil, fmt.Errorf("provisioning document larger than %d bytes", maxProvDoc)
	}
	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{MaxDepth: maxSOAPDepth, CharsetReader: xmlx.UTF8Only}
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("reading provisioning document: %w", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "wap-provisioningdoc" {
		return nil, fmt.Errorf("reading provisioning document: root is not wap-provisioningdoc")
	}
	p := &provisioning{}
	for _, c := range xmlx.Children(root, "characteristic") {
		var err error
		switch xmlx.Attr(c, "type") {
		case "CertificateStore":
			if err = p.certificateStore(c); err == nil {
				err = p.renewSchedule(c)
			}
		case "APPLICATION":
			p.Addr, p.ProviderID = parm(c, "ADDR"), parm(c, "PROVIDER-ID")
		case "DMClient":
			err = p.dmClient(c)
		}
		if err != nil {
			return nil, fmt.Errorf("reading provisioning document: %w", err)
		}
	}
	switch {
	case p.RootCA == nil:
		return nil, fmt.Errorf("reading provisioning document: no root certificate in CertificateStore/Root/System")
	case p.ClientCert == nil:
		return nil, fmt.Errorf("reading provisioning document: no client certificate in CertificateStore/My")
	case p.Addr == "" || p.ProviderID == "":
		return nil, fmt.Errorf("reading provisioning document: APPLICATION lacks ADDR or PROVIDER-ID")
	}
	u, err := url.Parse(p.Addr)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("reading provisioning document: ADDR %q is not an https URL", p.Addr)
	}
	return p, nil
}

func characteristic(e *etree.Element, typ string) *etree.Element {
	for _, c := range xmlx.Children(e, "characteristic") {
		if xmlx.Attr(c, "type") == typ {
			return c
		}
	}
	return nil
}

func parm(e *etree.Element, name string) string {
	for _, p := range xmlx.Children(e, "parm") {
		if xmlx.Attr(p, "name") == name {
			return xmlx.Attr(p, "value")
		}
	}
	return ""
}

// thumbprint is the upper-case hex SHA-1 of a certificate (docs/protocol.md A.9).
func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw) //nolint:gosec
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// certIn reads the one certificate characteristic under e (skipping PrivateKeyContainer).
func certIn(e *etree.Element, where string) (*x509.Certificate, error) {
	var found *x509.Certificate
	for _, c := range xmlx.Children(e, "characteristic") {
		typ := xmlx.Attr(c, "type")
		if typ == "PrivateKeyContainer" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(parm(c, "EncodedCertificate"))
		if err != nil || len(raw) == 0 {
			return nil, fmt.Errorf("%s/%s: EncodedCertificate is not base64", where, typ)
		}
		cert, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", where, typ, err)
		}
		if !strings.EqualFold(thumbprint(cert), typ) {
			return nil, fmt.Errorf("%s: characteristic %q is not the certificate's thumbprint %s", where, typ, thumbprint(cert))
		}
		if found != nil {
			return nil, fmt.Errorf("%s: more than one certificate", where)
		}
		found = cert
	}
	return found, nil
}

func (p *provisioning) certificateStore(c *etree.Element) error {
	var err error
	if sys := characteristic(characteristic(c, "Root"), "System"); sys != nil {
		if p.RootCA, err = certIn(sys, "Root/System"); err != nil {
			return err
		}
	}
	my := characteristic(c, "My")
	for _, scope := range []string{"User", "System"} {
		if s := characteristic(my, scope); s != nil {
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
func (p *provisioning) renewSchedule(store *etree.Element) error {
	p.Renew = RenewSchedule{ROBOSupport: true, RenewPeriod: cspRenewPeriodDays, RetryInterval: cspRetryIntervalDays}
	r := characteristic(characteristic(characteristic(store, "My"), "WSTEP"), "Renew")
	switch v := parm(r, "ROBOSupport"); {
	case v == "":
	case strings.EqualFold(v, "true"):
		p.Renew.ROBOSupport = true
	case strings.EqualFold(v, "false"):
		p.Renew.ROBOSupport = false
	default:
		return fmt.Errorf("CertificateStore My/WSTEP/Renew/ROBOSupport %q is not a boolean", v)
	}
	for name, dst := range map[string]*int{"RenewPeriod": &p.Renew.RenewPeriod, "RetryInterval": &p.Renew.RetryInterval} {
		v := parm(r, name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > cspMaxRenewDays {
			return fmt.Errorf("CertificateStore My/WSTEP/Renew/%s %q is not 1 to %d days", name, v, cspMaxRenewDays)
		}
		*dst = n
	}
	if p.Renew.RetryInterval > p.Renew.RenewPeriod {
		return fmt.Errorf("CertificateStore My/WSTEP/Renew: RetryInterval %d days exceeds RenewPeriod %d days",
			p.Renew.RetryInterval, p.Renew.RenewPeriod)
	}
	return nil
}

func (p *provisioning) dmClient(c *etree.Element) error {
	prov := characteristic(c, "Provider")
	if prov == nil {
		return nil
	}
	for _, pc := range xmlx.Children(prov, "characteristic") {
		p.EntDMID, p.EntDeviceName, p.UPN = parm(pc, "EntDMID"), parm(pc, "EntDeviceName"), parm(pc, "UPN")
		poll := characteristic(pc, "Poll")
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
			v := parm(poll, name)
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1<<20 {
				return fmt.Errorf("DMClient Poll/%s %q is not a count or minutes", name, v)
			}
			*dst = n
		}
		p.Poll.PollOnLogin = strings.EqualFold(parm(poll, "PollOnLogin"), "true")
	}
	return nil
}
