package enroll

import (
	"crypto"
	"crypto/x509"
	"io"
	"log/slog"
	"time"

	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Authentication policies (MS-MDE2 DiscoveryResponse AuthPolicy).
const (
	AuthOnPremise = mde2.AuthPolicyOnPremise
	AuthFederated = mde2.AuthPolicyFederated
)

// DefaultRequestVersion is the MS-MDE2 RequestVersion of Windows 11 22H2 (docs/protocol.md A.2).
const DefaultRequestVersion = "6.0"

// Request is what the user types in Settings › Accounts › Access work or school.
type Request struct {
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

// Config is what the enrollment client needs of the device.
type Config struct {
	Identity identity.Identity
	Rand     io.Reader // keys, CSRs
	Log      *slog.Logger
	Timeout  time.Duration // of each request
}

// Result is an enrollment the server granted and the device checked, not yet persisted.
type Result struct {
	// Enrollment is the record to keep; the caller sets State and EnrolledAt when it commits.
	Enrollment   Enrollment
	Provisioning *Provisioning
	Key          crypto.Signer // the client certificate's key
}
