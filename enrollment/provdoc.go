package enrollment

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"strconv"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
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

// provisioningDoc renders the wap-provisioningdoc that the RSTR carries (MS-MDE2 2.2.9.1).
func (s *Service) provisioningDoc(p provisioning) ([]byte, error) {
	doc := mde2.NewProvisioningDoc()
	// CertificateStore CSP: the root, then the client certificate in My/User (Full) or
	// My/System (Device), with the empty PrivateKeyContainer the client fills in.
	store := doc.Add("CertificateStore")
	store.Add("Root").Add("System").AddCertificate(p.CA)
	my := store.Add("My")
	scope := "User"
	if p.EnrollmentType == mde2.EnrollmentTypeDevice {
		scope = "System"
	}
	mine := my.Add(scope)
	mine.AddCertificate(p.Client)
	mine.Add("PrivateKeyContainer")
	renew := my.Add("WSTEP").Add("Renew")
	renew.Set("ROBOSupport", "true", "boolean")
	renew.Set("RenewPeriod", strconv.Itoa(renewPeriodDays), "integer")
	renew.Set("RetryInterval", strconv.Itoa(renewRetryDays), "integer")
	if p.Full {
		s.w7Application(doc.Add("APPLICATION"), p, scope)
		dm := doc.Add("DMClient").Add("Provider").Add(s.cfg.ProviderID)
		dm.Set("EntDMID", p.DeviceID, "string")
		if p.DeviceName != "" {
			dm.Set("EntDeviceName", p.DeviceName, "string")
		}
		if p.UPN != "" {
			dm.Set("UPN", p.UPN, "string")
		}
		poll, ps := dm.Add("Poll"), s.cfg.Poll
		poll.Set("NumberOfFirstRetries", strconv.Itoa(ps.NumberOfFirstRetries), "integer")
		poll.Set("IntervalForFirstSetOfRetries", strconv.Itoa(ps.IntervalForFirstSetOfRetries), "integer")
		poll.Set("NumberOfSecondRetries", strconv.Itoa(ps.NumberOfSecondRetries), "integer")
		poll.Set("IntervalForSecondSetOfRetries", strconv.Itoa(ps.IntervalForSecondSetOfRetries), "integer")
		poll.Set("NumberOfRemainingScheduledRetries", strconv.Itoa(ps.NumberOfRemainingScheduledRetries), "integer")
		poll.Set("IntervalForRemainingScheduledRetries", strconv.Itoa(ps.IntervalForRemainingRetries), "integer")
		poll.Set("PollOnLogin", strconv.FormatBool(ps.PollOnLogin), "boolean")
	}
	return doc.Marshal()
}

// w7Application fills the APPLICATION w7 characteristic (w7 APPLICATION CSP): parm names
// are case sensitive, PROVIDER-ID equals the DMClient provider name, and both CLIENT and
// APPSRV APPAUTH blocks are present with DIGEST.
func (s *Service) w7Application(app *mde2.Characteristic, p provisioning, scope string) {
	app.Set("APPID", "w7", "")
	app.Set("PROVIDER-ID", s.cfg.ProviderID, "")
	app.Set("NAME", s.cfg.ProviderID, "")
	app.Set("ADDR", s.urls.management, "")
	app.Set("CONNRETRYFREQ", strconv.Itoa(w7ConnRetryFreq), "")
	app.Set("INITIALBACKOFFTIME", strconv.Itoa(w7InitialBackoff), "")
	app.Set("MAXBACKOFFTIME", strconv.Itoa(w7MaxBackoff), "")
	app.Set("BACKCOMPATRETRYDISABLED", "", "")
	app.Set("DEFAULTENCODING", syncMLXMLEncoding, "")
	// Subject and store, URI-escaped and &-separated (w7 APPLICATION CSP,
	// SSLCLIENTCERTSEARCHCRITERIA).
	app.Set("SSLCLIENTCERTSEARCHCRITERIA",
		"Subject="+url.QueryEscape("CN="+p.DeviceID)+"&Stores="+url.QueryEscape(`My\`+scope), "")
	cl := app.Add("APPAUTH")
	cl.Set("AAUTHLEVEL", "CLIENT", "")
	cl.Set("AAUTHTYPE", "DIGEST", "")
	cl.Set("AAUTHSECRET", p.ServerSecret, "")
	cl.Set("AAUTHDATA", p.ServerNonce, "")
	srv := app.Add("APPAUTH")
	srv.Set("AAUTHLEVEL", "APPSRV", "")
	srv.Set("AAUTHTYPE", "DIGEST", "")
	srv.Set("AAUTHNAME", p.DeviceID, "")
	srv.Set("AAUTHSECRET", p.DeviceSecret, "")
	srv.Set("AAUTHDATA", p.DeviceNonce, "")
}
