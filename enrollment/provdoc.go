package enrollment

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// PollSchedule is the DMClient Poll configuration (DMClient CSP,
// Provider/{ProviderID}/Poll; intervals in minutes). A remaining-retries count
// of 0 means "forever" (DMClient CSP, NumberOfRemainingScheduledRetries).
type PollSchedule struct {
	NumberOfFirstRetries, IntervalForFirstSetOfRetries             int
	NumberOfSecondRetries, IntervalForSecondSetOfRetries           int
	NumberOfRemainingScheduledRetries, IntervalForRemainingRetries int
	PollOnLogin                                                    bool
}

// DefaultPollSchedule mirrors Intune for a newly enrolled Windows device: every
// 3 minutes for 15 minutes, every 15 minutes for 2 hours, then every 8 hours
// (docs/protocol.md H.3).
func DefaultPollSchedule() PollSchedule {
	return PollSchedule{
		NumberOfFirstRetries: 5, IntervalForFirstSetOfRetries: 3,
		NumberOfSecondRetries: 8, IntervalForSecondSetOfRetries: 15,
		NumberOfRemainingScheduledRetries: 0, IntervalForRemainingRetries: 480,
		PollOnLogin: true,
	}
}

func (p PollSchedule) validate() error {
	for _, v := range []int{p.NumberOfFirstRetries, p.NumberOfSecondRetries, p.NumberOfRemainingScheduledRetries} {
		if v < 0 {
			return fmt.Errorf("negative poll count %d", v)
		}
	}
	// One minute is the floor Windows honours (docs/protocol.md A.9).
	for _, v := range []int{p.IntervalForFirstSetOfRetries, p.IntervalForSecondSetOfRetries, p.IntervalForRemainingRetries} {
		if v < 1 {
			return fmt.Errorf("poll interval %d below 1 minute", v)
		}
	}
	return nil
}

// WSTEP renewal settings in the provisioning document (CertificateStore CSP,
// My/WSTEP/Renew): start renewing RenewPeriod days before expiry, retry every
// RetryInterval days.
const (
	renewPeriodDays   = 60
	renewRetryDays    = 4
	w7ConnRetryFreq   = 6      // w7 APPLICATION CSP CONNRETRYFREQ
	w7InitialBackoff  = 30000  // ms, INITIALBACKOFFTIME
	w7MaxBackoff      = 120000 // ms, MAXBACKOFFTIME
	syncMLXMLEncoding = "application/vnd.syncml.dm+xml"
)

// Thumbprint is the upper-case hex SHA-1 of a certificate's DER, the form the
// CertificateStore CSP uses as a node name (docs/protocol.md A.9).
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// SerialHex is the upper-case hex serial number used in Enrollment.CertSerial.
func SerialHex(cert *x509.Certificate) string {
	return strings.ToUpper(cert.SerialNumber.Text(16))
}

// provisioning is the input of a wap-provisioningdoc (MS-MDE2 2.2.9.1).
type provisioning struct {
	CA, Client     *x509.Certificate
	EnrollmentType string
	DeviceID, UPN  string
	DeviceName     string
	// Full adds the APPLICATION w7 and DMClient sections; renewal sends only
	// the certificates.
	Full bool
	// Random DIGEST secrets and nonces for the two APPAUTH blocks.
	ServerSecret, ServerNonce, DeviceSecret, DeviceNonce string
}

// provisioningDoc renders the wap-provisioningdoc that the RSTR carries.
func (s *Service) provisioningDoc(p provisioning) ([]byte, error) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("wap-provisioningdoc")
	root.CreateAttr("version", "1.1")

	charac := func(parent *etree.Element, typ string) *etree.Element {
		c := parent.CreateElement("characteristic")
		c.CreateAttr("type", typ)
		return c
	}
	parm := func(parent *etree.Element, name, value, datatype string) {
		e := parent.CreateElement("parm")
		e.CreateAttr("name", name)
		if value != "" || datatype != "" {
			e.CreateAttr("value", value)
		}
		if datatype != "" {
			e.CreateAttr("datatype", datatype)
		}
	}
	certNode := func(parent *etree.Element, c *x509.Certificate) *etree.Element {
		n := charac(parent, Thumbprint(c))
		parm(n, "EncodedCertificate", base64.StdEncoding.EncodeToString(c.Raw), "")
		return n
	}

	// CertificateStore CSP: the root, then the client certificate in My/User
	// (Full) or My/System (Device), with the empty PrivateKeyContainer the
	// client fills in (MS-MDE2 2.2.9.1; docs/protocol.md A.9).
	store := charac(root, "CertificateStore")
	certNode(charac(charac(store, "Root"), "System"), p.CA)
	my := charac(store, "My")
	scope := "User"
	if p.EnrollmentType == EnrollmentTypeDevice {
		scope = "System"
	}
	mine := charac(my, scope)
	certNode(mine, p.Client)
	charac(mine, "PrivateKeyContainer")
	renew := charac(charac(my, "WSTEP"), "Renew")
	parm(renew, "ROBOSupport", "true", "boolean")
	parm(renew, "RenewPeriod", strconv.Itoa(renewPeriodDays), "integer")
	parm(renew, "RetryInterval", strconv.Itoa(renewRetryDays), "integer")

	if p.Full {
		s.w7Application(root, p, scope, charac, parm)
		dm := charac(charac(charac(root, "DMClient"), "Provider"), s.cfg.ProviderID)
		parm(dm, "EntDMID", p.DeviceID, "string")
		if p.DeviceName != "" {
			parm(dm, "EntDeviceName", p.DeviceName, "string")
		}
		if p.UPN != "" {
			parm(dm, "UPN", p.UPN, "string")
		}
		poll := charac(dm, "Poll")
		ps := s.cfg.Poll
		parm(poll, "NumberOfFirstRetries", strconv.Itoa(ps.NumberOfFirstRetries), "integer")
		parm(poll, "IntervalForFirstSetOfRetries", strconv.Itoa(ps.IntervalForFirstSetOfRetries), "integer")
		parm(poll, "NumberOfSecondRetries", strconv.Itoa(ps.NumberOfSecondRetries), "integer")
		parm(poll, "IntervalForSecondSetOfRetries", strconv.Itoa(ps.IntervalForSecondSetOfRetries), "integer")
		parm(poll, "NumberOfRemainingScheduledRetries", strconv.Itoa(ps.NumberOfRemainingScheduledRetries), "integer")
		parm(poll, "IntervalForRemainingScheduledRetries", strconv.Itoa(ps.IntervalForRemainingRetries), "integer")
		parm(poll, "PollOnLogin", strconv.FormatBool(ps.PollOnLogin), "boolean")
	}
	doc.Indent(2)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("writing provisioning document: %w", err)
	}
	return b, nil
}

// w7Application adds the APPLICATION w7 characteristic (w7 APPLICATION CSP):
// parm names are case sensitive, PROVIDER-ID equals the DMClient provider
// name, and both CLIENT and APPSRV APPAUTH blocks are present with DIGEST.
func (s *Service) w7Application(root *etree.Element, p provisioning, scope string,
	charac func(*etree.Element, string) *etree.Element, parm func(*etree.Element, string, string, string)) {
	app := charac(root, "APPLICATION")
	parm(app, "APPID", "w7", "")
	parm(app, "PROVIDER-ID", s.cfg.ProviderID, "")
	parm(app, "NAME", s.cfg.ProviderID, "")
	parm(app, "ADDR", s.urls.management, "")
	parm(app, "CONNRETRYFREQ", strconv.Itoa(w7ConnRetryFreq), "")
	parm(app, "INITIALBACKOFFTIME", strconv.Itoa(w7InitialBackoff), "")
	parm(app, "MAXBACKOFFTIME", strconv.Itoa(w7MaxBackoff), "")
	parm(app, "BACKCOMPATRETRYDISABLED", "", "")
	parm(app, "DEFAULTENCODING", syncMLXMLEncoding, "")
	// Subject and store, URI-escaped and &-separated (w7 APPLICATION CSP,
	// SSLCLIENTCERTSEARCHCRITERIA).
	parm(app, "SSLCLIENTCERTSEARCHCRITERIA",
		"Subject="+url.QueryEscape("CN="+p.DeviceID)+"&Stores="+url.QueryEscape(`My\`+scope), "")
	cl := charac(app, "APPAUTH")
	parm(cl, "AAUTHLEVEL", "CLIENT", "")
	parm(cl, "AAUTHTYPE", "DIGEST", "")
	parm(cl, "AAUTHSECRET", p.ServerSecret, "")
	parm(cl, "AAUTHDATA", p.ServerNonce, "")
	srv := charac(app, "APPAUTH")
	parm(srv, "AAUTHLEVEL", "APPSRV", "")
	parm(srv, "AAUTHTYPE", "DIGEST", "")
	parm(srv, "AAUTHNAME", p.DeviceID, "")
	parm(srv, "AAUTHSECRET", p.DeviceSecret, "")
	parm(srv, "AAUTHDATA", p.DeviceNonce, "")
}
